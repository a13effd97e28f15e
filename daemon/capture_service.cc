#include "daemon/capture_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/ids.h"
#include "daemon/fs.h"
#include "daemon/log.h"
#include "daemon/render.h"
#include "daemon/validate.h"

namespace amid {
namespace {

// Holds the capture's claim on the instance until the job ends, however it ends.
class CaptureHold {
 public:
  CaptureHold(InstanceService& instances, std::string id) : instances_(instances), id_(std::move(id)) {}
  ~CaptureHold() {
    if (!id_.empty()) instances_.end_capture(id_);
  }
  void dismiss() { id_.clear(); }

 private:
  InstanceService& instances_;
  std::string id_;
};

}  // namespace

ImageRecord CaptureService::create_image(const Caller& caller, const CreateImageRequest& req) {
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
  if (!scheduler_) throw AmidError(codes::kInternalError, "create-image is not available yet");

  InstanceRecord inst = instances_.begin_capture(caller, req.instance_id);
  CaptureHold hold(instances_, inst.id);
  auto source = rt_.catalog.find_image(inst.image_id);

  // The disks to capture: every EBS volume attached (root included); an instance
  // launched before volumes existed has its root overlay only.
  std::vector<Disk> disks;
  std::set<std::string> dropped;
  for (const auto& m : req.block_device_mappings) {
    if (m.no_device) dropped.insert(guest_device(m.device_name));
  }
  for (const auto& vol : rt_.catalog.volumes_of_instance(inst.id)) {
    std::string target = guest_device(vol.device);
    if (dropped.count(target)) continue;
    Disk d;
    d.device_name = vol.device;
    d.target = target;
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
    d.size_bytes = rt_.qemu_img.info(d.source).virtual_size;
    disks.push_back(d);
  }

  ImageRecord image;
  image.id = new_id("ami");
  image.name = name;
  image.description = description;
  image.owner = caller.account;
  image.region = rt_.config.region;
  image.architecture = inst.architecture;
  image.virtualization_type = inst.virtualization_type;
  image.root_device_type = "ebs";
  image.state = "pending";
  image.creation_date = iso_now();
  image.source = "instance:" + inst.id;
  image.source_instance = inst.id;
  image.consistency = req.no_reboot ? "crash-consistent" : "consistent";
  image.disk_file = rt_.store.image_disk(image.id);
  image.tags = req.image_tags;
  for (auto& d : disks) {
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
  bool running = inst.state == "running";
  image.restart_source = running && !req.no_reboot;
  if (!rt_.catalog.insert_image_if_name_free(image)) {
    throw AmidError(codes::kInvalidAmiNameDuplicate,
                    "Name: you already have an image named '" + name + "' in " + image.region);
  }
  log_info("image " + image.id + " capture of " + inst.id + " begins (" +
           (req.no_reboot ? "no reboot, crash-consistent" : "clean shutdown") + ")");
  hold.dismiss();  // the job owns the hold now
  scheduler_->post([this, image, inst, no_reboot = req.no_reboot, disks, extra = req.block_device_mappings,
                    snapshot_tags = req.snapshot_tags] {
    run(image, inst, no_reboot, disks, extra, snapshot_tags);
  });
  return image;
}

void CaptureService::copy_disks(const ImageRecord& image, const InstanceRecord& inst, bool live,
                                std::vector<Disk>& disks) {
  std::uint64_t done_before = 0;
  if (live) {
    std::vector<std::pair<std::string, std::string>> targets;
    for (const auto& d : disks) targets.emplace_back(d.target, d.snapshot_file + ".tmp");
    std::vector<std::string> skipped;
    for (const auto& vol : rt_.catalog.volumes_of_instance(inst.id)) {
      std::string t = guest_device(vol.device);
      bool wanted = false;
      for (const auto& d : disks) wanted = wanted || d.target == t;
      if (!wanted) skipped.push_back(t);
    }
    for (const auto& m : parse_stored_mappings(inst.block_device_mappings)) {
      if (m.virtual_name) skipped.push_back(guest_device(m.device_name));
    }
    rt_.hypervisor.backup_begin(inst.id, targets, skipped);
    // Poll at a twentieth of the time so far (2 ms to 250 ms): small disks finish in
    // tens of milliseconds, and a long copy is seen done within about 5% of its time.
    const auto started = std::chrono::steady_clock::now();
    for (;;) {
      auto p = rt_.hypervisor.backup_progress(inst.id);
      if (p.active) {
        rt_.catalog.set_image_progress(image.id, std::min(p.done, image.progress_total), image.progress_total);
        auto so_far = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        std::this_thread::sleep_for(std::clamp(so_far / 20, std::chrono::milliseconds(2), std::chrono::milliseconds(250)));
        continue;
      }
      if (!p.succeeded) throw AmidError(codes::kInternalError, "backup of " + inst.id + " failed: " + p.error);
      break;
    }
  } else {
    for (auto& d : disks) {
      std::uint64_t last = 0;
      rt_.qemu_img.flatten(d.source, d.snapshot_file + ".tmp", [&](double fraction) {
        std::uint64_t now = done_before + static_cast<std::uint64_t>(fraction * static_cast<double>(d.size_bytes));
        if (now - last >= (4u << 20) || fraction >= 1.0) {
          rt_.catalog.set_image_progress(image.id, now, image.progress_total);
          last = now;
        }
      });
      done_before += d.size_bytes;
    }
  }
  // Sealed: read-only, owned by amid, durable, then renamed into place.
  for (auto& d : disks) {
    std::string tmp = d.snapshot_file + ".tmp";
    if (::chown(tmp.c_str(), ::geteuid(), ::getegid()) != 0 && ::geteuid() == 0) {
      throw AmidError(codes::kInternalError, "cannot take ownership of " + tmp);
    }
    ::chmod(tmp.c_str(), 0440);
    fs::fsync_path(tmp);
    fs::rename_durable(tmp, d.snapshot_file);
  }
  rt_.catalog.set_image_progress(image.id, image.progress_total, image.progress_total);
}

void CaptureService::run(ImageRecord image, InstanceRecord inst, bool no_reboot,
                         std::vector<Disk> disks, BlockDeviceMappings extra, Tags snapshot_tags) {
  CaptureHold hold(instances_, inst.id);
  bool stopped_by_us = false;
  try {
    fs::make_dirs(rt_.store.image_dir(image.id), 0711);
    auto st = rt_.hypervisor.domain_status(inst.id);
    bool running = st && st->state != DomainRunState::kShutoff;
    if (running && !no_reboot) {
      instances_.shut_down_for_capture(inst.id, kShutdownTimeout);
      stopped_by_us = true;
      running = false;
    }
    copy_disks(image, inst, running, disks);
    if (!image.kernel_file.empty()) {
      auto source = rt_.catalog.find_image(inst.image_id);
      if (!source) throw AmidError(codes::kInternalError, "the source image's kernel is gone");
      fs::copy_file_durable(source->kernel_file, image.kernel_file, 0440);
      if (!image.ramdisk_file.empty()) fs::copy_file_durable(source->ramdisk_file, image.ramdisk_file, 0440);
    }
    // The new image's block device mappings: its snapshots, then what the
    // instance had as instance store (recorded, not captured), then additions.
    BlockDeviceMappings mappings;
    for (const auto& d : disks) {
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
    auto instance_mappings = parse_stored_mappings(inst.block_device_mappings);
    for (const auto& m : instance_mappings) {
      if (m.virtual_name) mappings.push_back(m);
    }
    for (const auto& m : extra) {
      if (m.no_device) {
        std::erase_if(mappings, [&](const BlockDeviceMapping& x) {
          return guest_device(x.device_name) == guest_device(m.device_name);
        });
      } else {
        std::erase_if(mappings, [&](const BlockDeviceMapping& x) {
          return guest_device(x.device_name) == guest_device(m.device_name);
        });
        mappings.push_back(m);
      }
    }
    std::vector<SnapshotRecord> snapshots;
    for (const auto& d : disks) {
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
      snap.tags = snapshot_tags;
      snapshots.push_back(snap);
    }
    image.block_device_mappings = to_toml(mappings);
    protocol::Json manifest = render_image(image);
    manifest["State"] = "available";
    manifest["Source"] = image.source;
    manifest["Consistency"] = image.consistency;
    manifest["BlockDeviceMappings"] = to_ec2_json(mappings);
    fs::write_file_atomic(rt_.store.image_dir(image.id) + "/manifest.json", manifest.dump(2) + "\n", 0640);
    // Snapshots, mappings and "available" in one transaction: never half recorded.
    rt_.catalog.complete_image(image.id, image.block_device_mappings, snapshots);
    log_info("image " + image.id + " available (" + image.name + ", from " + inst.id + ")");
  } catch (const std::exception& e) {
    rt_.hypervisor.abort_job(inst.id);  // a live backup still copying stops here
    fail(image, e.what());
  }
  if (stopped_by_us) {
    try {
      instances_.start_after_capture(inst.id);
    } catch (const std::exception& e) {
      log_error("instance " + inst.id + " could not be started again after create-image: " + e.what());
    }
  }
}

void CaptureService::fail(const ImageRecord& image, const std::string& reason) {
  log_error("image " + image.id + " capture failed: " + reason);
  try {
    fs::remove_tree(rt_.store.image_dir(image.id));
    fs::fsync_path(rt_.store.images_dir());
  } catch (const std::exception& e) {
    log_error("image " + image.id + ": cannot remove partial files: " + e.what());
  }
  for (const auto& snap : rt_.catalog.snapshots_of_image(image.id)) rt_.catalog.delete_snapshot(snap.id);
  rt_.catalog.set_image_state(image.id, "failed", "Server.InternalError: " + reason);
}

void CaptureService::recover_interrupted() {
  for (const auto& image : rt_.catalog.list_images()) {
    if (image.state != "pending" || image.source_instance.empty()) continue;
    log_warn("image " + image.id + " was being captured when amid stopped; it failed");
    if (image.consistency == "crash-consistent") {
      // A push-mode backup may still be writing the partial files: stop it first.
      try {
        rt_.hypervisor.abort_job(image.source_instance);
        for (int i = 0; i < 100; ++i) {
          if (!rt_.hypervisor.backup_progress(image.source_instance).active) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      } catch (const std::exception& e) {
        log_warn("image " + image.id + ": cannot abort the backup of " + image.source_instance + ": " + e.what());
      }
    }
    fail(image, "amid stopped during the capture; run create-image again");
    if (image.restart_source) {
      // The capture stopped a running instance and owes it a start. If amid died
      // while the guest was still shutting down, let the shutdown finish first
      // (forced after the usual timeout), or the guest would end up stopped.
      try {
        auto st = rt_.hypervisor.domain_status(image.source_instance);
        auto inst = rt_.catalog.find_instance(image.source_instance);
        if (st && inst && inst->state != "terminated") {
          if (st->state != DomainRunState::kShutoff && inst->state == "stopping") {
            instances_.shut_down_for_capture(image.source_instance, kShutdownTimeout);
            st = rt_.hypervisor.domain_status(image.source_instance);
          }
          if (st && st->state == DomainRunState::kShutoff) instances_.start_after_capture(image.source_instance);
        }
      } catch (const std::exception& e) {
        log_error("instance " + image.source_instance + ": cannot start it again after the interrupted capture: " +
                  e.what());
      }
    }
  }
}

}  // namespace amid
