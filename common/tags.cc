#include "common/tags.h"

#include <cctype>

namespace amid {

std::size_t utf8_chars(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool has_control_character(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
  }
  return false;
}

std::optional<std::string> tag_key_problem(const std::string& key) {
  const std::size_t chars = utf8_chars(key);
  if (chars < 1 || chars > kMaxTagKeyChars) {
    return "a tag key is 1 to " + std::to_string(kMaxTagKeyChars) + " characters, this one has " +
           std::to_string(chars);
  }
  if (has_control_character(key)) return "a tag key may not hold control characters";
  if (key.size() >= 4 && std::tolower(static_cast<unsigned char>(key[0])) == 'a' &&
      std::tolower(static_cast<unsigned char>(key[1])) == 'w' &&
      std::tolower(static_cast<unsigned char>(key[2])) == 's' && key[3] == ':') {
    return "tag keys starting with \"aws:\" are reserved";
  }
  return std::nullopt;
}

std::optional<std::string> tag_value_problem(const std::string& value) {
  const std::size_t chars = utf8_chars(value);
  if (chars > kMaxTagValueChars) {
    return "a tag value is at most " + std::to_string(kMaxTagValueChars) +
           " characters, this one has " + std::to_string(chars);
  }
  if (has_control_character(value)) return "a tag value may not hold control characters";
  return std::nullopt;
}

Result<std::vector<TagEntry>> parse_tag_list(const protocol::Json& tags, const std::string& field) {
  auto bad = [&](const std::string& at, const std::string& why) {
    return problem(field + at + ": " + why, codes::kInvalidParameterValue);
  };
  if (!tags.is_array()) return bad("", "required, a list of {Key, Value}");
  if (tags.size() > kMaxTags) {
    return bad("", "has " + std::to_string(tags.size()) + " tags; at most " + std::to_string(kMaxTags) +
                       " are allowed");
  }
  std::vector<TagEntry> out;
  std::set<std::string> seen;
  for (std::size_t j = 0; j < tags.size(); ++j) {
    const std::string at = "[" + std::to_string(j) + "]";
    const auto& t = tags[j];
    if (!t.is_object()) return bad(at, "must be an object {Key, Value}");
    for (const auto& [k, v] : t.items()) {
      if (k != "Key" && k != "Value") return bad(at + "." + k, "unknown field (Key, Value)");
    }
    if (!t.contains("Key") || !t["Key"].is_string()) return bad(at + ".Key", "required, a string");
    TagEntry entry{t["Key"].get<std::string>(), std::nullopt};
    if (t.contains("Value")) {
      if (!t["Value"].is_string()) return bad(at + ".Value", "must be a string");
      entry.value = t["Value"].get<std::string>();
    }
    if (auto why = tag_key_problem(entry.key)) return bad(at + ".Key", *why);
    if (entry.value) {
      if (auto why = tag_value_problem(*entry.value)) return bad(at + ".Value", *why);
    }
    if (!seen.insert(entry.key).second) return bad(at + ".Key", "'" + entry.key + "' is given twice");
    out.push_back(std::move(entry));
  }
  return out;
}

TagMap to_tag_map(const std::vector<TagEntry>& entries) {
  TagMap out;
  for (const auto& e : entries) out[e.key] = e.value.value_or("");
  return out;
}

Result<std::vector<TagSpecification>> parse_tag_specifications(
    const protocol::Json& json, const std::set<std::string>& allowed) {
  auto bad = [](const std::string& field, const std::string& why) {
    return problem("TagSpecifications" + field + ": " + why, codes::kInvalidParameterValue);
  };
  if (!json.is_array()) return bad("", "must be a list of {ResourceType, Tags}");
  if (json.size() > allowed.size()) {
    return bad("", "has " + std::to_string(json.size()) + " entries; at most one per resource type");
  }
  std::vector<TagSpecification> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const auto& spec = json[i];
    if (!spec.is_object()) return bad(at, "must be an object {ResourceType, Tags}");
    for (const auto& [k, v] : spec.items()) {
      if (k != "ResourceType" && k != "Tags") return bad(at + "." + k, "unknown field (ResourceType, Tags)");
    }
    if (!spec.contains("ResourceType") || !spec["ResourceType"].is_string()) {
      return bad(at + ".ResourceType", "required, a string");
    }
    TagSpecification ts;
    ts.resource_type = spec["ResourceType"].get<std::string>();
    if (!allowed.count(ts.resource_type)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return bad(at + ".ResourceType", "'" + ts.resource_type + "' cannot be tagged here (" + list + ")");
    }
    if (!seen.insert(ts.resource_type).second) {
      return bad(at + ".ResourceType", "'" + ts.resource_type + "' is given twice");
    }
    auto tags = parse_tag_list(spec.contains("Tags") ? spec["Tags"] : protocol::Json(),
                               "TagSpecifications" + at + ".Tags");
    if (!tags) return tags.problem();
    ts.tags = to_tag_map(tags.value());
    out.push_back(std::move(ts));
  }
  return out;
}

protocol::Json to_json(const TagSpecification& spec) {
  protocol::Json tags = protocol::Json::array();
  for (const auto& [k, v] : spec.tags) tags.push_back({{"Key", k}, {"Value", v}});
  return {{"ResourceType", spec.resource_type}, {"Tags", tags}};
}

}  // namespace amid
