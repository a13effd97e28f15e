#include "common/block_device_mapping.h"

#include <toml++/toml.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/ids.h"
#include "common/toml_util.h"

namespace amid {
namespace {

using Reason = std::optional<std::string>;  // why a value is refused; nullopt when it is fine
using toml_util::shown;

constexpr const char* kDefaultVolumeType = "gp3";
constexpr const char* kVolumeTypes[] = {"standard", "gp2", "gp3", "io1", "io2", "st1", "sc1"};
constexpr int kMaxEphemeral = 23;  // EC2 names instance stores ephemeral0..ephemeral23

Reason device_name_reason(const std::string& name) {
  if (is_valid_device_name(name)) return std::nullopt;
  return shown(name) +
         " is not a device amid can attach: use /dev/vdX, /dev/sdX or /dev/xvdX, X one letter a-z";
}

Reason virtual_name_reason(const std::string& name) {
  const std::string prefix = "ephemeral";
  const std::string digits = name.size() > prefix.size() ? name.substr(prefix.size()) : "";
  bool ok = name.rfind(prefix, 0) == 0 && !digits.empty() && digits.size() <= 2 &&
            (digits.size() == 1 || digits[0] != '0');
  for (char c : digits) ok = ok && c >= '0' && c <= '9';
  if (ok && std::stoi(digits) <= kMaxEphemeral) return std::nullopt;
  return shown(name) + " is not an instance store name: use ephemeral0 .. ephemeral23";
}

Reason volume_size_reason(std::uint64_t gib, const BdmLimits& limits) {
  if (gib >= 1 && gib <= limits.max_volume_gib) return std::nullopt;
  return "must be between 1 and " + std::to_string(limits.max_volume_gib) + " GiB, got " +
         std::to_string(gib);
}

Reason volume_size_reason(std::int64_t gib, const BdmLimits& limits) {
  if (gib < 1) {
    return "must be between 1 and " + std::to_string(limits.max_volume_gib) + " GiB, got " +
           std::to_string(gib);
  }
  return volume_size_reason(static_cast<std::uint64_t>(gib), limits);
}

Reason volume_type_reason(const std::string& type) {
  for (const char* known : kVolumeTypes) {
    if (type == known) return std::nullopt;
  }
  return shown(type) + " is not a volume type: use standard, gp2, gp3, io1, io2, st1 or sc1";
}

Reason snapshot_id_reason(const std::string& id) {
  if (is_valid_id(id, "snap")) return std::nullopt;
  return shown(id) + " is not a snapshot id (snap- and 17 lower-case hex digits)";
}

// Where a mapping's device name came from: the head of a message about it, and a
// short reference for another message to point back at it.
struct Place {
  std::string head;  // "f.toml:5:15: block_device_mappings[1].device_name"
  std::string ref;   // "f.toml:5:15"
};

std::optional<Problem> duplicate_problem(const BlockDeviceMappings& mappings,
                                         const std::vector<Place>& places) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    const std::string disk = guest_device(mappings[i].device_name);
    auto [it, fresh] = seen.emplace(disk, i);
    if (fresh) continue;
    const BlockDeviceMapping& first = mappings[it->second];
    const Place& was = places[it->second];
    if (first.device_name == mappings[i].device_name) {
      return problem(places[i].head + ": " + mappings[i].device_name +
                     " is mapped twice (first at " + was.ref + ")");
    }
    return problem(places[i].head + ": " + mappings[i].device_name + " is the same disk as " +
                   first.device_name + " at " + was.ref + " (both attach as " + disk + ")");
  }
  return std::nullopt;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

// Walks the TOML form; every Problem carries FILE:LINE:COLUMN of the node at fault.
struct TomlReader {
  const std::string& source;
  const BdmLimits& limits;

  Problem at(const toml::node& node, const std::string& field, const std::string& why,
             const char* code = codes::kInvalidParameterValue) const {
    return problem(toml_util::where(source, node.source()) + ": " + field + ": " + why, code);
  }

  Problem unknown(const toml::key& key, const toml::node& value, const std::string& field,
                  const std::string& known) const {
    return problem(toml_util::where_key(source, key, value) + ": " + field + ": unknown key " +
                       shown(std::string(key.str())) + " (" + known + ")",
                   codes::kUnknownParameter);
  }

