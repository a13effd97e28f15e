// state/catalog.h, security groups: names unique per owner and region whatever
// their case, rules added and removed all or nothing, an instance's groups kept
// in order and a group in use never deleted.
#include <gtest/gtest.h>

#include <string>

#include "daemon/state/catalog.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

SecurityGroupRecord group(const std::string& id, const std::string& name, const std::string& owner = "000000001000") {
  return {id, owner, "local-1", name, "d", "vpc-0000000000000000a", "2026-12-06T00:00:00.000Z", {}, {}};
}

SecurityGroupRule rule(const std::string& id, int port, const std::string& cidr = "0.0.0.0/0") {
  return {id, "tcp", port, port, cidr, ""};
}

InstanceRecord instance(const std::string& id, std::vector<GroupRef> groups) {
  InstanceRecord r;
  r.id = id;
  r.reservation_id = "r-0000000000000000a";
  r.owner = "000000001000";
  r.region = "local-1";
  r.security_groups = std::move(groups);
  return r;
}

class CatalogSecurityGroupsTest : public ::amid::testing::TempDirTest {
 protected:
  Catalog c_{tmp_.file("catalog.db")};
};

TEST_F(CatalogSecurityGroupsTest, NamesAreUniquePerOwnerWhateverTheirCase) {
  EXPECT_TRUE(c_.insert_security_group(group("sg-0000000000000000a", "Web")));
  EXPECT_FALSE(c_.insert_security_group(group("sg-0000000000000000b", "web")));
  EXPECT_TRUE(c_.insert_security_group(group("sg-0000000000000000c", "web", "000000002000")));
  EXPECT_EQ(c_.find_security_group_named("000000001000", "local-1", "WEB")->id, "sg-0000000000000000a");
  EXPECT_EQ(c_.list_security_groups("local-1").size(), 2u);
  EXPECT_EQ(c_.list_security_groups("local-2").size(), 0u);
}

TEST_F(CatalogSecurityGroupsTest, RulesChangeAllOrNothing) {
  const std::string g = "sg-0000000000000000a";
  ASSERT_TRUE(c_.insert_security_group(group(g, "web")));
  EXPECT_FALSE(c_.add_security_group_rules(g, {rule("sgr-0000000000000000a", 22)}, 2));
  auto refusal = c_.add_security_group_rules(g, {rule("sgr-0000000000000000b", 80), rule("sgr-0000000000000000c", 22)}, 60);
  ASSERT_TRUE(refusal.conflict.has_value());
  EXPECT_EQ(refusal.conflict->from_port, 22);
  refusal = c_.add_security_group_rules(g, {rule("sgr-0000000000000000b", 80), rule("sgr-0000000000000000c", 81)}, 2);
  EXPECT_EQ(refusal.over_limit, 3u);
  EXPECT_TRUE(c_.add_security_group_rules("sg-0000000000000000f", {rule("sgr-0000000000000000d", 1)}, 60).missing_group);
  ASSERT_EQ(c_.find_security_group(g)->ingress.size(), 1u);

  std::vector<SecurityGroupRule> removed;
  refusal = c_.remove_security_group_rules(g, {rule("", 22), rule("", 23)}, removed);
  ASSERT_TRUE(refusal.conflict.has_value());
  EXPECT_EQ(refusal.conflict->from_port, 23);
  EXPECT_TRUE(removed.empty());
  EXPECT_FALSE(c_.remove_security_group_rules(g, {rule("", 22)}, removed));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].id, "sgr-0000000000000000a");
  EXPECT_TRUE(c_.find_security_group(g)->ingress.empty());
}

TEST_F(CatalogSecurityGroupsTest, InstancesKeepTheirGroupsInOrderAndAGroupInUseStays) {
  ASSERT_TRUE(c_.insert_security_group(group("sg-0000000000000000a", "a")));
  ASSERT_TRUE(c_.insert_security_group(group("sg-0000000000000000b", "b")));
  const std::string i = "i-0000000000000000a";
  c_.insert_instances({instance(i, {{"sg-0000000000000000b", ""}, {"sg-0000000000000000a", ""}})});
  auto rec = c_.find_instance(i);
  ASSERT_EQ(rec->security_groups.size(), 2u);
  EXPECT_EQ(rec->security_groups[0], (GroupRef{"sg-0000000000000000b", "b"})) << "in order, with their names";
  EXPECT_EQ(c_.list_instances()[0].security_groups, rec->security_groups);
  EXPECT_EQ(c_.instances_in_security_group("sg-0000000000000000a"), std::vector<std::string>{i});

  EXPECT_EQ(c_.delete_security_group_if_unused("sg-0000000000000000a"), std::vector<std::string>{i});
  EXPECT_TRUE(c_.find_security_group("sg-0000000000000000a").has_value());
  c_.set_instance_security_groups(i, {"sg-0000000000000000b"});
  EXPECT_TRUE(c_.delete_security_group_if_unused("sg-0000000000000000a").empty());
  EXPECT_FALSE(c_.find_security_group("sg-0000000000000000a").has_value());

  c_.mark_terminated(i, "2026-12-06T01:00:00.000Z");
  EXPECT_TRUE(c_.instances_in_security_group("sg-0000000000000000b").empty());
  EXPECT_TRUE(c_.delete_security_group_if_unused("sg-0000000000000000b").empty()) << "terminated instances hold nothing";
  EXPECT_TRUE(c_.find_instance(i)->security_groups.empty());
  c_.delete_instance(i);
}

}  // namespace
}  // namespace amid
