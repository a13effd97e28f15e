#include "daemon/services/image_service.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "daemon/host/user_file.h"
#include "daemon/host/fs.h"
#include "daemon/services/image_visibility.h"
#include "daemon/state/iso_time.h"
#include "daemon/host/log.h"
#include "daemon/services/image_jobs.h"
#include "daemon/services/render.h"
#include "daemon/services/validate.h"

namespace amid {

void check_image_id(const std::string& id) {
  if (!is_valid_id(id, "ami")) {
    throw AmidError(codes::kInvalidAmiIdMalformed,
                    "ImageId: '" + id + "' is not an image id (ami- and 17 hex digits)");
  }
}

ImageRecord ImageService::register_image(const Caller& caller, const RegisterImageRequest& req) {
  ImageRecord rec;
  rec.name = validate_image_name(req.name).value_or_throw();
  rec.description = validate_description(req.description).value_or_throw();
  rec.architecture = validate_architecture(req.architecture).value_or_throw();
  rec.virtualization_type = validate_virtualization_type(req.virtualization_type).value_or_throw();
  rec.root_device_type = validate_root_device_type(req.root_device_type).value_or_throw();
  bool pv = rec.virtualization_type == "paravirtual";
  if (pv && req.kernel_path.empty()) {
    throw AmidError(codes::kMissingParameter,
                    "KernelPath: a paravirtual image boots its kernel directly; give --kernel "
                    "(and usually --ramdisk and --kernel-command-line)");
  }
  if (!pv && (!req.kernel_path.empty() || !req.ramdisk_path.empty() || !req.kernel_cmdline.empty())) {
    throw AmidError(codes::kInvalidParameterValue,
                    "KernelPath: a kernel, ramdisk or command line needs --virtualization-type "
                    "paravirtual; hvm images boot their own bootloader");
  }
  if (req.kernel_cmdline.size() > 2048) {
    throw AmidError(codes::kInvalidParameterValue, "KernelCommandLine: longer than 2048 characters");
  }
  // The caller's files are opened once, with the caller's rights, and read only
  // through those descriptors from here on (host/user_file.h).
  UserFile kernel, ramdisk;
  if (pv) {
    kernel = open_as_user(caller.identity(), "KernelPath", req.kernel_path, kMaxKernelBytes);
    if (!req.ramdisk_path.empty()) ramdisk = open_as_user(caller.identity(), "RamdiskPath", req.ramdisk_path, kMaxRamdiskBytes);
  }
  auto check_snapshot = [&](const BlockDeviceMapping& m) {
    auto snap = rt_.catalog.find_snapshot(*m.ebs->snapshot_id);
    if (!snap || !caller.may_manage(snap->owner) || snap->region != rt_.settings.region) {
      throw AmidError("InvalidSnapshot.NotFound", "BlockDeviceMappings: " + m.device_name +
                                                      ": the snapshot '" + *m.ebs->snapshot_id +
                                                      "' does not exist");
    }
  };
  for (const auto& m : req.block_device_mappings) {
    if (guest_device(m.device_name) == "vda") {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + " is the root device; its disk is --disk");
    }
    if (m.no_device) {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + ": no_device has nothing to remove at register");
    }
    if (m.ebs && m.ebs->snapshot_id) {
      check_snapshot(m);
    } else if (m.ebs && !m.ebs->volume_size_gib) {
      throw AmidError(codes::kInvalidParameterValue,
                      "BlockDeviceMappings: " + m.device_name + ": volume_size is required for a new volume");
    }
  }
  const std::uint64_t cap = rt_.settings.max_image_gib * 1024ull * 1024 * 1024;
  UserFile disk = open_as_user(caller.identity(), "DiskPath", req.disk_path, ~0ull);
  DiskInfo info = check_importable(rt_.qemu_img.info(disk.proc_path()), req.disk_path, cap)
                      .value_or_throw();

  rec.id = new_id("ami");
  rec.owner = caller.account;
  rec.region = rt_.settings.region;
  rec.state = ImageState::kPending;
  rec.creation_date = iso_now();
  rec.size_bytes = info.virtual_size;
  rec.disk_file = rt_.store.image_disk(rec.id);
  rec.source = "file:" + req.disk_path;
  if (pv) {
    rec.kernel_id = new_id("aki");
    rec.kernel_file = rt_.store.image_dir(rec.id) + "/vmlinuz";
    if (!req.ramdisk_path.empty()) {
      rec.ramdisk_id = new_id("ari");
      rec.ramdisk_file = rt_.store.image_dir(rec.id) + "/initrd.img";
    }
    rec.kernel_cmdline = req.kernel_cmdline;
  }
  // The template is the image's root snapshot, as an EBS-backed AMI's root is.
  SnapshotRecord root;
  root.id = new_id("snap");
  root.owner = rec.owner;
  root.region = rec.region;
  root.description = "Root disk of " + rec.id + " (registered from " + req.disk_path + ")";
  root.state = "completed";
  root.start_time = rec.creation_date;
  root.volume_size_gib = gib_ceil(rec.size_bytes);
  root.file = rec.disk_file;
  root.image_id = rec.id;
  // The image's mappings: its root snapshot, then what the caller added. They are
  // in the row from the start, so that reclaim_unused sees the snapshots they name.
  BlockDeviceMappings mappings;
  if (rec.root_device_type == "ebs") {
    BlockDeviceMapping m;
    m.device_name = kRootDeviceName;
    EbsSpec ebs;
    ebs.volume_size_gib = root.volume_size_gib;
    ebs.snapshot_id = root.id;
    m.ebs = ebs;
    mappings.push_back(m);
  }
  for (const auto& m : req.block_device_mappings) mappings.push_back(m);
  rec.block_device_mappings = mappings;
  {
    // A snapshot checked above may belong to a deregistered image that was
    // reclaimed since; checked again where reclaim cannot run.
    std::lock_guard lock(rt_.image_refs_mu);
    for (const auto& m : req.block_device_mappings) {
      if (m.ebs && m.ebs->snapshot_id) check_snapshot(m);
    }
    if (!rt_.catalog.insert_image_if_name_free(rec)) {
      throw AmidError(codes::kInvalidAmiNameDuplicate,
                      "Name: you already have an image named '" + rec.name + "' in " + rec.region);
    }
  }
  log_info("image " + rec.id + " registering from " + req.disk_path);
  std::string dir = rt_.store.image_dir(rec.id);
  RegionFiles& files = *rt_.files;
  // Converted where it goes; for a region on another host, on this machine first.
  const bool here = files.on_this_host();
  std::string tmp = here ? rec.disk_file + ".tmp" : files.staging_dir() + "/" + rec.id + ".qcow2";
  try {
    files.make_dir(dir);
    rt_.qemu_img.convert_to_qcow2(disk.proc_path(), info.format, tmp);
    // Read-only from here on, and private: QEMU reads it as a backing file (libvirt
    // gives QEMU's user access when it runs as one).
    ::chmod(tmp.c_str(), 0440);
    if (here) {
      fs::fsync_path(tmp);
      fs::rename_durable(tmp, rec.disk_file);
    } else {
      files.put(tmp, rec.disk_file, 0440);
      ::unlink(tmp.c_str());
    }
    if (pv) {
      files.put(kernel.proc_path(), rec.kernel_file, 0440);
      if (!rec.ramdisk_file.empty()) files.put(ramdisk.proc_path(), rec.ramdisk_file, 0440);
    }
    write_manifest(rt_, rec, {{"Source", rec.source}, {"Disk", "disk.qcow2"}});
    rt_.catalog.insert_snapshot(root);
    rt_.catalog.set_image_state(rec.id, ImageState::kAvailable);
    rec.state = ImageState::kAvailable;
  } catch (const AmidError& e) {
    log_error("image " + rec.id + " registration failed: " + e.what());
    try {
      ::unlink(tmp.c_str());
      files.remove_dir(dir);
    } catch (...) {
    }
    rt_.catalog.delete_image(rec.id);
    throw;
  }
  log_info("image " + rec.id + " available (" + rec.name + ")");
  return rec;
}

