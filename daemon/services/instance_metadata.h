// What an instance is told about itself, in the words of EC2's instance
// metadata (instance-id, ami-id, instance-type, local-hostname, placement,
// public-keys, user-data), and the files cloud-init's NoCloud data source reads
// them from. The same facts are served over HTTP at 169.254.169.254 by
// services/metadata_service.h (docs/NETWORK.md). Pure; any thread.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/state/records.h"

namespace amid {

struct InstanceMetadata {
  std::string instance_id, ami_id, instance_type, local_hostname, availability_zone, region;
  std::string key_name;                  // "" = launched without a key pair
  std::vector<std::string> public_keys;  // OpenSSH lines
  std::optional<std::string> user_data;  // as the launch gave it: cloud-config, a script, ...
  std::string local_ipv4;                // its private address ("" = no network interface)
  std::string mac;                       // its NIC's MAC address
};

// The instance's own: its hostname is its id (EC2's resource-based hostname).
InstanceMetadata metadata_of(const InstanceRecord& instance, const std::optional<KeyPairRecord>& key,
                             const std::optional<std::string>& user_data);

// NoCloud's files: meta-data (JSON, which cloud-init reads as the YAML it is a
// subset of), user-data (empty when the launch gave none) and, for an instance
// with an address, network-config (version 2: the NIC, found by its MAC, named
// eth0, with its address in the default subnet; no default route, as the
// region network leads nowhere else, but a route to the instance metadata
// service, 169.254.169.254, through the gateway).
std::vector<std::pair<std::string, std::string>> nocloud_files(const InstanceMetadata& metadata);

// The same network settings for a guest without cloud-init (the tiny
// template), as the fw_cfg entry opt/amid/network carries them: one line of
// key=value words, "mac=... address=172.31.0.4/20 gateway=172.31.0.1
// metadata=169.254.169.254". "" for an instance without an address.
std::string fw_cfg_network(const InstanceMetadata& metadata);

}  // namespace amid
