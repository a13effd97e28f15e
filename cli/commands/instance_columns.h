// The columns amictl shows for an instance, shared by the commands that list them.
#pragma once

#include "cli/output.h"

namespace amid::cli {

// The value of tag `key` in an EC2 "Tags" list, or "".
inline std::string tag_value(const protocol::Json& j, const std::string& key) {
  if (!j.contains("Tags") || !j["Tags"].is_array()) return "";
  for (const auto& t : j["Tags"]) {
    if (t.value("Key", "") == key) return t.value("Value", "");
  }
  return "";
}

// Its forwards as docker shows them: "127.0.0.1:34567->22/tcp, ...", or "-".
inline std::string forwarded_ports(const protocol::Json& j) {
  std::string out;
  if (j.contains("PortForwards")) {
    for (const auto& f : j["PortForwards"]) {
      out += (out.empty() ? "" : ", ") + f.value("HostIp", std::string("127.0.0.1")) + ":" +
             std::to_string(f.value("HostPort", 0)) + "->" + std::to_string(f.value("GuestPort", 0)) + "/" +
             f.value("Protocol", std::string("tcp"));
    }
  }
  return out.empty() ? "-" : out;
}

inline std::vector<Column> instance_columns() {
  return {{"INSTANCE ID", [](auto& j) { return field(j, "/InstanceId"); }},
          {"IMAGE ID", [](auto& j) { return field(j, "/ImageId"); }},
          {"TYPE", [](auto& j) { return field(j, "/InstanceType"); }},
          {"STATE", [](auto& j) { return field(j, "/State/Name"); }},
          {"LAUNCH", [](auto& j) { return field(j, "/LaunchMode"); }},
          {"ROOT", [](auto& j) { return field(j, "/RootDeviceType"); }},
          {"ZONE", [](auto& j) { return field(j, "/Placement/AvailabilityZone"); }},
          {"LAUNCHED", [](auto& j) { return field(j, "/LaunchTime"); }},
          {"ADDRESS", [](auto& j) { return field(j, "/PrivateIpAddress"); }},
          {"PORTS", [](auto& j) { return forwarded_ports(j); }},
          {"NAME", [](auto& j) { return tag_value(j, "Name"); }}};
}

}  // namespace amid::cli
