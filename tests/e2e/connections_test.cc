// End to end: amid's socket under load and abuse (README "Security model",
// api/connection_limits.h). The real amid on libvirt's test driver (no guest
// is needed), raw connections held open as other uids, and the real amictl.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kDescribe = "{\"Version\":1,\"Action\":\"DescribeImages\",\"Parameters\":{}}\n";

int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// Everything the peer sends until it closes or `limit` passes; `closed` tells which.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool& closed) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  closed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// One answer line (or "" when the connection ended first).
std::string read_line(int fd, std::chrono::milliseconds limit = 10s) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out.substr(0, out.find('\n'));
}

std::string error_code_of(const std::string& line) {
  auto j = Json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("Error")) return "";
  return j["Error"].value("Code", "");
}

// `count` connections to `socket` held open by a child running as `uid` (groups:
// `gid` alone), idle, until release() kills it.
class HeldConnections {
 public:
  HeldConnections(const std::string& socket, uid_t uid, gid_t gid, int count) {
    int ready[2];
    if (::pipe(ready) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      if (::setgroups(1, &gid) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) _exit(2);
      int opened = 0;
      for (int i = 0; i < count; ++i) opened += connect_to(socket) >= 0 ? 1 : 0;
      // The fds stay open; amid has admitted (or refused) them by the time it
      // answers another connection of ours.
      int probe = connect_to(socket);
      if (probe >= 0) send_all(probe, kDescribe), read_line(probe), ::close(probe);
      std::string msg = std::to_string(opened) + "\n";
      (void)!::write(ready[1], msg.data(), msg.size());
      ::close(ready[1]);
      for (;;) ::pause();  // until killed
    }
    ::close(ready[1]);
    char buf[32] = {0};
    ssize_t n = ::read(ready[0], buf, sizeof buf - 1);
    ::close(ready[0]);
    opened_ = n > 0 ? std::atoi(buf) : -1;
  }
  ~HeldConnections() { release(); }
  void release() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);  // its connections close with it
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  int opened() const { return opened_; }

 private:
  pid_t pid_ = -1;
  int opened_ = -1;
};

