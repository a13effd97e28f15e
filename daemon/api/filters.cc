#include "daemon/api/filters.h"

#include "daemon/api/params.h"
#include "daemon/services/validate.h"
#include "daemon/state/glob.h"

namespace amid {

using protocol::Json;

// Columns: render_image writes these fields straight from the catalog's columns
// (catalog.h's kImageGlobColumns).
const FilterSchema kImageFilters = {{
    {"architecture", "/Architecture", "architecture"},
    {"block-device-mapping.volume-size", "/BlockDeviceMappings/*/Ebs/VolumeSize"},
    {"creation-date", "/CreationDate", "creation_date"},
    {"description", "/Description", "description"},
    {"image-id", "/ImageId", "id"},
    {"is-public", "/Public"},
    {"name", "/Name", "name"},
    {"owner-id", "/OwnerId", "owner"},
    {"root-device-type", "/RootDeviceType", "root_device_type"},
    {"state", "/State", "state"},
    {"virtualization-type", "/VirtualizationType", "virtualization_type"},
}};

const FilterSchema kInstanceFilters = {{
    {"architecture", "/Architecture"},
    {"image-id", "/ImageId"},
    {"instance-id", "/InstanceId"},
    {"instance-state-name", "/State/Name"},
    {"instance-type", "/InstanceType"},
    {"instance.group-id", "/SecurityGroups/*/GroupId"},
    {"instance.group-name", "/SecurityGroups/*/GroupName"},
    {"launch-time", "/LaunchTime"},
    {"owner-id", "/OwnerId"},
    {"reservation-id", "/ReservationId"},
    {"root-device-type", "/RootDeviceType"},
    {"subnet-id", "/SubnetId"},
    {"virtualization-type", "/VirtualizationType"},
    {"vpc-id", "/VpcId"},
}};

const FilterSchema kVolumeFilters = {{
    {"attachment.delete-on-termination", "/Attachments/*/DeleteOnTermination"},
    {"attachment.device", "/Attachments/*/Device"},
    {"attachment.instance-id", "/Attachments/*/InstanceId"},
    {"create-time", "/CreateTime"},
    {"size", "/Size"},
    {"status", "/State"},
    {"volume-id", "/VolumeId"},
}};

const FilterSchema kKeyPairFilters = {
    {
        {"fingerprint", "/KeyFingerprint"},
        {"key-name", "/KeyName"},
        {"key-pair-id", "/KeyPairId"},
        {"key-type", "/KeyType"},
    },
    false,
};

// ip-permission.*: a group matches when one of its rules has the value (EC2
// matches over every rule, not one rule for all the filters).
const FilterSchema kSecurityGroupFilters = {{
    {"description", "/Description"},
    {"group-id", "/GroupId"},
    {"group-name", "/GroupName"},
    {"ip-permission.cidr", "/IpPermissions/*/IpRanges/*/CidrIp"},
    {"ip-permission.from-port", "/IpPermissions/*/FromPort"},
    {"ip-permission.protocol", "/IpPermissions/*/IpProtocol"},
    {"ip-permission.to-port", "/IpPermissions/*/ToPort"},
    {"owner-id", "/OwnerId"},
    {"vpc-id", "/VpcId"},
}};

const FilterSchema kTagFilters = {
    {
        {"key", "/Key"},
        {"resource-id", "/ResourceId"},
        {"resource-type", "/ResourceType"},
        {"value", "/Value"},
    },
    false,
};

namespace {

struct RowValue {
  std::string text;
  bool is_string = false;
};

void collect(const Json& node, const std::vector<std::string>& steps, std::size_t at,
             std::vector<RowValue>& out) {
  if (at == steps.size()) {
    if (node.is_string()) out.push_back({node.get<std::string>(), true});
    else if (node.is_boolean() || node.is_number()) out.push_back({node.dump(), false});
    return;
  }
  if (steps[at] == "*") {
    if (!node.is_array()) return;
    for (const auto& item : node) collect(item, steps, at + 1, out);
    return;
  }
  if (!node.is_object()) return;
  auto it = node.find(steps[at]);
  if (it != node.end()) collect(*it, steps, at + 1, out);
}

std::vector<RowValue> values_at(const Json& row, const std::string& path) {
  std::vector<std::string> steps;
  std::size_t start = 1;  // after the leading "/"
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    steps.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  std::vector<RowValue> out;
  collect(row, steps, 0, out);
  return out;
}

std::vector<RowValue> tag_values(const Json& row, const std::string& filter_name) {
  std::vector<RowValue> out;
  auto tags = row.find("Tags");
  if (tags == row.end() || !tags->is_array()) return out;
  const bool any_key = filter_name == "tag-key";
  const std::string key = any_key ? "" : filter_name.substr(4);
  for (const auto& t : *tags) {
    std::string k = t.value("Key", "");
    if (any_key) out.push_back({k, true});
    else if (k == key) out.push_back({t.value("Value", ""), true});
  }
  return out;
}

const FilterField* find_field(const FilterSchema& schema, const std::string& name) {
  for (const auto& f : schema.fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool is_tag_filter(const std::string& name) {
  return name == "tag-key" || (name.rfind("tag:", 0) == 0 && name.size() > 4);
}

std::string known_names(const FilterSchema& schema) {
  std::string out;
  for (const auto& f : schema.fields) out += (out.empty() ? "" : ", ") + f.name;
  if (schema.tags) out += ", tag:KEY, tag-key";
  return out;
}

}  // namespace

Result<Filters> parse_filters(const Json& json, const FilterSchema& schema) {
  auto bad = [](const std::string& at, const std::string& why) {
    return problem("Filters" + at + ": " + why, codes::kInvalidParameterValue);
  };
  if (!json.is_array()) return bad("", "must be a list of {Name, Values}");
  if (json.size() > kMaxFilters) return bad("", "at most " + std::to_string(kMaxFilters) + " filters");
  Filters out;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const Json& f = json[i];
    if (!f.is_object()) return bad(at, "must be an object {Name, Values}");
    for (const auto& [k, v] : f.items()) {
      if (k != "Name" && k != "Values") return bad(at + "." + k, "unknown field (Name, Values)");
    }
    if (!f.contains("Name") || !f["Name"].is_string()) return bad(at + ".Name", "required, a string");
    Filter filter;
    filter.name = f["Name"].get<std::string>();
    if (!find_field(schema, filter.name) && !(schema.tags && is_tag_filter(filter.name))) {
      if (!is_printable(filter.name) || filter.name.size() > 256) return bad(at + ".Name", "unknown filter name");
      return bad("", "unknown filter name '" + filter.name + "' (known: " + known_names(schema) + ")");
    }
    if (!f.contains("Values") || !f["Values"].is_array() || f["Values"].empty()) {
      return bad(at + ".Values", "required, a list of at least one string");
    }
    if (f["Values"].size() > kMaxFilterValues) {
      return bad(at + ".Values", "at most " + std::to_string(kMaxFilterValues) + " values");
    }
    for (const auto& v : f["Values"]) {
      if (!v.is_string()) return bad(at + ".Values", "must be a list of strings");
      std::string s = v.get<std::string>();
      if (s.size() > 1024 || !is_printable(s)) {
        return bad(at + ".Values", "a value is at most 1024 characters, without control characters");
      }
      filter.values.push_back(std::move(s));
    }
    out.push_back(std::move(filter));
  }
  return out;
}

bool matches(const Filters& filters, const FilterSchema& schema, const Json& row) {
  for (const auto& filter : filters) {
    const FilterField* field = find_field(schema, filter.name);
    std::vector<RowValue> values = field ? values_at(row, field->path) : tag_values(row, filter.name);
    bool any = false;
    for (const auto& v : values) {
      for (const auto& wanted : filter.values) {
        if (v.is_string ? glob_match(wanted, v.text) : wanted == v.text) {
          any = true;
          break;
        }
      }
      if (any) break;
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace amid
