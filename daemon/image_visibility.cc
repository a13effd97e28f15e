#include "daemon/image_visibility.h"

#include "daemon/iso_time.h"

namespace amid {

ImageAccess image_access(const Caller& caller, const ImageRecord& image) {
  if (caller.may_manage(image.owner)) return ImageAccess::kOwner;
  if (is_public(image) || shared_with(image, caller.account)) return ImageAccess::kLaunchPermission;
  return ImageAccess::kNone;
}

bool is_public(const ImageRecord& image) {
  for (const auto& p : image.launch_permissions) {
    if (p.kind == "group" && p.value == "all") return true;
  }
  return false;
}

bool shared_with(const ImageRecord& image, const std::string& account) {
  for (const auto& p : image.launch_permissions) {
    if (p.kind == "user" && p.value == account) return true;
  }
  return false;
}

bool is_deprecated(const ImageRecord& image, std::time_t now) {
  auto at = read_stored_time(image.deprecation_time);
  return at && *at <= now;
}

bool describe_shows(ImageAccess access, const ImageRecord& image, const DescribeScope& scope) {
  if (access == ImageAccess::kNone || image.state == "deregistered") return false;
  if (access == ImageAccess::kOwner) return true;
  return !is_deprecated(image, scope.now) || scope.named || scope.include_deprecated;
}

}  // namespace amid
