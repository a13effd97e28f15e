#include "daemon/services/copy_service.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/ids.h"
#include "daemon/host/fs.h"
#include "daemon/host/log.h"
#include "daemon/services/image_jobs.h"
#include "daemon/services/layers.h"
#include "daemon/services/validate.h"
#include "daemon/services/warm_images.h"
#include "daemon/state/iso_time.h"

namespace amid {

ImageRecord CopyService::copy_image(const Caller& caller, const CopyImageRequest& req, ImageService& source_images) {
  // Tokens are per region, as on EC2: the same token copying into two regions is two requests.
  const std::string action = "CopyImage@" + rt_.settings.region;
  return once_per_token(
      rt_.catalog, caller.account, action, req.client_token,
      [&] { return start_copy(caller, req, source_images, action); },
      [&](const ClientTokenRecord& prior) { return replayed_image(rt_.catalog, prior); });
}

ImageRecord CopyService::start_copy(const Caller& caller, const CopyImageRequest& req, ImageService& source_images,
                                       const std::string& action) {
  std::string name = validate_image_name(req.name).value_or_throw();
  if (req.description) validate_description(*req.description).value_or_throw();
  if (!scheduler_) throw AmidError(codes::kUnsupportedOperation, "copy-image is not available (amid runs no jobs yet)");
  ImageRecord src = source_images.describe_images(caller, {req.source_image_id}).front();
  if (src.state != ImageState::kAvailable) {
    throw AmidError(codes::kInvalidAmiIdUnavailable, "SourceImageId: image " + src.id + " is " + to_string(src.state) +
                                                          "; only available images can be copied");
  }
  ImageRecord image = src;
  image.id = new_id("ami");
  image.name = name;
  image.description = req.description.value_or("[Copied " + src.id + " from " + src.region + "] " + src.description);
  if (image.description.size() > 255) image.description.resize(255);
  image.owner = caller.account;
  image.region = rt_.settings.region;
  image.state = ImageState::kPending;
  image.state_reason.clear();
  image.creation_date = iso_now();
  image.source = "copy:" + src.region + "/" + src.id;
  image.source_instance.clear();
  image.warm.reset();  // the copy's own, if any, comes with its job (plan_warm_state)
  image.restart_source = false;
  image.progress_done = 0;
  image.progress_total = 0;
  image.deregistration_protection = "disabled";  // EC2 copies neither protection,
  image.protected_until.clear();
  image.deprecation_time.clear();                // nor deprecation, nor launch permissions
  image.launch_permissions.clear();
  image.tags = req.copy_image_tags ? src.tags : Tags{};
  for (const auto& [k, v] : req.image_tags) image.tags[k] = v;
  image.disk_file = rt_.store.image_disk(image.id);
  std::string dir = rt_.store.image_dir(image.id);

  // Every snapshot the image is made of gets a new id and a copy of its file.
  CopyJob job;
  std::vector<CopyFile>& files = job.files;
  std::vector<SnapshotRecord>& snapshots = job.snapshots;
  std::map<std::string, std::string> new_ids;
  // A thin snapshot's file sits on files of the source region: the copy is made
  // standalone (flattened), so that the destination holds all it reads.
  RegionFiles& from_files = source_images.files();
  auto add_file = [&](const std::string& from, const std::string& to, bool flatten) {
    std::uint64_t size = 0;
    try {
      size = from_files.file_size(from);
    } catch (const AmidError&) {
      throw AmidError(codes::kInternalError, "SourceImageId: " + src.id + ": its file " + from + " is missing");
    }
    files.push_back({from, to, size, flatten, &from_files});
    image.progress_total += size;
  };
  auto copy_snapshot = [&](const SnapshotRecord& s) {
    if (new_ids.count(s.id)) return;
    SnapshotRecord snap = s;
    snap.id = new_id("snap");
    snap.owner = image.owner;
    snap.region = image.region;
    snap.description = "Copied for " + image.id + " from " + src.region + " " + s.id;
    snap.start_time = image.creation_date;
    snap.image_id = image.id;
    snap.volume_id.clear();
    snap.tags = req.snapshot_tags;
    snap.file = s.file == src.disk_file ? image.disk_file : dir + "/" + snap.id + ".qcow2";
    snap.base_snapshot_id.clear();
    new_ids[s.id] = snap.id;
    if (s.file != src.disk_file) add_file(s.file, snap.file, !s.base_snapshot_id.empty());
    snapshots.push_back(snap);
  };
  auto src_root = root_snapshot(rt_.catalog, src);
  add_file(src.disk_file, image.disk_file, src_root && !src_root->base_snapshot_id.empty());
  for (const auto& s : rt_.catalog.snapshots_of_image(src.id)) copy_snapshot(s);
  BlockDeviceMappings mappings = src.block_device_mappings.value_or(BlockDeviceMappings{});
  for (auto& m : mappings) {
    if (!m.ebs || !m.ebs->snapshot_id) continue;
    if (!new_ids.count(*m.ebs->snapshot_id)) {
      auto s = rt_.catalog.find_snapshot(*m.ebs->snapshot_id);
      if (!s) throw AmidError(codes::kInternalError, "SourceImageId: snapshot " + *m.ebs->snapshot_id + " is gone");
      copy_snapshot(*s);
    }
    m.ebs->snapshot_id = new_ids[*m.ebs->snapshot_id];
  }
  image.block_device_mappings = mappings;
  if (!src.kernel_file.empty()) {
    image.kernel_file = dir + "/vmlinuz";
    add_file(src.kernel_file, image.kernel_file, false);
  }
  if (!src.ramdisk_file.empty()) {
    image.ramdisk_file = dir + "/initrd.img";
    add_file(src.ramdisk_file, image.ramdisk_file, false);
  }
  plan_warm_state(src, from_files, image, job);
  {
    std::lock_guard lock(rt_.image_refs_mu);  // the source's files stay until the copy has them
    record_pending_image(rt_.catalog, caller, action, req.client_token, image);
  }
  log_info("image " + image.id + " copying from " + src.region + " " + src.id);
  job.image = image;
  scheduler_->post([this, job = std::move(job)] { run(job); });
  return image;
}

void CopyService::run(const CopyJob& job) {
  const ImageRecord& image = job.image;
  try {
    rt_.files->make_dir(rt_.store.image_dir(image.id));
    std::uint64_t done_before = 0, last = 0;
    for (const auto& f : job.files) {
      auto progress = [&](std::uint64_t done) {
        std::uint64_t now = done_before + done;
        if (now - last >= (4u << 20) || done == f.bytes) {
          rt_.catalog.set_image_progress(image.id, now, image.progress_total);
          last = now;
        }
      };
      if (f.flatten) {
        flatten_across(*f.from_files, f.from, f.to, [&](double fraction) {
          progress(static_cast<std::uint64_t>(fraction * static_cast<double>(f.bytes)));
        });
      } else {
        copy_across(*f.from_files, f.from, *rt_.files, f.to, staging(), progress);
      }
      done_before += f.bytes;
    }
    if (job.warm) {
      copy_root_layer(job);
      rt_.catalog.set_image_progress(image.id, image.progress_total, image.progress_total);
    }
    write_manifest(rt_, image, {{"Source", image.source}});
    // Warm before available: a launch that waited for the copy restores.
    if (job.warm) rt_.catalog.put_warm_state(*job.warm);
    rt_.catalog.complete_image(image.id, *image.block_device_mappings, job.snapshots);
    log_info("image " + image.id + " available (" + image.name + ", copied from " + image.source.substr(5) +
             (job.warm ? ", warm" : "") + ")");
  } catch (const std::exception& e) {
    fail_image_job(rt_, image, e.what());
  }
}

void CopyService::plan_warm_state(const ImageRecord& src, RegionFiles& from_files, ImageRecord& image,
                                  CopyJob& job) {
  if (!src.warm || src.warm->state != "available") return;
  if (!from_files.on_this_host() || !rt_.files->on_this_host()) {
    log_info("image " + image.id + ": the copy of " + src.id + " is not warm: warm states stay on this machine, and " +
             (from_files.on_this_host() ? "this region's" : src.region + "'s") + " store is on another host");
    return;
  }
  WarmStateRecord warm = *src.warm;
  warm.image_id = image.id;
  warm.memory_file = warm_memory_file(rt_.store, image.id);
  warm.root_layer = warm_root_layer(rt_.store, image.id);
  std::uint64_t memory_bytes = 0, layer_bytes = 0;
  try {
    memory_bytes = from_files.file_size(src.warm->memory_file);
    layer_bytes = from_files.file_size(src.warm->root_layer);
  } catch (const AmidError&) {
    throw AmidError(codes::kInternalError, "SourceImageId: " + src.id + ": its warm state's files are missing");
  }
  job.files.push_back({src.warm->memory_file, warm.memory_file, memory_bytes, false, &from_files});
  image.progress_total += memory_bytes + layer_bytes;
  job.warm_root_from = src.warm->root_layer;
  job.warm = warm;
}

// The root layer holds what the saved guest wrote over the source's disk; the
// copy's disk has the same bytes, so the layer's copy is only pointed at it.
void CopyService::copy_root_layer(const CopyJob& job) {
  write_root_layer(job.warm->root_layer, [&](const std::string& part) {
    fs::copy_sparse_durable(job.warm_root_from, part, 0600);
    rt_.qemu_img.set_backing_file(part, job.image.disk_file);
  });
}

// A thin snapshot of another region, made standalone in this one: flattened
// where its chain is, then copied across when that is not here.
void CopyService::flatten_across(RegionFiles& from_files, const std::string& from, const std::string& to,
                                    const std::function<void(double)>& progress) {
  RegionFiles& to_files = *rt_.files;
  if (&from_files == &to_files || (from_files.on_this_host() && to_files.on_this_host())) {
    from_files.flatten(from, to, progress);  // one machine: straight into place
  } else if (from_files.on_this_host()) {
    // qemu-img here into staging, then sent: the source chain is on this machine.
    std::string staged = staging() + "/" + std::filesystem::path(to).filename().string() + ".flat";
    try {
      from_files.flatten(from, staged, [&](double f) { progress(f / 2); });
      to_files.put(staged, to, 0440, [&](std::uint64_t) {});
    } catch (...) {
      ::unlink(staged.c_str());
      throw;
    }
    ::unlink(staged.c_str());
    progress(1.0);
  } else {
    // Flattened on the source's host, beside the source, then copied and removed there.
    std::string flat = from + "." + std::filesystem::path(to).filename().string() + ".flat";
    try {
      from_files.flatten(from, flat, [&](double f) { progress(f / 2); });
      copy_across(from_files, flat, to_files, to, staging());
    } catch (...) {
      try {
        from_files.remove(flat);
      } catch (...) {
      }
      throw;
    }
    from_files.remove(flat);
    progress(1.0);
  }
}

std::string CopyService::staging() const {
  std::string dir = rt_.files->staging_dir();
  return dir.empty() ? rt_.store.tmp_dir() : dir;
}

}  // namespace amid
