// The filter between guests: the nft script it writes, and (as root) that
// script at work in a real region namespace, with two stand-in guests (network
// namespaces of the test's own on veth pairs named as taps) that connect to
// each other. All traffic stays inside namespaces the test makes.
#include "daemon/services/guest_filter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

#include "daemon/host/process.h"
#include "daemon/host/region_network.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

const auto rule = testing::ingress_rule;

TEST(GuestFilter, EachGuestAdmitsItsRulesItsDefaultGroupAndRepliesAndNothingElse) {
  std::string nft = filter_ruleset({{"amid00000000001", "172.31.0.4",
                                     {rule("tcp", 22, 22, "172.31.0.0/20"), rule("udp", 5000, 5010, "0.0.0.0/0"),
                                      rule("icmp", 8, -1, "10.0.0.0/8"), rule("-1", -1, -1, "172.31.0.9/32")},
                                     {"172.31.0.5", "172.31.0.6"}},
                                    {"amid00000000002", "172.31.0.7", {}, {}}});
  auto has = [&](const std::string& line) {
    return ::testing::AssertionResult(nft.find(line + "\n") != std::string::npos) << "no line '" << line << "' in\n"
                                                                                  << nft;
  };
  EXPECT_TRUE(has("delete table bridge amid")) << "a rebuild replaces the whole table";
  EXPECT_TRUE(has("    oifname \"amid00000000001\" jump to_amid00000000001"));
  EXPECT_TRUE(has("    oifname \"amid*\" drop")) << "a tap without rules admits nothing";
  EXPECT_TRUE(has("    ip saddr { 172.31.0.5, 172.31.0.6 } accept"));
  EXPECT_TRUE(has("    ip saddr 172.31.0.0/20 tcp dport 22 accept"));
  EXPECT_TRUE(has("    ip saddr 0.0.0.0/0 udp dport 5000-5010 accept"));
  EXPECT_TRUE(has("    ip saddr 10.0.0.0/8 icmp type 8 accept"));
  EXPECT_TRUE(has("    ip saddr 172.31.0.9/32 accept"));
  EXPECT_TRUE(has("    iifname \"amid00000000001\" ether type ip ip saddr != 172.31.0.4 drop"))
      << "a guest cannot send as another";
  EXPECT_NE(nft.find("hook input"), std::string::npos) << "nor to the metadata service:\n" << nft;
  // The second guest: replies only, then drop.
  auto second = nft.substr(nft.find("chain to_amid00000000002"));
  EXPECT_EQ(second.find("saddr"), std::string::npos) << second;
  EXPECT_NE(second.find("    drop\n"), std::string::npos) << second;
}

// Two stand-in guests on a region's bridge.
class GuestFilterAtWork : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!RegionNetwork::supported(&why)) GTEST_SKIP() << "cannot make a network namespace here: " << why;
    if (run_process({"nft", "--version"}).exit_code != 0) {
      GTEST_SKIP() << "nft (nftables) is not installed: scripts/install-deps installs it";
    }
    region_.remove();
    region_.ensure();
    for (int i = 0; i < 2; ++i) {
      const std::string ns = guest_ns(i), tap = tap_name(i);
      run_process({"ip", "netns", "delete", ns});
      ASSERT_EQ(run_process({"ip", "netns", "add", ns}).exit_code, 0);
      auto r = run_process({"ip", "-n", region_.name(), "link", "add", tap, "type", "veth", "peer", "name", "eth0",
                            "netns", ns});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      region_.ip_inside({"link", "set", tap, "master", RegionNetwork::kBridge, "up"});
      ASSERT_EQ(run_process({"ip", "-n", ns, "addr", "add", address(i) + "/20", "dev", "eth0"}).exit_code, 0);
      run_process({"ip", "-n", ns, "link", "set", "eth0", "up"});
      run_process({"ip", "-n", ns, "link", "set", "lo", "up"});
    }
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    for (int i = 0; i < 2; ++i) run_process({"ip", "netns", "delete", guest_ns(i)});
    region_.remove();
  }
  std::string guest_ns(int i) const { return region_.name() + "-g" + std::to_string(i); }
  std::string tap_name(int i) const { return "amidft" + std::to_string(::getpid() % 100000) + "g" + std::to_string(i); }
  static std::string address(int i) { return "172.31.0." + std::to_string(4 + i); }
  // A listening socket in guest i on `port`.
  void listen_in(int i, std::uint16_t port) {
    int fd = RegionNetwork(guest_ns(i), region_.gateway()).socket_inside(AF_INET, SOCK_STREAM);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(fd, 4), 0);
    fds_.push_back(fd);
  }
  // Whether guest `from` completes a tcp connection to guest `to`'s port within a second.
  bool connects(int from, int to, std::uint16_t port) {
    int fd = RegionNetwork(guest_ns(from), region_.gateway()).socket_inside(AF_INET, SOCK_STREAM);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address(to).c_str(), &a.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (!ok && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = -1;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, 1000) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
    return ok;
  }

  RegionNetwork region_{"amid-ft-" + std::to_string(::getpid()), *Ipv4Cidr::parse("172.31.0.1/20")};
  std::vector<int> fds_;
};

TEST_F(GuestFilterAtWork, APortNoRuleAllowsIsNotReachedFromAnotherGuest) {
  listen_in(1, 7000);
  listen_in(1, 7001);
  listen_in(0, 7000);
  ASSERT_TRUE(connects(0, 1, 7001)) << "without a filter the stand-in guests reach each other (else this test proves nothing)";

  // Guest 1 admits tcp 7000 from guest 0 alone; guest 0 admits nothing.
  region_.apply_filter(filter_ruleset({{tap_name(1), address(1), {rule("tcp", 7000, 7000, "172.31.0.4/32")}, {}},
                                       {tap_name(0), address(0), {}, {}}}));
  EXPECT_TRUE(connects(0, 1, 7000)) << "the rule's port, and its replies";
  EXPECT_FALSE(connects(0, 1, 7001)) << "a port no rule allows";
  EXPECT_FALSE(connects(1, 0, 7000)) << "guest 0 admits nothing";

  // Members of one default group admit each other; applied again, it replaces the rules.
  region_.apply_filter(
      filter_ruleset({{tap_name(1), address(1), {}, {address(0), "172.31.0.9"}},
                      {tap_name(0), address(0), {}, {address(1)}}}));
  EXPECT_TRUE(connects(0, 1, 7001));
  EXPECT_TRUE(connects(1, 0, 7000));

  // Guest 0 sending as 172.31.0.9, an address guest 1 admits but not guest
  // 0's own, gets nowhere.
  ASSERT_EQ(run_process({"ip", "-n", guest_ns(0), "addr", "add", "172.31.0.9/20", "dev", "eth0"}).exit_code, 0);
  ASSERT_EQ(run_process({"ip", "-n", guest_ns(0), "addr", "del", address(0) + "/20", "dev", "eth0"}).exit_code, 0);
  EXPECT_FALSE(connects(0, 1, 7001)) << "a frame with a source address that is not its guest's";
}

}  // namespace
}  // namespace amid
