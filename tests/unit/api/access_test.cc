// api/access.h: who may connect and who is an admin, and files opened with the
// caller's own rights (the kernel judges folders, groups and symlinks).
#include "daemon/api/access.h"
#include "daemon/host/user_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

TEST(ResolveCaller, SocketGroupMembersRootAndAmidsUserMayConnect) {
  AccessPolicy p;
  p.daemon_uid = 0;
  p.socket_gid = 500;
  p.admin_gid = 501;
  std::string why;
  auto member = resolve_caller(1000, 1000, 42, {1000, 500}, p, why);
  ASSERT_TRUE(member);
  EXPECT_FALSE(member->admin);
  EXPECT_EQ(member->account, "000000001000");
  EXPECT_EQ(member->pid, 42);
  // The primary group alone counts too.
  EXPECT_TRUE(resolve_caller(1001, 500, 1, {}, p, why));
  EXPECT_FALSE(resolve_caller(1002, 1002, 1, {1002, 7}, p, why));
  EXPECT_NE(why.find("uid 1002"), std::string::npos) << why;
  auto admin = resolve_caller(1003, 1003, 1, {501}, p, why);
  ASSERT_TRUE(admin) << "admins may connect even outside the socket group";
  EXPECT_TRUE(admin->admin);
  auto root = resolve_caller(0, 0, 1, {}, p, why);
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->admin);

  // A per-user amid (not root): its own user only, who is not an admin.
  AccessPolicy user;
  user.daemon_uid = 1000;
  auto self = resolve_caller(1000, 1000, 1, {1000}, user, why);
  ASSERT_TRUE(self);
  EXPECT_FALSE(self->admin);
  EXPECT_FALSE(resolve_caller(1001, 1001, 1, {1001}, user, why));
}

TEST(ProcessGroups, ReadsThisProcess) {
  auto groups = process_groups(::getpid());
  ASSERT_FALSE(groups.empty());
  EXPECT_EQ(groups.front(), ::getgid());
  EXPECT_TRUE(process_groups(-1).empty());
}

class OpenAsCaller : public ::amid::testing::TempDirTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: it opens files as other users (setfsuid)";
    ::chmod(tmp_.path().c_str(), 0755);
  }
  std::string make(const std::string& name, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
    std::string path = tmp_.file(name);
    std::ofstream(path) << "data";
    ::chmod(path.c_str(), mode);
    EXPECT_EQ(::chown(path.c_str(), uid, gid), 0);
    return path;
  }
  static Caller user(uid_t uid, std::vector<gid_t> groups = {}) {
    Caller c;
    c.uid = uid;
    c.gid = uid;
    c.groups = groups;
    c.groups.push_back(uid);
    return c;
  }
  static std::string refusal(const Caller& c, const std::string& path) {
    try {
      open_as_user(c.identity(), "DiskPath", path, 1 << 20);
    } catch (const AmidError& e) {
      return e.code() + ": " + e.what();
    }
    return "";
  }
};

TEST_F(OpenAsCaller, TheKernelDecidesAsForTheCaller) {
  std::string own = make("own", 0600, 4242, 4242);
  std::string roots = make("roots", 0600);
  std::string group = make("group", 0640, 0, 777);
  std::string world = make("world", 0644);

  UserFile f = open_as_user(user(4242).identity(), "DiskPath", own, 1 << 20);
  EXPECT_GE(f.fd(), 0);
  EXPECT_EQ(f.size(), 4u);
  EXPECT_EQ(std::string(f.proc_path()).rfind("/proc/", 0), 0u);
  EXPECT_NE(refusal(user(4242), roots).find("DiskPath: " + roots + " is not readable by you"), std::string::npos);
  // Supplementary groups count, as the kernel counts them.
  EXPECT_EQ(refusal(user(4242, {777}), group), "");
  EXPECT_NE(refusal(user(4242), group), "");
  EXPECT_EQ(refusal(user(4242), world), "");
  // Root and admins keep their rights.
  EXPECT_EQ(refusal(user(0), roots), "");
}

TEST_F(OpenAsCaller, FoldersOnTheWayAndSymlinksAreCheckedToo) {
  std::string dir = tmp_.file("private");
  ::mkdir(dir.c_str(), 0700);
  std::string inside = dir + "/disk";
  std::ofstream(inside) << "data";
  ::chmod(inside.c_str(), 0644);
  EXPECT_NE(refusal(user(4242), inside).find("not readable by you"), std::string::npos)
      << "a readable file in a folder the caller cannot enter";
  // A symlink the caller made, pointing at a file it may not read.
  std::string roots = make("roots", 0600);
  std::string link = tmp_.file("link");
  ASSERT_EQ(::symlink(roots.c_str(), link.c_str()), 0);
  EXPECT_NE(refusal(user(4242), link).find("not readable by you"), std::string::npos);
  std::string world = make("world", 0644);
  std::string ok_link = tmp_.file("ok-link");
  ASSERT_EQ(::symlink(world.c_str(), ok_link.c_str()), 0);
  EXPECT_EQ(refusal(user(4242), ok_link), "");
}

TEST_F(OpenAsCaller, RefusesNonFilesRelativePathsAndOversizedFiles) {
  EXPECT_NE(refusal(user(4242), "relative/disk").find("DiskPath: must be an absolute path"), std::string::npos);
  EXPECT_NE(refusal(user(4242), tmp_.path()).find("is not a regular file"), std::string::npos);
  EXPECT_NE(refusal(user(4242), "/dev/null").find("is not a regular file"), std::string::npos);
  EXPECT_NE(refusal(user(4242), tmp_.file("missing")).find("cannot open"), std::string::npos);
  std::string big = tmp_.file("big");
  ::truncate((std::ofstream(big), big.c_str()), 3 << 20);
  ::chmod(big.c_str(), 0644);
  EXPECT_NE(refusal(user(4242), big).find("larger than 1 MiB"), std::string::npos);
  // The daemon's own credentials are untouched by all this.
  EXPECT_EQ(::geteuid(), 0u);
  EXPECT_EQ(refusal(user(0), make("roots2", 0600)), "");
}

}  // namespace
}  // namespace amid
