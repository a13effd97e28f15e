#include "daemon/instance_service.h"

#include <unistd.h>

#include <ctime>
#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>
#include <set>

#include "common/ids.h"
#include "daemon/domain_xml.h"
#include "daemon/fs.h"
#include "daemon/layers.h"
#include "daemon/log.h"
#include "daemon/render.h"

namespace amid {
namespace {
std::uint64_t host_memory_mib() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) >> 20;
}
}  // namespace

void check_instance_id(const std::string& id) {
  if (!is_valid_id(id, "i")) {
    throw AmidError(codes::kInvalidInstanceIdMalformed,
                    "InstanceId: '" + id + "' is not an instance id (i- and 17 hex digits)");
  }
}

namespace {
constexpr const char* kRunInstancesAction = "RunInstances";
// Raised by launch() when a request with the same ClientToken got its rows in first.
constexpr const char* kTokenTaken = "ClientTokenTaken";
}  // namespace

Reservation InstanceService::run_instances(const Caller& caller, const RunInstancesRequest& req) {
  if (req.client_token) {
    if (auto prior = find_replay(rt_.catalog, caller.account, kRunInstancesAction, *req.client_token)) {
      return replay_reservation(caller, *prior);
    }
  }
  try {
    std::vector<InstanceRecord> launched = launch(caller, req);
    return Reservation{launched.front().reservation_id, launched, false};
  } catch (const AmidError& e) {
    if (!req.client_token) throw;
    // The same request sent twice at once: the one whose rows went in first
    // launches; this one answers with its reservation.
    auto prior = find_replay(rt_.catalog, caller.account, kRunInstancesAction, *req.client_token);
    if (prior) return replay_reservation(caller, *prior);
    if (e.code() == kTokenTaken) throw AmidError(codes::kInternalError, "ClientToken: recorded, then not found");
    throw;
  }
}

Reservation InstanceService::replay_reservation(const Caller& caller, const ClientTokenRecord& prior) {
  protocol::Json result = protocol::Json::parse(prior.result, nullptr, false);
  if (!result.is_object() || !result.contains("InstanceIds") || !result["InstanceIds"].is_array()) {
    throw AmidError(codes::kInternalError,
                    "ClientToken '" + prior.token + "': its record in the catalog is unreadable");
  }
  Reservation out{prior.resource_id, {}, true};
  std::lock_guard lock(state_mu_);
  for (const auto& id : result["InstanceIds"]) {
    if (!id.is_string()) continue;
    auto rec = rt_.catalog.find_instance(id.get<std::string>());
    // Left out: a launch undone after a partial failure, or an instance gone an
    // hour after its termination.
    if (!rec || !caller.may_manage(rec->owner)) continue;
    refresh_locked(*rec);
    out.instances.push_back(*rec);
  }
  log_info("run-instances with ClientToken '" + prior.token + "' answered again with " + prior.resource_id);
  return out;
}

