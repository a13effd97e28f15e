// What every action handler works with, built once by main and shared by the
// worker threads. Each member is thread-safe on its own.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/catalog.h"
#include "daemon/config.h"
#include "daemon/hypervisor.h"
#include "daemon/instance_types.h"
#include "daemon/qemu_img.h"
#include "daemon/region_files.h"
#include "daemon/store.h"

namespace amid {

struct Runtime {
  Config config;
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
};

}  // namespace amid
