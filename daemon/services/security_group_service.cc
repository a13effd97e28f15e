#include "daemon/services/security_group_service.h"

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/services/default_vpc.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/security_group_rules.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

constexpr const char* kGroupNotFound = "InvalidGroup.NotFound";
constexpr const char* kMalformed = "InvalidGroupId.Malformed";

[[noreturn]] void group_not_found(const std::string& id) {
  throw AmidError(kGroupNotFound, "The security group '" + id + "' does not exist");
}

[[noreturn]] void group_not_found_named(const std::string& name, const std::string& vpc_id) {
  throw AmidError(kGroupNotFound, "The security group '" + name + "' does not exist in default VPC '" + vpc_id + "'");
}

void check_group_id(const std::string& id, const std::string& field) {
  if (!is_valid_id(id, "sg")) {
    throw AmidError(kMalformed, field + ": '" + id + "' is not a security group id (sg- and 17 hex digits)");
  }
}

std::string rule_text(const SecurityGroupRule& r) {
  std::string ports = r.protocol == "-1" ? "all" : std::to_string(r.from_port) + "-" + std::to_string(r.to_port);
  return r.protocol + " " + ports + " from " + r.cidr;
}

bool same_name(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

SecurityGroupRecord SecurityGroupService::default_group(const std::string& account) {
  const std::string& region = rt_.settings.region;
  if (auto g = rt_.catalog.find_security_group_named(account, region, kDefaultGroupName)) return *g;
  SecurityGroupRecord g;
  g.id = new_id("sg");
  g.owner = account;
  g.region = region;
  g.name = kDefaultGroupName;
  g.description = "default VPC security group";
  g.vpc_id = default_vpc_id(account, region);
  g.create_time = iso_now();
  if (rt_.catalog.insert_security_group(g)) {
    log_info("security group " + g.id + " (default) made for " + account + " in " + region);
    return g;
  }
  // Another request made it meanwhile.
  auto made = rt_.catalog.find_security_group_named(account, region, kDefaultGroupName);
  if (!made) throw AmidError(codes::kInternalError, "the default security group of " + account + " vanished");
  return *made;
}

SecurityGroupRecord SecurityGroupService::create_security_group(const Caller& caller, const std::string& name,
                                                                const std::string& description,
                                                                const std::string& vpc_id, const Tags& tags) {
  checked_group_text(name, "GroupName", true).value_or_throw();
  checked_group_text(description, "Description", true).value_or_throw();
  if (name.size() >= 3 && same_name(name.substr(0, 3), "sg-")) {
    throw AmidError(codes::kInvalidParameterValue, "GroupName: may not start with 'sg-' (EC2 keeps that for ids)");
  }
  const std::string vpc = default_vpc_id(caller.account, rt_.settings.region);
  if (!vpc_id.empty() && vpc_id != vpc) {
    throw AmidError("InvalidVpcID.NotFound", "VpcId: the vpc ID '" + vpc_id + "' does not exist (your default VPC here is " +
                                                 vpc + "; amid has no other VPCs)");
  }
  default_group(caller.account);  // so that `default` is taken, as on EC2
  SecurityGroupRecord g;
  g.id = new_id("sg");
  g.owner = caller.account;
  g.region = rt_.settings.region;
  g.name = name;
  g.description = description;
  g.vpc_id = vpc;
  g.create_time = iso_now();
  g.tags = tags;
  if (!rt_.catalog.insert_security_group(g)) {
    throw AmidError("InvalidGroup.Duplicate", "The security group '" + name + "' already exists for VPC '" + vpc + "'");
  }
  log_info("security group " + g.id + " (" + name + ") made by " + caller.account);
  return g;
}

std::vector<SecurityGroupRecord> SecurityGroupService::describe_security_groups(const Caller& caller,
                                                                                const std::vector<std::string>& ids,
                                                                                const std::vector<std::string>& names) {
  default_group(caller.account);
  for (const auto& id : ids) check_group_id(id, "GroupIds");
  std::vector<SecurityGroupRecord> mine;
  for (auto& g : rt_.catalog.list_security_groups(rt_.settings.region)) {
    if (caller.may_manage(g.owner)) mine.push_back(std::move(g));
  }
  if (names.empty() && ids.empty()) return mine;
  std::vector<SecurityGroupRecord> out;
  std::set<std::string> taken;
  for (const auto& name : names) {
    // Names are the caller's own groups', as on EC2 (an admin's too).
    auto it = std::find_if(mine.begin(), mine.end(), [&](const SecurityGroupRecord& g) {
      return g.owner == caller.account && same_name(g.name, name);
    });
    if (it == mine.end()) group_not_found_named(name, default_vpc_id(caller.account, rt_.settings.region));
    if (taken.insert(it->id).second) out.push_back(*it);
  }
  for (const auto& id : ids) {
    auto it = std::find_if(mine.begin(), mine.end(), [&](const SecurityGroupRecord& g) { return g.id == id; });
    if (it == mine.end()) group_not_found(id);
    if (taken.insert(it->id).second) out.push_back(*it);
  }
  return out;
}

SecurityGroupRecord SecurityGroupService::group_by_id(const Caller& caller, const std::string& id) {
  auto g = rt_.catalog.find_security_group(id);
  if (!g || g->region != rt_.settings.region || !caller.may_manage(g->owner)) group_not_found(id);
  return *g;
}

SecurityGroupRecord SecurityGroupService::group_of(const Caller& caller, const GroupSelector& which) {
  if (which.id.empty() == which.name.empty()) {
    throw AmidError(codes::kMissingParameter, "GroupId: give the group's id or its GroupName (one of them)");
  }
  if (!which.id.empty()) {
    check_group_id(which.id, "GroupId");
    return group_by_id(caller, which.id);
  }
  if (same_name(which.name, kDefaultGroupName)) return default_group(caller.account);
  auto g = rt_.catalog.find_security_group_named(caller.account, rt_.settings.region, which.name);
  if (!g) group_not_found_named(which.name, default_vpc_id(caller.account, rt_.settings.region));
  return *g;
}

std::string SecurityGroupService::delete_security_group(const Caller& caller, const GroupSelector& which) {
  SecurityGroupRecord g = group_of(caller, which);
  if (g.name == kDefaultGroupName) {
    throw AmidError("CannotDelete", "the default security group (" + g.id + ") cannot be deleted");
  }
  std::vector<std::string> users = rt_.catalog.delete_security_group_if_unused(g.id);
  if (!users.empty()) {
    throw AmidError("DependencyViolation", "resource " + g.id + " has a dependent object: instance " + users.front() +
                                               (users.size() > 1 ? " and " + std::to_string(users.size() - 1) + " more"
                                                                 : std::string()) +
                                               " (terminate it, or move it with modify-instance-attribute --groups)");
  }
  log_info("security group " + g.id + " (" + g.name + ") deleted by " + caller.account);
  return g.id;
}

RuleChange SecurityGroupService::authorize_ingress(const Caller& caller, const GroupSelector& which,
                                                   std::vector<SecurityGroupRule> rules) {
  SecurityGroupRecord g = group_of(caller, which);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (rules[i].same_as(rules[j])) {
        throw AmidError("InvalidPermission.Duplicate",
                        "IpPermissions: the rule '" + rule_text(rules[i]) + "' is given twice in this request");
      }
    }
    rules[i].id = new_id("sgr");
  }
  RuleEditRefusal refusal = rt_.catalog.add_security_group_rules(g.id, rules, kMaxRulesPerGroup);
  if (refusal.missing_group) group_not_found(g.id);
  if (refusal.conflict) {
    throw AmidError("InvalidPermission.Duplicate", "the specified rule '" + rule_text(*refusal.conflict) +
                                                       "' already exists in " + g.id + "; nothing was added");
  }
  if (refusal.over_limit) {
    throw AmidError("RulesPerSecurityGroupLimitExceeded",
                    "IpPermissions: " + g.id + " would hold " + std::to_string(refusal.over_limit) +
                        " inbound rules; at most " + std::to_string(kMaxRulesPerGroup) + " (nothing was added)");
  }
  log_info("security group " + g.id + ": " + std::to_string(rules.size()) + " ingress rule(s) authorized by " +
           caller.account);
  notify(rt_.catalog.instances_in_security_group(g.id));
  return {g, rules};
}

