// Security groups through the dispatcher, as amictl and every client reach them
// (daemon/api/security_group_actions.cc, daemon/services/security_group_service.h):
// each action, the default group and VPC, bad input refused with EC2's code and
// nothing changed, rules all or nothing, the groups of launched instances, and
// the seam that tells the guest network an instance's ingress changed. On
// libvirt's test driver.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/ids.h"
#include "daemon/services/default_vpc.h"
#include "daemon/services/security_group_rules.h"
#include "daemon/services/security_group_service.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;

Json tcp(int from, int to, const std::string& cidr) {
  return {{"IpProtocol", "tcp"}, {"FromPort", from}, {"ToPort", to}, {"IpRanges", {{{"CidrIp", cidr}}}}};
}

class SecurityGroupActionsTest : public ::amid::testing::ServiceTest {
 protected:
  std::string create(const std::string& name, const Caller* who = nullptr) {
    Json params = {{"GroupName", name}, {"Description", name + " servers"}};
    auto r = call("CreateSecurityGroup", params, who ? *who : alice_);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.body.value("GroupId", "");
  }
  Json describe(const Json& params = Json::object(), const Caller* who = nullptr) {
    auto r = call("DescribeSecurityGroups", params, who ? *who : alice_);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.body["SecurityGroups"];
  }
  Json group(const std::string& id) {
    Json rows = describe({{"GroupIds", {id}}});
    return rows.size() == 1 ? rows[0] : Json();
  }
  // A list, never one permission taken for the list (a braced Json of one element is ambiguous).
  protocol::Response authorize(const std::string& id, const std::vector<Json>& permissions) {
    return call("AuthorizeSecurityGroupIngress", {{"GroupId", id}, {"IpPermissions", Json(permissions)}});
  }
  protocol::Response revoke(const std::string& id, const std::vector<Json>& permissions) {
    return call("RevokeSecurityGroupIngress", {{"GroupId", id}, {"IpPermissions", Json(permissions)}});
  }
  void expect_error(const protocol::Response& r, const std::string& code, const std::string& names) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, code) << r.error_message;
    EXPECT_NE(r.error_message.find(names), std::string::npos) << r.error_message;
  }
  Json instance(const std::string& id) {
    auto r = call("DescribeInstances", {{"InstanceIds", {id}}});
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok ? r.body["Reservations"][0]["Instances"][0] : Json();
  }
  SecurityGroupService& groups() { return region_->security_groups(); }
};

