// What every action handler works with, built once by main and shared by the
// worker threads. Each member is thread-safe on its own.
#pragma once

#include <mutex>
#include <string>

#include "daemon/catalog.h"
#include "daemon/config.h"
#include "daemon/hypervisor.h"
#include "daemon/instance_types.h"
#include "daemon/qemu_img.h"
#include "daemon/store.h"

namespace amid {

struct Runtime {
  Config config;
  Store store;
  Catalog& catalog;
  Hypervisor& hypervisor;
  std::string domain_type;  // "kvm" or "qemu", chosen once at start
  InstanceTypes instance_types;
  QemuImg qemu_img;
  // Held while an image's users are counted or changed (launch vs. reclaim).
  std::mutex image_refs_mu;
};

}  // namespace amid
