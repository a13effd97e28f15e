// EC2 tags: the rules a key and a value follow, and TagSpecifications as
// RunInstances (and later CreateImage, CopyImage) take them on the wire:
//   [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}]
// Shared by amictl (launch templates) and amid (the wire). Pure; never throws.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"

namespace amid {

using TagMap = std::map<std::string, std::string>;

inline constexpr std::size_t kMaxTags = 50;
inline constexpr std::size_t kMaxTagKeyChars = 128;    // Unicode characters
inline constexpr std::size_t kMaxTagValueChars = 256;  // Unicode characters

// Why a key breaks EC2's rules (1..128 characters, no control characters, not
// "aws:..." in any case), or nullopt. The reason does not name the field.
std::optional<std::string> tag_key_problem(const std::string& key);
// Why a value breaks EC2's rules (0..256 characters, no control characters).
std::optional<std::string> tag_value_problem(const std::string& value);

struct TagSpecification {
  std::string resource_type;  // "instance", "volume", "image", "snapshot"
  TagMap tags;
};

// Reads TagSpecifications; `allowed` lists the resource types this action tags.
// Errors name the field, e.g. "TagSpecifications[0].Tags[2].Key: ...", with code
// InvalidParameterValue; a resource type given twice is refused as on EC2.
Result<std::vector<TagSpecification>> parse_tag_specifications(
    const protocol::Json& json, const std::set<std::string>& allowed);

// The wire form of one specification, for amictl.
protocol::Json to_json(const TagSpecification& spec);

// Characters (code points) of valid UTF-8.
std::size_t utf8_chars(const std::string& s);
// C0 controls, DEL, and C1 controls (U+0080..U+009F).
bool has_control_character(const std::string& s);

}  // namespace amid
