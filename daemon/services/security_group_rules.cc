#include "daemon/services/security_group_rules.h"

#include "common/ipv4.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

namespace amid {
namespace {

using protocol::Json;

// tcp, udp, icmp or -1, from a name or an IANA number; "" for any other.
std::string protocol_named(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "tcp" || text == "6") return "tcp";
  if (text == "udp" || text == "17") return "udp";
  if (text == "icmp" || text == "1") return "icmp";
  if (text == "-1" || text == "all") return "-1";
  return "";
}

// `where`'s field `name` ("IpPermissions.1.FromPort"; "FromPort" in the flat form).
std::string at(const std::string& where, const std::string& name) { return where.empty() ? name : where + "." + name; }

Problem missing(const std::string& field, const std::string& why) {
  return problem(field + ": " + why, codes::kMissingParameter);
}

// Reads an optional whole number of a JSON object (nullopt when absent).
Result<std::optional<std::int64_t>> optional_number(const Json& object, const char* name, const std::string& where) {
  if (!object.contains(name) || object[name].is_null()) return std::optional<std::int64_t>{};
  const Json& v = object[name];
  if (!v.is_number_integer()) return problem(where + "." + name + ": not a whole number");
  return std::optional<std::int64_t>{v.get<std::int64_t>()};
}

Result<std::string> optional_text(const Json& object, const char* name, const std::string& where) {
  if (!object.contains(name) || object[name].is_null()) return std::string();
  if (!object[name].is_string()) return problem(where + "." + name + ": not a string");
  return object[name].get<std::string>();
}

}  // namespace

Result<std::string> canonical_cidr(const std::string& text, const std::string& field) {
  auto bad = [&] {
    return problem(field + ": '" + text + "' is not an IPv4 CIDR block such as 203.0.113.0/24 (a.b.c.d/n, n 0-32)");
  };
  auto cidr = Ipv4Cidr::parse(text);
  if (!cidr) return bad();
  // As EC2 stores it: the network's own address (10.1.2.3/8 is 10.0.0.0/8).
  return Ipv4Cidr{cidr->network(), cidr->prefix}.str();
}

Result<std::string> checked_group_text(const std::string& text, const std::string& field, bool required) {
  if (text.empty() && required) return missing(field, "required");
  if (text.size() > kMaxGroupText) return problem(field + ": longer than 255 characters");
  static const char* kAllowed = " ._-:/()#,@[]+=&;{}!$*";
  for (unsigned char c : text) {
    if (!std::isalnum(c) && !std::strchr(kAllowed, c)) {
      return problem(field + ": only a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* are allowed, as on EC2");
    }
  }
  return text;
}

Result<SecurityGroupRule> checked_rule(const RuleRequest& in, const std::string& where, const std::string& cidr_field) {
  SecurityGroupRule rule;
  if (in.protocol.empty()) return missing(at(where, "IpProtocol"), "required (tcp, udp, icmp or -1 for all)");
  rule.protocol = protocol_named(in.protocol);
  if (rule.protocol.empty()) {
    return problem(at(where, "IpProtocol") + ": '" + in.protocol + "' is not one amid filters: tcp (6), udp (17), icmp (1) "
                   "or -1 for all");
  }
  if (rule.protocol == "tcp" || rule.protocol == "udp") {
    if (!in.from_port) return missing(at(where, "FromPort"), "required for " + rule.protocol + " (0-65535)");
    if (!in.to_port) return missing(at(where, "ToPort"), "required for " + rule.protocol + " (0-65535)");
    for (auto [value, name] : {std::pair{*in.from_port, "FromPort"}, std::pair{*in.to_port, "ToPort"}}) {
      if (value < 0 || value > 65535) {
        return problem(at(where, name) + ": " + std::to_string(value) + " is not a port (0-65535)");
      }
    }
    if (*in.from_port > *in.to_port) {
      return problem(at(where, "FromPort") + ": " + std::to_string(*in.from_port) + " is after ToPort " +
                     std::to_string(*in.to_port));
    }
    rule.from_port = static_cast<int>(*in.from_port);
    rule.to_port = static_cast<int>(*in.to_port);
  } else if (rule.protocol == "icmp") {
    // FromPort is the ICMP type, ToPort the code; -1 (or absent) is any.
    std::int64_t type = in.from_port.value_or(-1), code = in.to_port.value_or(-1);
    if (type < -1 || type > 255) return problem(at(where, "FromPort") + ": ICMP type " + std::to_string(type) + " is not -1..255");
    if (code < -1 || code > 255) return problem(at(where, "ToPort") + ": ICMP code " + std::to_string(code) + " is not -1..255");
    if (type == -1 && code != -1) return problem(at(where, "ToPort") + ": with every ICMP type (-1), the code must be -1 too");
    rule.from_port = static_cast<int>(type);
    rule.to_port = static_cast<int>(code);
  }  // -1: every protocol and port; ports sent with it mean nothing (EC2 ignores them).
  if (in.cidr.empty()) return missing(cidr_field, "required (an IPv4 CIDR block such as 0.0.0.0/0)");
  auto cidr = canonical_cidr(in.cidr, cidr_field);
  if (!cidr) return cidr.problem();
  rule.cidr = cidr.value();
  std::string description_field = cidr_field.substr(0, cidr_field.rfind('.') + 1) + "Description";
  auto description = checked_group_text(in.description, description_field, false);
  if (!description) return description.problem();
  rule.description = description.value();
  return rule;
}

