// One region (EC2's us-east-1): its store, its libvirt connection and the
// services that act on them, wired here and nowhere else. main.cc builds every
// configured region with open_region(); tests build theirs from RegionParts.
//
// A Region is built on the main thread; from then on its services are called
// from worker threads (each is thread-safe, see its header).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "daemon/api/dispatcher.h"
#include "daemon/api/metadata_server.h"
#include "daemon/config.h"
#include "daemon/host/accel.h"
#include "daemon/services/access_key_service.h"
#include "daemon/services/capture_service.h"
#include "daemon/services/copy_service.h"
#include "daemon/services/image_service.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/key_pair_service.h"
#include "daemon/services/metadata_service.h"
#include "daemon/services/runtime.h"
#include "daemon/services/scheduler.h"
#include "daemon/services/security_group_service.h"
#include "daemon/services/tag_service.h"
#include "daemon/services/warm_images.h"

namespace amid {

// What a region is made of.
struct RegionParts {
  RegionSettings settings;
  std::string store_root;                     // its store folder (here, or on its libvirt host)
  Catalog& catalog;                           // one for all regions
  std::shared_ptr<Hypervisor> hypervisor;     // its libvirt connection
  std::map<std::string, std::string> domain_types;  // Runtime::domain_types
  InstanceTypes instance_types;
  std::shared_ptr<RegionFiles> files;         // null: the store is on this machine
  std::shared_ptr<RegionNetwork> network = nullptr;  // null: its instances get no network interface
};

class Region {
 public:
  explicit Region(RegionParts parts);
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  const std::string& name() const { return rt_.settings.region; }
  Runtime& runtime() { return rt_; }
  Hypervisor& hypervisor() { return *hypervisor_; }
  ImageService& images() { return images_; }
  InstanceService& instances() { return instances_; }
  CaptureService& capture() { return capture_; }
  CopyService& copy() { return copy_; }
  WarmImageService& warm_images() { return warm_images_; }
  TagService& tags() { return tags_; }
  KeyPairService& key_pairs() { return key_pairs_; }
  SecurityGroupService& security_groups() { return security_groups_; }
  AccessKeyService& access_keys() { return access_keys_; }
  const MetadataService& metadata() const { return metadata_; }
  // What the dispatcher calls for this region.
  Services services() {
    return {images_, instances_, tags_, capture_, copy_, key_pairs_, security_groups_, access_keys_, warm_images_};
  }

  // Work that waits (stop deadlines, capture, copy and warm-image jobs) goes to `scheduler` from now on.
  void set_scheduler(Scheduler* scheduler);
  // At start, before anything is served: catalog, files and libvirt brought in
  // line (services/reconcile.h), and captures and warm-image jobs cut short by
  // a stopped amid ended.
  void recover();
  // Once the scheduler is set: domain events are acted on, and what a previous
  // amid left half done (an instance still stopping) goes on.
  void serve();
  // At amid's exit: the region's network namespace goes when no instance of the
  // region is left that is not terminated (a running guest keeps it, and so does
  // a stopped one, which will start again on it).
  void release_network_if_unused();

 private:
  std::shared_ptr<Hypervisor> hypervisor_;
  Runtime rt_;
  ImageService images_;
  InstanceService instances_;
  CaptureService capture_;
  CopyService copy_;
  WarmImageService warm_images_;
  TagService tags_;
  KeyPairService key_pairs_;
  SecurityGroupService security_groups_;
  AccessKeyService access_keys_;  // over the catalog's one table: every region's is the same
  MetadataService metadata_;
};

// The region's instance metadata service door, listening on
// 169.254.169.254:80 inside its network namespace; null (said in the log)
// when the region has no network or the address cannot be bound. The caller
// keeps it while `io` runs and stops it before `io` goes.
std::unique_ptr<MetadataServer> open_metadata_server(Region& region, asio::io_context& io,
                                                     asio::thread_pool& workers);

// Opens a region amid.toml describes: its store (made here, or checked on its
// libvirt host), the embedded driver's qemu.conf, its libvirt connection (the
// accelerator `choice` checked against it), then recover(). Throws AmidError
// naming the region and what to do.
std::unique_ptr<Region> open_region(const Config& config, const RegionConfig& rc, AccelChoice choice,
                                    Catalog& catalog, const InstanceTypes& types, const Store& state);

}  // namespace amid
