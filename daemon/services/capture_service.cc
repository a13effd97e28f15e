#include "daemon/services/capture_service.h"

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/services/image_jobs.h"
#include "daemon/services/layers.h"
#include "daemon/services/render.h"
#include "daemon/services/validate.h"
#include "daemon/services/warm_images.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

constexpr const char* kCreateImageAction = "CreateImage";

}  // namespace

std::vector<CaptureService::Disk> CaptureService::ebs_disks(const InstanceRecord& inst, bool with_sizes) const {
  std::vector<Disk> disks;
  for (const auto& vol : rt_.catalog.volumes_of_instance(inst.id)) {
    Disk d;
    d.device_name = vol.device;
    d.target = guest_device(vol.device);
    d.source = vol.file;
    d.size_bytes = vol.size_gib << 30;
    d.delete_on_termination = vol.delete_on_termination;
    d.volume_type = vol.volume_type;
    d.volume_id = vol.id;
    disks.push_back(d);
  }
  if (disks.empty()) {
    Disk d;
    d.device_name = kRootDeviceName;
    d.target = "vda";
    d.source = inst.dir + "/root.qcow2";
    if (with_sizes) d.size_bytes = rt_.files->disk_info(d.source).virtual_size;
    disks.push_back(d);
  }
  return disks;
}

std::string CaptureService::overlay_of(const std::string& source) { return source + ".capture"; }

bool CaptureService::has_overlays(const InstanceRecord& inst) const {
  const auto disks = ebs_disks(inst, false);
  return std::any_of(disks.begin(), disks.end(), [&](const Disk& d) { return rt_.files->exists(overlay_of(d.source)); });
}

ImageRecord CaptureService::create_image(const Caller& caller, const CreateImageRequest& req) {
  // The same request sent twice at once: the first to record its image wins
  // (the other one typically finds the instance already being captured).
  return once_per_token(
      rt_.catalog, caller.account, kCreateImageAction, req.client_token, [&] { return start_capture(caller, req); },
      [&](const ClientTokenRecord& prior) { return replayed_image(rt_.catalog, prior); });
}