TEST_F(SecurityGroupActionsTest, EachAccountHasADefaultGroupInItsDefaultVpc) {
  Json all = describe();
  ASSERT_EQ(all.size(), 1u);
  const Json& d = all[0];
  EXPECT_EQ(d["GroupName"], "default");
  EXPECT_TRUE(is_valid_id(d["GroupId"].get<std::string>(), "sg")) << d;
  EXPECT_EQ(d["OwnerId"], alice_.account);
  EXPECT_EQ(d["VpcId"], default_vpc_id(alice_.account, "local-1"));
  EXPECT_EQ(d["IpPermissions"], Json::array()) << "no address may come in until a rule says so";
  ASSERT_EQ(d["IpPermissionsEgress"].size(), 1u);
  EXPECT_EQ(d["IpPermissionsEgress"][0]["IpProtocol"], "-1");
  EXPECT_EQ(d["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");
  EXPECT_EQ(describe()[0]["GroupId"], d["GroupId"]) << "made once";
  reopen_catalog();
  EXPECT_EQ(describe()[0]["GroupId"], d["GroupId"]) << "kept across a restart";

  // Another account has its own, in its own VPC.
  Json bobs = describe(Json::object(), &bob_);
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_NE(bobs[0]["GroupId"], d["GroupId"]);
  EXPECT_NE(bobs[0]["VpcId"], d["VpcId"]);

  expect_error(call("DeleteSecurityGroup", {{"GroupName", "default"}}), "CannotDelete", d["GroupId"]);
  expect_error(call("DeleteSecurityGroup", {{"GroupId", d["GroupId"]}}), "CannotDelete", d["GroupId"]);
  EXPECT_EQ(describe().size(), 1u);
}

TEST_F(SecurityGroupActionsTest, TheDefaultVpcsIdsAreStableAndShapedAsEc2s) {
  std::string vpc = default_vpc_id("000000001000", "local-1");
  EXPECT_TRUE(is_valid_id(vpc, "vpc")) << vpc;
  EXPECT_TRUE(is_valid_id(default_subnet_id("000000001000", "local-1"), "subnet"));
  EXPECT_EQ(vpc, default_vpc_id("000000001000", "local-1"));
  EXPECT_NE(vpc, default_vpc_id("000000001000", "local-2"));
  EXPECT_NE(vpc, default_vpc_id("000000002000", "local-1"));
  EXPECT_STREQ(kDefaultVpcCidr, "172.31.0.0/16");
  EXPECT_STREQ(kDefaultSubnetCidr, "172.31.0.0/20");
}

TEST_F(SecurityGroupActionsTest, CreateDescribeAndDelete) {
  Json spec = {{"ResourceType", "security-group"}, {"Tags", Json::array({{{"Key", "team"}, {"Value", "a"}}})}};
  auto r = call("CreateSecurityGroup", {{"GroupName", "web"},
                                        {"Description", "web servers"},
                                        {"VpcId", default_vpc_id(alice_.account, "local-1")},
                                        {"TagSpecifications", Json::array({spec})}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string id = r.body["GroupId"];
  EXPECT_TRUE(is_valid_id(id, "sg"));
  Json g = group(id);
  EXPECT_EQ(g["GroupName"], "web");
  EXPECT_EQ(g["Description"], "web servers");
  EXPECT_EQ(g["Tags"], Json::parse(R"([{"Key":"team","Value":"a"}])"));
  EXPECT_EQ(describe({{"GroupNames", {"web"}}})[0]["GroupId"], id);
  EXPECT_EQ(describe().size(), 2u) << "web and default";

  auto gone = call("DeleteSecurityGroup", {{"GroupName", "web"}});
  ASSERT_TRUE(gone.ok) << gone.error_code;
  EXPECT_EQ(gone.body["GroupId"], id);
  expect_error(call("DescribeSecurityGroups", {{"GroupIds", {id}}}), "InvalidGroup.NotFound", id);
  expect_error(call("DeleteSecurityGroup", {{"GroupId", id}}), "InvalidGroup.NotFound", id);
}

TEST_F(SecurityGroupActionsTest, DescribeComesInPagesByGroupId) {
  for (int i = 0; i < 6; ++i) create("g" + std::to_string(i));
  auto first = call("DescribeSecurityGroups", {{"MaxResults", 5}});
  ASSERT_TRUE(first.ok) << first.error_code << ": " << first.error_message;
  ASSERT_EQ(first.body["SecurityGroups"].size(), 5u);
  ASSERT_TRUE(first.body.contains("NextToken"));
  auto rest = call("DescribeSecurityGroups", {{"MaxResults", 5}, {"NextToken", first.body["NextToken"]}});
  ASSERT_TRUE(rest.ok) << rest.error_code << ": " << rest.error_message;
  ASSERT_EQ(rest.body["SecurityGroups"].size(), 2u) << "six and the default";
  EXPECT_FALSE(rest.body.contains("NextToken"));
  EXPECT_LT(first.body["SecurityGroups"][4]["GroupId"].get<std::string>(),
            rest.body["SecurityGroups"][0]["GroupId"].get<std::string>());
  expect_error(call("DescribeSecurityGroups", {{"MaxResults", 5}, {"GroupNames", {"g1"}}}),
               "InvalidParameterCombination", "GroupNames");
}

TEST_F(SecurityGroupActionsTest, BadCreatesNameTheFieldAndChangeNothing) {
  create("web");
  auto refused = [&](const Json& params, const std::string& code, const std::string& names) {
    expect_error(call("CreateSecurityGroup", params), code, names);
  };
  refused({{"GroupName", "web"}, {"Description", "d"}}, "InvalidGroup.Duplicate", "web");
  refused({{"GroupName", "WEB"}, {"Description", "d"}}, "InvalidGroup.Duplicate", "WEB");
  refused({{"GroupName", "default"}, {"Description", "d"}}, "InvalidGroup.Duplicate", "default");
  refused({{"GroupName", "sg-web"}, {"Description", "d"}}, "InvalidParameterValue", "GroupName");
  refused({{"GroupName", std::string(256, 'g')}, {"Description", "d"}}, "InvalidParameterValue", "GroupName");
  refused({{"GroupName", "caf\xc3\xa9"}, {"Description", "d"}}, "InvalidParameterValue", "GroupName");
  refused({{"GroupName", "x"}, {"Description", "a|b"}}, "InvalidParameterValue", "Description");
  refused({{"GroupName", "x"}}, "MissingParameter", "Description");
  refused({{"Description", "d"}}, "MissingParameter", "GroupName");
  refused({{"GroupName", "x"}, {"Description", "d"}, {"VpcId", "vpc-0123456789abcdef0"}}, "InvalidVpcID.NotFound",
          "vpc-0123456789abcdef0");
  EXPECT_EQ(describe().size(), 2u);
  expect_error(call("DescribeSecurityGroups", {{"GroupIds", {"sg-nope"}}}), "InvalidGroupId.Malformed", "sg-nope");
  expect_error(call("DescribeSecurityGroups", {{"GroupIds", {"sg-0123456789abcdef0"}}}), "InvalidGroup.NotFound",
               "sg-0123456789abcdef0");
  expect_error(call("DescribeSecurityGroups", {{"GroupNames", {"nope"}}}), "InvalidGroup.NotFound", "nope");
}

TEST_F(SecurityGroupActionsTest, GroupsAreEachAccountsOwn) {
  std::string alices = create("web");
  std::string bobs = create("web", &bob_);
  EXPECT_NE(alices, bobs);
  expect_error(call("DescribeSecurityGroups", {{"GroupIds", {alices}}}, bob_), "InvalidGroup.NotFound", alices);
  expect_error(call("DeleteSecurityGroup", {{"GroupId", alices}}, bob_), "InvalidGroup.NotFound", alices);
  expect_error(call("AuthorizeSecurityGroupIngress", {{"GroupId", alices}, {"IpPermissions", Json::array({tcp(22, 22, "0.0.0.0/0")})}},
                    bob_),
               "InvalidGroup.NotFound", alices);
  EXPECT_EQ(group(alices)["IpPermissions"], Json::array());
  EXPECT_EQ(describe(Json::object(), &root_).size(), 5u) << "an admin sees every account's (and has a default of its own)";
}

TEST_F(SecurityGroupActionsTest, AuthorizeAndRevokeIngress) {
  std::string id = create("web");
  auto r = authorize(id, {tcp(22, 22, "0.0.0.0/0"), tcp(80, 80, "10.1.2.3/8"),
                          {{"IpProtocol", "icmp"}, {"FromPort", 8}, {"ToPort", -1}, {"IpRanges", {{{"CidrIp", "192.0.2.0/24"}, {"Description", "ping"}}}}},
                          {{"IpProtocol", "-1"}, {"IpRanges", {{{"CidrIp", "198.51.100.7/32"}}}}}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(r.body["Return"], true);
  ASSERT_EQ(r.body["SecurityGroupRules"].size(), 4u);
  const Json& first = r.body["SecurityGroupRules"][0];
  EXPECT_TRUE(is_valid_id(first["SecurityGroupRuleId"].get<std::string>(), "sgr")) << first;
  EXPECT_EQ(first["GroupId"], id);
  EXPECT_EQ(first["IsEgress"], false);
  EXPECT_EQ(first["CidrIpv4"], "0.0.0.0/0");
  EXPECT_EQ(r.body["SecurityGroupRules"][1]["CidrIpv4"], "10.0.0.0/8") << "canonicalised, as EC2 does";

  Json perms = group(id)["IpPermissions"];
  ASSERT_EQ(perms.size(), 4u) << perms;
  EXPECT_EQ(perms[0]["IpProtocol"], "tcp");
  EXPECT_EQ(perms[0]["FromPort"], 22);
  EXPECT_EQ(perms[0]["ToPort"], 22);
  EXPECT_EQ(perms[0]["IpRanges"], Json::parse(R"([{"CidrIp":"0.0.0.0/0"}])"));
  EXPECT_EQ(perms[2]["IpProtocol"], "icmp");
  EXPECT_EQ(perms[2]["IpRanges"][0]["Description"], "ping");
  EXPECT_EQ(perms[3]["IpProtocol"], "-1");
  EXPECT_FALSE(perms[3].contains("FromPort")) << "EC2 shows no ports for every protocol";

  // Two ranges with the same ports are one permission; the old flat form and numbers work.
  auto flat = call("AuthorizeSecurityGroupIngress",
                   {{"GroupName", "web"}, {"IpProtocol", "6"}, {"FromPort", 22}, {"ToPort", 22}, {"CidrIp", "172.16.0.0/12"}});
  ASSERT_TRUE(flat.ok) << flat.error_code << ": " << flat.error_message;
  perms = group(id)["IpPermissions"];
  ASSERT_EQ(perms.size(), 4u);
  EXPECT_EQ(perms[0]["IpRanges"].size(), 2u) << perms[0];

  // Filters over the rules, as EC2's.
  EXPECT_EQ(describe({{"Filters", {{{"Name", "ip-permission.from-port"}, {"Values", {"80"}}}}}}).size(), 1u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "ip-permission.cidr"}, {"Values", {"172.16.*"}}}}}}).size(), 1u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "ip-permission.protocol"}, {"Values", {"udp"}}}}}}).size(), 0u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "group-name"}, {"Values", {"def*"}}}}}}).size(), 1u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "vpc-id"}, {"Values", {default_vpc_id(alice_.account, "local-1")}}}}}}).size(),
            2u);

  auto gone = revoke(id, {tcp(80, 80, "10.0.0.0/8"), tcp(22, 22, "0.0.0.0/0")});
  ASSERT_TRUE(gone.ok) << gone.error_code << ": " << gone.error_message;
  ASSERT_EQ(gone.body["RevokedSecurityGroupRules"].size(), 2u);
  EXPECT_EQ(gone.body["RevokedSecurityGroupRules"][1]["SecurityGroupRuleId"], first["SecurityGroupRuleId"]);
  perms = group(id)["IpPermissions"];
  ASSERT_EQ(perms.size(), 3u) << perms;
  // Rules stay in the order they were authorized: tcp 22 from 172.16/12 came last.
  EXPECT_EQ(perms[0]["IpProtocol"], "icmp");
  EXPECT_EQ(perms[2]["IpProtocol"], "tcp");
  EXPECT_EQ(perms[2]["IpRanges"], Json::parse(R"([{"CidrIp":"172.16.0.0/12"}])"));
}

