// What an instance is told about itself, in the words of EC2's instance
// metadata (instance-id, ami-id, instance-type, local-hostname, placement,
// public-keys, user-data), and the files cloud-init's NoCloud data source reads
// them from (docs/NETWORK.md says why a seed rather than 169.254.169.254).
// Pure; any thread.
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
// region network leads nowhere else).
std::vector<std::pair<std::string, std::string>> nocloud_files(const InstanceMetadata& metadata);

}  // namespace amid
