// The instance-type table (configs/instance-types.toml). Pure; never throws.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/error.h"

namespace amid {

struct InstanceType {
  std::string name;
  int vcpus = 1;
  std::uint64_t memory_mib = 512;
  std::uint64_t instance_store_gib = 0;
  std::string architecture = "x86_64";  // EC2's name: x86_64 or arm64 (Graviton types)
};

using InstanceTypes = std::map<std::string, InstanceType>;

Result<InstanceTypes> parse_instance_types(const std::string& text, const std::string& source);
// The table compiled in from configs/instance-types.toml.
const InstanceTypes& builtin_instance_types();

inline constexpr const char* kDefaultInstanceType = "t3.micro";
// run-instances without --instance-type on an arm64 image (EC2 has no default there).
inline constexpr const char* kDefaultArm64InstanceType = "t4g.micro";

}  // namespace amid