TEST_F(SecurityGroupActionsTest, BadRulesNameTheFieldAndChangeNothing) {
  std::string id = create("web");
  ASSERT_TRUE(authorize(id, {tcp(22, 22, "0.0.0.0/0")}).ok);
  const Json before = group(id);
  auto refused = [&](const Json& permission, const std::string& code, const std::string& names) {
    // The good rule first: a bad one later in the request still leaves it out.
    expect_error(authorize(id, {tcp(443, 443, "0.0.0.0/0"), permission}), code, names);
    expect_error(revoke(id, {tcp(22, 22, "0.0.0.0/0"), permission}), code, names);
  };
  refused(tcp(22, 22, "10.0.0.0/33"), "InvalidParameterValue", "IpPermissions.2.IpRanges.1.CidrIp");
  refused(tcp(22, 22, "10.0.0/8"), "InvalidParameterValue", "IpPermissions.2.IpRanges.1.CidrIp");
  refused(tcp(22, 22, "256.0.0.0/8"), "InvalidParameterValue", "IpPermissions.2.IpRanges.1.CidrIp");
  refused(tcp(22, 22, "garbage"), "InvalidParameterValue", "IpPermissions.2.IpRanges.1.CidrIp");
  refused(tcp(22, 22, "::/0"), "InvalidParameterValue", "IpPermissions.2.IpRanges.1.CidrIp");
  refused(tcp(0, 65536, "0.0.0.0/0"), "InvalidParameterValue", "IpPermissions.2.ToPort");
  refused(tcp(-1, 22, "0.0.0.0/0"), "InvalidParameterValue", "IpPermissions.2.FromPort");
  refused(tcp(90, 80, "0.0.0.0/0"), "InvalidParameterValue", "IpPermissions.2.FromPort");
  refused({{"IpProtocol", "gre"}, {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}}, "InvalidParameterValue",
          "IpPermissions.2.IpProtocol");
  refused({{"IpProtocol", "tcp"}, {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}}, "MissingParameter",
          "IpPermissions.2.FromPort");
  refused({{"IpProtocol", "icmp"}, {"FromPort", 256}, {"ToPort", -1}, {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}},
          "InvalidParameterValue", "IpPermissions.2.FromPort");
  refused({{"IpProtocol", "icmp"}, {"FromPort", -1}, {"ToPort", 3}, {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}},
          "InvalidParameterValue", "IpPermissions.2.ToPort");
  refused({{"IpProtocol", "tcp"}, {"FromPort", 1}, {"ToPort", 2}}, "MissingParameter", "IpPermissions.2.IpRanges");
  refused({{"IpProtocol", "tcp"}, {"FromPort", 1}, {"ToPort", 2}, {"UserIdGroupPairs", {{{"GroupId", id}}}},
           {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}},
          "InvalidParameterValue", "IpPermissions.2.UserIdGroupPairs");
  refused({{"IpProtocol", "tcp"}, {"FromPort", 1}, {"ToPort", 2}, {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}, {"Description", "a|b"}}}}},
          "InvalidParameterValue", "IpPermissions.2.IpRanges.1.Description");
  expect_error(call("AuthorizeSecurityGroupIngress", {{"GroupId", id}, {"IpProtocol", "tcp"}, {"FromPort", 1},
                                                      {"ToPort", 2}, {"CidrIp", "1.2.3"}}),
               "InvalidParameterValue", "CidrIp");
  expect_error(call("AuthorizeSecurityGroupIngress",
                    {{"GroupId", id}, {"IpProtocol", "tcp"}, {"IpPermissions", Json::array({tcp(1, 1, "0.0.0.0/0")})}}),
               "InvalidParameterCombination", "IpPermissions");
  expect_error(call("AuthorizeSecurityGroupIngress", {{"GroupId", id}}), "MissingParameter", "IpPermissions");
  expect_error(call("AuthorizeSecurityGroupIngress", {{"IpPermissions", Json::array({tcp(1, 1, "0.0.0.0/0")})}}),
               "MissingParameter", "GroupId");
  expect_error(authorize("sg-0123456789abcdef0", {tcp(1, 1, "0.0.0.0/0")}), "InvalidGroup.NotFound",
               "sg-0123456789abcdef0");
  EXPECT_EQ(group(id), before);
}