std::vector<InstanceRecord> InstanceService::launch(const Caller& caller, const RunInstancesRequest& req) {
  check_image_id(req.image_id);
  if (!req.instance_type.empty() && !rt_.instance_types.count(req.instance_type)) {
    throw AmidError(codes::kInvalidParameterValue,
                    "InstanceType: '" + req.instance_type +
                        "' is not an instance type amid offers (see configs/instance-types.toml)");
  }
  if (req.min_count < 1 || req.max_count > kMaxCount || req.min_count > req.max_count) {
    throw AmidError(codes::kInvalidParameterValue,
                    "MinCount/MaxCount: need 1 <= MinCount <= MaxCount <= " + std::to_string(kMaxCount));
  }
  if (req.user_data && req.user_data->size() > kMaxUserDataBytes) {
    throw AmidError(codes::kInvalidParameterValue, "UserData: larger than 16 KiB");
  }

  InstanceRecord proto;
  proto.reservation_id = new_id("r");
  proto.owner = caller.account;
  proto.region = rt_.config.region;
  proto.launch_time = iso_now();

  std::vector<InstanceRecord> made;
  ImageRecord image;
  BlockDeviceMappings mappings;
  InstanceType type;
  {
    // The image must not be reclaimed between this check and the rows that pin it.
    std::lock_guard lock(rt_.image_refs_mu);
    image = images_.launchable_image(caller, req.image_id);
    type = instance_type_for(image, req.instance_type);
    mappings = plan_mappings(caller, image, req.block_device_mappings);
    proto.instance_type = type.name;
    proto.vcpus = type.vcpus;
    proto.memory_mib = type.memory_mib;
    proto.image_id = image.id;
    proto.architecture = image.architecture;
    proto.virtualization_type = image.virtualization_type;
    proto.root_device_type = image.root_device_type;
    proto.tags = req.instance_tags;
    // EC2's MinCount/MaxCount: as many as fit, up to MaxCount, but at least MinCount.
    const std::uint64_t fits = free_capacity_mib() / std::max<std::uint64_t>(proto.memory_mib, 1);
    const int count = static_cast<int>(std::min<std::uint64_t>(req.max_count, fits));
    if (count < req.min_count) {
      throw AmidError(codes::kInsufficientCapacity,
                      "MinCount: " + std::to_string(req.min_count) + " " + proto.instance_type +
                          " instances need " + std::to_string(req.min_count * proto.memory_mib) +
                          " MiB; this host has " + std::to_string(free_capacity_mib()) +
                          " MiB free (limits.capacity_memory_mib). Stop or terminate instances, "
                          "pick a smaller type, or lower MinCount");
    }
    for (int i = 0; i < count; ++i) {
      InstanceRecord rec = proto;
      rec.id = new_id("i");
      rec.launch_index = i;
      rec.domain_uuid = new_uuid();
      rec.dir = rt_.store.instance_dir(rec.id);
      rec.state = "pending";
      rec.block_device_mappings = to_toml(mappings);
      made.push_back(rec);
    }
    if (req.client_token) {
      protocol::Json ids = protocol::Json::array();
      for (const auto& rec : made) ids.push_back(rec.id);
      auto token = make_token_record(caller.account, kRunInstancesAction, *req.client_token, proto.reservation_id,
                                     {{"InstanceIds", ids}});
      if (!rt_.catalog.insert_instances_with_token(made, token)) {
        throw AmidError(kTokenTaken, "ClientToken: already recorded");
      }
    } else {
      rt_.catalog.insert_instances(made);
    }
  }

  // The N launches run side by side (overlays, definitions, QEMU start-up).
  std::vector<std::future<InstanceRecord>> pending;
  for (auto& rec : made) {
    pending.push_back(std::async(std::launch::async, [this, &rec, &image, &req, &mappings, store_gib = type.instance_store_gib] {
      return launch_one(rec, image, req, mappings, store_gib);
    }));
  }
  std::vector<InstanceRecord> launched;
  std::vector<std::string> failed_ids;
  std::optional<AmidError> failure;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    try {
      launched.push_back(pending[i].get());
      continue;
    } catch (const AmidError& e) {
      if (!failure) failure = e;
    } catch (const std::exception& e) {
      if (!failure) failure = AmidError(codes::kInternalError, e.what());
    }
    failed_ids.push_back(made[i].id);
  }
  if (!failure) return launched;
  // EC2 keeps what launched when that is at least MinCount; else nothing stays.
  const bool keep = static_cast<int>(launched.size()) >= req.min_count;
  log_error("run-instances from " + image.id + ": " + std::to_string(failed_ids.size()) + " of " +
            std::to_string(made.size()) + " launches failed (" + failure->what() + "); " +
            (keep ? "keeping the " + std::to_string(launched.size()) + " that run (MinCount " +
                        std::to_string(req.min_count) + ")"
                  : std::string("rolling back all")));
  for (const auto& rec : made) {
    bool failed = std::find(failed_ids.begin(), failed_ids.end(), rec.id) != failed_ids.end();
    if (failed || !keep) roll_back_launch(rec);
  }
  images_.reclaim_unused();  // the image may have been deregistered meanwhile
  if (!keep) throw *failure;
  return launched;
}

void InstanceService::roll_back_launch(const InstanceRecord& rec) {
  try {
    rt_.hypervisor.destroy_domain(rec.id);
    rt_.hypervisor.undefine_domain(rec.id);
    for (const auto& vol : rt_.catalog.volumes_of_instance(rec.id)) {
      rt_.files->remove(vol.file);
      rt_.catalog.delete_volume(vol.id);
    }
    remove_instance_files(rec.id);
  } catch (const std::exception& cleanup) {
    log_error("instance " + rec.id + " cleanup: " + cleanup.what());
  }
  rt_.catalog.undo_launch_row(rec.id);
}

InstanceType InstanceService::instance_type_for(const ImageRecord& image, const std::string& requested) const {
  std::string name = requested;
  if (name.empty()) name = image.architecture == "arm64" ? kDefaultArm64InstanceType : kDefaultInstanceType;
  auto it = rt_.instance_types.find(name);
  if (it == rt_.instance_types.end()) {
    throw AmidError(codes::kInvalidParameterValue,
                    "InstanceType: '" + name + "' is not an instance type amid offers (see configs/instance-types.toml)");
  }
  if (it->second.architecture != image.architecture) {
    // EC2's own wording for this mismatch.
    throw AmidError(codes::kInvalidParameterValue,
                    "InstanceType: the architecture '" + it->second.architecture + "' of instance type " + name +
                        " does not match the architecture '" + image.architecture + "' of image " + image.id +
                        (image.architecture == "arm64" ? " (use an arm64 type such as t4g.micro)"
                                                       : " (use an x86_64 type such as t3.micro)"));
  }
  if (!rt_.domain_types.count(image.architecture)) {
    throw AmidError(codes::kUnsupportedOperation,
                    "ImageId: " + image.id + " is " + image.architecture + " and this host cannot run " +
                        image.architecture + " guests: " +
                        (image.architecture == "arm64"
                             ? "install qemu-system-aarch64 (Debian: apt-get install qemu-system-arm "
                               "qemu-efi-aarch64) and restart amid"
                             : "libvirt offers no " + image.architecture + " emulator"));
  }
  return it->second;
}

std::uint64_t InstanceService::free_capacity_mib() const {
  std::uint64_t total = rt_.config.capacity_memory_mib;
  if (total == 0) total = host_memory_mib();
  std::uint64_t used = 0;
  for (const auto& rec : rt_.catalog.list_instances()) {
    if (rec.region != rt_.config.region) continue;  // each region is its own host
    if (rec.state == "pending" || rec.state == "running" || rec.state == "stopping") {
      used += rec.memory_mib;
    }
  }
  return used >= total ? 0 : total - used;
}

namespace {
constexpr std::uint64_t kGiB = 1ull << 30;
}  // namespace