  Result<EbsSpec> ebs(const toml::node& node, const std::string& field) const {
    const toml::table* table = node.as_table();
    if (!table) {
      return at(node, field, "must be a table such as { volume_size = 2 }, not " + type_name(node));
    }
    EbsSpec e;
    for (const auto& [k, v] : *table) {
      const std::string key(k.str());
      const std::string f = field + "." + key;
      if (key == "volume_size") {
        if (v.is_floating_point()) return at(v, f, "must be a whole number of GiB, not a float");
        if (!v.is_integer()) return at(v, f, "must be a whole number of GiB, not " + type_name(v));
        const std::int64_t gib = v.as_integer()->get();
        if (auto why = volume_size_reason(gib, limits)) return at(v, f, *why);
        e.volume_size_gib = static_cast<std::uint64_t>(gib);
      } else if (key == "volume_type") {
        if (!v.is_string())
          return at(v, f, "must be a string such as \"gp3\", not " + type_name(v));
        e.volume_type = v.as_string()->get();
        if (auto why = volume_type_reason(e.volume_type)) return at(v, f, *why);
        e.volume_type_set = true;
      } else if (key == "delete_on_termination") {
        if (!v.is_boolean()) return at(v, f, "must be true or false, not " + type_name(v));
        e.delete_on_termination = v.as_boolean()->get();
        e.delete_on_termination_set = true;
      } else if (key == "snapshot_id") {
        if (!v.is_string()) return at(v, f, "must be a string, not " + type_name(v));
        e.snapshot_id = v.as_string()->get();
        if (auto why = snapshot_id_reason(*e.snapshot_id)) return at(v, f, *why);
      } else {
        return unknown(k, v, field,
                       "ebs has volume_size, volume_type, delete_on_termination, snapshot_id");
      }
    }
    return e;
  }

  Result<BlockDeviceMapping> mapping(const toml::node& node, const std::string& field) const {
    const toml::table* table = node.as_table();
    if (!table) {
      return at(node, field,
                "must be a table with device_name and one of ebs, virtual_name, no_device = true, "
                "not " +
                    type_name(node));
    }
    BlockDeviceMapping m;
    const toml::node* no_device_node = nullptr;
    bool named = false;
    for (const auto& [k, v] : *table) {
      const std::string key(k.str());
      const std::string f = field + "." + key;
      if (key == "device_name") {
        if (!v.is_string())
          return at(v, f, "must be a string such as \"/dev/vdb\", not " + type_name(v));
        m.device_name = v.as_string()->get();
        if (auto why = device_name_reason(m.device_name)) return at(v, f, *why);
        named = true;
      } else if (key == "ebs") {
        auto e = ebs(v, f);
        if (!e) return e.problem();
        m.ebs = std::move(e).value();
      } else if (key == "virtual_name") {
        if (!v.is_string())
          return at(v, f, "must be a string such as \"ephemeral0\", not " + type_name(v));
        m.virtual_name = v.as_string()->get();
        if (auto why = virtual_name_reason(*m.virtual_name)) return at(v, f, *why);
      } else if (key == "no_device") {
        if (!v.is_boolean()) return at(v, f, "must be true or false, not " + type_name(v));
        m.no_device = v.as_boolean()->get();
        no_device_node = &v;
      } else {
        return unknown(k, v, field, "a mapping has device_name, ebs, virtual_name, no_device");
      }
    }
    if (!named) {
      return at(node, field + ".device_name", "missing: every mapping names its device",
                codes::kMissingParameter);
    }
    const int kinds = (m.ebs ? 1 : 0) + (m.virtual_name ? 1 : 0) + (m.no_device ? 1 : 0);
    if (kinds == 0 && no_device_node) {
      return at(*no_device_node, field + ".no_device",
                "no_device = false maps nothing: give ebs, virtual_name, or no_device = true");
    }
    if (kinds == 0) {
      return at(node, field, "needs one of ebs, virtual_name or no_device = true",
                codes::kMissingParameter);
    }
    if (kinds > 1) {
      return at(node, field, "give only one of ebs, virtual_name and no_device = true");
    }
    return m;
  }
};

std::string type_name(const nlohmann::json& j) {
  if (j.is_number_float()) return "a number with a fraction or exponent";
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

// Same walk for EC2's JSON; messages name the field path, there are no lines.
struct JsonReader {
  const BdmLimits& limits;

  static Problem at(const std::string& field, const std::string& why,
                    const char* code = codes::kInvalidParameterValue) {
    return problem(field + ": " + why, code);
  }

  Result<EbsSpec> ebs(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_object()) return at(field, "must be an object, not " + type_name(j));
    EbsSpec e;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const nlohmann::json& v = it.value();
      const std::string f = field + "." + key;
      if (key == "VolumeSize") {
        if (!v.is_number_integer()) {
          return at(f, "must be a whole number of GiB, not " + type_name(v));
        }
        Reason why = v.is_number_unsigned() ? volume_size_reason(v.get<std::uint64_t>(), limits)
                                            : volume_size_reason(v.get<std::int64_t>(), limits);
        if (why) return at(f, *why);
        e.volume_size_gib = v.get<std::uint64_t>();
      } else if (key == "VolumeType") {
        if (!v.is_string()) return at(f, "must be a string, not " + type_name(v));
        e.volume_type = v.get<std::string>();
        if (auto why = volume_type_reason(e.volume_type)) return at(f, *why);
        e.volume_type_set = true;
      } else if (key == "DeleteOnTermination") {
        if (!v.is_boolean()) return at(f, "must be true or false, not " + type_name(v));
        e.delete_on_termination = v.get<bool>();
        e.delete_on_termination_set = true;
      } else if (key == "SnapshotId") {
        if (!v.is_string()) return at(f, "must be a string, not " + type_name(v));
        e.snapshot_id = v.get<std::string>();
        if (auto why = snapshot_id_reason(*e.snapshot_id)) return at(f, *why);
      } else {
        return at(field,
                  "unknown field " + shown(key) +
                      " (Ebs has VolumeSize, VolumeType, DeleteOnTermination, SnapshotId)",
                  codes::kUnknownParameter);
      }
    }
    return e;
  }