ImageRecord CaptureService::start_capture(const Caller& caller, const CreateImageRequest& req) {
  std::string name = validate_image_name(req.name).value_or_throw();
  std::string description = validate_description(req.description).value_or_throw();
  for (const auto& m : req.block_device_mappings) {
    if (guest_device(m.device_name) == "vda") {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + " is the root device; create-image "
                      "always captures it");
    }
    if (m.ebs && m.ebs->snapshot_id) {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + ": create-image cannot add a volume "
                      "from a snapshot; add ephemeral mappings or drop volumes with no_device");
    }
  }
  if (!scheduler_) throw AmidError(codes::kUnsupportedOperation, "create-image is not available (amid runs no jobs yet)");

  CaptureJob job;
  job.lease = instances_.lease_for_capture(caller, req.instance_id);
  const InstanceRecord& inst = job.lease->instance();
  auto source = rt_.catalog.find_image(inst.image_id);

  std::set<std::string> dropped;
  for (const auto& m : req.block_device_mappings) {
    if (m.no_device) dropped.insert(guest_device(m.device_name));
  }
  job.disks = ebs_disks(inst);
  if (!rt_.files->on_this_host()) {
    // On another host an overlay left by an interrupted --no-reboot capture is
    // merged only while the guest runs (libvirt has no offline commit). A
    // capture of the disks without it would miss what the guest wrote there.
    for (const auto& d : job.disks) {
      if (!rt_.files->exists(overlay_of(d.source))) continue;
      if (inst.state != InstanceState::kRunning) {
        throw AmidError(codes::kIncorrectInstanceState,
                        "InstanceId: " + inst.id + "'s " + d.target + " still holds writes of an interrupted "
                        "--no-reboot capture, which libvirt merges only while the guest runs; start the instance, "
                        "then create the image");
      }
      settle_overlays(*job.lease);  // merged live, now
      break;
    }
  }
  std::erase_if(job.disks, [&](const Disk& d) { return dropped.count(d.target) > 0; });
  if (req.warm) check_warm(inst, job.disks, req.block_device_mappings);

  ImageRecord& image = job.image;
  image.id = new_id("ami");
  image.name = name;
  image.description = description;
  image.owner = caller.account;
  image.region = rt_.settings.region;
  image.architecture = inst.architecture;
  image.virtualization_type = inst.virtualization_type;
  image.root_device_type = "ebs";
  image.state = ImageState::kPending;
  image.creation_date = iso_now();
  image.source = "instance:" + inst.id;
  image.source_instance = inst.id;
  image.consistency = req.no_reboot && !req.warm ? "crash-consistent" : "consistent";
  image.disk_file = rt_.store.image_disk(image.id);
  image.tags = req.image_tags;
  for (auto& d : job.disks) {
    d.snapshot_id = new_id("snap");
    d.snapshot_file = d.target == "vda" ? image.disk_file : rt_.store.image_dir(image.id) + "/" + d.snapshot_id + ".qcow2";
    image.progress_total += d.size_bytes;
    if (d.target == "vda") image.size_bytes = d.size_bytes;
  }
  if (source && !source->kernel_file.empty()) {
    image.kernel_id = source->kernel_id;
    image.kernel_file = rt_.store.image_dir(image.id) + "/vmlinuz";
    image.kernel_cmdline = source->kernel_cmdline;
    if (!source->ramdisk_file.empty()) {
      image.ramdisk_id = source->ramdisk_id;
      image.ramdisk_file = rt_.store.image_dir(image.id) + "/initrd.img";
    }
  }
  image.restart_source = inst.state == InstanceState::kRunning && (!req.no_reboot || req.warm);
  record_pending_image(rt_.catalog, caller, kCreateImageAction, req.client_token, image);
  log_info("image " + image.id + " capture of " + inst.id + " begins (" +
           (req.warm        ? "warm: the guest saved, its disks copied, the guest restored"
            : req.no_reboot ? "no reboot: a live point-in-time copy"
                            : "clean shutdown") +
           ")");
  job.no_reboot = req.no_reboot && !req.warm;
  if (req.warm) job.warm = WarmStateRecord{};
  job.extra = req.block_device_mappings;
  job.snapshot_tags = req.snapshot_tags;
  ImageRecord answer = image;
  scheduler_->post([this, job = std::move(job)]() mutable { run(std::move(job)); });  // the job holds the lease now
  return answer;
}

void CaptureService::plan_layer(const ImageRecord& image, Disk& d) const {
  d.thin = false;
  d.base_snapshot_id.clear();
  auto flat = [&](const std::string& why) {
    log_info("image " + image.id + " " + d.target + ": a standalone copy (" + why + ")");
  };
  if (rt_.settings.capture == "standalone") return flat("images.capture is standalone");
  if (d.volume_id.empty()) return flat("the instance's disk predates volumes");
  auto vol = rt_.catalog.find_volume(d.volume_id);
  if (!vol) return flat("its volume row is gone");
  std::string expected;  // the file the disk must sit on: its base's, or none
  if (!vol->snapshot_id.empty()) {
    auto base = rt_.catalog.find_snapshot(vol->snapshot_id);
    if (!base) return flat("its snapshot " + vol->snapshot_id + " is gone");
    std::size_t depth = 0;
    try {
      depth = snapshot_chain(rt_.catalog, *base).size();
    } catch (const AmidError& e) {
      return flat(e.what());
    }
    if (depth >= kMaxTemplateLayers) {
      return flat(std::to_string(depth) + " template layers under it already; at most " +
                  std::to_string(kMaxTemplateLayers));
    }
    expected = base->file;
  }
  // The disk's own header must say the same as the catalog; otherwise the
  // layer would be recorded on the wrong base.
  std::string actual = rt_.files->disk_info(d.source).backing_file;
  if (actual != expected) {
    return flat("it sits on '" + actual + "', not on '" + expected + "' as the catalog says");
  }
  d.thin = true;
  d.base_snapshot_id = vol->snapshot_id;
}