BlockDeviceMappings InstanceService::plan_mappings(const Caller& caller, const ImageRecord& image,
                                                   const BlockDeviceMappings& launch) {
  BlockDeviceMappings image_mappings = parse_stored_mappings(image.block_device_mappings);
  bool has_root = false;
  for (const auto& m : image_mappings) has_root = has_root || guest_device(m.device_name) == "vda";
  if (!has_root && image.root_device_type == "ebs") {
    BlockDeviceMapping root;
    root.device_name = kRootDeviceName;
    EbsSpec ebs;
    ebs.volume_size_gib = gib_ceil(image.size_bytes);
    root.ebs = ebs;
    image_mappings.insert(image_mappings.begin(), root);
  }
  if (image.root_device_type == "instance-store") {
    for (const auto& m : launch) {
      if (guest_device(m.device_name) == "vda") {
        throw AmidError(codes::kInvalidParameterValue,
                        "BlockDeviceMappings: " + m.device_name + " is the root of an instance-store "
                        "image; it cannot be remapped");
      }
    }
  }
  MergeContext ctx;
  ctx.root_image_size_gib = gib_ceil(image.size_bytes);
  BlockDeviceMappings merged = merge_block_device_mappings(image_mappings, launch, ctx).value_or_throw();
  for (const auto& m : merged) {
    if (!m.ebs || !m.ebs->snapshot_id || guest_device(m.device_name) == "vda") continue;
    auto snap = rt_.catalog.find_snapshot(*m.ebs->snapshot_id);
    if (!snap || snap->region != rt_.config.region || snap->state != "completed" ||
        (!caller.may_manage(snap->owner) && snap->image_id != image.id)) {
      throw AmidError("InvalidSnapshot.NotFound", "BlockDeviceMappings: " + m.device_name +
                                                      ": the snapshot '" + *m.ebs->snapshot_id +
                                                      "' does not exist");
    }
    if (m.ebs->volume_size_gib && *m.ebs->volume_size_gib < snap->volume_size_gib) {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + ": volume_size " +
                          std::to_string(*m.ebs->volume_size_gib) + " GiB is smaller than its snapshot (" +
                          std::to_string(snap->volume_size_gib) + " GiB)");
    }
  }
  return merged;
}

void InstanceService::make_ephemeral_disks(const InstanceRecord& rec, std::uint64_t size_gib) {
  for (const auto& m : parse_stored_mappings(rec.block_device_mappings)) {
    if (!m.virtual_name || size_gib == 0) continue;
    std::string path = rec.dir + "/" + *m.virtual_name + ".qcow2";
    rt_.files->remove(path);
    rt_.files->create_blank(path, size_gib * kGiB);
  }
}

InstanceRecord InstanceService::launch_one(const InstanceRecord& proto, const ImageRecord& image,
                                           const RunInstancesRequest& req,
                                           const BlockDeviceMappings& mappings,
                                           std::uint64_t instance_store_gib) {
  InstanceRecord rec = proto;
  RegionFiles& files = *rt_.files;
  files.make_dir(rec.dir);
  files.make_dir(rt_.store.volumes_dir());
  std::vector<DiskSpec> disks;
  std::string root = rec.dir + "/root.qcow2";
  std::uint64_t root_size = image.size_bytes;
  for (const auto& m : mappings) {
    // Sizes are whole GiB, as on EC2: the image's own size rounds up, so the root
    // grows only when more than that was asked for.
    if (guest_device(m.device_name) == "vda" && m.ebs && m.ebs->volume_size_gib &&
        *m.ebs->volume_size_gib > gib_ceil(image.size_bytes)) {
      root_size = *m.ebs->volume_size_gib * kGiB;
    }
  }
  files.create_overlay(image.disk_file, root, root_size > image.size_bytes ? root_size : 0);
  files.sync(root);
  // A thin template reads through the templates it was captured over: the
  // domain states the whole chain.
  disks.push_back({root, "vda", root_backing(rt_.catalog, image), false});
  auto root_snap = root_snapshot(rt_.catalog, image);

  for (const auto& m : mappings) {
    std::string dev = guest_device(m.device_name);
    if (m.ebs) {
      VolumeRecord vol;
      vol.id = new_id("vol");
      vol.owner = rec.owner;
      vol.region = rec.region;
      vol.volume_type = m.ebs->volume_type;
      vol.create_time = rec.launch_time;
      vol.instance_id = rec.id;
      vol.device = m.device_name;
      vol.delete_on_termination = m.ebs->delete_on_termination;
      vol.state = "in-use";
      vol.tags = req.volume_tags;
      if (dev == "vda") {
        // The root volume lives with its instance (moved out if kept after terminate).
        vol.file = root;
        vol.size_gib = gib_ceil(root_size);
        if (root_snap) vol.snapshot_id = root_snap->id;
        rt_.catalog.insert_volume(vol);
        continue;
      }
      vol.file = rt_.store.volumes_dir() + "/" + vol.id + ".qcow2";
      // The row comes first: a crash before the file exists leaves a row that the
      // launch's undo removes, never a file nobody knows.
      std::optional<SnapshotRecord> snap;
      if (m.ebs->snapshot_id) {
        snap = rt_.catalog.find_snapshot(*m.ebs->snapshot_id);
        if (!snap) throw AmidError("InvalidSnapshot.NotFound", "snapshot " + *m.ebs->snapshot_id + " is gone");
        vol.snapshot_id = snap->id;
        vol.size_gib = std::max(snap->volume_size_gib, m.ebs->volume_size_gib.value_or(0));
      } else {
        vol.size_gib = m.ebs->volume_size_gib.value_or(1);
      }
      rt_.catalog.insert_volume(vol);
      if (snap) {
        files.create_overlay(snap->file, vol.file, vol.size_gib * kGiB);
        disks.push_back({vol.file, dev, chain_files(rt_.catalog, *snap), false});
      } else {
        files.create_blank(vol.file, vol.size_gib * kGiB);
        disks.push_back({vol.file, dev, {}, false});
      }
      files.sync(vol.file);
    } else if (m.virtual_name) {
      if (instance_store_gib == 0) {
        // EC2 ignores instance-store mappings on types that have none.
        log_info("instance " + rec.id + ": " + rec.instance_type + " has no instance store; " +
                 m.device_name + " (" + *m.virtual_name + ") ignored");
        continue;
      }
      disks.push_back({rec.dir + "/" + *m.virtual_name + ".qcow2", dev, {}, false});
    }
  }
  make_ephemeral_disks(rec, instance_store_gib);
  files.sync(rt_.store.volumes_dir());

  DomainSpec spec;
  spec.name = rec.id;
  spec.uuid = rec.domain_uuid;
  spec.domain_type = rt_.domain_types.at(image.architecture);
  spec.arch = libvirt_arch(image.architecture);
  spec.machine = spec.arch == "aarch64" ? "virt" : "pc";
  spec.vcpus = rec.vcpus;
  spec.memory_mib = rec.memory_mib;
  spec.disks = disks;
  std::sort(spec.disks.begin(), spec.disks.end(),
            [](const DiskSpec& a, const DiskSpec& b) { return a.target < b.target; });
  spec.console_log = rec.dir + "/console.log";
  spec.mac = mac_for_instance(rec.id);
  spec.kernel = image.kernel_file;
  spec.initrd = image.ramdisk_file;
  spec.cmdline = image.kernel_cmdline;
  if (req.user_data) {
    std::string path = rec.dir + "/user-data";
    files.write_file(path, *req.user_data, 0600);  // may hold secrets
    spec.user_data_file = path;
  }
  spec.owner = rec.owner;
  spec.region = rec.region;
  spec.image_id = image.id;
  spec.state_dir = rt_.store.root();
  files.sync(rec.dir);

  rt_.hypervisor.define_domain(render_domain_xml(spec));
  rt_.hypervisor.start_domain(rec.id);
  rt_.catalog.set_instance_state(rec.id, "running");
  rec.state = "running";
  log_info("instance " + rec.id + " launched from " + image.id + " (" + rec.instance_type + ", " +
           spec.domain_type + ", " + std::to_string(spec.disks.size()) + " disks)");
  return rec;
}

