// Addresses and taps of the region network, on the test driver's region (no
// namespace is made: only the addresses are handed out here).
#include "daemon/services/guest_network.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "daemon/host/domain_xml.h"
#include "daemon/services/instance_metadata.h"
#include "daemon/services/render.h"
#include "daemon/services/security_group_rules.h"
#include "tests/unit/region_fixture.h"

namespace amid::testing {
namespace {

class GuestNetworkTest : public RegionFixture {
 protected:
  // A region network on a small subnet (172.31.0.0/28: .4 to .14 are for guests).
  void use_subnet(const char* gateway) {
    rt_->network = std::make_shared<RegionNetwork>("amid-never-made", *Ipv4Cidr::parse(gateway));
  }
  std::vector<InstanceRecord> batch(int n) {
    std::vector<InstanceRecord> out;
    for (int i = 0; i < n; ++i) {
      InstanceRecord r;
      r.id = new_id("i");
      r.region = rt_->settings.region;
      r.state = InstanceState::kRunning;
      out.push_back(r);
    }
    return out;
  }
};

TEST_F(GuestNetworkTest, WithoutANetworkNoInstanceGetsAnAddress) {
  auto made = batch(2);
  assign_private_addresses(*rt_, made);
  EXPECT_EQ(made[0].private_ip, "");
}

TEST_F(GuestNetworkTest, AddressesAreTheLowestFreeAndNeverShared) {
  use_subnet("172.31.0.1/28");
  auto first = batch(3);
  assign_private_addresses(*rt_, first);
  EXPECT_EQ(first[0].private_ip, "172.31.0.4") << "EC2 keeps the first four addresses";
  EXPECT_EQ(first[2].private_ip, "172.31.0.6");
  catalog_->insert_instances(first);

  // A terminated instance's address is free again; the others are not.
  catalog_->set_instance_state(first[1].id, InstanceState::kTerminated);
  auto second = batch(2);
  assign_private_addresses(*rt_, second);
  EXPECT_EQ(second[0].private_ip, "172.31.0.5");
  EXPECT_EQ(second[1].private_ip, "172.31.0.7");
  catalog_->insert_instances(second);
}

TEST_F(GuestNetworkTest, AFullSubnetRefusesTheLaunchAndAssignsNothing) {
  use_subnet("172.31.0.1/28");
  auto all = batch(11);  // .4 .. .14
  assign_private_addresses(*rt_, all);
  EXPECT_EQ(all.back().private_ip, "172.31.0.14") << ".15 is the broadcast address";
  catalog_->insert_instances(all);
  auto one_more = batch(1);
  try {
    assign_private_addresses(*rt_, one_more);
    FAIL() << "the 12th address does not exist";
  } catch (const AmidError& e) {
    EXPECT_EQ(e.code(), "InsufficientFreeAddressesInSubnet");
  }
}

// The forwards' side of the network, without a namespace: the "guest" is an
// echo server on 127.0.0.1, which the instance's private address points at.
class ForwardsTest : public GuestNetworkTest {
 protected:
  void SetUp() override {
    GuestNetworkTest::SetUp();
    rt_->forwarder = std::make_shared<PortForwarder>([] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
    server_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(server_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(server_, 8), 0);
    socklen_t len = sizeof a;
    ::getsockname(server_, reinterpret_cast<sockaddr*>(&a), &len);
    guest_port_ = ntohs(a.sin_port);
    echo_ = std::thread([fd = server_] {
      for (int c; (c = ::accept(fd, nullptr, nullptr)) >= 0; ::close(c)) {
        char buf[256];
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n > 0 && ::write(c, buf, static_cast<size_t>(n)) != n) continue;
      }
    });
    group_ = region_->security_groups().default_group(alice_.account).id;
    InstanceRecord r = batch(1)[0];
    r.owner = alice_.account;
    r.private_ip = "127.0.0.1";
    r.security_groups = {{group_, "default"}};
    catalog_->insert_instances({r});
    id_ = r.id;
  }
  void TearDown() override {
    ::shutdown(server_, SHUT_RDWR);
    ::close(server_);
    echo_.join();
    GuestNetworkTest::TearDown();
  }
  protocol::Json permission(int port, const char* cidr) {
    return {{"IpProtocol", "tcp"}, {"FromPort", port}, {"ToPort", port}, {"IpRanges", {{{"CidrIp", cidr}}}}};
  }
  void rule(const char* action, int port, const char* cidr) {
    auto r = call(action, {{"GroupId", group_}, {"IpPermissions", protocol::Json::array({permission(port, cidr)})}});
    ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  }
  // As describe-instances shows it (without asking libvirt, which has no such domain).
  protocol::Json described() { return render_instance(*catalog_->find_instance(id_)); }
  // What 127.0.0.1:port answers to "ping" ("" when nothing does).
  static std::string ping(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::write(fd, "ping", 4) == 4) {
      char buf[16];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) got.assign(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return got;
  }

