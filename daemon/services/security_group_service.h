// EC2's security groups: CreateSecurityGroup, DescribeSecurityGroups,
// DeleteSecurityGroup, Authorize/RevokeSecurityGroupIngress, the groups a
// launch puts an instance in, and ModifyInstanceAttribute's Groups.
//
// A group belongs to one account in one region, in that account's default VPC
// (services/default_vpc.h). Each account has a group named `default` in each
// region, made the first time it is needed (a describe, a launch without
// groups); it cannot be deleted and starts with no ingress rule (on EC2 it
// admits its own members, but instances have no network between them yet).
// Every group lets everything out (EC2's default egress rule, not stored).
//
// Rules change all or nothing, in one catalog transaction. After a change
// commits, the observer (set_ingress_observer) hears of each instance (not
// terminated) whose effective ingress rules (effective_ingress) it changed:
// the seam the guest network's filtering hangs on. Called from worker threads;
// errors are AmidErrors with EC2's codes (InvalidGroup.NotFound,
// InvalidGroup.Duplicate, InvalidGroupId.Malformed, CannotDelete,
// DependencyViolation, InvalidPermission.Duplicate, InvalidPermission.NotFound,
// RulesPerSecurityGroupLimitExceeded, InvalidVpcID.NotFound).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/services/caller.h"
#include "daemon/services/runtime.h"

namespace amid {

class InstanceService;

// A group a request names: by id, or by name among the caller's (one of them).
struct GroupSelector {
  std::string id, name;
};

// What Authorize/RevokeSecurityGroupIngress did: the group and the rules
// added or removed, as stored (ids and all).
struct RuleChange {
  SecurityGroupRecord group;
  std::vector<SecurityGroupRule> rules;
};

class SecurityGroupService {
 public:
  SecurityGroupService(Runtime& rt, InstanceService& instances) : rt_(rt), instances_(instances) {}

  // vpc_id: "" or the caller's default VPC. tags: TagSpecifications' "security-group".
  SecurityGroupRecord create_security_group(const Caller& caller, const std::string& name,
                                            const std::string& description, const std::string& vpc_id,
                                            const Tags& tags);
  // The caller's groups in this region (the default one made if need be), or
  // exactly those named or given by id (InvalidGroup.NotFound).
  std::vector<SecurityGroupRecord> describe_security_groups(const Caller& caller, const std::vector<std::string>& ids,
                                                            const std::vector<std::string>& names);
  // Returns the id deleted. Refused while an instance that is not terminated is
  // in the group (DependencyViolation), and for `default` (CannotDelete).
  std::string delete_security_group(const Caller& caller, const GroupSelector& which);
  // `rules` are checked already (security_group_rules.h); each gets its sgr- id here.
  RuleChange authorize_ingress(const Caller& caller, const GroupSelector& which, std::vector<SecurityGroupRule> rules);
  RuleChange revoke_ingress(const Caller& caller, const GroupSelector& which,
                            const std::vector<SecurityGroupRule>& rules);

  // The groups a launch names (SecurityGroupIds, SecurityGroups by name), the
  // caller's, in order, without repeats; none named: the default group.
  std::vector<GroupRef> groups_for_launch(const Caller& caller, const std::vector<std::string>& ids,
                                          const std::vector<std::string>& names);
  // ModifyInstanceAttribute Groups: replaces a running or stopped instance's
  // groups with 1..5 of its owner's groups.
  void set_instance_groups(const Caller& caller, const std::string& instance_id, const std::vector<std::string>& ids);

  // The ingress an instance is allowed: the union of its groups' rules (each rule
  // once, in its groups' order).
  std::vector<SecurityGroupRule> effective_ingress(const std::string& instance_id) const;
  // Called with an instance's id after a change to its effective ingress has
  // committed (authorize, revoke, its groups replaced), on the thread that made
  // it, with nothing held. One observer; an empty function removes it.
  using IngressObserver = std::function<void(const std::string& instance_id)>;
  void set_ingress_observer(IngressObserver observer);

  // The account's `default` group in this region, made now if it is not there yet.
  SecurityGroupRecord default_group(const std::string& account);

 private:
  SecurityGroupRecord group_of(const Caller& caller, const GroupSelector& which);
  SecurityGroupRecord group_by_id(const Caller& caller, const std::string& id);
  void notify(const std::vector<std::string>& instance_ids);
  Runtime& rt_;
  InstanceService& instances_;
  mutable std::mutex observer_mu_;
  IngressObserver observer_;  // guarded by observer_mu_
};

inline constexpr const char* kDefaultGroupName = "default";

// SecurityGroupService::effective_ingress, for those that hold no service
// (services/guest_network.h).
std::vector<SecurityGroupRule> effective_ingress(const Catalog& catalog, const std::string& instance_id);

}  // namespace amid