void InstanceService::release_volumes(const InstanceRecord& rec) {
  for (auto vol : rt_.catalog.volumes_of_instance(rec.id)) {
    if (vol.delete_on_termination) {
      if (vol.file.rfind(rt_.store.volumes_dir() + "/", 0) == 0) rt_.files->remove(vol.file);
      rt_.catalog.delete_volume(vol.id);
      continue;
    }
    if (vol.file.rfind(rec.dir + "/", 0) == 0) {
      // A kept root volume leaves the instance's folder before it goes.
      std::string kept = rt_.store.volumes_dir() + "/" + vol.id + ".qcow2";
      // A termination cut short may have moved it already.
      if (rt_.files->exists(vol.file) || !rt_.files->exists(kept)) rt_.files->move(vol.file, kept);
      vol.file = kept;
    }
    vol.state = "available";
    vol.instance_id.clear();
    vol.device.clear();
    rt_.catalog.update_volume(vol);
    log_info("volume " + vol.id + " kept (delete_on_termination = false): available");
  }
  rt_.files->sync(rt_.store.volumes_dir());
}

std::vector<VolumeRecord> InstanceService::describe_volumes(const Caller& caller,
                                                            const std::vector<std::string>& ids) {
  std::vector<VolumeRecord> out;
  if (!ids.empty()) {
    for (const auto& id : ids) {
      if (!is_valid_id(id, "vol")) {
        throw AmidError("InvalidVolumeID.Malformed", "VolumeIds: '" + id + "' is not a volume id");
      }
      auto vol = rt_.catalog.find_volume(id);
      if (!vol || vol->region != rt_.config.region || !caller.may_manage(vol->owner)) {
        throw AmidError("InvalidVolume.NotFound", "The volume '" + id + "' does not exist");
      }
      out.push_back(*vol);
    }
    return out;
  }
  for (auto& vol : rt_.catalog.list_volumes()) {
    if (vol.region == rt_.config.region && caller.may_manage(vol.owner)) out.push_back(std::move(vol));
  }
  return out;
}

void InstanceService::remove_instance_files(const std::string& id) {
  rt_.files->remove_dir(rt_.store.instance_dir(id));
}

void InstanceService::remove_instance_disks(const std::string& id) {
  // The console log stays, so get-console-output still answers after termination.
  rt_.files->empty_dir_but(rt_.store.instance_dir(id), "console.log");
}

void InstanceService::refresh(InstanceRecord& rec) {
  std::lock_guard lock(state_mu_);
  refresh_locked(rec);
}

