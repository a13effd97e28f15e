// Images (AMIs): register a user's disk as a template, describe, deregister.
//
// Called from worker threads. Each method checks the caller's rights first,
// validates everything, and only then changes the catalog or the store; errors
// are AmidErrors with EC2 codes. A template file is made read-only when it
// becomes available and is never opened for writing again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/block_device_mapping.h"
#include "daemon/caller.h"
#include "daemon/runtime.h"

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

inline constexpr std::uint64_t kMaxKernelBytes = 256ull << 20;
inline constexpr std::uint64_t kMaxRamdiskBytes = 1024ull << 20;

class ImageService {
 public:
  explicit ImageService(Runtime& rt) : rt_(rt) {}

  ImageRecord register_image(const Caller& caller, const RegisterImageRequest& request);
  // All images the caller may see, or exactly `ids` (InvalidAMIID.NotFound if one is not).
  std::vector<ImageRecord> describe_images(const Caller& caller, const std::vector<std::string>& ids);
  void deregister_image(const Caller& caller, const std::string& id);
  // An available image the caller may launch; throws InvalidAMIID.* otherwise.
  ImageRecord launchable_image(const Caller& caller, const std::string& id);
  // Removes files and rows of deregistered images nothing depends on any more.
  void reclaim_unused();

 private:
  ImageRecord visible_image(const Caller& caller, const std::string& id);
  // Checks a file the caller names: absolute, a regular file they may read, within max_bytes.
  Runtime& rt_;
};

void check_image_id(const std::string& id);  // InvalidAMIID.Malformed

}  // namespace amid
