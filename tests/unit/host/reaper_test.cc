// The reaper takes the orphans libvirt leaves (daemonized, so in a session of
// their own) and never the children someone in amid waits for.
#include "daemon/host/reaper.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace amid {
namespace {

char state_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;  // gone
  return line[line.rfind(')') + 2];
}

// Like libvirt's daemonize: fork, setsid, fork again, the middle one exits.
// Returns the grandchild's pid, which exits after `linger_ms`.
pid_t spawn_daemonized(int linger_ms) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t middle = fork();
  if (middle == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      usleep(linger_ms * 1000);
      _exit(0);
    }
    (void)!write(fds[1], &grandchild, sizeof grandchild);
    _exit(0);
  }
  pid_t grandchild = 0;
  EXPECT_EQ(read(fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  close(fds[0]);
  close(fds[1]);
  int status;
  waitpid(middle, &status, 0);
  return grandchild;
}

bool wait_for_state(pid_t pid, char want) {
  for (int i = 0; i < 500; ++i) {
    if (state_of(pid) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ReaperTest, ReapsADaemonizedOrphanButLeavesItsOwnChildrenToTheirWaiters) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t orphan = spawn_daemonized(20);
  ASSERT_TRUE(wait_for_state(orphan, 'Z')) << "the orphan should be a zombie here, re-parented to the test";

  pid_t own = fork();  // a direct child, in the test's session: someone waits for it
  if (own == 0) _exit(7);
  ASSERT_TRUE(wait_for_state(own, 'Z'));

  Orphans seen;
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 1);
  EXPECT_EQ(state_of(orphan), 0) << "reaped: gone from /proc";
  EXPECT_EQ(state_of(own), 'Z') << "not the reaper's to take";
  int status = 0;
  ASSERT_EQ(waitpid(own, &status, 0), own) << "its waiter still gets it";
  EXPECT_EQ(WEXITSTATUS(status), 7);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(ReaperTest, ALivingOrphanIsLeftAlone) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t orphan = spawn_daemonized(300);
  for (int i = 0; i < 100 && state_of(orphan) != 0; ++i) {
    std::ifstream in("/proc/" + std::to_string(orphan) + "/stat");
    std::string line;
    std::getline(in, line);
    if (std::stoi(line.substr(line.rfind(')') + 4)) == getpid()) break;  // re-parented
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Orphans seen;
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 0);
  EXPECT_NE(state_of(orphan), 0) << "still running";
  ASSERT_TRUE(wait_for_state(orphan, 'Z'));
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 1);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

// libvirt's middle process leads a session of its own and libvirt waits for
// it: the reaper must not take it first (that failed every launch with "unable
// to wait for process: No child processes"), unless nobody does for a while.
TEST(ReaperTest, ASessionLeaderIsLeftToItsWaiterUntilTheGraceEnds) {
  pid_t leader = fork();
  if (leader == 0) {
    setsid();
    _exit(3);
  }
  ASSERT_TRUE(wait_for_state(leader, 'Z'));
  Orphans seen;
  seen.leader_grace = std::chrono::milliseconds(200);
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 0);
  EXPECT_EQ(state_of(leader), 'Z') << "left for its waiter";
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 1) << "nobody waited: reaped after the grace";
  EXPECT_EQ(state_of(leader), 0);

  pid_t waited = fork();
  if (waited == 0) {
    setsid();
    _exit(4);
  }
  ASSERT_TRUE(wait_for_state(waited, 'Z'));
  EXPECT_EQ(reap_orphans(getpid(), getsid(0), seen), 0);
  int status = 0;
  ASSERT_EQ(waitpid(waited, &status, 0), waited);
  EXPECT_EQ(WEXITSTATUS(status), 4);
}

}  // namespace
}  // namespace amid
