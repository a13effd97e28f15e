// End to end: image sharing between two real uids (docs/PROTOCOL.md "Sharing").
// Runs amictl as other uids (setpriv) against an amid running as root; no guest boots.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

class Sharing : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: it runs amictl as other users and creates a user and a group";
    if (run({"sh", "-c", "command -v setpriv && command -v groupadd && command -v useradd"}).exit_code != 0) {
      GTEST_SKIP() << "needs setpriv (util-linux), groupadd and useradd (passwd)";
    }
    std::string tag = std::to_string(std::random_device{}() % 1000000);
    socket_group_ = "amide2es" + tag;
    ASSERT_EQ(run({"groupadd", "--system", socket_group_}).exit_code, 0);
    socket_gid_ = gid_of(socket_group_);
    // Bob must be an account of this host to be shared with: a passwd entry for his uid.
    bob_user_ = "amide2eb" + tag;
    ASSERT_EQ(run({"useradd", "--system", "--no-create-home", "--no-user-group", "--uid", std::to_string(kBob),
                   "--shell", "/usr/sbin/nologin", bob_user_})
                  .exit_code,
              0);
    ::chmod(amid_.dir().c_str(), 0755);
    std::string config = amid_.dir() + "/amid.toml";
    std::ofstream(config) << "[daemon]\nsocket_group = \"" << socket_group_ << "\"\n";
    amid_.start({"--config", config});
  }
  void TearDown() override {
    if (!bob_user_.empty()) run({"userdel", bob_user_});
    if (!socket_group_.empty()) run({"groupdel", socket_group_});
  }
  static std::string gid_of(const std::string& group) {
    Result r = run({"getent", "group", group});
    auto a = r.out.find(':', r.out.find(':') + 1);
    return r.out.substr(a + 1, r.out.find(':', a + 1) - a - 1);
  }
  Result as(int uid, std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", "--reuid", std::to_string(uid), "--regid", std::to_string(uid),
                                     "--groups", socket_gid_, AMICTL_BINARY, "--socket", amid_.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  std::string disk_of(int uid) {
    std::string dir = amid_.dir() + "/home" + std::to_string(uid);
    std::filesystem::create_directories(dir);
    std::string disk = dir + "/disk.qcow2";
    std::filesystem::copy_file(tiny_image(), disk);
    EXPECT_EQ(::chown(dir.c_str(), uid, uid), 0);
    EXPECT_EQ(::chown(disk.c_str(), uid, uid), 0);
    ::chmod(dir.c_str(), 0755);
    ::chmod(disk.c_str(), 0600);
    return disk;
  }
  static Json json_of(const Result& r) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? Json::parse(r.out) : Json::object();
  }

  static constexpr int kAlice = 64211, kBob = 64212;
  Amid amid_;
  std::string socket_group_, socket_gid_, bob_user_;
};

TEST_F(Sharing, AliceSharesWithBobWhoSeesButCannotDeregisterUntilSheUnshares) {
  Result r = as(kAlice, {"register-image", "--name", "alice shared", "--disk", disk_of(kAlice)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string image = r.out.substr(0, r.out.find('\n'));
  const std::string bob_account = "0000000" + std::to_string(kBob);

  EXPECT_TRUE(json_of(as(kBob, {"describe-images", "--output", "json"}))["Images"].empty());
  r = as(kAlice, {"modify-image-attribute", "--image-id", image, "--launch-permission",
                  "Add=[{UserId=" + bob_account + "}]"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // An account with no user on this host cannot be shared with.
  r = as(kAlice, {"modify-image-attribute", "--image-id", image, "--launch-permission", "Add=[{UserId=000000064299}]"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("does not exist on this host"), std::string::npos) << r.err;

  Json attr = json_of(as(kAlice, {"describe-image-attribute", "--image-id", image, "--attribute", "launchPermission",
                                  "--output", "json"}));
  EXPECT_EQ(attr["LaunchPermissions"], Json::parse(R"([{"UserId":")" + bob_account + R"("}])"));

  Json seen = json_of(as(kBob, {"describe-images", "--output", "json"}));
  ASSERT_EQ(seen["Images"].size(), 1u) << seen.dump();
  EXPECT_EQ(seen["Images"][0]["ImageId"], image);
  EXPECT_EQ(seen["Images"][0]["OwnerId"], "0000000" + std::to_string(kAlice));
  r = as(kBob, {"deregister-image", "--image-id", image});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("only its owner"), std::string::npos) << r.err;
  EXPECT_NE(as(kBob, {"describe-image-attribute", "--image-id", image, "--attribute", "launchPermission"}).exit_code, 0);

  r = as(kAlice, {"reset-image-attribute", "--image-id", image, "--attribute", "launchPermission"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json_of(as(kBob, {"describe-images", "--output", "json"}))["Images"].empty());
  EXPECT_EQ(as(kBob, {"describe-images", "--image-ids", image}).exit_code, 4);
  EXPECT_EQ(as(kAlice, {"deregister-image", "--image-id", image}).exit_code, 0);
}

}  // namespace
}  // namespace amid::e2e
