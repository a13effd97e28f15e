// host/libvirt_daemon.h: which socket a local libvirt daemon URI means, and
// what amid says when it cannot reach it (machines described by a HostView).
#include "daemon/host/libvirt_daemon.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

HostView host(std::set<std::string> paths, std::vector<RunningDaemon> running = {}) {
  HostView h;
  h.exists = [paths](const std::string& p) { return paths.count(p) > 0; };
  h.daemons = [running] { return running; };
  h.runtime_dir = "/run/user/1000";
  return h;
}

TEST(DaemonSocket, OnlyLocalDaemonUrisHaveOne) {
  HostView h = host({});
  for (const char* uri : {"qemu:///system", "qemu:///embed?root=/var/lib/amid/libvirt", "test:///default",
                          "qemu+ssh://root@host2/system", "qemu+tcp://10.0.0.2/system", "qemu+unix://host2/system"}) {
    EXPECT_FALSE(daemon_socket(uri, h)) << uri;
    EXPECT_EQ(with_daemon_socket(uri, h), uri) << "left as it is";
  }
}

TEST(DaemonSocket, IsTheSocketParameterWhenGiven) {
  HostView h = host({});
  EXPECT_EQ(daemon_socket("qemu+unix:///system?socket=/srv/lv/libvirt-sock", h), "/srv/lv/libvirt-sock");
  EXPECT_EQ(daemon_socket("qemu+unix:///system?mode=legacy&socket=/a%2Fb", h), "/a/b");
  EXPECT_EQ(with_daemon_socket("qemu+unix:///system?socket=/srv/lv/libvirt-sock", h),
            "qemu+unix:///system?socket=/srv/lv/libvirt-sock");
}

TEST(DaemonSocket, IsTheOneLibvirtsClientPicksOtherwise) {
  // libvirtd's socket unless the modular virtqemud's exists.
  EXPECT_EQ(daemon_socket("qemu+unix:///system", host({})), "/run/libvirt/libvirt-sock");
  EXPECT_EQ(daemon_socket("qemu+unix:///system", host({"/run/libvirt/virtqemud-sock"})),
            "/run/libvirt/virtqemud-sock");
  EXPECT_EQ(daemon_socket("qemu+unix:///session", host({})), "/run/user/1000/libvirt/libvirt-sock");
  EXPECT_EQ(with_daemon_socket("qemu+unix:///system", host({})),
            "qemu+unix:///system?socket=/run/libvirt/libvirt-sock");
  EXPECT_EQ(with_daemon_socket("qemu+unix:///system?keepalive_interval=5", host({})),
            "qemu+unix:///system?keepalive_interval=5&socket=/run/libvirt/libvirt-sock");
}

TEST(UnreachableDaemon, NamesTheMissingSocketAndThatNoDaemonRuns) {
  std::string m = unreachable_daemon_message("qemu+unix:///system", "/run/libvirt/libvirt-sock",
                                             "Failed to connect socket to '/run/libvirt/libvirt-sock': No such file "
                                             "or directory", host({}));
  EXPECT_TRUE(has_substr(m, "its socket /run/libvirt/libvirt-sock does not exist")) << m;
  EXPECT_TRUE(has_substr(m, "neither libvirtd nor virtqemud is running")) << m;
  EXPECT_TRUE(has_substr(m, "systemctl start libvirtd")) << m;
  EXPECT_TRUE(has_substr(m, "(libvirt: Failed to connect socket")) << m;
  EXPECT_FALSE(has_substr(m, "no connection driver")) << m;
}

TEST(UnreachableDaemon, SaysWhichDaemonRunsWhenItListensElsewhere) {
  std::string m = unreachable_daemon_message("qemu+unix:///system?socket=/srv/x/libvirt-sock", "/srv/x/libvirt-sock",
                                             "", host({}, {{"libvirtd", 321}}));
  EXPECT_TRUE(has_substr(m, "/srv/x/libvirt-sock does not exist")) << m;
  EXPECT_TRUE(has_substr(m, "libvirtd (pid 321) is running")) << m;
  EXPECT_TRUE(has_substr(m, "qemu+unix:///system?socket=PATH")) << m;
}

TEST(UnreachableDaemon, TellsAStaleSocketFromARefusedOne) {
  std::string stale = unreachable_daemon_message("qemu+unix:///system", "/run/libvirt/libvirt-sock",
                                                 "Connection refused", host({"/run/libvirt/libvirt-sock"}));
  EXPECT_TRUE(has_substr(stale, "exists, but neither libvirtd nor virtqemud is running")) << stale;
  std::string denied = unreachable_daemon_message(
      "qemu+unix:///system", "/run/libvirt/libvirt-sock", "Permission denied",
      host({"/run/libvirt/libvirt-sock"}, {{"libvirtd", 7}, {"virtqemud", 8}}));
  EXPECT_TRUE(has_substr(denied, "libvirtd (pid 7) and virtqemud (pid 8) are running")) << denied;
  EXPECT_TRUE(has_substr(denied, "(libvirt: Permission denied)")) << denied;
}

}  // namespace
}  // namespace amid
