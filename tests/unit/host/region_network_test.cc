// The region network's pieces on their own: amid's loopback proxy,
// and (as root) a namespace with its bridge, a tap moved into it, and a
// connection from 127.0.0.1 to an address that exists only inside it. All
// traffic stays on 127.0.0.1 or inside the namespace the test creates.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "common/error.h"
#include "daemon/host/port_forwarder.h"
#include "daemon/host/region_network.h"

namespace amid {
namespace {

// A one-connection-at-a-time echo server on `fd` (already listening).
std::thread echo_server(int fd) {
  return std::thread([fd] {
    for (;;) {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;) {
        if (::write(c, buf, static_cast<size_t>(n)) != n) break;
      }
      ::close(c);
    }
  });
}

// Binds fd to address:0, listens, returns the port.
std::uint16_t listen_any_port(int fd, const char* address) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, address, &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0) return 0;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Connects to 127.0.0.1:port, sends `text`, half-closes, and reads until the
// other side closes: what came back ("" when the connection failed).
std::string round_trip(std::uint16_t port, const std::string& text) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())) {
    ::shutdown(fd, SHUT_WR);  // the proxy must pass the half-close on, or the echo never ends
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

TEST(PortForwarder, RelaysBothWaysPassesHalfClosesOnAndStopsWhenClosed) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t guest_port = listen_any_port(server, "127.0.0.1");
  ASSERT_NE(guest_port, 0);
  std::thread echo = echo_server(server);
  {
    PortForwarder fw([] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
    std::uint16_t port = fw.open("i-1:tcp:7", "127.0.0.1", guest_port, 0);
    ASSERT_NE(port, 0);
    std::string big(300 * 1024, 'x');  // larger than one relay buffer
    EXPECT_EQ(round_trip(port, "hello"), "hello");
    EXPECT_EQ(round_trip(port, big).size(), big.size());

    // A port that is taken: another one, never a failure.
    std::uint16_t second = fw.open("i-2:tcp:7", "127.0.0.1", guest_port, port);
    EXPECT_NE(second, port);
    EXPECT_EQ(round_trip(second, "two"), "two");

    fw.close("i-1:tcp:7");
    EXPECT_EQ(round_trip(port, "gone"), "") << "a closed forward must not answer";
    fw.close("i-1:tcp:7");  // closing twice is no error
    EXPECT_EQ(round_trip(second, "still"), "still");
  }
  ::shutdown(server, SHUT_RDWR);
  ::close(server);
  echo.join();
}

TEST(PortForwarder, OpeningTheSameForwardAgainKeepsItsPortAndItsConnections) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t guest_port = listen_any_port(server, "127.0.0.1");
  ASSERT_NE(guest_port, 0);
  std::thread echo = echo_server(server);
  {
    PortForwarder fw([] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
    std::uint16_t port = fw.open("i-1:22", "127.0.0.1", guest_port, 0);
    // A connection in the middle of its work while the forward is opened again.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::write(fd, "ab", 2), 2);
    char buf[2];
    ASSERT_EQ(::read(fd, buf, 2), 2);
    EXPECT_EQ(fw.open("i-1:22", "127.0.0.1", guest_port, 0), port);
    EXPECT_EQ(fw.open("i-1:22", "127.0.0.1", guest_port, port), port);
    EXPECT_EQ(fw.connections(), 1u) << "opening the same forward again must not drop its connections";
    ASSERT_EQ(::write(fd, "cd", 2), 2);
    EXPECT_EQ(::read(fd, buf, 2), 2);
    ::close(fd);
  }
  ::shutdown(server, SHUT_RDWR);
  ::close(server);
  echo.join();
}

TEST(PortForwarder, AGuestThatRefusesIsAClosedConnectionNotACrash) {
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  std::uint16_t unused = listen_any_port(probe, "127.0.0.1");
  ::close(probe);  // nothing listens there now
  PortForwarder fw([] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  std::uint16_t port = fw.open("k", "127.0.0.1", unused, 0);
  EXPECT_EQ(round_trip(port, "anyone?"), "");
  EXPECT_EQ(fw.connections(), 0u);
}

class RegionNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!RegionNetwork::supported(&why)) GTEST_SKIP() << "cannot make a network namespace here: " << why;
    net_.remove();
  }
  void TearDown() override { net_.remove(); }
  RegionNetwork net_{"amid-test-" + std::to_string(::getpid()), *Ipv4Cidr::parse("172.31.0.1/20")};
};