void CaptureService::copy_disks(ImageRecord& image, InstanceLease& lease, bool live, std::vector<Disk>& disks) {
  for (auto& d : disks) plan_layer(image, d);
  if (live) {
    // Freeze a point in time: the guest goes on writing to new overlays, and
    // what it had until now (the instance's own disks) is only read from here.
    settle_overlays(lease);  // an earlier capture's leftovers, if any
    std::vector<std::pair<std::string, std::string>> overlays;
    for (const auto& d : disks) overlays.emplace_back(d.target, overlay_of(d.source));
    freeze_around(image, lease.id(), [&] { rt_.hypervisor.snapshot_to_overlays(lease.id(), overlays); });
    log_info("image " + image.id + ": " + lease.id() + " writes to capture overlays while its disks are copied");
  }
  std::uint64_t done_before = 0;
  for (auto& d : disks) {
    std::uint64_t last = 0;
    auto progress = [&](double fraction) {
      std::uint64_t now = done_before + static_cast<std::uint64_t>(fraction * static_cast<double>(d.size_bytes));
      if (now - last >= (4u << 20) || fraction >= 1.0) {
        rt_.catalog.set_image_progress(image.id, now, image.progress_total);
        last = now;
      }
    };
    if (d.thin) {
      // Only what the instance wrote over its base: the layer's file as it is
      // (holes stay holes), read-only, durable, renamed into place. Its header
      // names the base's file, which the catalog keeps while this snapshot lives.
      std::uint64_t length = rt_.files->file_size(d.source);
      double file_bytes = length > 0 ? static_cast<double>(length) : 1.0;
      rt_.files->copy(d.source, d.snapshot_file,
                      [&](std::uint64_t done) { progress(static_cast<double>(done) / file_bytes); });
      log_info("image " + image.id + " " + d.target + ": a thin layer of " + std::to_string(length >> 20) +
               " MiB" + (d.base_snapshot_id.empty() ? "" : " over " + d.base_snapshot_id));
    } else {
      rt_.files->flatten(d.source, d.snapshot_file, progress);
    }
    done_before += d.size_bytes;
  }
  rt_.catalog.set_image_progress(image.id, image.progress_total, image.progress_total);
}

void CaptureService::freeze_around(ImageRecord& image, const std::string& instance_id,
                                   const std::function<void()>& snapshot) {
  // With a guest agent, the guest's file systems are frozen (writes wait, dirty
  // pages flushed) for just the snapshot: the image needs no journal replay.
  // Without one, or when freezing fails, the capture is crash-consistent as before.
  if (!rt_.hypervisor.guest_agent_connected(instance_id)) {
    log_info("image " + image.id + ": " + instance_id + " has no guest agent; the copy is crash-consistent");
    return snapshot();
  }
  const auto start = std::chrono::steady_clock::now();
  int frozen = 0;
  try {
    frozen = rt_.hypervisor.freeze_filesystems(instance_id);
  } catch (const AmidError& e) {
    log_warn("image " + image.id + ": cannot freeze " + instance_id + "'s file systems (" + e.what() +
             "); the copy is crash-consistent");
    return snapshot();
  }
  // Thawed on every path: a guest left frozen would hang all its writers.
  try {
    snapshot();
  } catch (...) {
    thaw(instance_id);
    throw;
  }
  thaw(instance_id);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  image.consistency = "filesystem-consistent";
  image.freeze_ms = ms;
  rt_.catalog.set_image_consistency(image.id, image.consistency, image.freeze_ms);
  log_info("image " + image.id + ": " + std::to_string(frozen) + " file system(s) of " + instance_id +
           " frozen for " + std::to_string(ms) + " ms around the snapshot");
}

void CaptureService::thaw(const std::string& instance_id) {
  try {
    rt_.hypervisor.thaw_filesystems(instance_id);
  } catch (const std::exception& e) {
    log_error("instance " + instance_id + ": cannot thaw its file systems: " + e.what() +
              " (virsh domfsthaw " + instance_id + " does it by hand)");
  }
}