ImageRecord ImageService::visible_image(const Caller& caller, const std::string& id) {
  check_image_id(id);
  auto rec = rt_.catalog.find_image(id);
  if (!rec || rec->region != rt_.settings.region ||
      !describe_shows(image_access(caller, *rec), *rec, DescribeScope{true, false, now()})) {
    throw AmidError(codes::kInvalidAmiIdNotFound, "The image id '" + id + "' does not exist");
  }
  settle_protection(*rec);
  return *rec;
}

ImageRecord ImageService::owned_image(const Caller& caller, const std::string& id, const char* what) {
  ImageRecord rec = visible_image(caller, id);
  if (image_access(caller, rec) != ImageAccess::kOwner) {
    // As EC2: the image is there (it is shared with the caller), it is not theirs.
    throw AmidError(codes::kAuthFailure, "ImageId: not authorized for image " + id + ": it is shared with you; only its owner (" +
                                             rec.owner + ") may " + what);
  }
  return rec;
}

namespace {

bool is_account_id(const std::string& s) {
  return s.size() == 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool passwd_has_uid(uid_t uid) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  struct passwd pw{};
  struct passwd* found = nullptr;
  return ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr;
}

}  // namespace

std::string ImageService::check_account(const std::string& field, const std::string& value) const {
  if (!is_account_id(value)) {
    throw AmidError(codes::kInvalidAmiAttributeItemValue,
                    field + ": invalid attribute item value \"" + value +
                        "\" for userId item type (an account id is 12 digits, as 000000001000)");
  }
  const unsigned long long uid = std::stoull(value);
  const bool exists = uid < 0xffffffffull && (account_exists_ ? account_exists_(static_cast<uid_t>(uid))
                                                              : passwd_has_uid(static_cast<uid_t>(uid)));
  if (!exists) {
    throw AmidError(codes::kInvalidAmiAttributeItemValue,
                    field + ": account " + value + " does not exist on this host (no user has uid " +
                        std::to_string(uid) + ")");
  }
  return value;
}