  int server_ = -1;
  std::uint16_t guest_port_ = 0;
  std::thread echo_;
  std::string group_, id_;
};

TEST_F(ForwardsTest, ARuleOpensAForwardOnTheRunningInstanceAndRevokingItClosesIt) {
  EXPECT_EQ(described()["PortForwards"], protocol::Json::array()) << "the default group starts with no rule";
  EXPECT_EQ(described()["PublicIpAddress"], "127.0.0.1");

  rule("AuthorizeSecurityGroupIngress", guest_port_, "0.0.0.0/0");
  auto forwards = described()["PortForwards"];
  ASSERT_EQ(forwards.size(), 1u) << forwards;
  EXPECT_EQ(forwards[0]["GuestPort"], guest_port_);
  EXPECT_EQ(forwards[0]["HostIp"], "127.0.0.1");
  const std::uint16_t host_port = forwards[0]["HostPort"];
  EXPECT_EQ(ping(host_port), "ping") << "the host reaches the guest's port through the forward";

  rule("RevokeSecurityGroupIngress", guest_port_, "0.0.0.0/0");
  EXPECT_EQ(described()["PortForwards"], protocol::Json::array());
  EXPECT_EQ(ping(host_port), "") << "a port no rule allows is not reachable";

  rule("AuthorizeSecurityGroupIngress", guest_port_, "127.0.0.1/32");
  ASSERT_EQ(described()["PortForwards"].size(), 1u);
  EXPECT_EQ(described()["PortForwards"][0]["HostPort"], host_port) << "a port keeps its host port for the instance's life";
}

TEST_F(ForwardsTest, OnlyRulesThatAdmitTheHostOpenAForward) {
  rule("AuthorizeSecurityGroupIngress", guest_port_, "10.0.0.0/8");
  EXPECT_EQ(described()["PortForwards"], protocol::Json::array()) << "the host's clients come from 127.0.0.1";
  auto udp = call("AuthorizeSecurityGroupIngress", {{"GroupId", group_}, {"IpProtocol", "udp"}, {"FromPort", 53},
                                                    {"ToPort", 53}, {"CidrIp", "0.0.0.0/0"}});
  ASSERT_TRUE(udp.ok) << udp.error_message;
  EXPECT_EQ(described()["PortForwards"], protocol::Json::array()) << "forwards are tcp only";
}

TEST_F(ForwardsTest, AStoppedInstanceHasNoForwardsAndGetsItsPortsBackWhenItRuns) {
  rule("AuthorizeSecurityGroupIngress", guest_port_, "0.0.0.0/0");
  const std::uint16_t host_port = described()["PortForwards"][0]["HostPort"];
  catalog_->set_instance_state(id_, InstanceState::kStopped);
  update_forwards(*rt_, id_);
  EXPECT_FALSE(described().contains("PortForwards"));
  EXPECT_FALSE(described().contains("PublicIpAddress"));
  EXPECT_EQ(ping(host_port), "");
  catalog_->set_instance_state(id_, InstanceState::kRunning);
  update_forwards(*rt_, id_);
  EXPECT_EQ(described()["PortForwards"][0]["HostPort"], host_port);
  EXPECT_EQ(ping(host_port), "ping");

  release_guest_network(*rt_, id_);  // terminated: its ports are forgotten
  EXPECT_EQ(ping(host_port), "");
  EXPECT_TRUE(catalog_->known_port_forwards(id_).empty());
}

TEST(ForwardedPorts, WellKnownPortsFirstThenTheLowestUpToTheCap) {
  const auto rule = ingress_rule;
  std::size_t left_out = 0;
  EXPECT_EQ(forwarded_ports({rule("tcp", 8000, 8002, "0.0.0.0/0"), rule("tcp", 22, 22, "127.0.0.0/8")}, &left_out),
            (std::vector<std::uint16_t>{22, 8000, 8001, 8002}));
  EXPECT_EQ(left_out, 0u);
  auto all = forwarded_ports({rule("-1", -1, -1, "0.0.0.0/0")}, &left_out);
  ASSERT_EQ(all.size(), kMaxForwardsPerInstance);
  EXPECT_EQ(left_out, 65535u - kMaxForwardsPerInstance);
  EXPECT_TRUE(std::count(all.begin(), all.end(), 22) && std::count(all.begin(), all.end(), 443));
  EXPECT_TRUE(forwarded_ports({rule("tcp", 22, 22, "192.168.0.0/16"), rule("udp", 53, 53, "0.0.0.0/0")}).empty());
}

TEST(GuestNetwork, TapNamesFitLinuxAndDifferPerInstance) {
  std::string a = tap_of("i-0123456789abcdef0"), b = tap_of("i-0123456789abcdef1");
  EXPECT_EQ(a, "amid6789abcdef0");
  EXPECT_LE(a.size(), 15u) << "IFNAMSIZ";
  EXPECT_NE(a, b);
}

TEST(InstanceMetadata, AnInstanceWithAnAddressIsToldItInNetworkConfig) {
  InstanceRecord r;
  r.id = "i-0123456789abcdef0";
  r.region = "local-1";
  r.private_ip = "172.31.0.9";
  auto files = nocloud_files(metadata_of(r, std::nullopt, std::nullopt));
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[2].first, "network-config");
  auto net = protocol::Json::parse(files[2].second);
  EXPECT_EQ(net["version"], 2);
  EXPECT_EQ(net["ethernets"]["eth0"]["addresses"][0], "172.31.0.9/20");
  EXPECT_EQ(net["ethernets"]["eth0"]["match"]["macaddress"], mac_for_instance(r.id));
  EXPECT_FALSE(net["ethernets"]["eth0"].contains("gateway4")) << "the region network leads nowhere else";
  // ...but to the instance metadata service, through the bridge.
  ASSERT_EQ(net["ethernets"]["eth0"]["routes"].size(), 1u);
  EXPECT_EQ(net["ethernets"]["eth0"]["routes"][0]["to"], "169.254.169.254/32");
  EXPECT_EQ(net["ethernets"]["eth0"]["routes"][0]["via"], "172.31.0.1");
  EXPECT_EQ(protocol::Json::parse(files[0].second)["local-ipv4"], "172.31.0.9");

  r.private_ip.clear();
  EXPECT_EQ(nocloud_files(metadata_of(r, std::nullopt, std::nullopt)).size(), 2u);
}

TEST(InstanceMetadata, AGuestWithoutCloudInitGetsTheSameSettingsInOneLine) {
  InstanceRecord r;
  r.id = "i-0123456789abcdef0";
  r.region = "local-1";
  r.private_ip = "172.31.0.9";
  EXPECT_EQ(fw_cfg_network(metadata_of(r, std::nullopt, std::nullopt)),
            "mac=" + mac_for_instance(r.id) + " address=172.31.0.9/20 gateway=172.31.0.1 metadata=169.254.169.254");
  r.private_ip.clear();
  EXPECT_EQ(fw_cfg_network(metadata_of(r, std::nullopt, std::nullopt)), "");
}

}  // namespace
}  // namespace amid::testing