void CaptureService::settle_overlays(InstanceLease& lease) {
  const InstanceRecord& inst = lease.instance();
  // Without sizes: no qemu-img per instance at every amid start.
  for (const auto& d : ebs_disks(inst, false)) {
    std::string overlay = overlay_of(d.source);
    if (!rt_.files->exists(overlay)) continue;
    auto st = rt_.hypervisor.domain_status(inst.id);
    bool live = st && st->state != DomainRunState::kShutoff;
    if (live) {
      // In use (the guest writes to it): merge it into the disk while the guest
      // runs, then the guest is back on its own disk. Not in use: never applied.
      bool in_use = false;
      for (const auto& [target, file] : rt_.hypervisor.disk_files(inst.id, true)) {
        in_use = in_use || (target == d.target && file == overlay);
      }
      if (in_use) rt_.hypervisor.commit_overlay(inst.id, d.target, d.source);
    } else {
      // The guest stopped while on the overlay: merge it offline. Committing an
      // overlay that was never written adds nothing, so this is always safe.
      bool readable = true;
      try {
        readable = rt_.files->disk_info(overlay).backing_file == d.source;
      } catch (const AmidError&) {
        readable = false;  // libvirt never finished making it: nothing was written to it
      }
      if (readable) rt_.files->commit(overlay);
    }
    if (lease.next_start_disk(d.target) == overlay) lease.point_next_start_disk(d.target, d.source);
    rt_.files->remove(overlay);
    log_info("instance " + inst.id + " " + d.target + ": capture overlay merged back");
  }
}

BlockDeviceMappings CaptureService::captured_mappings(const CaptureJob& job) {
  BlockDeviceMappings mappings;
  for (const auto& d : job.disks) {
    BlockDeviceMapping m;
    m.device_name = d.device_name;
    EbsSpec ebs;
    ebs.volume_size_gib = gib_ceil(d.size_bytes);
    ebs.snapshot_id = d.snapshot_id;
    ebs.delete_on_termination = d.delete_on_termination;
    ebs.volume_type = d.volume_type;
    m.ebs = ebs;
    mappings.push_back(m);
  }
  for (const auto& m : job.lease->instance().block_device_mappings) {
    if (m.virtual_name) mappings.push_back(m);
  }
  for (const auto& m : job.extra) {
    std::erase_if(mappings, [&](const BlockDeviceMapping& x) {
      return guest_device(x.device_name) == guest_device(m.device_name);
    });
    if (!m.no_device) mappings.push_back(m);
  }
  return mappings;
}

void CaptureService::run(CaptureJob job) {
  ImageRecord& image = job.image;
  InstanceLease& lease = *job.lease;
  const InstanceRecord& inst = lease.instance();
  bool stopped_by_us = false;
  bool saved_by_us = false;
  bool live = false;
  std::string save = job.warm ? warm_memory_file(rt_.store, image.id) + ".tmp" : "";
  // The saved guest goes on from its save, kept until then.
  auto resume_source = [&] {
    try {
      lease.resume_saved(save);
    } catch (const std::exception& e) {
      log_error("instance " + inst.id + " could not be resumed after create-image --warm: " + e.what());
    }
    saved_by_us = false;
  };
  try {
    rt_.files->make_dir(rt_.store.image_dir(image.id));
    auto st = rt_.hypervisor.domain_status(inst.id);
    bool running = st && st->state != DomainRunState::kShutoff;
    if (job.warm) {
      save_for_warm(job);
      saved_by_us = true;
      running = false;
    } else if (running && !job.no_reboot) {
      lease.shut_down(kShutdownTimeout);
      stopped_by_us = true;
      running = false;
      log_info("image " + image.id + ": " + inst.id + " is shut down for the capture");
    }
    live = running;
    copy_disks(image, lease, running, job.disks);
    log_info("image " + image.id + ": disks copied");
    if (!image.kernel_file.empty()) {
      auto source = rt_.catalog.find_image(inst.image_id);
      if (!source) throw AmidError(codes::kInternalError, "the source image's kernel is gone");
      rt_.files->copy(source->kernel_file, image.kernel_file);
      if (!image.ramdisk_file.empty()) rt_.files->copy(source->ramdisk_file, image.ramdisk_file);
    }
    image.block_device_mappings = captured_mappings(job);
    std::vector<SnapshotRecord> snapshots;
    for (const auto& d : job.disks) {
      SnapshotRecord snap;
      snap.id = d.snapshot_id;
      snap.owner = image.owner;
      snap.region = image.region;
      snap.description = "Created by CreateImage(" + inst.id + ") for " + image.id + " from " +
                         (d.volume_id.empty() ? d.device_name : d.volume_id);
      snap.state = "completed";
      snap.start_time = image.creation_date;
      snap.volume_id = d.volume_id;
      snap.volume_size_gib = gib_ceil(d.size_bytes);
      snap.file = d.snapshot_file;
      snap.image_id = image.id;
      snap.base_snapshot_id = d.base_snapshot_id;
      snap.tags = job.snapshot_tags;
      snapshots.push_back(snap);
    }
    protocol::Json provenance = {{"Source", image.source}, {"Consistency", image.consistency}};
    if (image.freeze_ms >= 0) provenance["FreezeMilliseconds"] = image.freeze_ms;
    write_manifest(rt_, image, provenance);
    if (job.warm) {
      keep_warm_state(job);
      save = job.warm->memory_file;
      resume_source();
    }
    // Snapshots, mappings and "available" in one transaction: never half recorded.
    // The image is complete before the guest's writes are merged back: from here
    // on, actions on the instance wait for that merge rather than fail.
    if (live) lease.settling();
    rt_.catalog.complete_image(image.id, *image.block_device_mappings, snapshots);
    log_info("image " + image.id + " available (" + image.name + ", from " + inst.id + ")");
  } catch (const std::exception& e) {
    if (live) lease.settling();
    if (saved_by_us) resume_source();  // before the image's folder, and the save in it, goes
    fail_image_job(rt_, image, e.what());
  }
  if (live) merge_back(lease);
  if (stopped_by_us) {
    try {
      lease.start_again();
    } catch (const std::exception& e) {
      log_error("instance " + inst.id + " could not be started again after create-image: " + e.what());
    }
  }
}