TEST_F(SecurityGroupActionsTest, AuthorizeIsAllOrNothing) {
  std::string id = create("web");
  ASSERT_TRUE(authorize(id, {tcp(22, 22, "0.0.0.0/0")}).ok);
  const Json before = group(id);
  // The existing rule after a new one: neither is added. 10.9.9.9/0 is 0.0.0.0/0.
  expect_error(authorize(id, {tcp(443, 443, "0.0.0.0/0"), tcp(22, 22, "10.9.9.9/0")}), "InvalidPermission.Duplicate",
               "tcp 22-22 from 0.0.0.0/0");
  expect_error(authorize(id, {tcp(443, 443, "0.0.0.0/0"), tcp(443, 443, "0.0.0.0/0")}), "InvalidPermission.Duplicate",
               "given twice");
  EXPECT_EQ(group(id), before);
  // Revoke likewise: one rule that is not there, nothing revoked.
  expect_error(revoke(id, {tcp(22, 22, "0.0.0.0/0"), tcp(23, 23, "0.0.0.0/0")}), "InvalidPermission.NotFound",
               "tcp 23-23");
  EXPECT_EQ(group(id), before);

  // EC2's 60 rules a group: one over, and nothing of the request is added.
  std::vector<Json> many;
  for (int port = 1000; port < 1059; ++port) many.push_back(tcp(port, port, "0.0.0.0/0"));
  ASSERT_TRUE(authorize(id, many).ok) << "60 in all";
  const Json full = group(id);
  expect_error(authorize(id, {tcp(5000, 5000, "0.0.0.0/0")}), "RulesPerSecurityGroupLimitExceeded", id);
  EXPECT_EQ(group(id), full);
}