void InstanceService::refresh_locked(InstanceRecord& rec) {
  if (auto fresh = rt_.catalog.find_instance(rec.id)) rec = *fresh;
  if (rec.state == "terminated" || rec.state == "pending") return;
  std::optional<DomainStatus> st = rt_.hypervisor.domain_status(rec.id);
  if (!st && rec.state == "stopped" && rt_.catalog.has_instance_definition(rec.id)) return;  // parked
  if (!st) {
    // The definition is gone (removed behind amid's back): the instance cannot come back.
    // Terminated as terminate-instances would: its volumes follow their
    // delete_on_termination, and the image it pinned may be reclaimed.
    log_warn("instance " + rec.id + ": its libvirt domain is gone; marking it terminated");
    release_volumes(rec);
    remove_instance_disks(rec.id);
    rt_.catalog.mark_terminated(rec.id, iso_now());
    rt_.catalog.set_instance_state(rec.id, "terminated", "Server.InternalError: domain disappeared");
    images_.reclaim_unused();
    rec = *rt_.catalog.find_instance(rec.id);
    return;
  }
  bool off = st->state == DomainRunState::kShutoff || st->state == DomainRunState::kCrashed;
  bool on = st->state == DomainRunState::kRunning || st->state == DomainRunState::kPaused ||
            st->state == DomainRunState::kShuttingDown;
  if (off && (rec.state == "running" || rec.state == "stopping")) {
    bool asked = rec.state == "stopping";
    const char* reason = asked ? "Client.UserInitiatedShutdown: User initiated shutdown"
                               : "Client.InstanceInitiatedShutdown: Instance initiated shutdown";
    if (rec.root_device_type == "instance-store") {
      // EC2: an instance-store-backed instance that shuts down is terminated.
      log_info("instance " + rec.id + " powered off; instance-store backed, so terminated");
      rt_.hypervisor.undefine_domain(rec.id);
      release_volumes(rec);
      remove_instance_disks(rec.id);
      rt_.catalog.mark_terminated(rec.id, iso_now());
      rt_.catalog.set_instance_state(rec.id, "terminated", reason);
      // It may have been the last user of a deregistered image.
      images_.reclaim_unused();
    } else {
      log_info("instance " + rec.id + " is stopped (was " + rec.state + ")");
      rt_.catalog.set_instance_state(rec.id, "stopped", reason);
      park_locked(rec);
    }
  } else if (on && rec.state == "stopped") {
    log_warn("instance " + rec.id + " runs although amid had it stopped; showing it running");
    rt_.catalog.set_instance_state(rec.id, "running");
  } else if (off && rec.state == "stopped") {
    // Still defined: a stop cut short, a capture's stop, or an amid that kept definitions.
    if (!capturing_.count(rec.id)) {
      log_info("instance " + rec.id + " is stopped; its libvirt definition moves to amid's catalog until it starts");
    }
    park_locked(rec);
    return;
  } else {
    return;
  }
  rec = *rt_.catalog.find_instance(rec.id);
}

void InstanceService::park_locked(const InstanceRecord& rec) {
  if (capturing_.count(rec.id)) return;
  auto xml = rt_.hypervisor.domain_xml(rec.id);
  if (!xml) return;
  // The XML first: an amid stopped between the two steps finds a stopped
  // instance still defined, and parks it again.
  rt_.catalog.set_instance_definition(rec.id, *xml);
  try {
    rt_.hypervisor.undefine_domain(rec.id, /*keep_nvram=*/true);
  } catch (const AmidError& e) {
    log_warn("instance " + rec.id + ": its definition stays in libvirt for now: " + e.what());
  }
}

void InstanceService::unpark_locked(const std::string& id) {
  if (rt_.hypervisor.domain_status(id)) return;
  std::string xml = rt_.catalog.instance_definition(id);
  if (xml.empty()) {
    throw AmidError(codes::kInternalError, "instance " + id +
                                               " has no libvirt definition, neither in libvirt nor in amid's "
                                               "catalog; it cannot start. Terminate it");
  }
  rt_.hypervisor.define_domain(xml);
}

std::string InstanceService::next_start_disk(const std::string& id, const std::string& target) {
  std::lock_guard lock(state_mu_);
  std::vector<std::pair<std::string, std::string>> disks;
  if (rt_.hypervisor.domain_status(id)) {
    disks = rt_.hypervisor.disk_files(id, false);
  } else if (std::string xml = rt_.catalog.instance_definition(id); !xml.empty()) {
    disks = disk_files_of(xml);
  }
  for (const auto& [t, file] : disks) {
    if (t == target) return file;
  }
  return {};
}

void InstanceService::point_next_start_disk(const std::string& id, const std::string& target,
                                            const std::string& file) {
  std::lock_guard lock(state_mu_);
  if (rt_.hypervisor.domain_status(id)) {
    rt_.hypervisor.set_disk_file(id, target, file);
  } else if (std::string xml = rt_.catalog.instance_definition(id); !xml.empty()) {
    rt_.catalog.set_instance_definition(id, with_disk_file(xml, target, file));
  }
}

void InstanceService::on_domain_stopped(const std::string& name) {
  if (!scheduler_ || !is_valid_id(name, "i")) return;
  scheduler_->post([this, name] {
    try {
      if (auto rec = rt_.catalog.find_instance(name); rec && rec->region == rt_.config.region) refresh(*rec);
    } catch (const std::exception& e) {
      log_error("instance " + name + ": cannot record that it stopped: " + e.what());
    }
  });
}

