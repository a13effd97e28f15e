// Block device mappings with EC2's fields: which disks an instance gets besides
// (and including) its template's root disk. Read from TOML (a --block-device-mappings
// file, a launch template, an image manifest) or from the wire protocol's JSON,
// merged with the image's own mappings as EC2 merges them, and written back.
//
// All functions are pure and thread-safe; arguments are only read during the call and
// results are new values the caller owns. They never throw on bad input: they return
// a Problem whose message starts with "FILE:LINE:COLUMN: field: " for TOML and
// "BlockDeviceMappings[i].Field: " for JSON (indices count from 0).
//
// amid attaches every disk as virtio; /dev/sdX and /dev/xvdX name the same disk as
// /dev/vdX (guest_device), and two mappings are the same disk when their guest
// devices are equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace amid {

struct EbsSpec {
  std::optional<std::uint64_t> volume_size_gib;  // absent: the snapshot's (or root image's) size
  std::string volume_type = "gp3";               // recorded; every disk has the same speed
  bool delete_on_termination = true;
  std::optional<std::string> snapshot_id;  // "snap-" + 17 hex
  // Whether the source spelled out volume_type / delete_on_termination. A launch
  // override replaces an image's field only when it set it (or holds a non-default
  // value), so `ebs = { volume_size = 8 }` keeps the image's delete_on_termination.
  bool volume_type_set = false;
  bool delete_on_termination_set = false;

  bool operator==(const EbsSpec&) const = default;
};

// Exactly one of ebs, virtual_name, no_device is meaningful per mapping.
struct BlockDeviceMapping {
  std::string device_name;                  // /dev/vd[a-z], /dev/sd[a-z] or /dev/xvd[a-z]
  std::optional<EbsSpec> ebs;               // a volume (new, or from a snapshot)
  std::optional<std::string> virtual_name;  // "ephemeral0".."ephemeral23": instance store
  bool no_device = false;                   // suppress the image's mapping on this device

  bool operator==(const BlockDeviceMapping&) const = default;
};

using BlockDeviceMappings = std::vector<BlockDeviceMapping>;

struct BdmLimits {
  std::uint64_t max_volume_gib = 1024;  // largest volume_size accepted
};

// Largest TOML document any amid reader in this family accepts.
inline constexpr std::size_t kMaxBdmDocumentBytes = 64 * 1024;

// True for /dev/vd[a-z], /dev/sd[a-z] and /dev/xvd[a-z], nothing else.
bool is_valid_device_name(const std::string& device_name);

// The virtio name a device attaches as: "/dev/sdb", "/dev/xvdb", "/dev/vdb" -> "vdb".
// Returns "" for a name is_valid_device_name refuses.
std::string guest_device(const std::string& device_name);

// Parses a document whose only top-level key is `block_device_mappings`, an array of
// tables (an empty array is fine; a missing key is not). source_name is used only in
// messages. Refuses unknown keys, wrong types, bad values (see the rules in
// configs/bdm.example.toml), two mappings on one disk, invalid UTF-8 and documents
// over kMaxBdmDocumentBytes. The result keeps the document's order.
Result<BlockDeviceMappings> parse_block_device_mappings(const std::string& toml_text,
                                                        const std::string& source_name,
                                                        const BdmLimits& limits = {});

// What the instance gets: the image's mappings overridden, device by device (guest
// device), by the launch's. A launch no_device removes the image's mapping; a launch
// ebs on an image ebs keeps the fields it does not set; anything else replaces.
struct MergeContext {
  std::string root_device = "/dev/vda";
  std::uint64_t root_image_size_gib = 0;  // virtual size of the template's root disk
};

// Errors name the device: removing the root, an ephemeral root, a root volume_size
// below root_image_size_gib, a non-root ebs mapping with neither volume_size nor
// snapshot_id, two mappings on one disk in either list. The result holds no
// no_device entries, is sorted by guest device, has every default spelled out
// (volume_type_set and delete_on_termination_set true), and gives a root ebs
// mapping without a size the image's size.
Result<BlockDeviceMappings> merge_block_device_mappings(const BlockDeviceMappings& image,
                                                        const BlockDeviceMappings& launch,
                                                        const MergeContext& ctx);

// Bytes rounded up to whole GiB, as EC2 sizes volumes.
inline std::uint64_t gib_ceil(std::uint64_t bytes) { return (bytes + (1ull << 30) - 1) >> 30; }

// Mappings amid stored itself (an image's or an instance's, written by to_toml):
// "" is none. Throws AmidError if the text does not parse, which means the catalog
// holds something amid did not write.
BlockDeviceMappings parse_stored_mappings(const std::string& toml_text);

// The TOML shape parse_block_device_mappings reads, for image manifests.
// volume_type and delete_on_termination are written when set or not the default,
// so what a launch left unset stays unset after a round trip.
std::string to_toml(const BlockDeviceMappings& mappings);

// EC2's JSON: [{"DeviceName":..,"Ebs":{"VolumeSize":..,"VolumeType":..,
// "DeleteOnTermination":..,"SnapshotId":..}}, {"DeviceName":..,"VirtualName":..},
// {"DeviceName":..,"NoDevice":""}]. Ebs fields are written under the same rule as
// to_toml; merge results have all of them.
nlohmann::json to_ec2_json(const BlockDeviceMappings& mappings);

// Reads EC2's JSON shape (the value of a BlockDeviceMappings parameter) under the
// same rules as the TOML reader; unknown fields are refused (UnknownParameter), a
// missing DeviceName is MissingParameter, NoDevice must be "" and VolumeSize an
// integer (2.0 is refused, as in TOML).
Result<BlockDeviceMappings> from_ec2_json(const nlohmann::json& json, const BdmLimits& limits = {});

}  // namespace amid
