#include "daemon/services/guest_network.h"

#include <set>

#include "common/error.h"
#include "common/ipv4.h"
#include "daemon/host/log.h"

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

void start_guest(Runtime& rt, const InstanceRecord& instance) {
  if (!rt.network || instance.private_ip.empty()) return rt.hypervisor.start_domain(instance.id);
  const std::string tap = tap_of(instance.id);
  rt.network->create_tap(tap);
  try {
    // Paused, so that the guest's first frame already leaves inside the namespace.
    rt.hypervisor.start_domain(instance.id, /*paused=*/true);
    rt.network->attach_tap(tap);
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
}

void release_guest_network(Runtime& rt, const std::string& instance_id) {
  if (!rt.network) return;
  try {
    rt.network->remove_tap(tap_of(instance_id));
  } catch (const std::exception& e) {
    log_warn("instance " + instance_id + ": cannot delete its tap: " + e.what());
  }
}

}  // namespace amid