class Connections : public ::testing::Test {
 protected:
  void start(const std::string& daemon_keys, bool groups = false) {
    std::string config = amid_.dir() + "/amid.toml";
    std::ofstream out(config);
    out << "[daemon]\n" << daemon_keys;
    if (groups) {
      std::string tag = std::to_string(std::random_device{}() % 1000000);
      socket_group_ = "amidc" + tag;
      admin_group_ = "amidca" + tag;
      ASSERT_EQ(run({"groupadd", "--system", socket_group_}).exit_code, 0);
      ASSERT_EQ(run({"groupadd", "--system", admin_group_}).exit_code, 0);
      socket_gid_ = ::getgrnam(socket_group_.c_str())->gr_gid;
      admin_gid_ = ::getgrnam(admin_group_.c_str())->gr_gid;
      out << "socket_group = \"" << socket_group_ << "\"\nadmin_group = \"" << admin_group_ << "\"\n";
      ::chmod(amid_.dir().c_str(), 0755);  // others reach the socket (its own mode decides)
    }
    out << "[libvirt]\nuri = \"test:///default\"\naccel = \"tcg\"\n";
    out.close();
    amid_.start({"--config", config});
  }
  void TearDown() override {
    if (!socket_group_.empty()) run({"groupdel", socket_group_});
    if (!admin_group_.empty()) run({"groupdel", admin_group_});
  }
  // amictl as uid with these supplementary groups ("1001,1002").
  Result amictl_as(uid_t uid, const std::string& groups, std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", "--reuid", std::to_string(uid), "--regid", std::to_string(uid),
                                     "--groups", groups, AMICTL_BINARY, "--socket", amid_.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  std::string log() const {
    std::ifstream in(amid_.log());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  bool alive() const { return amid_.pid() > 0 && ::kill(amid_.pid(), 0) == 0; }

  Amid amid_;
  std::string socket_group_, admin_group_;
  gid_t socket_gid_ = 0, admin_gid_ = 0;
};

TEST_F(Connections, OneUserHoldingAllItMayLocksNobodyElseOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: it connects as other uids and creates groups";
  start("max_connections = 12\nmax_connections_per_user = 4\nadmin_reserved_connections = 4\n", true);
  const uid_t mallory = 61001, alice = 61002, carol = 61003, admin = 61004;
  const std::string member = std::to_string(socket_gid_);
  const std::string admin_member = member + "," + std::to_string(admin_gid_);

  HeldConnections mallorys(amid_.socket(), mallory, socket_gid_, 4);
  ASSERT_EQ(mallorys.opened(), 4);
  // Mallory's fifth is refused, with a reason and a retry, not dropped.
  Result more = amictl_as(mallory, member, {"describe-images"});
  EXPECT_EQ(more.exit_code, 7) << more.out << more.err;
  EXPECT_NE(more.err.find("RequestLimitExceeded"), std::string::npos) << more.err;
  EXPECT_NE(more.err.find("max_connections_per_user"), std::string::npos) << more.err;
  EXPECT_NE(more.err.find("retry"), std::string::npos) << more.err;
  // Anyone else is served at once, root included.
  Result a = amictl_as(alice, member, {"describe-images"});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(amid_.amictl({"describe-images"}).exit_code, 0);

  // Two users hold everything that is not kept for admins: a third is refused,
  // an admin and root are still served.
  HeldConnections alices(amid_.socket(), alice, socket_gid_, 4);
  ASSERT_EQ(alices.opened(), 4);
  Result c = amictl_as(carol, member, {"describe-images"});
  EXPECT_EQ(c.exit_code, 7) << c.err;
  EXPECT_NE(c.err.find("kept for administrators"), std::string::npos) << c.err;
  Result ad = amictl_as(admin, admin_member, {"describe-images"});
  EXPECT_EQ(ad.exit_code, 0) << "an admin of " << admin_group_ << ": " << ad.err;
  EXPECT_EQ(amid_.amictl({"describe-images"}).exit_code, 0);

  // Closed connections give their places back.
  mallorys.release();
  alices.release();
  Result later = {};
  for (int i = 0; i < 50 && later.exit_code != 0; ++i) {
    later = amictl_as(carol, member, {"describe-images"});
    if (later.exit_code != 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(later.exit_code, 0) << later.err;
  EXPECT_NE(log().find("refused: you (uid 61001) already hold 4 connections"), std::string::npos) << log();
}

TEST_F(Connections, IdleAndTricklingConnectionsAreClosedAfterTheirTimeouts) {
  start("idle_timeout_seconds = 1\nrequest_timeout_seconds = 2\n");
  // A connection that sends nothing is closed after the idle timeout.
  int idle = connect_to(amid_.socket());
  ASSERT_GE(idle, 0);
  bool closed = false;
  auto t0 = std::chrono::steady_clock::now();
  std::string said = read_until_closed(idle, 10s, closed);
  EXPECT_TRUE(closed) << "still open after 10 s";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms) << "closed before its timeout";
  EXPECT_EQ(said, "") << "nothing was asked, nothing is answered";
  ::close(idle);

  // A request line that trickles in (a byte every 300 ms, never idle) gets
  // RequestTimeout once its first byte is 2 s old, then the connection closes.
  int slow = connect_to(amid_.socket());
  ASSERT_GE(slow, 0);
  std::string partial = "{\"Action\":\"DescribeImages\",\"Parameters\":{";
  std::string answer;
  t0 = std::chrono::steady_clock::now();
  for (char ch : partial) {
    if (!send_all(slow, std::string(1, ch))) break;
    pollfd p{slow, POLLIN, 0};
    if (::poll(&p, 1, 300) > 0) break;  // amid answered
  }
  answer = read_until_closed(slow, 10s, closed);
  EXPECT_EQ(error_code_of(answer.substr(0, answer.find('\n'))), "RequestTimeout") << answer;
  EXPECT_TRUE(closed);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1900ms);
  ::close(slow);

  // A connection in use is not cut: requests 0.7 s apart, longer than none of them.
  int busy = connect_to(amid_.socket());
  ASSERT_GE(busy, 0);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(send_all(busy, kDescribe));
    EXPECT_EQ(error_code_of(read_line(busy)), "") << "request " << i;
    std::this_thread::sleep_for(700ms);
  }
  ::close(busy);

  std::string text = log();
  EXPECT_NE(text.find("closed: no request for 1 s (daemon.idle_timeout_seconds)"), std::string::npos) << text;
  EXPECT_NE(text.find("did not arrive in full within 2 s of its first byte (daemon.request_timeout_seconds)"),
            std::string::npos)
      << text;
  EXPECT_TRUE(alive());
}

// 200 clients at once with room for 64: each gets an answer, either its
// DescribeImages or RequestLimitExceeded; none meets a dropped connection.
TEST_F(Connections, EveryClientRefusedForLoadIsAnsweredNeverDropped) {
  start("");  // max_connections = 64: root (these clients) is held to the total alone
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_to(amid_.socket());
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  int served = 0, refused = 0, other = 0;
  std::string example;
  for (int fd : fds) {
    bool sent = send_all(fd, kDescribe);
    std::string line = read_line(fd);
    std::string code = error_code_of(line);
    // A refused client's request is still taken (amid reads it before it
    // closes), so a client that sends before it reads never sees a broken pipe.
    if (!sent) ++other, example = "send failed (" + std::string(strerror(errno)) + "); then read: " + line;
    else if (!line.empty() && code.empty()) ++served;
    else if (code == "RequestLimitExceeded") ++refused, example = line;
    else ++other, example = line;
  }
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(other, 0) << example;
  EXPECT_EQ(served, 64);
  EXPECT_EQ(refused, 136);
  EXPECT_NE(example.find("retry"), std::string::npos) << example;
  EXPECT_EQ(amid_.amictl({"describe-images"}).exit_code, 0);
}

// 500 connections, opened and dropped at random by 4 threads: closed at once,
// half a request, garbage, a request whose answer nobody reads, or a request
// answered. amid neither crashes nor stalls.
TEST_F(Connections, FiveHundredConnectionsOpenedAndDroppedAtRandomNeverStallAmid) {
  start("idle_timeout_seconds = 2\nrequest_timeout_seconds = 2\n");
  std::atomic<int> done{0}, answered{0}, failed_connects{0};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<int> open;
    for (int i = 0; i < 125; ++i) {
      int fd = connect_to(amid_.socket());
      if (fd < 0) {
        ++failed_connects;
        continue;
      }
      switch (rng() % 6) {
        case 0: ::close(fd); break;
        case 1: send_all(fd, "{\"Action\":\"Descr"); ::close(fd); break;
        case 2: send_all(fd, "\x01\x02 not json at all\n"); ::close(fd); break;
        case 3: send_all(fd, kDescribe); ::close(fd); break;
        case 4:
          send_all(fd, kDescribe);
          if (!read_line(fd).empty()) ++answered;
          ::close(fd);
          break;
        default: open.push_back(fd);  // held a while, dropped later
      }
      if (open.size() > 20) {
        ::close(open.front());
        open.erase(open.begin());
      }
      ++done;
    }
    for (int fd : open) ::close(fd);
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back(worker, 1234 + t);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed_connects, 0);
  EXPECT_EQ(done, 500);
  EXPECT_GT(answered, 0);
  ASSERT_TRUE(alive()) << log();
  // Not stalled: a request is answered at once, and every place was given back.
  auto t0 = std::chrono::steady_clock::now();
  Result r = amid_.amictl({"describe-images"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // Every place is given back once amid has seen the last closes.
  int served = 0;
  for (int attempt = 0; attempt < 20 && served < 64; ++attempt) {
    if (attempt) std::this_thread::sleep_for(250ms);
    std::vector<int> fds;
    served = 0;
    for (int i = 0; i < 64; ++i) {
      int fd = connect_to(amid_.socket());
      ASSERT_GE(fd, 0);
      fds.push_back(fd);
      send_all(fd, kDescribe);
      if (error_code_of(read_line(fd)).empty()) ++served;
    }
    for (int fd : fds) ::close(fd);
  }
  EXPECT_EQ(served, 64) << "all 64 places are free again";
  EXPECT_TRUE(alive());
}

}  // namespace
}  // namespace amid::e2e