  Result<BlockDeviceMapping> mapping(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_object()) return at(field, "must be an object, not " + type_name(j));
    BlockDeviceMapping m;
    bool named = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const nlohmann::json& v = it.value();
      const std::string f = field + "." + key;
      if (key == "DeviceName") {
        if (!v.is_string()) return at(f, "must be a string, not " + type_name(v));
        m.device_name = v.get<std::string>();
        if (auto why = device_name_reason(m.device_name)) return at(f, *why);
        named = true;
      } else if (key == "Ebs") {
        auto e = ebs(v, f);
        if (!e) return e.problem();
        m.ebs = std::move(e).value();
      } else if (key == "VirtualName") {
        if (!v.is_string()) return at(f, "must be a string, not " + type_name(v));
        m.virtual_name = v.get<std::string>();
        if (auto why = virtual_name_reason(*m.virtual_name)) return at(f, *why);
      } else if (key == "NoDevice") {
        if (!v.is_string() || !v.get<std::string>().empty()) {
          return at(f, "must be \"\" (EC2's way of saying: no device here)");
        }
        m.no_device = true;
      } else {
        return at(field,
                  "unknown field " + shown(key) +
                      " (a mapping has DeviceName, Ebs, VirtualName, NoDevice)",
                  codes::kUnknownParameter);
      }
    }
    if (!named) return at(field + ".DeviceName", "missing", codes::kMissingParameter);
    const int kinds = (m.ebs ? 1 : 0) + (m.virtual_name ? 1 : 0) + (m.no_device ? 1 : 0);
    if (kinds == 0) {
      return at(field, "needs one of Ebs, VirtualName or NoDevice", codes::kMissingParameter);
    }
    if (kinds > 1) return at(field, "give only one of Ebs, VirtualName and NoDevice");
    return m;
  }
};

// Lays a launch's ebs over an image's: only what the launch set replaces.
void overlay(EbsSpec& base, const EbsSpec& over) {
  if (over.volume_size_gib) base.volume_size_gib = over.volume_size_gib;
  if (over.snapshot_id) base.snapshot_id = over.snapshot_id;
  if (over.volume_type_set || over.volume_type != kDefaultVolumeType) {
    base.volume_type = over.volume_type;
    base.volume_type_set = true;
  }
  if (over.delete_on_termination_set || !over.delete_on_termination) {
    base.delete_on_termination = over.delete_on_termination;
    base.delete_on_termination_set = true;
  }
}

bool writes_volume_type(const EbsSpec& e) {
  return e.volume_type_set || e.volume_type != kDefaultVolumeType;
}
bool writes_delete_on_termination(const EbsSpec& e) {
  return e.delete_on_termination_set || !e.delete_on_termination;
}

// A TOML basic string.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

using ByDisk = std::map<std::string, BlockDeviceMapping>;  // keyed by guest device

