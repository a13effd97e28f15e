#include "daemon/capture_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <thread>

#include "common/ids.h"
#include "daemon/fs.h"
#include "daemon/layers.h"
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

constexpr const char* kCreateImageAction = "CreateImage";
// Raised by start_capture() when a request with the same ClientToken recorded its image first.
constexpr const char* kTokenTaken = "ClientTokenTaken";

// Records a new pending image (and its ClientToken, if any) in one step: a name
// the owner already uses, or a token another request recorded first, is refused.
void insert_new_image(Catalog& catalog, const Caller& caller, const std::string& action,
                      const std::optional<ClientToken>& client_token, const ImageRecord& image) {
  std::optional<ClientTokenRecord> token;
  if (client_token) {
    token = make_token_record(caller.account, action, *client_token, image.id, {{"ImageId", image.id}});
  }
  switch (catalog.insert_image_checked(image, token ? &*token : nullptr)) {
    case ImageInsert::kInserted:
      break;
    case ImageInsert::kNameTaken:
      throw AmidError(codes::kInvalidAmiNameDuplicate,
                      "Name: you already have an image named '" + image.name + "' in " + image.region);
    case ImageInsert::kTokenTaken:
      throw AmidError(kTokenTaken, "ClientToken: already recorded");
  }
}

}  // namespace

// Every EBS volume attached (root included); an instance launched before
// volumes existed has its root overlay only.
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

ImageRecord CaptureService::create_image(const Caller& caller, const CreateImageRequest& req) {
  if (req.client_token) {
    if (auto prior = find_replay(rt_.catalog, caller.account, kCreateImageAction, *req.client_token)) {
      return replayed_image(*prior);
    }
  }
  try {
    return start_capture(caller, req);
  } catch (const AmidError& e) {
    if (!req.client_token) throw;
    // The same request sent twice at once: the first to record its image wins
    // (the other one typically finds the instance already being captured).
    auto prior = find_replay(rt_.catalog, caller.account, kCreateImageAction, *req.client_token);
    if (prior) return replayed_image(*prior);
    if (e.code() == kTokenTaken) throw AmidError(codes::kInternalError, "ClientToken: recorded, then not found");
    throw;
  }
}

ImageRecord CaptureService::replayed_image(const ClientTokenRecord& prior) const {
  log_info(prior.action + " with ClientToken '" + prior.token + "' answered again with " + prior.resource_id);
  if (auto image = rt_.catalog.find_image(prior.resource_id)) return *image;
  ImageRecord gone;  // reclaimed since: the id is still the answer
  gone.id = prior.resource_id;
  return gone;
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
  if (!scheduler_) throw AmidError(codes::kInternalError, "create-image is not available yet");

  InstanceRecord inst = instances_.begin_capture(caller, req.instance_id);
  CaptureHold hold(instances_, inst.id);
  auto source = rt_.catalog.find_image(inst.image_id);

  std::set<std::string> dropped;
  for (const auto& m : req.block_device_mappings) {
    if (m.no_device) dropped.insert(guest_device(m.device_name));
  }
  std::vector<Disk> disks = ebs_disks(inst);
  if (!rt_.files->on_this_host()) {
    // On another host an overlay left by an interrupted --no-reboot capture is
    // merged only while the guest runs (libvirt has no offline commit). A
    // capture of the disks without it would miss what the guest wrote there.
    for (const auto& d : disks) {
      if (!rt_.files->exists(overlay_of(d.source))) continue;
      if (inst.state != "running") {
        throw AmidError(codes::kIncorrectInstanceState,
                        "InstanceId: " + inst.id + "'s " + d.target + " still holds writes of an interrupted "
                        "--no-reboot capture, which libvirt merges only while the guest runs; start the instance, "
                        "then create the image");
      }
      settle_overlays(inst);  // merged live, now
      break;
    }
  }
  std::erase_if(disks, [&](const Disk& d) { return dropped.count(d.target) > 0; });

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
  insert_new_image(rt_.catalog, caller, kCreateImageAction, req.client_token, image);
  log_info("image " + image.id + " capture of " + inst.id + " begins (" +
           (req.no_reboot ? "no reboot, crash-consistent" : "clean shutdown") + ")");
  hold.dismiss();  // the job owns the hold now
  scheduler_->post([this, image, inst, no_reboot = req.no_reboot, disks, extra = req.block_device_mappings,
                    snapshot_tags = req.snapshot_tags] {
    run(image, inst, no_reboot, disks, extra, snapshot_tags);
  });
  return image;
}