TEST_F(SecurityGroupActionsTest, InstancesAreInTheirGroupsAndTheDefaultOne) {
  std::string image = register_image("app");
  std::string web = create("web"), ssh = create("ssh");
  auto plain = run(image);
  ASSERT_EQ(plain.size(), 1u);
  Json i = instance(plain[0]);
  std::string default_id = describe({{"GroupNames", {"default"}}})[0]["GroupId"];
  EXPECT_EQ(i["SecurityGroups"], Json::parse(R"([{"GroupId":")" + default_id + R"(","GroupName":"default"}])"));
  EXPECT_EQ(i["VpcId"], default_vpc_id(alice_.account, "local-1"));
  EXPECT_EQ(i["SubnetId"], default_subnet_id(alice_.account, "local-1"));
  EXPECT_EQ(i["NetworkInterfaces"][0]["Groups"], i["SecurityGroups"]);

  auto both = run(image, 1, {{"SecurityGroupIds", {ssh}}, {"SecurityGroups", {"web"}}});
  ASSERT_EQ(both.size(), 1u);
  i = instance(both[0]);
  ASSERT_EQ(i["SecurityGroups"].size(), 2u);
  EXPECT_EQ(i["SecurityGroups"][0]["GroupId"], ssh);
  EXPECT_EQ(i["SecurityGroups"][1]["GroupName"], "web");
  auto r = call("DescribeInstances", {{"Filters", {{{"Name", "instance.group-name"}, {"Values", {"web"}}}}}});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body["Reservations"].size(), 1u);

  // Unknown groups launch nothing.
  expect_error(call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"},
                                     {"SecurityGroupIds", {"sg-0123456789abcdef0"}}}),
               "InvalidGroup.NotFound", "sg-0123456789abcdef0");
  expect_error(call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"SecurityGroups", {"nope"}}}),
               "InvalidGroup.NotFound", "nope");
  std::string bobs = create("bobs", &bob_);
  expect_error(call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"SecurityGroupIds", {bobs}}}),
               "InvalidGroup.NotFound", bobs);
  r = call("DescribeInstances", Json::object());
  EXPECT_EQ(r.body["Reservations"].size(), 2u) << "the refused launches made nothing";

  // A group with an instance in it stays until the instance is terminated.
  expect_error(call("DeleteSecurityGroup", {{"GroupId", web}}), "DependencyViolation", both[0]);
  EXPECT_EQ(describe({{"GroupIds", {web}}}).size(), 1u);
  terminate(both[0]);
  auto gone = call("DeleteSecurityGroup", {{"GroupId", web}});
  ASSERT_TRUE(gone.ok) << gone.error_code << ": " << gone.error_message;
  EXPECT_EQ(instance(both[0])["SecurityGroups"].size(), 1u) << "the terminated instance keeps the group still there";
}