Result<ByDisk> by_disk(const BlockDeviceMappings& list, const std::string& which) {
  ByDisk out;
  for (const BlockDeviceMapping& m : list) {
    const std::string disk = guest_device(m.device_name);
    if (disk.empty())
      return problem(which + " mapping " + shown(m.device_name) + ": not a device amid can attach");
    auto [it, fresh] = out.emplace(disk, m);
    if (!fresh) {
      return problem(m.device_name + ": " + which + " mappings name this disk twice (" +
                     it->second.device_name + " and " + m.device_name + " both attach as " + disk +
                     ")");
    }
  }
  return out;
}

}  // namespace

bool is_valid_device_name(const std::string& name) {
  for (const char* prefix : {"/dev/vd", "/dev/sd", "/dev/xvd"}) {
    const std::string p(prefix);
    if (name.size() == p.size() + 1 && name.compare(0, p.size(), p) == 0) {
      return name.back() >= 'a' && name.back() <= 'z';
    }
  }
  return false;
}

std::string guest_device(const std::string& device_name) {
  if (!is_valid_device_name(device_name)) return "";
  return std::string("vd") + device_name.back();
}

namespace toml_util {
Result<BlockDeviceMappings> read_block_device_mappings(const toml::node& node,
                                                       const std::string& source,
                                                       const BdmLimits& limits) {
  const toml::array* array = node.as_array();
  if (!array) {
    return problem(
        where(source, node.source()) +
        ": block_device_mappings: must be an array of tables ([[block_device_mappings]]), "
        "not " +
        type_name(node));
  }
  const TomlReader reader{source, limits};
  BlockDeviceMappings out;
  std::vector<Place> places;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string field = "block_device_mappings[" + std::to_string(i) + "]";
    auto m = reader.mapping(element, field);
    if (!m) return m.problem();
    const std::string ref = where(source, element.as_table()->get("device_name")->source());
    places.push_back({ref + ": " + field + ".device_name", ref});
    out.push_back(std::move(m).value());
  }
  if (auto dup = duplicate_problem(out, places)) return *dup;
  return out;
}
}  // namespace toml_util

Result<BlockDeviceMappings> parse_block_device_mappings(const std::string& toml_text,
                                                        const std::string& source_name,
                                                        const BdmLimits& limits) {
  auto doc = toml_util::parse_document(toml_text, source_name, kMaxBdmDocumentBytes);
  if (!doc) return doc.problem();
  const toml::table& root = doc.value();
  for (const auto& [k, v] : root) {
    if (k.str() != "block_device_mappings") {
      return problem(toml_util::where_key(source_name, k, v) + ": unknown key " +
                         shown(std::string(k.str())) +
                         " (this file holds only [[block_device_mappings]])",
                     codes::kUnknownParameter);
    }
  }
  const toml::node* mappings = root.get("block_device_mappings");
  if (!mappings) {
    return problem(source_name +
                       ":1:1: block_device_mappings: missing (write at least one "
                       "[[block_device_mappings]], or block_device_mappings = [])",
                   codes::kMissingParameter);
  }
  return toml_util::read_block_device_mappings(*mappings, source_name, limits);
}

Result<BlockDeviceMappings> from_ec2_json(const nlohmann::json& json, const BdmLimits& limits) {
  if (!json.is_array()) {
    return problem("BlockDeviceMappings: must be an array, not " + type_name(json));
  }
  const JsonReader reader{limits};
  BlockDeviceMappings out;
  std::vector<Place> places;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const std::string field = "BlockDeviceMappings[" + std::to_string(i) + "]";
    auto m = reader.mapping(json[i], field);
    if (!m) return m.problem();
    places.push_back({field + ".DeviceName", field + ".DeviceName"});
    out.push_back(std::move(m).value());
  }
  if (auto dup = duplicate_problem(out, places)) return *dup;
  return out;
}

