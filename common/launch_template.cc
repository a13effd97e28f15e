#include "common/launch_template.h"

#include <toml++/toml.h>

#include "common/ids.h"
#include "common/tags.h"
#include "common/toml_util.h"

namespace amid {
namespace {

constexpr const char* kKnownKeys =
    "a launch template has image_id, instance_type, count, key_name, security_group_ids, "
    "user_data, tags, block_device_mappings";

bool is_valid_instance_type(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')) return false;
  }
  return true;
}

struct Reader {
  const std::string& source;

  Problem at(const toml::node& node, const std::string& field, const std::string& why,
             const char* code = codes::kInvalidParameterValue) const {
    return problem(toml_util::where(source, node.source()) + ": " + field + ": " + why, code);
  }

  Result<std::string> string(const toml::node& node, const std::string& field) const {
    if (!node.is_string()) return at(node, field, "must be a string");
    return node.as_string()->get();
  }

  std::optional<Problem> tags(const toml::node& node,
                              std::map<std::string, std::string>& out) const {
    const toml::table* table = node.as_table();
    if (!table) return at(node, "tags", "must be a table of KEY = \"value\" ([tags])");
    if (table->size() > kMaxTags) {
      return at(node, "tags",
                "has " + std::to_string(table->size()) + " tags; at most " +
                    std::to_string(kMaxTags) + " are allowed");
    }
    for (const auto& [k, v] : *table) {
      const std::string key(k.str());
      const std::string field = "tags." + key;
      const std::string key_at = toml_util::where_key(source, k, v);
      if (auto why = tag_key_problem(key)) return problem(key_at + ": " + field + ": " + *why);
      auto value = string(v, field);
      if (!value) return value.problem();
      if (auto why = tag_value_problem(value.value())) return at(v, field, *why);
      out[key] = std::move(value).value();
    }
    return std::nullopt;
  }
};

}  // namespace

Result<LaunchTemplate> parse_launch_template(const std::string& toml_text,
                                             const std::string& source_name,
                                             const BdmLimits& limits) {
  auto doc = toml_util::parse_document(toml_text, source_name, kMaxBdmDocumentBytes);
  if (!doc) return doc.problem();
  const Reader r{source_name};
  LaunchTemplate lt;
  for (const auto& [k, v] : doc.value()) {
    const std::string key(k.str());
    if (key == "image_id") {
      auto s = r.string(v, key);
      if (!s) return s.problem();
      if (!is_valid_id(s.value(), "ami")) {
        return r.at(
            v, key,
            toml_util::shown(s.value()) + " is not an image id (ami- and 17 lower-case hex digits)",
            codes::kInvalidAmiIdMalformed);
      }
      lt.image_id = std::move(s).value();
    } else if (key == "instance_type") {
      auto s = r.string(v, key);
      if (!s) return s.problem();
      if (!is_valid_instance_type(s.value())) {
        return r.at(v, key, "must be 1 to 64 of a-z, 0-9 and '.', such as \"t3.small\"");
      }
      lt.instance_type = std::move(s).value();
    } else if (key == "count") {
      if (!v.is_integer()) return r.at(v, key, "must be a whole number from 1 to 16");
      const std::int64_t n = v.as_integer()->get();
      if (n < 1 || n > kMaxLaunchCount) {
        return r.at(
            v, key,
            "must be from 1 to " + std::to_string(kMaxLaunchCount) + ", got " + std::to_string(n));
      }
      lt.count = static_cast<int>(n);
    } else if (key == "key_name") {
      auto s = r.string(v, key);
      if (!s) return s.problem();
      if (s.value().empty() || s.value().size() > kMaxKeyNameLength) {
        return r.at(v, key, "must be a key pair's name: 1 to 255 characters");
      }
      lt.key_name = std::move(s).value();
    } else if (key == "security_group_ids") {
      const toml::array* list = v.as_array();
      if (!list || list->empty() || list->size() > kMaxLaunchGroups) {
        return r.at(v, key, "must be a list of 1 to 5 security group ids, such as [\"sg-0123456789abcdef0\"]");
      }
      for (const auto& item : *list) {
        auto s = r.string(item, key);
        if (!s) return s.problem();
        if (!is_valid_id(s.value(), "sg")) {
          return r.at(item, key, toml_util::shown(s.value()) + " is not a security group id (sg- and 17 hex digits)",
                      "InvalidGroupId.Malformed");
        }
        lt.security_group_ids.push_back(std::move(s).value());
      }
    } else if (key == "user_data") {
      auto s = r.string(v, key);
      if (!s) return s.problem();
      if (s.value().size() > kMaxUserDataBytes) {
        return r.at(v, key,
                    "is " + std::to_string(s.value().size()) + " bytes; at most " +
                        std::to_string(kMaxUserDataBytes) + " (16 KiB) are allowed");
      }
      lt.user_data = std::move(s).value();
    } else if (key == "tags") {
      if (auto p = r.tags(v, lt.tags)) return *p;
    } else if (key == "block_device_mappings") {
      auto m = toml_util::read_block_device_mappings(v, source_name, limits);
      if (!m) return m.problem();
      lt.block_device_mappings = std::move(m).value();
    } else {
      return problem(toml_util::where_key(source_name, k, v) + ": unknown key " +
                         toml_util::shown(key) + " (" + kKnownKeys + ")",
                     codes::kUnknownParameter);
    }
  }
  return lt;
}

}  // namespace amid
