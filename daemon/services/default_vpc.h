// The default VPC and subnet of an account in a region, as EC2 gives every
// account one: ids that never change, derived from the account and the region
// alone (nothing is stored), and EC2's default CIDRs. SDK code that reads
// VpcId and SubnetId (describe-instances, describe-security-groups) finds them
// here; so will the network when instances get one. Pure; any thread.
#pragma once

#include <string>

namespace amid {

inline constexpr const char* kDefaultVpcCidr = "172.31.0.0/16";
inline constexpr const char* kDefaultSubnetCidr = "172.31.0.0/20";

// "vpc-" / "subnet-" + 17 hex digits, the same for the same account and region.
std::string default_vpc_id(const std::string& account, const std::string& region);
std::string default_subnet_id(const std::string& account, const std::string& region);
// The default subnet's zone: the region's first, as Placement shows it.
std::string default_availability_zone(const std::string& region);

}  // namespace amid