// The instance's writes during a live capture go back into its own disks.
// Never fails the image (its copy is complete); a merge that cannot finish now
// is finished by the next capture or the next amid start.
void CaptureService::merge_back(InstanceLease& lease) {
  try {
    settle_overlays(lease);
  } catch (const std::exception& e) {
    log_error("instance " + lease.id() + ": cannot merge its capture overlay back yet: " + e.what());
  }
}

void CaptureService::recover_interrupted() {
  // A live capture cut short leaves the guest on its capture overlay: merge it
  // back first (also when the image itself was already complete).
  for (const auto& inst : rt_.catalog.list_instances()) {
    if (inst.state == InstanceState::kTerminated || inst.region != rt_.settings.region) continue;
    if (has_overlays(inst)) merge_back(*instances_.lease_for_recovery(inst));
  }
  for (const auto& image : rt_.catalog.list_images()) {
    if (image.state != ImageState::kPending || image.source_instance.empty() || image.region != rt_.settings.region) {
      continue;
    }
    log_warn("image " + image.id + " was being captured when amid stopped; it failed");
    // amid may have stopped while the guest's file systems were frozen for the
    // snapshot; thawing a guest that is not frozen does nothing.
    if (!image.restart_source && rt_.hypervisor.guest_agent_connected(image.source_instance)) {
      thaw(image.source_instance);
    }
    fail_image_job(rt_, image, "amid stopped during the capture; run create-image again");
    if (image.restart_source) {
      // The capture stopped a running instance and owes it a start. If amid died
      // while the guest was still shutting down, let the shutdown finish first
      // (forced after the usual timeout), or the guest would end up stopped.
      try {
        auto st = rt_.hypervisor.domain_status(image.source_instance);
        auto inst = rt_.catalog.find_instance(image.source_instance);
        if (inst && inst->state != InstanceState::kTerminated) {
          auto lease = instances_.lease_for_recovery(*inst);
          if (st && st->state != DomainRunState::kShutoff && inst->state == InstanceState::kStopping) {
            lease->shut_down(kShutdownTimeout);
            st = rt_.hypervisor.domain_status(image.source_instance);
          }
          // Off, or stopped and parked (amid's start-up parks stopped instances first).
          bool off = st ? st->state == DomainRunState::kShutoff : inst->state == InstanceState::kStopped;
          if (off) lease->start_again();
        }
      } catch (const std::exception& e) {
        log_error("instance " + image.source_instance + ": cannot start it again after the interrupted capture: " +
                  e.what());
      }
    }
  }
}

}  // namespace amid
