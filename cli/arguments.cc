#include "cli/arguments.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/block_device_mapping.h"
#include "common/tags.h"

namespace amid::cli {

using protocol::Json;

namespace {

bool is_json_argument(const std::string& v) {
  return v.rfind("file://", 0) == 0 || (!v.empty() && (v.front() == '[' || v.front() == '{'));
}

// The JSON list a value holds (a single object counts as a list of one).
Json json_list(const std::string& value, const std::string& option) {
  Json j = Json::parse(read_blob_argument(value, option), nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(option + ": not valid JSON: " + value);
  if (j.is_object()) return Json::array({j});
  if (!j.is_array()) throw std::invalid_argument(option + ": give a JSON list or object");
  return j;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

Json parse_filter_shorthand(const std::string& text) {
  const std::string usage = "--filters: '" + text + "' is not Name=NAME,Values=V1,V2";
  std::optional<std::string> name;
  std::optional<Json> values;
  bool in_values = false;
  for (const auto& part : split_commas(text)) {
    if (part.rfind("Name=", 0) == 0) {
      if (name) throw std::invalid_argument(usage + " (Name is given twice)");
      name = part.substr(5);
      in_values = false;
    } else if (part.rfind("Values=", 0) == 0) {
      if (values) throw std::invalid_argument(usage + " (Values is given twice)");
      values = Json::array({part.substr(7)});
      in_values = true;
    } else if (in_values) {
      values->push_back(part);
    } else {
      throw std::invalid_argument(usage);
    }
  }
  if (!name || name->empty() || !values) throw std::invalid_argument(usage);
  return {{"Name", *name}, {"Values", *values}};
}

Json parse_tag_shorthand(const std::string& text, bool value_required) {
  const std::string usage = std::string("--tags: '") + text + "' is not Key=KEY," +
                            (value_required ? "Value=VALUE" : "[Value=VALUE]");
  if (text.rfind("Key=", 0) != 0) throw std::invalid_argument(usage);
  const std::size_t value_at = text.find(",Value=");
  Json tag = {{"Key", text.substr(4, value_at == std::string::npos ? std::string::npos : value_at - 4)}};
  if (value_at != std::string::npos) tag["Value"] = text.substr(value_at + 7);
  else if (value_required) throw std::invalid_argument(usage);
  return tag;
}

}  // namespace

Json parse_filters_argument(const std::vector<std::string>& values) {
  Json out = Json::array();
  for (const auto& v : values) {
    if (is_json_argument(v)) {
      for (auto& f : json_list(v, "--filters")) out.push_back(f);
    } else {
      out.push_back(parse_filter_shorthand(v));
    }
  }
  return out;
}

Json parse_tags_argument(const std::vector<std::string>& values, bool value_required) {
  Json out = Json::array();
  for (const auto& v : values) {
    if (is_json_argument(v)) {
      for (auto& t : json_list(v, "--tags")) out.push_back(t);
    } else {
      out.push_back(parse_tag_shorthand(v, value_required));
    }
  }
  // EC2's rules here too, so a mistake is shown before anything is sent.
  auto checked = parse_tag_list(out, "--tags");
  if (!checked) throw std::invalid_argument(checked.problem().message);
  if (value_required) {
    for (const auto& t : checked.value()) {
      if (!t.value) throw std::invalid_argument("--tags: the tag '" + t.key + "' needs a Value");
    }
  }
  return out;
}

namespace {

// Splits at commas outside [] and {}.
std::vector<std::string> split_top_level(const std::string& s, const std::string& usage) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') {
      if (--depth < 0) throw std::invalid_argument(usage);
    }
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) throw std::invalid_argument(usage);
  out.push_back(cur);
  return out;
}

}  // namespace

Json parse_tag_specifications_argument(const std::string& value, const std::set<std::string>& resource_types) {
  Json json = Json::parse(read_blob_argument(value, "--tag-specifications"), nullptr, false);
  if (json.is_discarded()) throw std::invalid_argument("--tag-specifications: not valid JSON");
  auto specs = parse_tag_specifications(json, resource_types);
  if (!specs) throw std::invalid_argument("--tag-specifications: " + specs.problem().message);
  return json;
}

