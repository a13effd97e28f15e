// Thin templates: a captured image's snapshot file may be a qcow2 layer on the
// file of the snapshot its instance's disk was launched from (its base), which
// may in turn sit on its own base. The catalog records each base
// (SnapshotRecord::base_snapshot_id); these helpers follow it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "daemon/state/catalog.h"

namespace amid {

// At most this many template files in a chain: a capture that would add a
// layer over a chain this deep writes a standalone (flattened) template instead.
constexpr std::size_t kMaxTemplateLayers = 4;

// The snapshot and the snapshots under it, nearest first, down to a standalone
// one. Throws AmidError when a base is missing or the chain loops.
std::vector<SnapshotRecord> snapshot_chain(const Catalog& catalog, const SnapshotRecord& top);

// The files of snapshot_chain, nearest first: what a disk launched from the
// snapshot reads through (DiskSpec::backing).
std::vector<std::string> chain_files(const Catalog& catalog, const SnapshotRecord& top);

// The image's root snapshot (the one whose file is the image's disk_file), if
// its catalog rows have one (images recorded before snapshots existed do not).
std::optional<SnapshotRecord> root_snapshot(const Catalog& catalog, const ImageRecord& image);

// What a launch's root disk reads through: the image's chain, or its disk alone.
std::vector<std::string> root_backing(const Catalog& catalog, const ImageRecord& image);

}  // namespace amid