TEST_F(RegionNetworkTest, EnsureIsIdempotentAndTheGatewayLivesOnlyInsideTheNamespace) {
  net_.ensure();
  net_.ensure();  // an amid start over an existing namespace
  std::string addrs = net_.ip_inside({"-o", "-4", "addr", "show", "dev", RegionNetwork::kBridge});
  EXPECT_NE(addrs.find("172.31.0.1/20"), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find("172.31.0.1/20", addrs.find("172.31.0.1/20") + 1), std::string::npos)
      << "the gateway address was added twice:\n" << addrs;
  // No route out: a guest's packets for anything but the subnet go nowhere.
  std::string routes = net_.ip_inside({"-4", "route", "show"});
  EXPECT_EQ(routes.find("default"), std::string::npos) << routes;
  // The metadata service's address sits on the bridge too, once.
  const std::string imds = std::string(RegionNetwork::kMetadataAddress) + "/32";
  EXPECT_NE(addrs.find(imds), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find(imds, addrs.find(imds) + 1), std::string::npos) << "added twice:\n" << addrs;
}

TEST_F(RegionNetworkTest, ListensOnTheMetadataAddressInsideTheNamespaceOnly) {
  net_.ensure();
  int fd = net_.listen_inside(RegionNetwork::kMetadataAddress, 80);
  ASSERT_GE(fd, 0);
  // Reached from inside the namespace...
  int inside = net_.socket_inside(AF_INET, SOCK_STREAM);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(80);
  ::inet_pton(AF_INET, RegionNetwork::kMetadataAddress, &sa.sin_addr);
  EXPECT_EQ(::connect(inside, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  ::close(inside);
  // ...and a second amid over the same namespace is told why it cannot.
  EXPECT_THROW(net_.listen_inside(RegionNetwork::kMetadataAddress, 80), AmidError);
  ::close(fd);
  fd = net_.listen_inside(RegionNetwork::kMetadataAddress, 80);  // a restart binds again at once
  EXPECT_GE(fd, 0);
  ::close(fd);
}

TEST_F(RegionNetworkTest, ATapMovesOntoTheBridgeAndIsRemovedWhereverItIs) {
  net_.ensure();
  const std::string tap = "amidtest" + std::to_string(::getpid() % 100000);
  net_.create_tap(tap);
  EXPECT_FALSE(net_.has_tap(tap));
  net_.attach_tap(tap);
  ASSERT_TRUE(net_.has_tap(tap));
  std::string link = net_.ip_inside({"-o", "link", "show", "dev", tap});
  EXPECT_NE(link.find("master " + std::string(RegionNetwork::kBridge)), std::string::npos) << link;
  net_.create_tap(tap);  // a start after a crash: the old tap in the namespace goes first
  EXPECT_FALSE(net_.has_tap(tap));
  net_.remove_tap(tap);
  net_.remove_tap(tap);  // gone already: no error
}

TEST_F(RegionNetworkTest, TheProxyReachesAnAddressThatExistsOnlyInsideTheNamespace) {
  net_.ensure();
  int server = net_.socket_inside(AF_INET, SOCK_STREAM);
  std::uint16_t port = listen_any_port(server, "172.31.0.1");
  ASSERT_NE(port, 0) << "cannot listen on the gateway address inside the namespace: " << std::strerror(errno);
  std::thread echo = echo_server(server);
  {
    PortForwarder fw([this] { return net_.socket_inside(AF_INET, SOCK_STREAM); });
    std::uint16_t host_port = fw.open("i-1:tcp:80", "172.31.0.1", port, 0);
    EXPECT_EQ(round_trip(host_port, "inside"), "inside");
  }
  ::shutdown(server, SHUT_RDWR);
  ::close(server);
  echo.join();
}

}  // namespace
}  // namespace amid
