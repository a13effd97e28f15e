// The region's filter between guests: what each guest admits from the other
// guests of its region, by its security groups, as nftables rules in the
// region's namespace (host/region_network.h). The host's own connections come
// through amid's forwards (services/guest_network.h), not through this filter.
//
// nftables' bridge family has no connection tracking on every kernel (it needs
// nf_conntrack_bridge), so the filter is stateless, as a network ACL is: tcp
// is admitted by the first packet of a connection (a SYN, which a rule must
// allow; the packets after it pass), udp and icmp by each packet's
// destination port or type (icmp's replies always pass). A guest's IPv4 frames
// must carry its own address as their source, towards the other guests and
// towards the namespace itself (the metadata service tells guests apart by it).
// docs/NETWORK.md has the rules in words.
#pragma once

#include <string>
#include <vector>

#include "daemon/services/runtime.h"

namespace amid {

// One guest as the filter sees it.
struct GuestIngress {
  std::string tap;                       // its tap on the bridge (guest_network.h: tap_of)
  std::string address;                   // its private address: the only source its frames may carry
  std::vector<SecurityGroupRule> rules;  // its groups' ingress rules (effective_ingress)
  std::vector<std::string> peers;        // addresses admitted whatever the rules: its
                                         // default group's other members, as EC2's
                                         // default group admits its own
};

// The nft script that replaces the filter with `guests`' (pure).
std::string filter_ruleset(const std::vector<GuestIngress>& guests);

// Rebuilds the region's filter from the catalog: every instance of the region
// that has an address and is not terminated or stopped. Call after a launch's
// address is recorded (before its guest runs), and after anything that changes
// an instance's state, groups or rules. Without a region network, nothing.
// Never throws (a failure is logged: guests then keep the filter they had).
void update_filter(Runtime& rt);

}  // namespace amid