Result<BlockDeviceMappings> merge_block_device_mappings(const BlockDeviceMappings& image,
                                                        const BlockDeviceMappings& launch,
                                                        const MergeContext& ctx) {
  const std::string root = guest_device(ctx.root_device);
  if (root.empty()) {
    return problem("root device " + shown(ctx.root_device) + " is not a device amid can attach");
  }
  auto from_image = by_disk(image, "the image's");
  if (!from_image) return from_image.problem();
  auto from_launch = by_disk(launch, "the launch's");
  if (!from_launch) return from_launch.problem();

  ByDisk merged;
  for (const auto& [disk, m] : from_image.value()) {
    if (!m.no_device) merged.emplace(disk, m);
  }
  for (const auto& [disk, m] : from_launch.value()) {
    if (m.no_device) {
      if (disk == root) {
        return problem(m.device_name + ": cannot remove the root device with no_device",
                       codes::kInvalidParameterValue);
      }
      merged.erase(disk);
      continue;
    }
    auto it = merged.find(disk);
    if (m.ebs && it != merged.end() && it->second.ebs) {
      overlay(*it->second.ebs, *m.ebs);
      it->second.device_name = m.device_name;
    } else {
      merged[disk] = m;
    }
  }

  BlockDeviceMappings out;
  for (auto& [disk, m] : merged) {
    if (m.virtual_name && disk == root) {
      return problem(m.device_name + ": the root device cannot be an instance store (" +
                     *m.virtual_name + ") mapping");
    }
    if (m.ebs) {
      EbsSpec& e = *m.ebs;
      if (disk == root) {
        if (!e.volume_size_gib && ctx.root_image_size_gib > 0) {
          e.volume_size_gib = ctx.root_image_size_gib;
        } else if (e.volume_size_gib && *e.volume_size_gib < ctx.root_image_size_gib) {
          return problem(m.device_name +
                         ": volume_size: cannot shrink the root volume below the "
                         "image's " +
                         std::to_string(ctx.root_image_size_gib) + " GiB (asked for " +
                         std::to_string(*e.volume_size_gib) + " GiB)");
        }
      } else if (!e.volume_size_gib && !e.snapshot_id) {
        return problem(m.device_name +
                           ": volume_size is required for a new volume (or give "
                           "snapshot_id)",
                       codes::kMissingParameter);
      }
      e.volume_type_set = true;
      e.delete_on_termination_set = true;
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string to_toml(const BlockDeviceMappings& mappings) {
  if (mappings.empty()) return "block_device_mappings = []\n";
  std::string out;
  for (const BlockDeviceMapping& m : mappings) {
    if (!out.empty()) out += "\n";
    out += "[[block_device_mappings]]\ndevice_name = " + quoted(m.device_name) + "\n";
    if (m.ebs) {
      std::vector<std::string> fields;
      const EbsSpec& e = *m.ebs;
      if (e.volume_size_gib)
        fields.push_back("volume_size = " + std::to_string(*e.volume_size_gib));
      if (writes_volume_type(e)) fields.push_back("volume_type = " + quoted(e.volume_type));
      if (writes_delete_on_termination(e)) {
        fields.push_back(std::string("delete_on_termination = ") +
                         (e.delete_on_termination ? "true" : "false"));
      }
      if (e.snapshot_id) fields.push_back("snapshot_id = " + quoted(*e.snapshot_id));
      std::string joined;
      for (const std::string& f : fields) joined += (joined.empty() ? " " : ", ") + f;
      out += "ebs = {" + joined + (joined.empty() ? "}" : " }") + "\n";
    }
    if (m.virtual_name) out += "virtual_name = " + quoted(*m.virtual_name) + "\n";
    if (m.no_device) out += "no_device = true\n";
  }
  return out;
}

nlohmann::json to_ec2_json(const BlockDeviceMappings& mappings) {
  nlohmann::json out = nlohmann::json::array();
  for (const BlockDeviceMapping& m : mappings) {
    nlohmann::json j = {{"DeviceName", m.device_name}};
    if (m.ebs) {
      const EbsSpec& e = *m.ebs;
      nlohmann::json ebs = nlohmann::json::object();
      if (e.volume_size_gib) ebs["VolumeSize"] = *e.volume_size_gib;
      if (writes_volume_type(e)) ebs["VolumeType"] = e.volume_type;
      if (writes_delete_on_termination(e)) ebs["DeleteOnTermination"] = e.delete_on_termination;
      if (e.snapshot_id) ebs["SnapshotId"] = *e.snapshot_id;
      j["Ebs"] = std::move(ebs);
    }
    if (m.virtual_name) j["VirtualName"] = *m.virtual_name;
    if (m.no_device) j["NoDevice"] = "";
    out.push_back(std::move(j));
  }
  return out;
}

BlockDeviceMappings parse_stored_mappings(const std::string& toml_text) {
  if (toml_text.empty()) return {};
  return parse_block_device_mappings(toml_text, "catalog").value_or_throw();
}

}  // namespace amid
