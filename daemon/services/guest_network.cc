#include "daemon/services/guest_network.h"

#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/ipv4.h"
#include "daemon/host/log.h"
#include "daemon/services/guest_filter.h"
#include "daemon/services/security_group_rules.h"
#include "daemon/services/security_group_service.h"

namespace amid {

std::string tap_of(const std::string& instance_id) {
  return "amid" + instance_id.substr(instance_id.size() > 11 ? instance_id.size() - 11 : 0);
}

void assign_private_addresses(Runtime& rt, std::vector<InstanceRecord>& instances) {
  if (!rt.network) return;
  const Ipv4Cidr subnet = rt.network->gateway();
  std::set<std::string> taken;
  for (auto& ip : rt.catalog.private_ips_in_use(rt.settings.region)) taken.insert(std::move(ip));
  const std::uint32_t first = subnet.network() + 4;
  const std::uint32_t last = (subnet.network() | ~subnet.mask()) - 1;  // the broadcast address is not a host's
  std::uint32_t next = first;
  for (auto& rec : instances) {
    while (next <= last && taken.count(ipv4_str(next))) ++next;
    if (next > last) {
      throw AmidError("InsufficientFreeAddressesInSubnet",
                      "the subnet " + Ipv4Cidr{subnet.network(), subnet.prefix}.str() +
                          " has no free address left for another instance; terminate instances first");
    }
    rec.private_ip = ipv4_str(next);
    taken.insert(rec.private_ip);
  }
}

bool has_guest_network(const Runtime& rt, const InstanceRecord& instance) {
  return rt.network && !instance.private_ip.empty();
}

void prepare_guest_network(Runtime& rt, const InstanceRecord& instance) {
  if (!has_guest_network(rt, instance)) return;
  update_filter(rt);  // its rules are in place before its first frame
  rt.network->create_tap(tap_of(instance.id));
}

void attach_guest_network(Runtime& rt, const InstanceRecord& instance) {
  if (has_guest_network(rt, instance)) rt.network->attach_tap(tap_of(instance.id));
}

void start_guest(Runtime& rt, const InstanceRecord& instance, const std::function<void(bool paused)>& start) {
  auto start_qemu = [&](bool paused) {
    if (start) start(paused);
    else rt.hypervisor.start_domain(instance.id, paused);
  };
  if (!has_guest_network(rt, instance)) return start_qemu(false);
  prepare_guest_network(rt, instance);
  try {
    // Paused, so that the guest's first frame already leaves inside the namespace.
    start_qemu(/*paused=*/true);
    attach_guest_network(rt, instance);
    rt.hypervisor.resume_domain(instance.id);
  } catch (...) {
    try {
      rt.hypervisor.destroy_domain(instance.id);
    } catch (const std::exception& e) {
      log_warn("instance " + instance.id + ": cannot stop its half-started domain: " + e.what());
    }
    release_guest_network(rt, instance.id);
    throw;
  }
  update_forwards(rt, instance.id);
}

namespace {

std::string forward_key(const std::string& instance_id, std::uint16_t guest_port) {
  return instance_id + ":" + std::to_string(guest_port);
}

std::string ports_text(const std::vector<PortForward>& forwards) {
  std::string out;
  for (const auto& f : forwards) {
    out += (out.empty() ? "" : ", ") + std::to_string(f.guest_port) + " at 127.0.0.1:" + std::to_string(f.host_port);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

void update_forwards(Runtime& rt, const std::string& instance_id) {
  if (!rt.forwarder) return;
  try {
    std::lock_guard lock(rt.forwards_mu);
    auto rec = rt.catalog.find_instance(instance_id);
    if (!rec || rec->private_ip.empty()) return;
    const bool up = rec->state == InstanceState::kPending || rec->state == InstanceState::kRunning;
    std::size_t left_out = 0;
    std::vector<std::uint16_t> wanted;
    if (up) wanted = forwarded_ports(effective_ingress(rt.catalog, instance_id), &left_out);
    std::vector<PortForward> open;
    const auto known = rt.catalog.known_port_forwards(instance_id);
    for (std::uint16_t port : wanted) {
      std::uint16_t before = 0;
      for (const auto& k : known) {
        if (k.guest_port == port) before = k.host_port;
      }
      open.push_back({port, rt.forwarder->open(forward_key(instance_id, port), rec->private_ip, port, before)});
    }
    for (const auto& k : known) {
      if (std::find(wanted.begin(), wanted.end(), k.guest_port) == wanted.end()) {
        rt.forwarder->close(forward_key(instance_id, k.guest_port));
      }
    }
    if (open != rec->port_forwards) {
      log_info("instance " + instance_id + ": ports forwarded from the host: " + ports_text(open));
    }
    if (left_out > 0) {
      log_warn("instance " + instance_id + ": its security groups open " + std::to_string(left_out) +
               " more tcp ports than amid forwards (" + std::to_string(kMaxForwardsPerInstance) +
               "); open single ports or narrow ranges to choose which");
    }
    rt.catalog.set_open_port_forwards(instance_id, open);
  } catch (const std::exception& e) {
    log_error("instance " + instance_id + ": cannot update its port forwards: " + e.what());
  }
}

void apply_security_groups(Runtime& rt, const std::string& instance_id) {
  update_forwards(rt, instance_id);
  update_filter(rt);
}

void release_guest_network(Runtime& rt, const std::string& instance_id) {
  try {
    if (rt.forwarder) {
      std::lock_guard lock(rt.forwards_mu);
      for (const auto& k : rt.catalog.known_port_forwards(instance_id)) {
        rt.forwarder->close(forward_key(instance_id, k.guest_port));
      }
      rt.catalog.drop_port_forwards(instance_id);
    }
  } catch (const std::exception& e) {
    log_warn("instance " + instance_id + ": cannot close its port forwards: " + e.what());
  }
  if (!rt.network) return;
  try {
    rt.network->remove_tap(tap_of(instance_id));
  } catch (const std::exception& e) {
    log_warn("instance " + instance_id + ": cannot delete its tap: " + e.what());
  }
  update_filter(rt);
}

}  // namespace amid
