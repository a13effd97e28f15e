// What every accepted list of block device mappings must satisfy, whichever reader
// accepted it: shared by fuzz_bdm_toml, fuzz_bdm_json and fuzz_launch_template.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/block_device_mapping.h"
#include "tests/fuzz/fuzz_check.h"

namespace amid::fuzz {

inline void check_accepted_mappings(const BlockDeviceMappings& mappings, const BdmLimits& limits) {
  std::set<std::string> disks;
  for (const BlockDeviceMapping& m : mappings) {
    AMID_FUZZ_CHECK(is_valid_device_name(m.device_name), m.device_name);
    AMID_FUZZ_CHECK(disks.insert(guest_device(m.device_name)).second, "two mappings on one disk");
    const int kinds = (m.ebs ? 1 : 0) + (m.virtual_name ? 1 : 0) + (m.no_device ? 1 : 0);
    AMID_FUZZ_CHECK(kinds == 1);
    if (m.ebs && m.ebs->volume_size_gib) {
      AMID_FUZZ_CHECK(*m.ebs->volume_size_gib >= 1 &&
                      *m.ebs->volume_size_gib <= limits.max_volume_gib);
    }
  }

  // Both writers produce what the readers read back, unchanged.
  const std::string toml = to_toml(mappings);
  auto from_toml = parse_block_device_mappings(toml, "to_toml", limits);
  AMID_FUZZ_CHECK(from_toml.ok(), "to_toml output refused: " + from_toml.problem().message + "\n" + toml);
  AMID_FUZZ_CHECK(from_toml.value() == mappings, toml);

  const nlohmann::json json = to_ec2_json(mappings);
  auto from_json = from_ec2_json(json, limits);
  AMID_FUZZ_CHECK(from_json.ok(), "to_ec2_json output refused: " + from_json.problem().message);
  AMID_FUZZ_CHECK(from_json.value() == mappings, json.dump());

  // The merge must not crash whatever it decides: as the launch's over nothing, as
  // the image's under nothing, and over itself.
  MergeContext ctx;
  ctx.root_image_size_gib = 1;
  for (const auto& [image, launch] : {std::pair{BlockDeviceMappings{}, mappings},
                                      std::pair{mappings, BlockDeviceMappings{}},
                                      std::pair{mappings, mappings}}) {
    auto merged = merge_block_device_mappings(image, launch, ctx);
    if (!merged.ok()) continue;
    for (const BlockDeviceMapping& m : merged.value()) {
      AMID_FUZZ_CHECK(!m.no_device);
      AMID_FUZZ_CHECK(is_valid_device_name(m.device_name), m.device_name);
    }
  }
}

}  // namespace amid::fuzz
