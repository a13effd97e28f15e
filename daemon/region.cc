#include "daemon/region.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "daemon/host/fs.h"
#include "daemon/host/log.h"
#include "daemon/services/guest_filter.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/reconcile.h"

namespace amid {

Region::Region(RegionParts parts)
    : hypervisor_(std::move(parts.hypervisor)),
      rt_{std::move(parts.settings), Store(parts.store_root), parts.catalog, *hypervisor_,
          std::move(parts.domain_types), std::move(parts.instance_types), QemuImg{}, {}},
      images_(rt_),
      instances_(rt_, images_),
      capture_(rt_, images_, instances_),
      copy_(rt_),
      warm_images_(rt_, images_, instances_),
      tags_(rt_),
      key_pairs_(rt_),
      security_groups_(rt_, instances_),
      access_keys_(rt_.catalog),
      metadata_(rt_) {
  if (parts.files) rt_.files = std::move(parts.files);
  rt_.network = std::move(parts.network);
  if (rt_.network) {
    rt_.forwarder = std::make_shared<PortForwarder>(
        [network = rt_.network] { return network->socket_inside(AF_INET, SOCK_STREAM | SOCK_CLOEXEC); });
  }
  // Rules take effect on running instances: each change opens and closes what they allow.
  security_groups_.set_ingress_observer([this](const std::string& id) { apply_security_groups(rt_, id); });
}

void Region::set_scheduler(Scheduler* scheduler) {
  instances_.set_scheduler(scheduler);
  capture_.set_scheduler(scheduler);
  copy_.set_scheduler(scheduler);
  warm_images_.set_scheduler(scheduler);
}

void Region::recover() {
  reconcile(rt_, images_, instances_);
  capture_.recover_interrupted();
  warm_images_.recover_interrupted();
  // The filter between guests lives in the namespace and outlives amid, but
  // what changed while amid was down (instances gone) is put right.
  update_filter(rt_);
  // Forwards live in amid's process: a restarted amid opens them again, on the same ports.
  for (const auto& inst : rt_.catalog.list_instances()) {
    if (inst.region == name() && !inst.private_ip.empty() && inst.state != InstanceState::kTerminated) {
      update_forwards(rt_, inst.id);
    }
  }
}

void Region::serve() {
  InstanceService& instances = instances_;
  hypervisor_->watch_stops([&instances](const std::string& name) { instances.on_domain_stopped(name); });
  instances_.resume_pending_work();
}

void Region::release_network_if_unused() {
  if (!rt_.network) return;
  for (const auto& inst : rt_.catalog.list_instances()) {
    if (inst.region == name() && inst.state != InstanceState::kTerminated) return;
  }
  rt_.network->remove();
  log_info("region " + name() + ": no instance left; network namespace " + rt_.network->name() + " removed");
}

std::unique_ptr<MetadataServer> open_metadata_server(Region& region, asio::io_context& io,
                                                     asio::thread_pool& workers) {
  const auto& network = region.runtime().network;
  if (!network) return nullptr;
  try {
    int fd = network->listen_inside(RegionNetwork::kMetadataAddress, 80);
    auto server = std::make_unique<MetadataServer>(io, workers, region.metadata());
    server->adopt(fd);
    log_info("region " + region.name() + ": instance metadata service on http://" +
             RegionNetwork::kMetadataAddress + "/ in namespace " + network->name());
    return server;
  } catch (const AmidError& e) {
    log_warn("region " + region.name() + ": no instance metadata service (guests still get their NoCloud seed): " +
             e.what());
    return nullptr;
  }
}

namespace {

constexpr const char* kEmbeddedQemuConf =
    "# Written by amid at every start for its embedded QEMU driver; edits are lost.\n"
    "# QEMU's stdio goes to files, so no virtlogd is needed.\n"
    "stdio_handler = \"file\"\n"
    "# Ownership is not remembered in xattrs: amid owns every file it hands to QEMU.\n"
    "remember_owner = 0\n";

// What guests this host can run; one log line each, so a missing emulator is visible.
std::map<std::string, std::string> runnable_guests(Hypervisor& hypervisor, const std::string& host_type) {
  auto types = amid::guest_domain_types(host_arch(), host_type, [&](const std::string& arch, const std::string& type) {
    return hypervisor.supports_domain_type(arch, type);
  });
  for (const char* arch : {"x86_64", "arm64"}) {
    auto it = types.find(arch);
    if (it != types.end()) {
      log_info(std::string(arch) + " guests: " + (it->second == "kvm" ? "KVM" : "TCG (software emulation)"));
    } else if (std::string(arch) == "arm64") {
      log_info("arm64 guests: not available (install qemu-system-arm and qemu-efi-aarch64, then restart amid)");
    } else {
      log_info(std::string(arch) + " guests: not available (libvirt has no emulator for them)");
    }
  }
  return types;
}

// A configured region's store must exist and be writable: amid does not guess
// where a region's disks belong.
void check_region_store(const RegionConfig& rc) {
  struct stat st{};
  if (::stat(rc.store.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store +
                                               " is not a folder; create it (mkdir -p " + rc.store +
                                               ") or fix amid.toml");
  }
  if (::access(rc.store.c_str(), W_OK | X_OK) != 0) {
    throw AmidError(codes::kInternalError,
                    "regions." + rc.name + ".store: " + rc.store + " is not writable by amid");
  }
}

// A region on another host: its store folder must exist there (amid does not
// guess where a region's disks belong); amid makes its subfolders through libvirt.
void prepare_remote_store(const RegionConfig& rc, const Store& store, RegionFiles& files, const std::string& host) {
  if (!files.dir_exists(store.root())) {
    throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store + " is not a folder on " +
                                               host + "; create it there (mkdir -p " + rc.store +
                                               ") or fix amid.toml");
  }
  for (const auto& dir : {store.images_dir(), store.instances_dir(), store.volumes_dir()}) {
    try {
      files.make_dir(dir);
    } catch (const AmidError& e) {
      throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store + " on " + host +
                                                 ": amid cannot make " + dir + " there (" + e.what() +
                                                 "); check that folder's owner and mode on that host");
    }
  }
}