void ImageService::check_scope(const ImageScope& scope) const {
  for (const auto& o : scope.owners) {
    // amazon, aws-marketplace and aws-backup-vault are EC2's aliases: no image here has them.
    if (o == "self" || is_account_id(o) || o == "amazon" || o == "aws-marketplace" || o == "aws-backup-vault") continue;
    throw AmidError(codes::kInvalidParameterValue, "Owners: '" + o + "' is neither self nor an account id (12 digits)");
  }
  for (const auto& u : scope.executable_users) {
    if (u == "self" || u == "all" || is_account_id(u)) continue;
    throw AmidError(codes::kInvalidParameterValue,
                    "ExecutableUsers: '" + u + "' is neither self, all nor an account id (12 digits)");
  }
}

void ImageService::modify_launch_permissions(const Caller& caller, const std::string& id,
                                             const LaunchPermissionEdit& edit) {
  ImageRecord rec = owned_image(caller, id, "modify its attributes");
  LaunchPermissions add;
  for (const auto& p : edit.add) {
    if (p.kind == "user" && p.value == rec.owner) continue;  // the owner may always launch it
    add.push_back(p);
  }
  std::set<LaunchPermission> after(rec.launch_permissions.begin(), rec.launch_permissions.end());
  for (const auto& p : add) after.insert(p);
  for (const auto& p : edit.remove) after.erase(p);
  if (after.size() > kMaxLaunchPermissions) {
    throw AmidError(codes::kInvalidParameterValue,
                    "LaunchPermission: image " + id + " would have more than " +
                        std::to_string(kMaxLaunchPermissions) + " launch permissions");
  }
  rt_.catalog.edit_launch_permissions(rec.id, add, edit.remove);
  log_info("image " + id + " launch permissions: " + std::to_string(add.size()) + " added, " +
           std::to_string(edit.remove.size()) + " removed" + " by " + caller.account);
}

LaunchPermissions ImageService::launch_permissions(const Caller& caller, const std::string& id) {
  return owned_image(caller, id, "describe its attributes").launch_permissions;
}

void ImageService::reset_launch_permissions(const Caller& caller, const std::string& id) {
  ImageRecord rec = owned_image(caller, id, "reset its attributes");
  rt_.catalog.reset_launch_permissions(rec.id);
  log_info("image " + id + " launch permissions reset by " + caller.account);
}

void ImageService::settle_protection(ImageRecord& rec) const {
  if (rec.protected_until.empty()) return;
  auto until = read_stored_time(rec.protected_until);
  if (!until || *until <= now()) rec.protected_until.clear();
}