void InstanceService::arm_stop_deadline(const std::string& id) {
  if (!scheduler_) return;
  scheduler_->post_after(kStopTimeout, [this, id] {
    try {
      std::lock_guard lock(state_mu_);
      auto rec = rt_.catalog.find_instance(id);
      if (!rec || rec->state != "stopping") return;
      log_warn("instance " + id + " did not shut down within " + std::to_string(kStopTimeout.count()) +
               " s; forcing it off");
      rt_.hypervisor.destroy_domain(id);
      refresh_locked(*rec);
    } catch (const std::exception& e) {
      log_error("instance " + id + ": forced stop failed: " + e.what());
    }
  });
}

void InstanceService::repeat_power_button(const std::string& id, std::size_t press) {
  if (!scheduler_ || press > std::size(kPowerButtonRepeats)) return;
  auto since_first = kPowerButtonRepeats[press - 1];
  auto delay = press == 1 ? since_first : since_first - kPowerButtonRepeats[press - 2];
  scheduler_->post_after(delay, [this, id, press, since_first] {
    try {
      std::lock_guard lock(state_mu_);
      auto rec = rt_.catalog.find_instance(id);
      if (!rec || rec->state != "stopping") return;
      auto st = rt_.hypervisor.domain_status(id);
      if (!st || st->state != DomainRunState::kRunning) return;
      press_power_button_again(id, press, since_first);
    } catch (const std::exception& e) {
      log_warn("instance " + id + ": pressing its power button again failed: " + e.what());
    }
    repeat_power_button(id, press + 1);
  });
}

void InstanceService::press_power_button_again(const std::string& id, std::size_t press,
                                               std::chrono::seconds since_first) {
  log_info("instance " + id + " still runs " + std::to_string(since_first.count()) +
           " s after its ACPI power button was pressed (a guest in its firmware or still booting misses it); "
           "pressing it again (" + std::to_string(press + 1) + " of " +
           std::to_string(std::size(kPowerButtonRepeats) + 1) + ")");
  rt_.hypervisor.shutdown_domain(id);
}

void InstanceService::resume_pending_work() {
  for (auto& rec : rt_.catalog.list_instances()) {
    if (rec.state == "stopping" && rec.region == rt_.config.region) {
      arm_stop_deadline(rec.id);
      repeat_power_button(rec.id, 1);
    }
  }
}

std::vector<InstanceRecord> InstanceService::visible_instances(const Caller& caller,
                                                               const std::vector<std::string>& ids) {
  if (ids.empty()) throw AmidError(codes::kMissingParameter, "InstanceIds: required");
  std::vector<InstanceRecord> out;
  std::set<std::string> seen;
  for (const auto& id : ids) {
    if (seen.insert(id).second) out.push_back(visible_instance(caller, id));
  }
  return out;
}

