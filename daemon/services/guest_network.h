// An instance's place on its region's network (host/region_network.h): its
// private address in the default subnet, its tap, the start of its domain
// with the tap moved into the region's namespace before the guest runs, and
// the forwards from the host's 127.0.0.1 that its security groups allow
// (host/port_forwarder.h); the filter between guests is services/guest_filter.h.
//
// Without a region network (Runtime::network null) instances get no network
// interface and no address, and their domains start as before. Any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "daemon/services/runtime.h"

namespace amid {

// The gateway's address in every region's subnet (EC2's default subnet,
// services/default_vpc.h): the bridge in the namespace holds it.
inline constexpr const char* kGatewayCidr = "172.31.0.1/20";

// The tap of an instance: "amid" and the last 11 hex digits of its id (a
// Linux interface name has at most 15 characters).
std::string tap_of(const std::string& instance_id);

// Gives each of `instances` (new, not yet recorded) the lowest free address
// of the subnet (.4 up, as EC2 reserves the first four and the last).
// Throws InsufficientFreeAddressesInSubnet when too few are free. The caller
// holds the lock under which launches record their rows (Runtime::image_refs_mu).
void assign_private_addresses(Runtime& rt, std::vector<InstanceRecord>& instances);

// Whether the instance has a place on its region's network (an address, and
// the region a network): its domain then has a NIC and its start a tap.
bool has_guest_network(const Runtime& rt, const InstanceRecord& instance);

// Starts the instance's defined domain: with a network, a fresh tap, QEMU
// started paused, the tap moved into the namespace, then the vCPUs resumed.
// `start(paused)` starts QEMU (default: boots the definition); a warm launch
// restores a save image instead.
void start_guest(Runtime& rt, const InstanceRecord& instance,
                 const std::function<void(bool paused)>& start = nullptr);

// start_guest's network steps, for a warm launch that does them beside its
// other work (InstanceService::restore_guest). Before QEMU starts: the
// region's filter with the instance in it and a fresh tap in the host's
// namespace. Once QEMU holds the tap: the tap moved into the region's
// namespace, on its bridge, up. Each does nothing for an instance without a
// network; each throws when a step fails (release_guest_network undoes them).
void prepare_guest_network(Runtime& rt, const InstanceRecord& instance);
void attach_guest_network(Runtime& rt, const InstanceRecord& instance);

// Makes the instance's forwards match what it is now: while it is pending or
// running, one forward from 127.0.0.1 to each port its security groups open to
// the host (security_group_rules.h: forwarded_ports), each on the host port it
// had before when that port is free; none otherwise. Forwards that stay are
// left alone, connections and all. Records them (InstanceRecord::port_forwards).
// Call after anything that changes its state or its ingress. Never throws.
void update_forwards(Runtime& rt, const std::string& instance_id);

// After a change to an instance's state, groups or rules: its forwards
// (update_forwards) and the region's filter between guests
// (services/guest_filter.h: update_filter). Never throws.
void apply_security_groups(Runtime& rt, const std::string& instance_id);

// Deletes the instance's tap and forgets its forwards (its guest is off for
// good). Never throws.
void release_guest_network(Runtime& rt, const std::string& instance_id);

}  // namespace amid