std::vector<ImageRecord> ImageService::describe_images(const Caller& caller, const std::vector<std::string>& ids,
                                                       bool include_deprecated, const ImageScope& scope) {
  check_scope(scope);
  std::vector<ImageRecord> out;
  if (!ids.empty()) {
    std::set<std::string> seen;
    for (const auto& id : ids) {
      if (!seen.insert(id).second) continue;
      ImageRecord rec = visible_image(caller, id);
      if (!in_scope(caller, scope, rec)) continue;
      hide_foreign_tags(caller, rec);
      out.push_back(std::move(rec));
    }
    return out;
  }
  each_described_image(caller, include_deprecated, scope, {}, [&](ImageRecord& rec) {
    out.push_back(std::move(rec));
    return true;
  });
  return out;
}

void ImageService::each_described_image(const Caller& caller, bool include_deprecated, const ImageScope& scope,
                                        ImageQuery narrow, const std::function<bool(ImageRecord&)>& take) {
  check_scope(scope);
  narrow.region = rt_.settings.region;
  narrow.live_only = true;  // a deregistered image is gone for everyone (describe_shows)
  const DescribeScope visibility{false, include_deprecated, now()};
  while (true) {
    std::vector<ImageRecord> chunk = rt_.catalog.list_images(narrow);
    const std::string last = chunk.empty() ? std::string() : chunk.back().id;  // `take` may move records
    for (auto& rec : chunk) {
      if (!describe_shows(image_access(caller, rec), rec, visibility)) continue;
      if (!in_scope(caller, scope, rec)) continue;
      settle_protection(rec);
      hide_foreign_tags(caller, rec);
      if (!take(rec)) return;
    }
    if (!narrow.by_id || narrow.limit == 0 || chunk.size() < narrow.limit) return;
    narrow.after_id = last;
  }
}

ImageRecord ImageService::launchable_image(const Caller& caller, const std::string& id) {
  ImageRecord rec = visible_image(caller, id);
  if (rec.state != ImageState::kAvailable) {
    throw AmidError(codes::kInvalidAmiIdUnavailable,
                    "ImageId: image " + id + " is " + to_string(rec.state) + ", not available");
  }
  return rec;
}

void ImageService::deregister_image(const Caller& caller, const std::string& id) {
  {
    std::lock_guard lock(protection_mu_);
    ImageRecord rec = owned_image(caller, id, "deregister it");
    if (rec.state == ImageState::kPending) {
      throw AmidError(codes::kInvalidAmiIdUnavailable,
                      "ImageId: image " + id + " is still pending; wait until it is available");
    }
    if (rec.deregistration_protection != "disabled") {
      throw AmidError(codes::kOperationNotPermitted,
                      "ImageId: image " + id + " has deregistration protection (" + rec.deregistration_protection +
                          "); run disable-image-deregistration-protection --image-id " + id + " first" +
                          (rec.deregistration_protection == "enabled-with-cooldown"
                               ? ", then wait 24 hours (its cooldown)"
                               : ""));
    }
    if (!rec.protected_until.empty()) {
      throw AmidError(codes::kOperationNotPermitted,
                      "ImageId: image " + id +
                          " had deregistration protection with a 24-hour cooldown; it can be deregistered after " +
                          rec.protected_until);
    }
    rt_.catalog.set_image_state(id, ImageState::kDeregistered);
  }
  log_info("image " + id + " deregistered");
  reclaim_unused();
}

std::string ImageService::enable_deregistration_protection(const Caller& caller, const std::string& id,
                                                           bool with_cooldown) {
  std::lock_guard lock(protection_mu_);
  ImageRecord rec = owned_image(caller, id, "change its deregistration protection");
  const std::string state = with_cooldown ? "enabled-with-cooldown" : "enabled-without-cooldown";
  rt_.catalog.set_image_protection(rec.id, state, "");
  log_info("image " + id + " deregistration protection " + state);
  return state;
}

std::string ImageService::disable_deregistration_protection(const Caller& caller, const std::string& id) {
  std::lock_guard lock(protection_mu_);
  ImageRecord rec = owned_image(caller, id, "change its deregistration protection");
  if (rec.deregistration_protection == "disabled") return deregistration_protection_state(rec);  // no change
  rec.protected_until.clear();
  if (rec.deregistration_protection == "enabled-with-cooldown") {
    // EC2: protection with a cooldown holds for 24 hours after it is disabled.
    rec.protected_until = iso_time(now() + kProtectionCooldownSeconds);
  }
  rec.deregistration_protection = "disabled";
  rt_.catalog.set_image_protection(rec.id, rec.deregistration_protection, rec.protected_until);
  const std::string state = deregistration_protection_state(rec);
  log_info("image " + id + " deregistration protection " + state);
  return state;
}