namespace {
// Seconds since an ISO 8601 UTC time as iso_now() writes it (0 when unreadable).
long long seconds_since(const std::string& iso) {
  std::tm tm{};
  if (iso.empty() || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<long long>(std::time(nullptr) - timegm(&tm));
}

[[noreturn]] void wrong_state(const InstanceRecord& rec, const std::string& action) {
  throw AmidError(codes::kIncorrectInstanceState,
                  "The instance '" + rec.id + "' is not in a state from which it can be " + action +
                      " (it is " + rec.state + ")");
}
}  // namespace

void InstanceService::refuse_if_capturing(const InstanceRecord& rec, const std::string& action) {
  if (capturing_.count(rec.id)) {
    throw AmidError(codes::kIncorrectInstanceState,
                    "The instance '" + rec.id + "' cannot be " + action +
                        " while create-image is capturing it; wait until the image is available");
  }
}

InstanceRecord InstanceService::begin_capture(const Caller& caller, const std::string& id) {
  InstanceRecord rec = visible_instance(caller, id);
  auto lock = lock_settled({id});
  refresh_locked(rec);
  if (rec.root_device_type != "ebs") {
    throw AmidError(codes::kUnsupportedOperation,
                    "The instance '" + id + "' is instance-store backed; create-image captures "
                    "EBS-backed instances only, as on EC2");
  }
  if (rec.state != "running" && rec.state != "stopped") {
    throw AmidError(codes::kIncorrectInstanceState,
                    "The instance '" + id + "' is " + rec.state +
                        "; create-image needs it running or stopped");
  }
  if (!capturing_.insert(id).second) {
    throw AmidError(codes::kIncorrectInstanceState,
                    "create-image is already capturing instance '" + id + "'; one capture at a time");
  }
  return rec;
}

void InstanceService::end_capture(const std::string& id) {
  {
    std::lock_guard lock(state_mu_);
    capturing_.erase(id);
    settling_.erase(id);
  }
  capture_done_.notify_all();
}

void InstanceService::capture_settling(const std::string& id) {
  std::lock_guard lock(state_mu_);
  if (capturing_.count(id)) settling_.insert(id);
}

std::unique_lock<std::mutex> InstanceService::lock_settled(const std::vector<std::string>& ids) {
  std::unique_lock lock(state_mu_);
  capture_done_.wait_for(lock, std::chrono::seconds(60), [&] {
    return std::none_of(ids.begin(), ids.end(), [&](const std::string& id) { return settling_.count(id) > 0; });
  });
  return lock;
}

void InstanceService::shut_down_for_capture(const std::string& id, std::chrono::seconds timeout) {
  {
    std::lock_guard lock(state_mu_);
    rt_.catalog.set_instance_state(id, "stopping", "Client.UserInitiatedShutdown: create-image");
    try {
      rt_.hypervisor.shutdown_domain(id);
    } catch (const AmidError&) {
      auto st = rt_.hypervisor.domain_status(id);
      if (!st || st->state != DomainRunState::kShutoff) throw;
    }
  }
  const auto first_press = std::chrono::steady_clock::now();
  const auto deadline = first_press + timeout;
  std::size_t presses = 1;
  for (;;) {
    auto st = rt_.hypervisor.domain_status(id);
    if (!st) throw AmidError(codes::kInternalError, "instance " + id + " vanished during create-image");
    if (st->state == DomainRunState::kShutoff) break;
    if (presses <= std::size(kPowerButtonRepeats) &&
        std::chrono::steady_clock::now() - first_press >= kPowerButtonRepeats[presses - 1]) {
      std::lock_guard lock(state_mu_);
      try {
        press_power_button_again(id, presses, kPowerButtonRepeats[presses - 1]);
      } catch (const AmidError& e) {
        log_warn("instance " + id + ": pressing its power button again failed: " + e.what());
      }
      ++presses;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      log_warn("instance " + id + " did not shut down in " + std::to_string(timeout.count()) +
               " s for create-image; forcing it off");
      rt_.hypervisor.destroy_domain(id);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::lock_guard lock(state_mu_);
  rt_.catalog.set_instance_state(id, "stopped", "Client.UserInitiatedShutdown: create-image");
}

void InstanceService::start_after_capture(const std::string& id) {
  std::lock_guard lock(state_mu_);
  rt_.catalog.set_instance_state(id, "pending", kStartingReason);
  unpark_locked(id);  // parked by an amid start between the capture's stop and now
  rt_.hypervisor.start_domain(id);
  rt_.catalog.set_instance_state(id, "running");
  log_info("instance " + id + " started again after create-image");
}

std::vector<StateChange> InstanceService::start_instances(const Caller& caller,
                                                          const std::vector<std::string>& ids) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_capturing(rec, "started");
    if (rec.state == "terminated" || rec.state == "shutting-down" || rec.state == "stopping") {
      wrong_state(rec, "started");
    }
  }
  std::uint64_t needed = 0;
  for (const auto& rec : targets) {
    if (rec.state == "stopped") needed += rec.memory_mib;
  }
  if (needed > 0 && needed > free_capacity_mib()) {
    throw AmidError(codes::kInsufficientCapacity,
                    "InstanceIds: starting them needs " + std::to_string(needed) + " MiB; this host has " +
                        std::to_string(free_capacity_mib()) +
                        " MiB free (limits.capacity_memory_mib). Stop or terminate other instances first");
  }
  std::vector<StateChange> changes;
  for (auto& rec : targets) {
    if (rec.state != "stopped") {
      changes.push_back({rec.id, rec.state, rec.state});
      continue;
    }
    rt_.catalog.set_instance_state(rec.id, "pending", kStartingReason);
    try {
      // Instance store comes back blank after a stop, as on EC2.
      auto type = rt_.instance_types.find(rec.instance_type);
      make_ephemeral_disks(rec, type == rt_.instance_types.end() ? 0 : type->second.instance_store_gib);
      unpark_locked(rec.id);
      rt_.hypervisor.start_domain(rec.id);
    } catch (...) {
      rt_.catalog.set_instance_state(rec.id, "stopped", rec.state_reason);
      try {
        park_locked(rec);
      } catch (const std::exception& e) {
        log_warn("instance " + rec.id + ": " + e.what());
      }
      throw;
    }
    rt_.catalog.set_instance_state(rec.id, "running");
    log_info("instance " + rec.id + " started");
    changes.push_back({rec.id, "stopped", "pending"});
  }
  return changes;
}

std::vector<StateChange> InstanceService::stop_instances(const Caller& caller,
                                                         const std::vector<std::string>& ids,
                                                         bool force) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_capturing(rec, "stopped");
    if (rec.root_device_type == "instance-store") {
      throw AmidError(codes::kUnsupportedOperation,
                      "The instance '" + rec.id +
                          "' is instance-store backed and cannot be stopped; terminate it instead");
    }
    if (rec.state == "terminated" || rec.state == "shutting-down" || rec.state == "pending") {
      wrong_state(rec, "stopped");
    }
  }
  std::vector<StateChange> changes;
  for (auto& rec : targets) {
    if (rec.state == "stopped" || (rec.state == "stopping" && !force)) {
      changes.push_back({rec.id, rec.state, rec.state});
      continue;
    }
    std::string previous = rec.state;
    rt_.catalog.set_instance_state(rec.id, "stopping", "Client.UserInitiatedShutdown: User initiated shutdown");
    if (force) {
      rt_.hypervisor.destroy_domain(rec.id);
    } else {
      try {
        rt_.hypervisor.shutdown_domain(rec.id);
      } catch (const AmidError& e) {
        // A guest that went off meanwhile needs no shutdown.
        auto st = rt_.hypervisor.domain_status(rec.id);
        if (!st || st->state != DomainRunState::kShutoff) throw;
      }
      arm_stop_deadline(rec.id);
      repeat_power_button(rec.id, 1);
    }
    log_info("instance " + rec.id + (force ? " forced off" : " stopping"));
    refresh_locked(rec);
    changes.push_back({rec.id, previous, rec.state});
  }
  return changes;
}

void InstanceService::reboot_instances(const Caller& caller, const std::vector<std::string>& ids) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_capturing(rec, "rebooted");
    if (rec.state != "running") wrong_state(rec, "rebooted");
  }
  for (auto& rec : targets) {
    rt_.hypervisor.reboot_domain(rec.id);
    log_info("instance " + rec.id + " rebooting");
  }
}

