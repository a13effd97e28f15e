// Images (AMIs): register a user's disk as a template, describe, deregister.
//
// Called from worker threads. Each method checks the caller's rights first,
// validates everything, and only then changes the catalog or the store; errors
// are AmidErrors with EC2 codes. A template file is made read-only when it
// becomes available and is never opened for writing again.
#pragma once

#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/block_device_mapping.h"
#include "daemon/services/caller.h"
#include "daemon/services/image_visibility.h"
#include "daemon/services/runtime.h"

namespace amid {

struct RegisterImageRequest {
  std::string name;
  std::string description;
  std::string disk_path;  // read once, here, after inspection; never handed to libvirt
  std::string architecture = "x86_64";
  std::string virtualization_type = "hvm";
  std::string root_device_type = "ebs";
  // paravirtual only: direct kernel boot, as AKI/ARI did on EC2.
  std::string kernel_path, ramdisk_path, kernel_cmdline;
  BlockDeviceMappings block_device_mappings;  // the image's own, besides its root
};

// ModifyImageAttribute's launchPermission change, checked: accounts are 12 digits
// of an account that exists, groups are `all`.
struct LaunchPermissionEdit {
  LaunchPermissions add, remove;
};

inline constexpr std::size_t kMaxLaunchPermissions = 1000;  // per request and per image

inline constexpr std::uint64_t kMaxKernelBytes = 256ull << 20;
inline constexpr std::uint64_t kMaxRamdiskBytes = 1024ull << 20;

class ImageService {
 public:
  // The region's store, for copy-image reading this region's files from another.
  RegionFiles& files() const { return *rt_.files; }
  explicit ImageService(Runtime& rt) : rt_(rt) {}
  // The region this service (and its store and libvirt connection) serves.
  const std::string& region() const { return rt_.settings.region; }

  ImageRecord register_image(const Caller& caller, const RegisterImageRequest& request);
  // All images the caller may see, or exactly `ids` (InvalidAMIID.NotFound if one is not).
  // Deprecated images of others are listed only when named or include_deprecated
  // (services/image_visibility.h).
  // `scope` narrows the answer further (EC2: the lists intersect). Tags of images
  // the caller does not own are left out (EC2 does not share tags).
  std::vector<ImageRecord> describe_images(const Caller& caller, const std::vector<std::string>& ids,
                                           bool include_deprecated = false, const ImageScope& scope = {});
  void check_scope(const ImageScope& scope) const;  // InvalidParameterValue naming the list
  // describe_images without ids, one image at a time, for a page or a filter over a
  // large catalog: `narrow` is what the catalog leaves out before reading (its
  // region and live_only are set here). With narrow.by_id the images come in id
  // order after narrow.after_id, read narrow.limit at a time (0: all at once);
  // otherwise in describe_images' order. `take` gets each image the caller sees,
  // as describe_images shows it, and returns false to stop.
  void each_described_image(const Caller& caller, bool include_deprecated, const ImageScope& scope,
                            ImageQuery narrow, const std::function<bool(ImageRecord&)>& take);

  // Launch permissions (EC2's ModifyImageAttribute, DescribeImageAttribute and
  // ResetImageAttribute for launchPermission), for the image's owner (or an admin).
  // A caller who only may launch the image gets AuthFailure; one who cannot see it
  // InvalidAMIID.NotFound. Adding the owner's own account changes nothing (the
  // owner may always launch).
  void modify_launch_permissions(const Caller& caller, const std::string& id, const LaunchPermissionEdit& edit);
  LaunchPermissions launch_permissions(const Caller& caller, const std::string& id);
  void reset_launch_permissions(const Caller& caller, const std::string& id);
  // A UserId checked: 12 digits (InvalidAMIAttributeItemValue) naming an account
  // that exists here (InvalidParameterValue); `field` names it in messages.
  std::string check_account(const std::string& field, const std::string& value) const;
  // Whether an account (a uid) exists; getpwuid by default (tests replace it).
  void set_account_lookup(std::function<bool(uid_t)> exists) { account_exists_ = std::move(exists); }
  // Refused with OperationNotPermitted while deregistration protection is on, or
  // within the 24 h after protection with a cooldown was disabled.
  void deregister_image(const Caller& caller, const std::string& id);
  // An available image the caller may launch (deprecated ones too, as on EC2);
  // throws InvalidAMIID.* otherwise.
  ImageRecord launchable_image(const Caller& caller, const std::string& id);
  // The image if the caller owns it (or is an admin); those who cannot see it get
  // InvalidAMIID.NotFound, those it is shared with AuthFailure saying who may `what`.
  ImageRecord owned_image(const Caller& caller, const std::string& id, const char* what = "change it");
  // Removes files and rows of deregistered images nothing depends on any more: no
  // instance that is not terminated was launched from it or names one of its
  // snapshots, no volume sits on one of its snapshots, and no live image's
  // mappings name one of its snapshots. Takes rt.image_refs_mu.
  void reclaim_unused();

  // EC2's EnableImageDeregistrationProtection / DisableImageDeregistrationProtection,
  // for the image's owner. Return EC2's answer: enabled-without-cooldown,
  // enabled-with-cooldown, disabled, or disabled-after-<time> (a cooldown runs).
  std::string enable_deregistration_protection(const Caller& caller, const std::string& id, bool with_cooldown);
  std::string disable_deregistration_protection(const Caller& caller, const std::string& id);
  // EC2's EnableImageDeprecation: `deprecate_at` is a UTC time in the future, at
  // most 10 years ahead, rounded up to the whole minute. Returns the time set.
  std::string enable_deprecation(const Caller& caller, const std::string& id, const std::string& deprecate_at);
  void disable_deprecation(const Caller& caller, const std::string& id);

  // The clock cooldowns and deprecation times are read against (tests move it).
  void set_clock(std::function<std::time_t()> clock) { clock_ = std::move(clock); }
  std::time_t now() const { return clock_(); }

  // How long deregistration stays refused after protection with a cooldown is disabled.
  static constexpr std::time_t kProtectionCooldownSeconds = 24 * 3600;
  static constexpr int kMaxDeprecationYears = 10;

 private:
  // The image if the caller may see it (InvalidAMIID.* otherwise).
  ImageRecord visible_image(const Caller& caller, const std::string& id);
  // A cooldown that has run out shows as plain "disabled".
  void settle_protection(ImageRecord& rec) const;
  Runtime& rt_;
  std::function<std::time_t()> clock_ = [] { return std::time(nullptr); };
  std::function<bool(uid_t)> account_exists_;
  // Serialises changes of protection with deregistration (check, then change).
  std::mutex protection_mu_;
};


void check_image_id(const std::string& id);  // InvalidAMIID.Malformed

}  // namespace amid