TEST_F(SecurityGroupActionsTest, ModifyInstanceAttributeReplacesTheGroups) {
  std::string image = register_image("app");
  std::string web = create("web"), ssh = create("ssh");
  auto ids = run(image);
  ASSERT_EQ(ids.size(), 1u);
  auto r = call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {web, ssh}}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(r.body["Return"], true);
  Json i = instance(ids[0]);
  ASSERT_EQ(i["SecurityGroups"].size(), 2u);
  EXPECT_EQ(i["SecurityGroups"][0]["GroupId"], web);
  EXPECT_EQ(i["SecurityGroups"][1]["GroupId"], ssh);
  // The default group it left may go now.
  std::string default_id = describe({{"GroupNames", {"default"}}})[0]["GroupId"];
  expect_error(call("DeleteSecurityGroup", {{"GroupId", ssh}}), "DependencyViolation", ids[0]);

  const Json before = instance(ids[0])["SecurityGroups"];
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", Json::array()}}), "MissingParameter",
               "Groups");
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {web, "sg-0123456789abcdef0"}}}),
               "InvalidGroup.NotFound", "sg-0123456789abcdef0");
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {"nope"}}}),
               "InvalidGroupId.Malformed", "nope");
  std::string bobs = create("bobs", &bob_);
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {bobs}}}), "InvalidGroup.NotFound",
               bobs);
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"InstanceType", {{"Value", "t3.small"}}}}),
               "UnsupportedOperation", "InstanceType");
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {web}}}, bob_),
               "InvalidInstanceID.NotFound", ids[0]);
  EXPECT_EQ(instance(ids[0])["SecurityGroups"], before);
  terminate(ids[0]);
  expect_error(call("ModifyInstanceAttribute", {{"InstanceId", ids[0]}, {"Groups", {default_id}}}),
               "IncorrectInstanceState", ids[0]);
  EXPECT_EQ(instance(ids[0])["SecurityGroups"], before);
}

