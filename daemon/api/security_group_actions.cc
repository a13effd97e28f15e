// The security group actions: CreateSecurityGroup, DescribeSecurityGroups,
// DeleteSecurityGroup, AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress.
// (RunInstances' groups and ModifyInstanceAttribute sit with the instance actions.)
#include "daemon/api/actions.h"

#include <limits>

#include "daemon/api/listing.h"
#include "daemon/services/render.h"
#include "daemon/services/security_group_rules.h"
#include "daemon/services/security_group_service.h"

namespace amid {
namespace {

using Json = protocol::Json;

GroupSelector read_group(ParamReader& p) {
  return {p.optional_string("GroupId", 64).value_or(""), p.optional_string("GroupName", kMaxGroupText).value_or("")};
}

// The rules of an Authorize or Revoke request: EC2's IpPermissions, or the older
// flat form (IpProtocol, FromPort, ToPort, CidrIp), never both. Read the same
// way for both actions, through the one check (security_group_rules.h).
std::vector<SecurityGroupRule> read_rules(ParamReader& p) {
  const Json* permissions = p.optional_json("IpPermissions");
  constexpr std::int64_t kWide = std::numeric_limits<std::int32_t>::max();  // checked_rule says what fits
  RuleRequest flat;
  auto protocol = p.optional_string("IpProtocol", 16);
  flat.from_port = p.optional_int("FromPort", -kWide, kWide);
  flat.to_port = p.optional_int("ToPort", -kWide, kWide);
  auto cidr = p.optional_string("CidrIp", 64);
  const bool flat_given = protocol || flat.from_port || flat.to_port || cidr;
  if (permissions && flat_given) {
    throw AmidError(codes::kInvalidParameterCombination,
                    "IpPermissions: give the rules either as IpPermissions or as IpProtocol/FromPort/ToPort/CidrIp");
  }
  if (permissions) return read_ip_permissions(*permissions).value_or_throw();
  if (!flat_given) {
    throw AmidError(codes::kMissingParameter,
                    "IpPermissions: give the rules ([{\"IpProtocol\": \"tcp\", \"FromPort\": 22, \"ToPort\": 22, "
                    "\"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}])");
  }
  flat.protocol = protocol.value_or("");
  flat.cidr = cidr.value_or("");
  return {checked_rule(flat, "", "CidrIp").value_or_throw()};
}

Json rendered_rules(const RuleChange& change) {
  Json out = Json::array();
  for (const auto& rule : change.rules) out.push_back(render_security_group_rule(change.group, rule));
  return out;
}

Json create_security_group(Services& services, const Caller& caller, ParamReader& p) {
  std::string name = p.required_string("GroupName", kMaxGroupText);
  std::string description = p.required_string("Description", kMaxGroupText);
  std::string vpc_id = p.optional_string("VpcId", 64).value_or("");
  Tags tags;
  if (const Json* specs = p.optional_json("TagSpecifications")) {
    for (auto& spec : parse_tag_specifications(*specs, {"security-group"}).value_or_throw()) tags = std::move(spec.tags);
  }
  p.finish();
  SecurityGroupRecord g = services.security_groups.create_security_group(caller, name, description, vpc_id, tags);
  Json out = {{"GroupId", g.id}};
  if (!g.tags.empty()) out["Tags"] = render_tags(g.tags);
  return out;
}

Json describe_security_groups(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("GroupIds");
  auto names = p.string_list("GroupNames");
  Listing listing({"DescribeSecurityGroups", &kSecurityGroupFilters, 5, 1000, {"/GroupId"}}, p,
                  !ids.empty() || !names.empty(), ids.empty() ? "GroupNames" : "GroupIds");
  p.finish();
  std::vector<Json> rows;
  for (const auto& g : services.security_groups.describe_security_groups(caller, ids, names)) {
    Json row = render_security_group(g);
    if (listing.wants(row)) rows.push_back(std::move(row));
  }
  std::string next = listing.take_page(rows);
  return listed("SecurityGroups", std::move(rows), next);
}

Json delete_security_group(Services& services, const Caller& caller, ParamReader& p) {
  GroupSelector which = read_group(p);
  p.finish();
  return {{"Return", true}, {"GroupId", services.security_groups.delete_security_group(caller, which)}};
}

Json authorize_security_group_ingress(Services& services, const Caller& caller, ParamReader& p) {
  GroupSelector which = read_group(p);
  std::vector<SecurityGroupRule> rules = read_rules(p);
  p.finish();
  RuleChange change = services.security_groups.authorize_ingress(caller, which, std::move(rules));
  return {{"Return", true}, {"SecurityGroupRules", rendered_rules(change)}};
}

Json revoke_security_group_ingress(Services& services, const Caller& caller, ParamReader& p) {
  GroupSelector which = read_group(p);
  std::vector<SecurityGroupRule> rules = read_rules(p);
  p.finish();
  RuleChange change = services.security_groups.revoke_ingress(caller, which, rules);
  return {{"Return", true}, {"RevokedSecurityGroupRules", rendered_rules(change)}};
}

}  // namespace

const ActionTable& security_group_actions() {
  static const ActionTable table = {
      {"CreateSecurityGroup", create_security_group},
      {"DescribeSecurityGroups", describe_security_groups},
      {"DeleteSecurityGroup", delete_security_group},
      {"AuthorizeSecurityGroupIngress", authorize_security_group_ingress},
      {"RevokeSecurityGroupIngress", revoke_security_group_ingress},
  };
  return table;
}

}  // namespace amid