RuleChange SecurityGroupService::revoke_ingress(const Caller& caller, const GroupSelector& which,
                                                const std::vector<SecurityGroupRule>& rules) {
  SecurityGroupRecord g = group_of(caller, which);
  std::vector<SecurityGroupRule> removed;
  RuleEditRefusal refusal = rt_.catalog.remove_security_group_rules(g.id, rules, removed);
  if (refusal.missing_group) group_not_found(g.id);
  if (refusal.conflict) {
    throw AmidError("InvalidPermission.NotFound", "the specified rule '" + rule_text(*refusal.conflict) +
                                                      "' does not exist in " + g.id + "; nothing was revoked");
  }
  log_info("security group " + g.id + ": " + std::to_string(removed.size()) + " ingress rule(s) revoked by " +
           caller.account);
  notify(rt_.catalog.instances_in_security_group(g.id));
  return {g, removed};
}

std::vector<GroupRef> SecurityGroupService::groups_for_launch(const Caller& caller, const std::vector<std::string>& ids,
                                                              const std::vector<std::string>& names) {
  std::vector<GroupRef> out;
  auto add = [&](const SecurityGroupRecord& g) {
    if (std::none_of(out.begin(), out.end(), [&](const GroupRef& r) { return r.id == g.id; })) {
      out.push_back({g.id, g.name});
    }
  };
  for (const auto& id : ids) {
    check_group_id(id, "SecurityGroupIds");
    auto g = rt_.catalog.find_security_group(id);
    // A launch's groups are the launching account's own (one VPC: its default).
    if (!g || g->region != rt_.settings.region || g->owner != caller.account) group_not_found(id);
    add(*g);
  }
  for (const auto& name : names) add(group_of(caller, {"", name}));
  if (out.empty()) add(default_group(caller.account));
  if (out.size() > kMaxGroupsPerInstance) {
    throw AmidError(codes::kInvalidParameterValue, "SecurityGroupIds: " + std::to_string(out.size()) +
                                                       " groups; an instance may be in at most 5");
  }
  return out;
}

