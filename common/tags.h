// EC2 tags: the rules a key and a value follow, the Tags list CreateTags and
// DeleteTags take, and TagSpecifications as RunInstances and CreateImage (and
// later CopyImage) take them on the wire:
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

// One entry of a Tags list. `value` is absent when the entry has no Value
// (CreateTags reads that as "", DeleteTags as "whatever the value").
struct TagEntry {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const TagEntry&) const = default;
};

// Reads a Tags list [{"Key", "Value"?}]: at most kMaxTags entries, each key once,
// keys and values within the rules. Errors name the field as `field` followed by
// "[i].Key" (e.g. "Tags[2].Key: ..."), with code InvalidParameterValue.
Result<std::vector<TagEntry>> parse_tag_list(const protocol::Json& json, const std::string& field);
// The same list as key -> value, an absent Value read as "".
TagMap to_tag_map(const std::vector<TagEntry>& entries);

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
