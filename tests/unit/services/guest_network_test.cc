// Addresses and taps of the region network, on the test driver's region (no
// namespace is made: only the addresses are handed out here).
#include "daemon/services/guest_network.h"

#include <set>

#include "daemon/host/domain_xml.h"
#include "daemon/services/instance_metadata.h"
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