std::string ImageService::enable_deprecation(const Caller& caller, const std::string& id,
                                             const std::string& deprecate_at) {
  ParsedTime parsed = parse_iso_utc(deprecate_at, "DeprecateAt").value_or_throw();
  const std::time_t t = now();
  if (parsed.seconds <= t) {
    throw AmidError(codes::kInvalidParameterValue,
                    "DeprecateAt: " + deprecate_at + " is not in the future (now: " + iso_time(t) + ")");
  }
  // EC2 keeps whole minutes; amid rounds up, so the time stays in the future.
  std::time_t at = parsed.seconds - parsed.seconds % 60;
  if (parsed.past_the_minute) at += 60;
  const std::time_t latest = add_years(t, kMaxDeprecationYears);
  if (at > latest) {
    throw AmidError(codes::kInvalidParameterValue,
                    "DeprecateAt: " + deprecate_at + " is more than " + std::to_string(kMaxDeprecationYears) +
                        " years from now (the latest is " + iso_time(latest) + ")");
  }
  ImageRecord rec = owned_image(caller, id, "change its deprecation");
  const std::string when = iso_time(at);
  rt_.catalog.set_image_deprecation(rec.id, when);
  log_info("image " + id + " deprecated from " + when);
  return when;
}

void ImageService::disable_deprecation(const Caller& caller, const std::string& id) {
  ImageRecord rec = owned_image(caller, id, "change its deprecation");
  rt_.catalog.set_image_deprecation(rec.id, "");
  log_info("image " + id + " no longer deprecated");
}

void ImageService::reclaim_unused() {
  std::lock_guard lock(rt_.image_refs_mu);
  std::vector<ImageRecord> images = rt_.catalog.list_images();
  // Snapshots that live images and instances still name: a launch turns each
  // into a volume that sits on the snapshot's file.
  std::set<std::string> named;
  try {
    auto note = [&](const BlockDeviceMappings& mappings) {
      for (const auto& m : mappings) {
        if (m.ebs && m.ebs->snapshot_id) named.insert(*m.ebs->snapshot_id);
      }
    };
    for (const auto& img : images) {
      if (!img.is_dead() && img.block_device_mappings) note(*img.block_device_mappings);
    }
    for (const auto& inst : rt_.catalog.list_instances()) {
      if (inst.state != InstanceState::kTerminated) note(inst.block_device_mappings);
    }
  } catch (const std::exception& e) {
    log_error("reclaim: cannot read the mappings in the catalog (" + std::string(e.what()) +
              "); no image files reclaimed");
    return;
  }
  std::set<std::string> being_copied;  // copy-image reads their files
  for (const auto& img : images) {
    if (img.state == ImageState::kPending && img.source.rfind("copy:", 0) == 0) {
      being_copied.insert(img.source.substr(img.source.find('/') + 1));
    }
  }
  // Until nothing more goes: reclaiming a thin image may free the image it sat on.
  std::set<std::string> reclaimed;
  for (bool more = true; more;) {
    more = false;
    for (const auto& rec : images) {
      if (rec.state != ImageState::kDeregistered || rec.region != rt_.settings.region) continue;  // files in this region's store
      if (reclaimed.count(rec.id) || being_copied.count(rec.id)) continue;
      if (rt_.catalog.count_instances_using(rec.id) > 0) continue;
      if (rt_.catalog.count_volumes_using_image(rec.id) > 0) continue;
      // A thin snapshot of another image sits on one of its files.
      if (rt_.catalog.count_snapshots_based_on_image(rec.id) > 0) continue;
      auto snapshots = rt_.catalog.snapshots_of_image(rec.id);
      if (std::any_of(snapshots.begin(), snapshots.end(), [&](const SnapshotRecord& s) { return named.count(s.id); })) {
        continue;
      }
      // Files first, rows last: a crash in between leaves rows that the next
      // reclaim (at the latest at start-up) finishes.
      rt_.files->remove_dir(rt_.store.image_dir(rec.id));
      rt_.catalog.delete_image_and_snapshots(rec.id);
      log_info("image " + rec.id + " files reclaimed");
      reclaimed.insert(rec.id);
      more = true;
    }
  }
}

}  // namespace amid