RegionSettings region_settings(const Config& config, const RegionConfig& rc) {
  RegionSettings s;
  s.region = rc.name;
  s.capture = config.capture;
  s.max_image_gib = config.max_image_gib;
  s.capacity_memory_mib = config.capacity_memory_mib;
  return s;
}

// The region's guest network (host/region_network.h), where this machine runs
// its guests and amid may make namespaces; otherwise none, said once.
std::shared_ptr<RegionNetwork> open_region_network(const RegionConfig& rc, const Hypervisor& hypervisor) {
  std::string why_not;
  if (rc.store_on_libvirt_host()) {
    why_not = "its guests run on another host";
  } else if (hypervisor.uri().rfind("qemu:///", 0) != 0) {
    why_not = "its libvirt driver (" + hypervisor.uri() + ") runs no QEMU here";
  } else {
    RegionNetwork::supported(&why_not);
  }
  if (!why_not.empty()) {
    log_info("region " + rc.name + ": instances get no network interface: " + why_not);
    return nullptr;
  }
  // One namespace per store and region: two amids on one machine never share one.
  std::uint32_t h = 2166136261u;  // FNV-1a of the store's path
  for (unsigned char c : rc.store) h = (h ^ c) * 16777619u;
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", h);
  auto network = std::make_shared<RegionNetwork>("amid-" + std::string(tag) + "-" + rc.name,
                                                 *Ipv4Cidr::parse(kGatewayCidr));
  try {
    network->ensure();
  } catch (const AmidError& e) {
    log_warn("region " + rc.name + ": instances get no network interface: " + e.what());
    return nullptr;
  }
  log_info("region " + rc.name + ": guest network in namespace " + network->name() + ", gateway " +
           network->gateway().str());
  return network;
}

}  // namespace

std::unique_ptr<Region> open_region(const Config& config, const RegionConfig& rc, AccelChoice choice,
                                    Catalog& catalog, const InstanceTypes& types, const Store& state) {
  if (!config.regions.empty() && !rc.store_on_libvirt_host()) check_region_store(rc);
  Store store(rc.store);
  if (!rc.store_on_libvirt_host()) store.prepare();
  if (rc.libvirt_uri == "embedded") {
    fs::make_dirs(store.libvirt_root() + "/etc", 0700);
    fs::write_file_atomic(store.libvirt_root() + "/etc/qemu.conf", kEmbeddedQemuConf, 0600);
  }
  std::shared_ptr<Hypervisor> hypervisor;
  try {
    hypervisor = std::make_shared<Hypervisor>(rc.effective_libvirt_uri());
  } catch (const AmidError& e) {
    throw AmidError(e.code(), "region " + rc.name + ": " + e.what());
  }
  if (choice.domain_type == "kvm" && !hypervisor->supports_domain_type(host_arch(), "kvm")) {
    if (config.accel == "kvm") {
      throw AmidError(codes::kInternalError, "libvirt at " + hypervisor->uri() + " offers no kvm domains");
    }
    choice = {"qemu", "accelerator tcg: libvirt offers no kvm domains"};
    log_info("region " + rc.name + ": " + choice.reason);
  }
  // Probe QEMU's capabilities now rather than on the first launch.
  hypervisor->capabilities_xml();
  log_info("region " + rc.name + ": libvirt connected: " + hypervisor->uri() + ", store " + rc.store);

  RegionParts parts{region_settings(config, rc), rc.store, catalog, hypervisor,
                    runnable_guests(*hypervisor, choice.domain_type), types, nullptr};
  if (rc.store_on_libvirt_host()) {
    parts.files = make_libvirt_files(*hypervisor, state.tmp_dir());
    prepare_remote_store(rc, store, *parts.files, hypervisor->hostname());
  }
  parts.network = open_region_network(rc, *hypervisor);
  auto region = std::make_unique<Region>(std::move(parts));
  region->recover();
  return region;
}

}  // namespace amid