void SecurityGroupService::set_instance_groups(const Caller& caller, const std::string& instance_id,
                                               const std::vector<std::string>& ids) {
  if (ids.empty()) throw AmidError(codes::kMissingParameter, "Groups: give 1 to 5 security group ids");
  check_instance_id(instance_id);
  InstanceRecord rec = instances_.describe_instances(caller, {instance_id}).front();
  if (rec.state != InstanceState::kRunning && rec.state != InstanceState::kStopped) {
    throw AmidError(codes::kIncorrectInstanceState, "The instance '" + rec.id + "' is " + to_string(rec.state) +
                                                        "; its groups change while it is running or stopped");
  }
  std::vector<std::string> group_ids;
  for (const auto& id : ids) {
    check_group_id(id, "Groups");
    auto g = rt_.catalog.find_security_group(id);
    if (!g || g->region != rec.region || g->owner != rec.owner) group_not_found(id);
    if (std::find(group_ids.begin(), group_ids.end(), id) == group_ids.end()) group_ids.push_back(id);
  }
  if (group_ids.size() > kMaxGroupsPerInstance) {
    throw AmidError(codes::kInvalidParameterValue,
                    "Groups: " + std::to_string(group_ids.size()) + " groups; an instance may be in at most 5");
  }
  rt_.catalog.set_instance_security_groups(rec.id, group_ids);
  log_info("instance " + rec.id + ": security groups set to " + std::to_string(group_ids.size()) + " by " +
           caller.account);
  notify({rec.id});
}

std::vector<SecurityGroupRule> SecurityGroupService::effective_ingress(const std::string& instance_id) const {
  return amid::effective_ingress(rt_.catalog, instance_id);
}

std::vector<SecurityGroupRule> effective_ingress(const Catalog& catalog, const std::string& instance_id) {
  std::vector<SecurityGroupRule> out;
  auto rec = catalog.find_instance(instance_id);
  if (!rec) return out;
  for (const auto& ref : rec->security_groups) {
    auto g = catalog.find_security_group(ref.id);
    if (!g) continue;
    for (const auto& rule : g->ingress) {
      if (std::none_of(out.begin(), out.end(), [&](const SecurityGroupRule& r) { return r.same_as(rule); })) {
        out.push_back(rule);
      }
    }
  }
  return out;
}

void SecurityGroupService::set_ingress_observer(IngressObserver observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

void SecurityGroupService::notify(const std::vector<std::string>& instance_ids) {
  IngressObserver observer;
  {
    std::lock_guard lock(observer_mu_);
    observer = observer_;
  }
  if (!observer) return;
  for (const auto& id : instance_ids) {
    try {
      observer(id);
    } catch (const std::exception& e) {
      // The change is committed; an observer's failure must not undo the answer.
      log_error("instance " + id + ": ingress change not taken up: " + e.what());
    }
  }
}

}  // namespace amid
