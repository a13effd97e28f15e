// run-instances: instances from an image, each on a qcow2 overlay of its
// template with its volumes and instance store, defined and started in libvirt,
// side by side; a ClientToken makes the request idempotent.
#include <unistd.h>

#include <algorithm>
#include <future>

#include "common/ids.h"
#include "daemon/host/domain_xml.h"
#include "daemon/host/nocloud_seed.h"
#include "daemon/host/log.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/instance_metadata.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/layers.h"
#include "daemon/services/render.h"
#include "daemon/services/warm_images.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

std::uint64_t host_memory_mib() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) >> 20;
}

constexpr const char* kRunInstancesAction = "RunInstances";
constexpr std::uint64_t kGiB = 1ull << 30;
// The NoCloud seed's disk: after any disk a mapping can name (vda..vdz).
constexpr const char* kSeedTarget = "vdzz";

}  // namespace

Reservation InstanceService::run_instances(const Caller& caller, const RunInstancesRequest& req) {
  return once_per_token(
      rt_.catalog, caller.account, kRunInstancesAction, req.client_token,
      [&] {
        std::vector<InstanceRecord> launched = launch(caller, req);
        return Reservation{launched.front().reservation_id, launched, false};
      },
      [&](const ClientTokenRecord& prior) { return replay_reservation(caller, prior); });
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
  proto.region = rt_.settings.region;
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
    if (req.key_pair) proto.key_name = req.key_pair->name;
    proto.security_groups = req.security_groups;
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
      rec.state = InstanceState::kPending;
      rec.block_device_mappings = mappings;
      made.push_back(rec);
    }
    assign_private_addresses(rt_, made);  // under image_refs_mu, which every launch's recording takes
    if (req.client_token) {
      protocol::Json ids = protocol::Json::array();
      for (const auto& rec : made) ids.push_back(rec.id);
      auto token = make_token_record(caller.account, kRunInstancesAction, *req.client_token, proto.reservation_id,
                                     {{"InstanceIds", ids}});
      if (!rt_.catalog.insert_instances_with_token(made, token)) {
        throw AmidError(kClientTokenTaken, "ClientToken: already recorded");
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

void InstanceService::place_channel_sockets(const InstanceRecord& rec, DomainSpec& spec) const {
  // The embedded driver would put a channel's socket deep under its root
  // (lib/qemu/channel/target/domain-N-NAME/...), past the 107 bytes a Unix
  // socket's path may have when the state folder's path is long: the guest
  // agent's and amid's resume port go into the instance's own folder instead
  // (QEMU runs as amid's user there). Other drivers pick short paths of their own.
  if (rt_.hypervisor.uri().rfind("qemu:///embed", 0) != 0) return;
  spec.agent_socket = rec.dir + "/agent.sock";
  spec.resume_socket = rec.dir + "/resume.sock";
  if (spec.agent_socket.size() > kMaxUnixSocketPath || spec.resume_socket.size() > kMaxUnixSocketPath) {
    log_warn("instance " + rec.id + ": no guest agent or resume port: their sockets' paths would be " +
             std::to_string(spec.resume_socket.size()) + " bytes, more than a Unix socket allows (" +
             std::to_string(kMaxUnixSocketPath) + "); use a shorter state folder");
    spec.guest_agent = false;
    spec.resume_channel = false;
  }
}

void InstanceService::roll_back_launch(const InstanceRecord& rec) {
  try {
    rt_.hypervisor.destroy_domain(rec.id);
    rt_.hypervisor.undefine_domain(rec.id);
    release_guest_network(rt_, rec.id);
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
  std::uint64_t total = rt_.settings.capacity_memory_mib;
  if (total == 0) total = host_memory_mib();
  std::uint64_t used = 0;
  for (const auto& rec : rt_.catalog.list_instances()) {
    if (rec.region != rt_.settings.region) continue;  // each region is its own host
    if (rec.is_live()) used += rec.memory_mib;
  }
  return used >= total ? 0 : total - used;
}

BlockDeviceMappings InstanceService::plan_mappings(const Caller& caller, const ImageRecord& image,
                                                   const BlockDeviceMappings& launch) {
  BlockDeviceMappings image_mappings = image.block_device_mappings.value_or(BlockDeviceMappings{});
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
    if (!snap || snap->region != rt_.settings.region || snap->state != "completed" ||
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
  for (const auto& m : rec.block_device_mappings) {
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
  // cloud-init's NoCloud seed (x86_64): what the instance is told about
  // itself, its key, its user data. Made beside the disks (two tools run).
  const bool with_seed = libvirt_arch(image.architecture) == "x86_64";
  const std::string seed = rec.dir + "/seed.img";
  std::future<void> seed_made;
  if (with_seed) {
    seed_made = std::async(std::launch::async, [&] {
      auto seed_files = nocloud_files(metadata_of(rec, req.key_pair, req.user_data));
      if (files.on_this_host()) {
        write_nocloud_seed(seed, seed_files);
      } else {
        std::string local = files.staging_dir() + "/" + rec.id + ".seed";
        write_nocloud_seed(local, seed_files);
        files.put(local, seed, 0600);
        ::unlink(local.c_str());
      }
    });
  }
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
  // A warm image's instance goes on from the root disk its saved guest left
  // (warm_images.h), when it matches what was saved; else it boots cold.
  const std::string cold_because =
      image.warm ? warm_mismatch(rt_, image, rec, mappings, instance_store_gib, root_size) : "the image is not warm";
  const bool warm = cold_because.empty();
  if (image.warm && !warm) log_info("instance " + rec.id + " boots cold: " + cold_because);
  std::vector<std::string> root_chain = root_backing(rt_.catalog, image);
  if (warm) root_chain.insert(root_chain.begin(), image.warm->root_layer);
  files.create_overlay(root_chain.front(), root, root_size > image.size_bytes ? root_size : 0);
  files.sync(root);
  // A thin template reads through the templates it was captured over: the
  // domain states the whole chain.
  disks.push_back({root, "vda", root_chain, false});
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
  if (!rec.private_ip.empty()) {
    spec.tap = tap_of(rec.id);
    // For guests without cloud-init (the tiny template): the same address,
    // and the route to the metadata service, through fw_cfg.
    spec.fw_cfg_network = fw_cfg_network(metadata_of(rec, req.key_pair, req.user_data));
  }
  place_channel_sockets(rec, spec);
  spec.kernel = image.kernel_file;
  spec.initrd = image.ramdisk_file;
  spec.cmdline = image.kernel_cmdline;
  if (req.user_data) {
    std::string path = rec.dir + "/user-data";
    files.write_file(path, *req.user_data, 0600);  // may hold secrets
    spec.user_data_file = path;
  }
  const std::size_t volumes = spec.disks.size();
  if (with_seed) {
    seed_made.get();
    // The seed is the last of the disks, so that no volume's guest name moves.
    spec.disks.push_back({seed, kSeedTarget, {}, true, "raw"});
  }
  spec.owner = rec.owner;
  spec.region = rec.region;
  spec.image_id = image.id;
  spec.state_dir = rt_.store.root();
  files.sync(rec.dir);

  rt_.hypervisor.define_domain(render_domain_xml(spec));
  if (warm && restore_guest(rec, spec, *image.warm, req.user_data)) {
    rec.launch_mode = "warm";
    rt_.catalog.set_instance_launch_mode(rec.id, rec.launch_mode);
  } else if (!warm) {
    start_guest(rt_, rec);
  }
  rt_.catalog.set_instance_state(rec.id, InstanceState::kRunning);
  rec.state = InstanceState::kRunning;
  log_info("instance " + rec.id + " launched from " + image.id + " (" + rec.instance_type + ", " +
           spec.domain_type + ", " + std::to_string(volumes) + " disks, " + rec.launch_mode + ")");
  return rec;
}

}  // namespace amid