ImageRecord CaptureService::copy_image(const Caller& caller, const CopyImageRequest& req,
                                      ImageService& source_images) {
  // Tokens are per region, as on EC2: the same token copying into two regions is two requests.
  const std::string action = "CopyImage@" + rt_.config.region;
  if (req.client_token) {
    if (auto prior = find_replay(rt_.catalog, caller.account, action, *req.client_token)) return replayed_image(*prior);
  }
  try {
    return start_copy(caller, req, source_images, action);
  } catch (const AmidError& e) {
    if (!req.client_token) throw;
    auto prior = find_replay(rt_.catalog, caller.account, action, *req.client_token);
    if (prior) return replayed_image(*prior);
    if (e.code() == kTokenTaken) throw AmidError(codes::kInternalError, "ClientToken: recorded, then not found");
    throw;
  }
}

ImageRecord CaptureService::start_copy(const Caller& caller, const CopyImageRequest& req, ImageService& source_images,
                                       const std::string& action) {
  std::string name = validate_image_name(req.name).value_or_throw();
  if (req.description) validate_description(*req.description).value_or_throw();
  if (!scheduler_) throw AmidError(codes::kInternalError, "copy-image is not available yet");
  ImageRecord src = source_images.describe_images(caller, {req.source_image_id}).front();
  if (src.state != "available") {
    throw AmidError(codes::kInvalidAmiIdUnavailable,
                    "SourceImageId: image " + src.id + " is " + src.state + "; only available images can be copied");
  }
  ImageRecord image = src;
  image.id = new_id("ami");
  image.name = name;
  image.description = req.description.value_or("[Copied " + src.id + " from " + src.region + "] " + src.description);
  if (image.description.size() > 255) image.description.resize(255);
  image.owner = caller.account;
  image.region = rt_.config.region;
  image.state = "pending";
  image.state_reason.clear();
  image.creation_date = iso_now();
  image.source = "copy:" + src.region + "/" + src.id;
  image.source_instance.clear();
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
  std::vector<CopyFile> files;
  std::vector<SnapshotRecord> snapshots;
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
  BlockDeviceMappings mappings = parse_stored_mappings(src.block_device_mappings);
  for (auto& m : mappings) {
    if (!m.ebs || !m.ebs->snapshot_id) continue;
    if (!new_ids.count(*m.ebs->snapshot_id)) {
      auto s = rt_.catalog.find_snapshot(*m.ebs->snapshot_id);
      if (!s) throw AmidError(codes::kInternalError, "SourceImageId: snapshot " + *m.ebs->snapshot_id + " is gone");
      copy_snapshot(*s);
    }
    m.ebs->snapshot_id = new_ids[*m.ebs->snapshot_id];
  }
  image.block_device_mappings = to_toml(mappings);
  if (!src.kernel_file.empty()) {
    image.kernel_file = dir + "/vmlinuz";
    add_file(src.kernel_file, image.kernel_file, false);
  }
  if (!src.ramdisk_file.empty()) {
    image.ramdisk_file = dir + "/initrd.img";
    add_file(src.ramdisk_file, image.ramdisk_file, false);
  }
  {
    std::lock_guard lock(rt_.image_refs_mu);  // the source's files stay until the copy has them
    insert_new_image(rt_.catalog, caller, action, req.client_token, image);
  }
  log_info("image " + image.id + " copying from " + src.region + " " + src.id);
  scheduler_->post([this, image, files, snapshots] { run_copy(image, files, snapshots); });
  return image;
}

