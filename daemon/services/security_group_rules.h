// EC2's rules for what a security group holds, in one place: names and
// descriptions, and each ingress rule's protocol, ports and CIDR. Authorize and
// revoke read the same IpPermissions through read_ip_permissions, and every
// rule, however it was sent, goes through checked_rule. Pure and thread-safe;
// nothing here throws (errors are Problems naming the field, EC2's codes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"
#include "daemon/state/records.h"

namespace amid {

inline constexpr std::size_t kMaxGroupText = 255;         // names, descriptions (group and rule)
inline constexpr std::size_t kMaxRulesPerGroup = 60;      // EC2's default quota, inbound
inline constexpr std::size_t kMaxGroupsPerInstance = 5;   // EC2's default quota

// A rule as a request spells it, before it is checked.
struct RuleRequest {
  std::string protocol;                   // tcp, udp, icmp, -1 or all, or 6, 17, 1
  std::optional<std::int64_t> from_port;  // tcp/udp: first port; icmp: type (-1 = any)
  std::optional<std::int64_t> to_port;    // tcp/udp: last port; icmp: code (-1 = any)
  std::string cidr;                       // IPv4 a.b.c.d/n
  std::string description;
};

// The rule, normalised as records.h keeps it (protocol by name, ports -1 for
// all protocols, the CIDR's host bits cleared as EC2 canonicalises them).
// `where` names the permission ("IpPermissions.1"), `cidr_field` the range's
// CIDR ("IpPermissions.1.IpRanges.1.CidrIp"); errors name them.
Result<SecurityGroupRule> checked_rule(const RuleRequest& rule, const std::string& where,
                                       const std::string& cidr_field);
// "10.1.2.3/8" -> "10.0.0.0/8"; InvalidParameterValue naming `field` for anything
// that is not an IPv4 CIDR.
Result<std::string> canonical_cidr(const std::string& text, const std::string& field);
// EC2's IpPermissions list: one rule per IpRange of each permission, checked.
// Sources amid cannot honour yet (UserIdGroupPairs, Ipv6Ranges, PrefixListIds)
// are refused by name.
Result<std::vector<SecurityGroupRule>> read_ip_permissions(const protocol::Json& permissions);
// How many ports of one instance amid forwards from the host at most.
inline constexpr std::size_t kMaxForwardsPerInstance = 32;

// The tcp ports of an instance the host reaches through amid's forwards
// (services/guest_network.h): those an ingress rule opens, for tcp or for all
// traffic, to a range that holds 127.0.0.1, the address the host's clients
// connect from. Ascending, at most kMaxForwardsPerInstance: when rules open
// more, the well-known ports people forward first (22, 80, 443, ...), then the
// lowest others; `left_out` (if given) counts the ports that did not fit.
std::vector<std::uint16_t> forwarded_ports(const std::vector<SecurityGroupRule>& ingress,
                                           std::size_t* left_out = nullptr);

// A group's name, description or a rule's description: at most 255 characters of
// EC2's set (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*).
Result<std::string> checked_group_text(const std::string& text, const std::string& field, bool required);

}  // namespace amid