Json parse_launch_permission_argument(const std::string& value) {
  const std::string usage = "--launch-permission: '" + value +
                            "' is not Add=[{UserId=ACCOUNT}|{Group=all},...],Remove=[...] or EC2's JSON";
  if (is_json_argument(value)) {
    Json j = Json::parse(read_blob_argument(value, "--launch-permission"), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw std::invalid_argument(usage);
    return j;
  }
  Json out = Json::object();
  for (const auto& part : split_top_level(value, usage)) {
    auto eq = part.find('=');
    if (eq == std::string::npos) throw std::invalid_argument(usage);
    std::string key = part.substr(0, eq), list = part.substr(eq + 1);
    if ((key != "Add" && key != "Remove") || out.contains(key)) throw std::invalid_argument(usage);
    if (list.size() < 2 || list.front() != '[' || list.back() != ']') throw std::invalid_argument(usage);
    Json items = Json::array();
    const std::string inner = list.substr(1, list.size() - 2);
    if (!inner.empty()) {
      for (std::string item : split_top_level(inner, usage)) {
        if (item.size() >= 2 && item.front() == '{' && item.back() == '}') item = item.substr(1, item.size() - 2);
        auto ieq = item.find('=');
        if (ieq == std::string::npos || ieq == 0) throw std::invalid_argument(usage);
        items.push_back({{item.substr(0, ieq), item.substr(ieq + 1)}});
      }
    }
    out[key] = items;
  }
  return out;
}

Json ip_permissions_argument(const std::string& json, const std::string& protocol, const std::string& port,
                             const std::string& cidr) {
  if (!json.empty()) {
    if (!protocol.empty() || !port.empty() || !cidr.empty()) {
      throw std::invalid_argument("--ip-permissions: give it alone, or --protocol, --port and --cidr instead");
    }
    Json j = Json::parse(read_blob_argument(json, "--ip-permissions"), nullptr, false);
    if (j.is_object()) j = Json::array({j});
    if (j.is_discarded() || !j.is_array()) {
      throw std::invalid_argument("--ip-permissions: not EC2's JSON list ([{\"IpProtocol\":\"tcp\",\"FromPort\":22,"
                                  "\"ToPort\":22,\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}]}])");
    }
    return j;
  }
  if (protocol.empty()) throw std::invalid_argument("--protocol: required (tcp, udp, icmp or all), or --ip-permissions");
  if (cidr.empty()) throw std::invalid_argument("--cidr: required (such as 203.0.113.0/24), or --ip-permissions");
  Json permission = {{"IpProtocol", protocol == "all" ? "-1" : protocol},
                     {"IpRanges", Json::array({{{"CidrIp", cidr}}})}};
  if (!port.empty()) {
    auto number = [&](const std::string& text) {
      if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument("--port: '" + port + "' is not PORT, FROM-TO or -1 (whole numbers, 0-65535)");
      }
      return std::stoi(text);
    };
    int from = -1, to = -1;
    if (port != "-1") {
      auto dash = port.find('-');
      from = number(port.substr(0, dash));
      to = dash == std::string::npos ? from : number(port.substr(dash + 1));
    }
    permission["FromPort"] = from;
    permission["ToPort"] = to;
  }
  return Json::array({permission});
}

CLI::Option* keep_json_lists(CLI::Option* option) {
  return option->expected(1, 1000)->allow_extra_args(false);
}

void ListingOptions::add_to(CLI::App* cmd, const std::string& filter_names, const std::string& max_range) {
  keep_json_lists(cmd->add_option("--filters", filters,
                                  "Name=NAME,Values=V1,V2 (repeatable; values OR'ed, filters AND'ed; * and ? "
                                  "are wildcards) or EC2's JSON. Names: " + filter_names));
  max_results_option = cmd->add_option("--max-results", max_results,
                  "at most this many results (" + max_range + "); a NextToken then fetches the rest");
  cmd->add_option("--next-token", next_token, "continue where a previous --max-results answer stopped");
}

void ListingOptions::apply(Json& params) const {
  if (!filters.empty()) params["Filters"] = parse_filters_argument(filters);
  if (max_results_option && max_results_option->count() > 0) params["MaxResults"] = max_results;
  if (!next_token.empty()) params["NextToken"] = next_token;
}

protocol::Json read_block_device_mappings(const std::string& value) {
  if (value.rfind("file://", 0) == 0) {
    std::string path = value.substr(7);
    auto parsed = parse_block_device_mappings(read_blob_argument(value, "--block-device-mappings"), path);
    if (!parsed) throw std::invalid_argument(parsed.problem().message);
    return to_ec2_json(parsed.value());
  }
  auto json = protocol::Json::parse(value, nullptr, false);
  if (json.is_discarded()) {
    throw std::invalid_argument("--block-device-mappings: give file://PATH to a TOML file or EC2's JSON");
  }
  auto parsed = from_ec2_json(json);
  if (!parsed) throw std::invalid_argument(parsed.problem().message);
  return to_ec2_json(parsed.value());
}

std::string read_blob_argument(const std::string& value, const std::string& option) {
  const std::string prefix = "file://";
  if (value.rfind(prefix, 0) != 0) return value;
  std::string path = value.substr(prefix.size());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(option + ": cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace amid::cli
