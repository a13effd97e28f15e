// amictl ssh's plan: the ssh command line for an instance as describe-instances
// shows it, or the one-line reason it cannot be, naming what to do.
#include "cli/commands/ssh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/unit/test_support.h"

namespace amid::cli {
namespace {

using protocol::Json;

Json running(bool with_22) {
  Json i = {{"InstanceId", "i-0123456789abcdef0"},
            {"State", {{"Name", "running"}}},
            {"PrivateIpAddress", "172.31.0.4"},
            {"KeyName", "web"},
            {"SecurityGroups", {{{"GroupId", "sg-0123456789abcdef0"}, {"GroupName", "default"}}}},
            {"PortForwards", Json::array()}};
  if (with_22) i["PortForwards"].push_back({{"Protocol", "tcp"}, {"GuestPort", 22}, {"HostPort", 40123}});
  return i;
}

class SshPlanTest : public amid::testing::TempDirTest {
 protected:
  SshRequest request() {
    SshRequest r;
    r.instance_id = "i-0123456789abcdef0";
    r.home = tmp_.file("home");
    std::filesystem::create_directories(r.home + "/.ssh");
    r.known_hosts = tmp_.file("known_hosts");
    return r;
  }
};

TEST_F(SshPlanTest, RunsOpenSshThroughTheForwardOfPort22WithTheKeyPairsFile) {
  SshRequest r = request();
  std::ofstream(r.home + "/.ssh/web.pem") << "key";
  r.command = {"uname", "-a"};
  SshPlan plan = plan_ssh(running(true), r);
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(plan.port, 40123);
  const auto& a = plan.argv;
  EXPECT_EQ(a.front(), "ssh");
  auto has = [&](const std::string& x) { return std::find(a.begin(), a.end(), x) != a.end(); };
  EXPECT_TRUE(has("40123"));
  EXPECT_TRUE(has(r.home + "/.ssh/web.pem")) << "the key pair's file in ~/.ssh, as EC2 users keep it";
  EXPECT_TRUE(has("HostKeyAlias=i-0123456789abcdef0")) << "host keys per instance, not per reused port";
  EXPECT_TRUE(has("UserKnownHostsFile=" + r.known_hosts));
  auto at = std::find(a.begin(), a.end(), "admin@127.0.0.1");
  ASSERT_NE(at, a.end()) << "Debian's AWS user, at the forward's address";
  EXPECT_EQ(std::vector<std::string>(at + 1, a.end()), (std::vector<std::string>{"--", "uname", "-a"}));
}

TEST_F(SshPlanTest, EachReasonItCannotSaysWhatToDo) {
  SshRequest r = request();
  SshPlan no_rule = plan_ssh(running(false), r);
  EXPECT_EQ(no_rule.exit_code, kWrongState);
  EXPECT_NE(no_rule.error.find("--group-id sg-0123456789abcdef0 --protocol tcp --port 22"), std::string::npos)
      << no_rule.error;

  SshPlan no_key = plan_ssh(running(true), r);
  EXPECT_EQ(no_key.exit_code, kBadArguments);
  EXPECT_NE(no_key.error.find("key pair 'web'"), std::string::npos) << no_key.error;
  EXPECT_NE(no_key.error.find("--key FILE"), std::string::npos) << no_key.error;

  r.key = tmp_.file("absent.pem");
  SshPlan missing = plan_ssh(running(true), r);
  EXPECT_EQ(missing.exit_code, kBadArguments);
  EXPECT_NE(missing.error.find("--key: "), std::string::npos) << missing.error;

  Json stopped = running(true);
  stopped["State"]["Name"] = "stopped";
  SshPlan off = plan_ssh(stopped, request());
  EXPECT_EQ(off.exit_code, kWrongState);
  EXPECT_NE(off.error.find("amictl start-instances --instance-ids i-0123456789abcdef0"), std::string::npos)
      << off.error;
  EXPECT_TRUE(off.argv.empty());

  Json no_nic = running(true);
  no_nic.erase("PrivateIpAddress");
  EXPECT_NE(plan_ssh(no_nic, request()).error.find("no network interface"), std::string::npos);
}

TEST_F(SshPlanTest, WithoutAKeyPairSshUsesItsOwnDefaults) {
  Json i = running(true);
  i.erase("KeyName");
  SshPlan plan = plan_ssh(i, request());
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(std::find(plan.argv.begin(), plan.argv.end(), "-i"), plan.argv.end());
}

}  // namespace
}  // namespace amid::cli
