#include "daemon/image_visibility.h"

#include "daemon/iso_time.h"

namespace amid {

ImageAccess image_access(const Caller& caller, const ImageRecord& image) {
  return caller.may_manage(image.owner) ? ImageAccess::kOwner : ImageAccess::kNone;
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
