// The columns amictl shows for an instance, shared by the commands that list them.
#pragma once

#include "cli/output.h"

namespace amid::cli {

inline std::vector<Column> instance_columns() {
  return {{"INSTANCE ID", [](auto& j) { return field(j, "/InstanceId"); }},
          {"IMAGE ID", [](auto& j) { return field(j, "/ImageId"); }},
          {"TYPE", [](auto& j) { return field(j, "/InstanceType"); }},
          {"STATE", [](auto& j) { return field(j, "/State/Name"); }},
          {"ROOT", [](auto& j) { return field(j, "/RootDeviceType"); }},
          {"ZONE", [](auto& j) { return field(j, "/Placement/AvailabilityZone"); }},
          {"LAUNCHED", [](auto& j) { return field(j, "/LaunchTime"); }}};
}

}  // namespace amid::cli