TEST_F(SecurityGroupActionsTest, TheObserverHearsOfEachInstanceWhoseIngressChanged) {
  std::string image = register_image("app");
  std::string web = create("web"), ssh = create("ssh");
  auto in_web = run(image, 1, {{"SecurityGroupIds", {web, ssh}}});
  auto elsewhere = run(image);
  ASSERT_EQ(in_web.size(), 1u);
  ASSERT_EQ(elsewhere.size(), 1u);
  std::vector<std::string> heard;
  groups().set_ingress_observer([&](const std::string& id) { heard.push_back(id); });

  ASSERT_TRUE(authorize(web, {tcp(80, 80, "0.0.0.0/0"), tcp(22, 22, "10.0.0.0/8")}).ok);
  EXPECT_EQ(heard, std::vector<std::string>{in_web[0]});
  ASSERT_TRUE(authorize(ssh, {tcp(22, 22, "10.0.0.0/8"), tcp(22, 22, "192.0.2.0/24")}).ok);
  // The union of its groups' rules, each once.
  auto rules = groups().effective_ingress(in_web[0]);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].from_port, 80);
  EXPECT_EQ(rules[1].cidr, "10.0.0.0/8");
  EXPECT_EQ(rules[2].cidr, "192.0.2.0/24");
  EXPECT_TRUE(groups().effective_ingress(elsewhere[0]).empty());

  heard.clear();
  EXPECT_FALSE(authorize(web, {tcp(80, 80, "0.0.0.0/0")}).ok);
  EXPECT_TRUE(heard.empty()) << "a refused change is no change";
  ASSERT_TRUE(revoke(web, {tcp(80, 80, "0.0.0.0/0")}).ok);
  EXPECT_EQ(heard, std::vector<std::string>{in_web[0]});

  heard.clear();
  ASSERT_TRUE(call("ModifyInstanceAttribute", {{"InstanceId", elsewhere[0]}, {"Groups", {web}}}).ok);
  EXPECT_EQ(heard, std::vector<std::string>{elsewhere[0]});
  EXPECT_EQ(groups().effective_ingress(elsewhere[0]).size(), 1u);

  heard.clear();
  terminate(in_web[0]);
  ASSERT_TRUE(authorize(ssh, {tcp(8080, 8080, "0.0.0.0/0")}).ok);
  EXPECT_TRUE(heard.empty()) << "a terminated instance has no ingress to change";
  groups().set_ingress_observer({});
}

TEST(SecurityGroupRules, OneCheckForEveryRule) {
  auto rule = [](const std::string& protocol, std::optional<std::int64_t> from, std::optional<std::int64_t> to,
                 const std::string& cidr) { return checked_rule({protocol, from, to, cidr, ""}, "P", "P.CidrIp"); };
  auto ok = rule("17", 53, 53, "10.0.0.1/32");
  ASSERT_TRUE(ok) << ok.problem().message;
  EXPECT_EQ(ok.value().protocol, "udp");
  EXPECT_EQ(ok.value().cidr, "10.0.0.1/32");
  auto all = rule("all", 1, 2, "0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().protocol, "-1");
  EXPECT_EQ(all.value().from_port, -1) << "ports mean nothing for every protocol";
  auto icmp = rule("1", std::nullopt, std::nullopt, "0.0.0.0/0");
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp.value().protocol, "icmp");
  EXPECT_EQ(icmp.value().from_port, -1);
  EXPECT_EQ(canonical_cidr("100.68.0.18/18", "F").value(), "100.68.0.0/18");
  EXPECT_EQ(canonical_cidr("255.255.255.255/0", "F").value(), "0.0.0.0/0");
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4/", "1.2.3.4/x", "1.2.3.4.5/8", "01234.1.1.1/8", "1.2.3.4/8 ",
                          "-1.2.3.4/8", "1..3.4/8"}) {
    auto r = canonical_cidr(bad, "F");
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.problem().message.rfind("F: ", 0), 0u) << r.problem().message;
    }
  }
}

}  // namespace
}  // namespace amid
