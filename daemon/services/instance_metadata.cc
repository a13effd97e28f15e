#include "daemon/services/instance_metadata.h"

#include "common/ipv4.h"
#include "common/protocol.h"
#include "daemon/host/domain_xml.h"
#include "daemon/host/region_network.h"
#include "daemon/services/default_vpc.h"
#include "daemon/services/guest_network.h"

namespace amid {

InstanceMetadata metadata_of(const InstanceRecord& instance, const std::optional<KeyPairRecord>& key,
                             const std::optional<std::string>& user_data) {
  InstanceMetadata m;
  m.instance_id = instance.id;
  m.ami_id = instance.image_id;
  m.instance_type = instance.instance_type;
  m.local_hostname = instance.id;
  m.region = instance.region;
  m.availability_zone = default_availability_zone(instance.region);
  if (key) {
    m.key_name = key->name;
    m.public_keys.push_back(key->public_key);
  }
  m.user_data = user_data;
  m.local_ipv4 = instance.private_ip;
  m.mac = mac_for_instance(instance.id);
  return m;
}

std::vector<std::pair<std::string, std::string>> nocloud_files(const InstanceMetadata& m) {
  protocol::Json meta = {
      {"instance-id", m.instance_id},
      {"local-hostname", m.local_hostname},
      {"ami-id", m.ami_id},
      {"instance-type", m.instance_type},
      {"placement", {{"availability-zone", m.availability_zone}, {"region", m.region}}},
      {"public-keys", m.public_keys},
  };
  if (!m.key_name.empty()) meta["key-name"] = m.key_name;
  std::vector<std::pair<std::string, std::string>> files = {{"meta-data", meta.dump(2) + "\n"},
                                                            {"user-data", m.user_data.value_or("")}};
  if (!m.local_ipv4.empty()) {
    meta["local-ipv4"] = m.local_ipv4;
    files[0].second = meta.dump(2) + "\n";
    const int prefix = Ipv4Cidr::parse(kDefaultSubnetCidr)->prefix;
    const std::string gateway = ipv4_str(Ipv4Cidr::parse(kGatewayCidr)->address);
    protocol::Json network = {
        {"version", 2},
        {"ethernets",
         {{"eth0",
           {{"match", {{"macaddress", m.mac}}},
            {"set-name", "eth0"},
            {"addresses", {m.local_ipv4 + "/" + std::to_string(prefix)}},
            {"routes", {{{"to", std::string(RegionNetwork::kMetadataAddress) + "/32"}, {"via", gateway}}}}}}}}};
    files.emplace_back("network-config", network.dump(2) + "\n");
  }
  return files;
}

std::string fw_cfg_network(const InstanceMetadata& m) {
  if (m.local_ipv4.empty()) return "";
  const auto gateway = *Ipv4Cidr::parse(kGatewayCidr);
  return "mac=" + m.mac + " address=" + m.local_ipv4 + "/" + std::to_string(gateway.prefix) +
         " gateway=" + ipv4_str(gateway.address) + " metadata=" + RegionNetwork::kMetadataAddress;
}

}  // namespace amid
