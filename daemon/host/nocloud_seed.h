// A NoCloud seed for cloud-init: a small FAT file system labelled CIDATA that
// holds meta-data, user-data (and whatever else cloud-init's NoCloud data
// source reads), attached to the guest as a read-only raw disk. cloud-init
// finds it by its label at every boot. Made with mkfs.fat and mtools (child
// processes, argv only); blocking.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace amid {

// Writes the seed at `path` (a file on this machine), holding `files` (name,
// content). Throws AmidError(InternalError) when a tool fails.
void write_nocloud_seed(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace amid
