// What a region's services work with: its settings, store, catalog and libvirt
// connection. Built once per region by daemon/region.h and shared by the worker
// threads. Each member is thread-safe on its own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/host/hypervisor.h"
#include "daemon/host/port_forwarder.h"
#include "daemon/host/qemu_img.h"
#include "daemon/host/region_files.h"
#include "daemon/host/region_network.h"
#include "daemon/host/store.h"
#include "daemon/services/instance_types.h"
#include "daemon/state/catalog.h"

namespace amid {

// The part of amid.toml a region's services read (daemon/config.h has it all).
struct RegionSettings {
  std::string region = "local-1";          // its name ([daemon] region, or [regions.NAME])
  std::string capture = "thin";            // [images] capture: thin | standalone
  std::uint64_t max_image_gib = 64;        // [limits] max_image_gib
  std::uint64_t capacity_memory_mib = 0;   // [limits] capacity_memory_mib; 0 = the host's RAM
};

struct Runtime {
  RegionSettings settings;
  Store store;
  Catalog& catalog;
  Hypervisor& hypervisor;
  // Guest architectures this host runs (EC2's names, x86_64 / arm64), each with its
  // libvirt domain type: "kvm" for the host's own when KVM works, else "qemu" (TCG).
  // Found once at start; an architecture absent here cannot be launched.
  std::map<std::string, std::string> domain_types;
  InstanceTypes instance_types;
  QemuImg qemu_img;
  // Held while an image's users are counted or changed (launch vs. reclaim).
  std::mutex image_refs_mu;
  // The region's store: on this machine (files), or on its libvirt host
  // (storage pools and streams). Every file under `store` is reached through it.
  std::shared_ptr<RegionFiles> files = make_local_files(qemu_img);
  // The region's guest network (services/guest_network.h); null where there is
  // none (not root, a region on another host, a driver without QEMU): its
  // instances then get no network interface.
  std::shared_ptr<RegionNetwork> network = nullptr;
  // amid's loopback forwards to the region's guests (with `network`, else null),
  // the lock under which an instance's forwards change, and the one under which
  // the region's filter between guests is rebuilt (services/guest_filter.h).
  std::shared_ptr<PortForwarder> forwarder = nullptr;
  std::mutex forwards_mu{};
  std::mutex filter_mu{};
};

}  // namespace amid