InstanceRecord InstanceService::visible_instance(const Caller& caller, const std::string& id) {
  check_instance_id(id);
  auto rec = rt_.catalog.find_instance(id);
  if (!rec || rec->region != rt_.config.region || !caller.may_manage(rec->owner)) {
    throw AmidError(codes::kInvalidInstanceIdNotFound, "The instance id '" + id + "' does not exist");
  }
  return *rec;
}

std::vector<InstanceRecord> InstanceService::describe_instances(const Caller& caller,
                                                                const std::vector<std::string>& ids) {
  std::vector<InstanceRecord> out;
  std::lock_guard lock(state_mu_);
  if (!ids.empty()) {
    std::set<std::string> seen;
    for (const auto& id : ids) {
      if (!seen.insert(id).second) continue;
      InstanceRecord rec = visible_instance(caller, id);
      refresh_locked(rec);
      out.push_back(rec);
    }
    return out;
  }
  for (auto& rec : rt_.catalog.list_instances()) {
    if (rec.region != rt_.config.region || !caller.may_manage(rec.owner)) continue;
    if (rec.state == "terminated" && seconds_since(rec.terminated_time) > kTerminatedVisible.count()) {
      // EC2 shows terminated instances for about an hour; then they are gone for good.
      rt_.files->remove_dir(rec.dir);
      rt_.catalog.delete_instance(rec.id);
      continue;
    }
    refresh_locked(rec);
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<StateChange> InstanceService::terminate_instances(const Caller& caller,
                                                              const std::vector<std::string>& ids) {
  std::vector<InstanceRecord> targets = visible_instances(caller, ids);  // all checked first
  std::vector<StateChange> changes;
  {
    auto lock = lock_settled(ids);
    for (auto& rec : targets) refuse_if_capturing(rec, "terminated");
    std::vector<InstanceRecord*> ending;
    for (auto& rec : targets) {
      rec = *rt_.catalog.find_instance(rec.id);
      if (rec.state == "terminated") {
        changes.push_back({rec.id, "terminated", "terminated"});
        continue;
      }
      changes.push_back({rec.id, rec.state, "shutting-down"});
      rt_.catalog.set_instance_state(rec.id, "shutting-down");
      ending.push_back(&rec);
    }
    // The guests go down side by side: libvirt waits (polling every 200 ms) for
    // each QEMU to vanish, and 16 of them one after another took 3.8 s.
    if (ending.size() > 1) {
      std::vector<std::future<void>> destroyed;
      for (InstanceRecord* rec : ending) {
        destroyed.push_back(std::async(std::launch::async, [this, id = rec->id] { rt_.hypervisor.destroy_domain(id); }));
      }
      for (auto& d : destroyed) d.get();
    }
    for (InstanceRecord* rec : ending) terminate_locked(*rec);
  }
  images_.reclaim_unused();
  return changes;
}

void InstanceService::terminate_locked(const InstanceRecord& rec) {
  // Each step may be repeated: a termination cut short is finished by the next amid.
  rt_.hypervisor.destroy_domain(rec.id);
  if (rt_.catalog.has_instance_definition(rec.id)) {
    // A parked definition is defined again for a moment, so that undefining it
    // removes its UEFI variables (NVRAM) with it.
    try {
      unpark_locked(rec.id);
    } catch (const AmidError& e) {
      log_warn("instance " + rec.id + ": its parked definition could not be defined to remove it: " + e.what());
    }
  }
  rt_.hypervisor.undefine_domain(rec.id);
  release_volumes(rec);
  remove_instance_disks(rec.id);
  rt_.catalog.mark_terminated(rec.id, iso_now());
  log_info("instance " + rec.id + " terminated");
}

void InstanceService::finish_interrupted(InstanceRecord& rec) {
  std::lock_guard lock(state_mu_);
  if (rec.state == "shutting-down") {
    log_warn("instance " + rec.id + " was being terminated when amid stopped; finishing it");
    terminate_locked(rec);
  } else if (rec.state == "pending" && rec.state_reason == kStartingReason) {
    auto st = rt_.hypervisor.domain_status(rec.id);
    bool on = st && st->state == DomainRunState::kRunning;
    log_warn("instance " + rec.id + " was starting when amid stopped; it is " + (on ? "running" : "stopped"));
    rt_.catalog.set_instance_state(rec.id, on ? "running" : "stopped",
                                   on ? "" : "Server.InternalError: amid stopped while starting it; start it again");
  } else if (rec.state == "pending") {
    // A launch cut short: if libvirt runs it, adopt it; otherwise undo all of it.
    auto st = rt_.hypervisor.domain_status(rec.id);
    if (st && st->state == DomainRunState::kRunning) {
      rt_.catalog.set_instance_state(rec.id, "running");
      log_info("instance " + rec.id + " was pending; it runs, so it is running");
    } else {
      log_warn("instance " + rec.id + " was pending when amid stopped; undoing its launch");
      roll_back_launch(rec);
    }
  } else {
    return;
  }
  if (auto fresh = rt_.catalog.find_instance(rec.id)) rec = *fresh;
}

std::string InstanceService::console_output(const Caller& caller, const std::string& id) {
  InstanceRecord rec = visible_instance(caller, id);
  return rt_.files->read_tail(rec.dir + "/console.log", 64 * 1024);
}

}  // namespace amid
