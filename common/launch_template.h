// Launch templates (`amictl run-instances --launch-template file://lt.toml`):
// RunInstances' parameters as snake_case TOML keys, so a launch can be written
// down once and repeated. See configs/launch-template.example.toml.
//
// Pure and thread-safe; never throws. Every error is a Problem whose message starts
// with "FILE:LINE:COLUMN: field: ". Whether the image and instance type exist is
// for the daemon to judge; this only checks their form.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/block_device_mapping.h"
#include "common/tags.h"

namespace amid {

struct LaunchTemplate {
  std::optional<std::string> image_id;        // "ami-" + 17 hex
  std::optional<std::string> instance_type;   // 1..64 of [a-z0-9.], e.g. "t3.small"
  std::optional<std::string> key_name;        // a key pair of the caller's, 1..255 characters
  std::vector<std::string> security_group_ids;  // 1..5 "sg-" + 17 hex (none: the default group)
  std::optional<std::string> user_data;       // raw bytes for the guest, at most 16 KiB
  std::optional<int> count;                   // instances to launch, 1..16
  std::map<std::string, std::string> tags;    // at most 50
  BlockDeviceMappings block_device_mappings;  // launch-side; merged with the image's later
};

inline constexpr std::size_t kMaxUserDataBytes = 16 * 1024;
inline constexpr int kMaxLaunchCount = 16;
inline constexpr std::size_t kMaxKeyNameLength = 255;
inline constexpr std::size_t kMaxLaunchGroups = 5;

// Parses a launch template document (at most kMaxBdmDocumentBytes). Refuses unknown
// keys, wrong types, a malformed image_id (InvalidAMIID.Malformed), an instance_type
// outside [a-z0-9.]{1,64}, count outside 1..16, a key_name outside 1..255 characters, security_group_ids that
// are not 1..5 sg- ids (InvalidGroupId.Malformed for one), user_data over 16 KiB, more than 50
// tags, tag keys outside 1..128 characters or starting with "aws:" (any case), tag
// values over 256 characters, control characters in tags, and block_device_mappings
// under parse_block_device_mappings' rules. source_name is used only in messages.
Result<LaunchTemplate> parse_launch_template(const std::string& toml_text,
                                             const std::string& source_name,
                                             const BdmLimits& limits = {});

}  // namespace amid