void CaptureService::run_copy(ImageRecord image, std::vector<CopyFile> files, std::vector<SnapshotRecord> snapshots) {
  try {
    rt_.files->make_dir(rt_.store.image_dir(image.id));
    std::uint64_t done_before = 0, last = 0;
    for (const auto& f : files) {
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
    protocol::Json manifest = render_image(image);
    manifest["State"] = "available";
    manifest["Source"] = image.source;
    rt_.files->write_file(rt_.store.image_dir(image.id) + "/manifest.json", manifest.dump(2) + "\n", 0640);
    rt_.catalog.complete_image(image.id, image.block_device_mappings, snapshots);
    log_info("image " + image.id + " available (" + image.name + ", copied from " + image.source.substr(5) + ")");
  } catch (const std::exception& e) {
    fail(image, e.what());
  }
}

void CaptureService::plan_layer(const ImageRecord& image, Disk& d) const {
  d.thin = false;
  d.base_snapshot_id.clear();
  auto flat = [&](const std::string& why) {
    log_info("image " + image.id + " " + d.target + ": a standalone copy (" + why + ")");
  };
  if (rt_.config.capture == "standalone") return flat("images.capture is standalone");
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

// A thin snapshot of another region, made standalone in this one: flattened
// where its chain is, then copied across when that is not here.
void CaptureService::flatten_across(RegionFiles& from_files, const std::string& from, const std::string& to,
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

std::string CaptureService::staging() const {
  std::string dir = rt_.files->staging_dir();
  return dir.empty() ? rt_.store.tmp_dir() : dir;
}

void CaptureService::copy_disks(const ImageRecord& image, const InstanceRecord& inst, bool live,
                                std::vector<Disk>& disks) {
  for (auto& d : disks) plan_layer(image, d);
  if (live) {
    // Freeze a point in time: the guest goes on writing to new overlays, and
    // what it had until now (the instance's own disks) is only read from here.
    settle_overlays(inst);  // an earlier capture's leftovers, if any
    std::vector<std::pair<std::string, std::string>> overlays;
    for (const auto& d : disks) overlays.emplace_back(d.target, overlay_of(d.source));
    rt_.hypervisor.snapshot_to_overlays(inst.id, overlays);
    log_info("image " + image.id + ": " + inst.id + " writes to capture overlays while its disks are copied");
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

void CaptureService::settle_overlays(const InstanceRecord& inst) {
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
    if (instances_.next_start_disk(inst.id, d.target) == overlay) {
      instances_.point_next_start_disk(inst.id, d.target, d.source);
    }
    rt_.files->remove(overlay);
    log_info("instance " + inst.id + " " + d.target + ": capture overlay merged back");
  }
}

void CaptureService::run(ImageRecord image, InstanceRecord inst, bool no_reboot,
                         std::vector<Disk> disks, BlockDeviceMappings extra, Tags snapshot_tags) {
  CaptureHold hold(instances_, inst.id);
  bool stopped_by_us = false;
  bool live = false;
  try {
    rt_.files->make_dir(rt_.store.image_dir(image.id));
    auto st = rt_.hypervisor.domain_status(inst.id);
    bool running = st && st->state != DomainRunState::kShutoff;
    if (running && !no_reboot) {
      instances_.shut_down_for_capture(inst.id, kShutdownTimeout);
      stopped_by_us = true;
      running = false;
      log_info("image " + image.id + ": " + inst.id + " is shut down for the capture");
    }
    live = running;
    copy_disks(image, inst, running, disks);
    log_info("image " + image.id + ": disks copied");
    if (!image.kernel_file.empty()) {
      auto source = rt_.catalog.find_image(inst.image_id);
      if (!source) throw AmidError(codes::kInternalError, "the source image's kernel is gone");
      rt_.files->copy(source->kernel_file, image.kernel_file);
      if (!image.ramdisk_file.empty()) rt_.files->copy(source->ramdisk_file, image.ramdisk_file);
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
      snap.base_snapshot_id = d.base_snapshot_id;
      snap.tags = snapshot_tags;
      snapshots.push_back(snap);
    }
    image.block_device_mappings = to_toml(mappings);
    protocol::Json manifest = render_image(image);
    manifest["State"] = "available";
    manifest["Source"] = image.source;
    manifest["Consistency"] = image.consistency;
    manifest["BlockDeviceMappings"] = to_ec2_json(mappings);
    rt_.files->write_file(rt_.store.image_dir(image.id) + "/manifest.json", manifest.dump(2) + "\n", 0640);
    // Snapshots, mappings and "available" in one transaction: never half recorded.
    // The image is complete before the guest's writes are merged back: from here
    // on, actions on the instance wait for that merge rather than fail.
    if (live) instances_.capture_settling(inst.id);
    rt_.catalog.complete_image(image.id, image.block_device_mappings, snapshots);
    log_info("image " + image.id + " available (" + image.name + ", from " + inst.id + ")");
  } catch (const std::exception& e) {
    if (live) instances_.capture_settling(inst.id);
    fail(image, e.what());
  }
  if (live) merge_back(inst);
  if (stopped_by_us) {
    try {
      instances_.start_after_capture(inst.id);
    } catch (const std::exception& e) {
      log_error("instance " + inst.id + " could not be started again after create-image: " + e.what());
    }
  }
}

// The instance's writes during a live capture go back into its own disks.
// Never fails the image (its copy is complete); a merge that cannot finish now
// is finished by the next capture or the next amid start.
void CaptureService::merge_back(const InstanceRecord& inst) {
  try {
    settle_overlays(inst);
  } catch (const std::exception& e) {
    log_error("instance " + inst.id + ": cannot merge its capture overlay back yet: " + e.what());
  }
}

void CaptureService::fail(const ImageRecord& image, const std::string& reason) {
  log_error("image " + image.id + " capture failed: " + reason);
  try {
    rt_.files->remove_dir(rt_.store.image_dir(image.id));
  } catch (const std::exception& e) {
    log_error("image " + image.id + ": cannot remove partial files: " + e.what());
  }
  for (const auto& snap : rt_.catalog.snapshots_of_image(image.id)) rt_.catalog.delete_snapshot(snap.id);
  rt_.catalog.set_image_state(image.id, "failed", "Server.InternalError: " + reason);
}

void CaptureService::recover_interrupted() {
  // A live capture cut short leaves the guest on its capture overlay: merge it
  // back first (also when the image itself was already complete).
  for (const auto& inst : rt_.catalog.list_instances()) {
    if (inst.state == "terminated" || inst.region != rt_.config.region) continue;
    merge_back(inst);
  }
  for (const auto& image : rt_.catalog.list_images()) {
    if (image.state != "pending" || image.source_instance.empty() || image.region != rt_.config.region) continue;
    log_warn("image " + image.id + " was being captured when amid stopped; it failed");
    fail(image, "amid stopped during the capture; run create-image again");
    if (image.restart_source) {
      // The capture stopped a running instance and owes it a start. If amid died
      // while the guest was still shutting down, let the shutdown finish first
      // (forced after the usual timeout), or the guest would end up stopped.
      try {
        auto st = rt_.hypervisor.domain_status(image.source_instance);
        auto inst = rt_.catalog.find_instance(image.source_instance);
        if (inst && inst->state != "terminated") {
          if (st && st->state != DomainRunState::kShutoff && inst->state == "stopping") {
            instances_.shut_down_for_capture(image.source_instance, kShutdownTimeout);
            st = rt_.hypervisor.domain_status(image.source_instance);
          }
          // Off, or stopped and parked (amid's start-up parks stopped instances first).
          bool off = st ? st->state == DomainRunState::kShutoff : inst->state == "stopped";
          if (off) instances_.start_after_capture(image.source_instance);
        }
      } catch (const std::exception& e) {
        log_error("instance " + image.source_instance + ": cannot start it again after the interrupted capture: " +
                  e.what());
      }
    }
  }
}

}  // namespace amid
