// End to end: who may use amid and what each caller sees (README "Security model").
// Runs amictl as other uids (setpriv) against an amid running as root.
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

class Access : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: it runs amictl as other users and creates groups";
    if (run({"sh", "-c", "command -v setpriv && command -v groupadd"}).exit_code != 0) {
      GTEST_SKIP() << "needs setpriv (util-linux) and groupadd (passwd)";
    }
    std::string tag = std::to_string(std::random_device{}() % 1000000);
    socket_group_ = "amide2e" + tag;
    admin_group_ = "amide2ea" + tag;
    ASSERT_EQ(run({"groupadd", "--system", socket_group_}).exit_code, 0);
    ASSERT_EQ(run({"groupadd", "--system", admin_group_}).exit_code, 0);
    socket_gid_ = gid_of(socket_group_);
    admin_gid_ = gid_of(admin_group_);
    ::chmod(amid_.dir().c_str(), 0755);  // others reach the socket (its own mode decides)
    std::string config = amid_.dir() + "/amid.toml";
    std::ofstream(config) << "[daemon]\nsocket_group = \"" << socket_group_ << "\"\nadmin_group = \""
                          << admin_group_ << "\"\n";
    amid_.start({"--config", config});
  }
  void TearDown() override {
    if (!socket_group_.empty()) run({"groupdel", socket_group_});
    if (!admin_group_.empty()) run({"groupdel", admin_group_});
  }
  static std::string gid_of(const std::string& group) {
    Result r = run({"getent", "group", group});
    auto a = r.out.find(':', r.out.find(':') + 1);
    return r.out.substr(a + 1, r.out.find(':', a + 1) - a - 1);
  }
  // amictl as uid (gid = uid) with the given supplementary groups ("" = none).
  Result as(int uid, const std::string& groups, std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", "--reuid", std::to_string(uid), "--regid", std::to_string(uid)};
    if (groups.empty()) {
      argv.push_back("--clear-groups");
    } else {
      argv.insert(argv.end(), {"--groups", groups});
    }
    argv.insert(argv.end(), {AMICTL_BINARY, "--socket", amid_.socket()});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  // A copy of the tiny template owned by uid, in a folder of its own.
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
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
  static Json json_of(const Result& r) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? Json::parse(r.out) : Json::object();
  }

  Amid amid_;
  std::string socket_group_, admin_group_, socket_gid_, admin_gid_;
};

TEST_F(Access, GroupsDecideWhoConnectsAndOwnersWhatTheySee) {
  const int alice = 64201, bob = 64202, carol = 64203, mallory = 64204;
  Result r = amid_.amictl({"register-image", "--name", "root base", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string roots = first_line(r.out);

  // Outside amid's group: the socket itself refuses, with what to do.
  r = as(mallory, "", {"describe-images"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("group amid"), std::string::npos) << r.err;

  // A member registers her own disk, sees only her own image, and cannot name a
  // file she could not read herself (here: root's, 0600; and her own in root's 0700 folder).
  r = as(alice, socket_gid_, {"register-image", "--name", "alice base", "--disk", disk_of(alice)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string alices = first_line(r.out);
  Json mine = json_of(as(alice, socket_gid_, {"describe-images", "--output", "json"}));
  ASSERT_EQ(mine["Images"].size(), 1u);
  EXPECT_EQ(mine["Images"][0]["ImageId"], alices);
  EXPECT_EQ(mine["Images"][0]["OwnerId"], "000000064201");
  std::string secret = amid_.dir() + "/root-only.qcow2";
  std::filesystem::copy_file(tiny_image(), secret);
  ::chmod(secret.c_str(), 0600);
  r = as(alice, socket_gid_, {"register-image", "--name", "stolen", "--disk", secret});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("DiskPath: " + secret + " is not readable by you"), std::string::npos) << r.err;
  std::string hidden_dir = amid_.dir() + "/private";
  std::filesystem::create_directories(hidden_dir);
  ::chmod(hidden_dir.c_str(), 0700);
  std::string hidden = hidden_dir + "/disk.qcow2";
  std::filesystem::copy_file(tiny_image(), hidden);
  ::chown(hidden.c_str(), alice, alice);
  r = as(alice, socket_gid_, {"register-image", "--name", "hidden", "--disk", hidden});
  EXPECT_EQ(r.exit_code, 2) << "her file, but in a folder she cannot enter";
  EXPECT_EQ(as(alice, socket_gid_, {"describe-images", "--image-ids", roots}).exit_code, 4);

  // She launches from her image; user data and disks stay private to amid.
  r = as(alice, socket_gid_, {"run-instances", "--image-id", alices, "--instance-type", "t3.nano",
                              "--user-data", "echo secret-token", "--output", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string instance = r.out.substr(0, r.out.find('\t'));

  // Another member sees none of it and cannot touch it.
  Json bobs = json_of(as(bob, socket_gid_, {"describe-images", "--output", "json"}));
  EXPECT_TRUE(bobs["Images"].empty()) << bobs.dump();
  EXPECT_EQ(as(bob, socket_gid_, {"deregister-image", "--image-id", alices}).exit_code, 4);
  EXPECT_EQ(as(bob, socket_gid_, {"terminate-instances", "--instance-ids", instance}).exit_code, 4);
  Json bob_instances = json_of(as(bob, socket_gid_, {"describe-instances", "--output", "json"}));
  EXPECT_TRUE(bob_instances["Reservations"].empty());

  // An admin (admin group only) sees and manages everything.
  const std::string both = socket_gid_ + "," + admin_gid_;  // admins connect through the socket too
  Json all = json_of(as(carol, both, {"describe-images", "--output", "json"}));
  EXPECT_EQ(all["Images"].size(), 2u) << all.dump();
  EXPECT_EQ(as(carol, both, {"terminate-instances", "--instance-ids", instance}).exit_code, 0);

  // No file amid keeps is readable by other users (libvirt's pid files aside).
  for (const auto& e : std::filesystem::recursive_directory_iterator(amid_.state_dir())) {
    if (!e.is_regular_file() || e.path().extension() == ".pid") continue;
    struct stat st;
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0004, 0u) << e.path() << " is readable by others";
  }
  r = as(alice, socket_gid_, {"deregister-image", "--image-id", alices});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace amid::e2e