Result<std::vector<SecurityGroupRule>> read_ip_permissions(const Json& permissions) {
  if (!permissions.is_array()) return problem("IpPermissions: not a list");
  if (permissions.empty()) return missing("IpPermissions", "give at least one permission");
  std::vector<SecurityGroupRule> out;
  for (std::size_t i = 0; i < permissions.size(); ++i) {
    const Json& p = permissions[i];
    std::string where = "IpPermissions." + std::to_string(i + 1);
    if (!p.is_object()) return problem(where + ": not an object");
    for (const auto& [key, value] : p.items()) {
      static const std::set<std::string> kKnown = {"IpProtocol", "FromPort", "ToPort", "IpRanges", "UserIdGroupPairs",
                                                   "Ipv6Ranges", "PrefixListIds"};
      if (!kKnown.count(key)) return problem(where + "." + key + ": unknown field", codes::kUnknownParameter);
      if ((key == "UserIdGroupPairs" || key == "Ipv6Ranges" || key == "PrefixListIds") && !value.empty()) {
        return problem(where + "." + key + ": amid's security groups take IPv4 ranges (IpRanges) only");
      }
    }
    RuleRequest rule;
    auto protocol = optional_text(p, "IpProtocol", where);
    auto from = optional_number(p, "FromPort", where);
    auto to = optional_number(p, "ToPort", where);
    if (!protocol) return protocol.problem();
    if (!from) return from.problem();
    if (!to) return to.problem();
    rule.protocol = protocol.value();
    rule.from_port = from.value();
    rule.to_port = to.value();
    if (!p.contains("IpRanges") || !p["IpRanges"].is_array() || p["IpRanges"].empty()) {
      return missing(where + ".IpRanges", "give at least one {\"CidrIp\": \"a.b.c.d/n\"}");
    }
    const Json& ranges = p["IpRanges"];
    for (std::size_t j = 0; j < ranges.size(); ++j) {
      std::string range = where + ".IpRanges." + std::to_string(j + 1);
      if (!ranges[j].is_object()) return problem(range + ": not an object");
      for (const auto& [key, value] : ranges[j].items()) {
        if (key != "CidrIp" && key != "Description") {
          return problem(range + "." + key + ": unknown field", codes::kUnknownParameter);
        }
      }
      auto cidr = optional_text(ranges[j], "CidrIp", range);
      auto description = optional_text(ranges[j], "Description", range);
      if (!cidr) return cidr.problem();
      if (!description) return description.problem();
      rule.cidr = cidr.value();
      rule.description = description.value();
      auto checked = checked_rule(rule, where, range + ".CidrIp");
      if (!checked) return checked.problem();
      out.push_back(std::move(checked).value());
    }
  }
  return out;
}

std::vector<std::uint16_t> forwarded_ports(const std::vector<SecurityGroupRule>& ingress, std::size_t* left_out) {
  static const Ipv4Cidr kHostClients = *Ipv4Cidr::parse("127.0.0.1/32");
  std::set<std::uint16_t> open;  // every port the rules open to the host (at most 65535)
  for (const auto& rule : ingress) {
    if (rule.protocol != "tcp" && rule.protocol != "-1") continue;
    auto range = Ipv4Cidr::parse(rule.cidr);
    if (!range || !range->contains(kHostClients.address)) continue;
    const int from = rule.protocol == "-1" ? 1 : std::max(rule.from_port, 1);
    const int to = rule.protocol == "-1" ? 65535 : std::min(rule.to_port, 65535);
    for (int p = from; p <= to; ++p) open.insert(static_cast<std::uint16_t>(p));
  }
  std::set<std::uint16_t> chosen;
  static constexpr std::uint16_t kWellKnown[] = {22, 80, 443, 8080, 8000, 8443, 3000, 5000, 3389, 5432, 3306, 6379};
  for (std::uint16_t p : kWellKnown) {
    if (chosen.size() < kMaxForwardsPerInstance && open.count(p)) chosen.insert(p);
  }
  for (std::uint16_t p : open) {
    if (chosen.size() >= kMaxForwardsPerInstance) break;
    chosen.insert(p);
  }
  if (left_out) *left_out = open.size() - chosen.size();
  return {chosen.begin(), chosen.end()};
}

}  // namespace amid
