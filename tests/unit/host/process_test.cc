// host/process.h: a child runs from an argv (no shell), and both of its
// output streams are collected in full without deadlocking.
#include "daemon/host/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

TEST(RunProcess, CollectsExitCodeStdoutAndStderr) {
  ProcessResult r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunProcess, TheToolInheritsNoneOfAmidsOtherDescriptors) {
  // A socket Asio opened (no close-on-exec), stood for by a plain pipe: a tool
  // that outlives a killed amid must not keep amid's listening socket open.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string check = "test -e /proc/$$/fd/" + std::to_string(fds[0]) + " || test -e /proc/$$/fd/" +
                      std::to_string(fds[1]) + " && echo inherited || echo none";
  ProcessResult r = run_process({"sh", "-c", check});
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "none\n");
}

TEST(RunProcess, PassesArgumentsWithoutAShell) {
  ProcessResult r = run_process({"printf", "%s|", "a b", "$HOME", "; rm -rf /", "*"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a b|$HOME|; rm -rf /|*|");
}

TEST(RunProcess, ReadsLargeOutputOnBothStreams) {
  // More than a pipe buffer on each stream at once: a reader that drains one
  // stream at a time would deadlock here.
  ProcessResult r = run_process(
      {"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' o; head -c 300000 /dev/zero | tr '\\0' e >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 300000u);
  EXPECT_EQ(r.err.size(), 300000u);
  EXPECT_EQ(r.out.find_first_not_of('o'), std::string::npos);
}

TEST(RunProcess, AProgramThatDoesNotExistFailsWithAReason) {
  ProcessResult r = run_process({"amid-test-no-such-program"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(::amid::testing::has_substr(r.err, "amid-test-no-such-program"));
}

TEST(RunProcess, AChildKilledByASignalIsMinusOne) {
  ProcessResult r = run_process({"sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.exit_code, -1);
}

TEST(RunProcess, TheChildGetsNoStdin) {
  ProcessResult r = run_process({"cat"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace amid
