#include "daemon/services/image_visibility.h"

#include <algorithm>

#include "daemon/state/iso_time.h"

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
  if (access == ImageAccess::kNone || image.state == ImageState::kDeregistered) return false;
  if (access == ImageAccess::kOwner) return true;
  return !is_deprecated(image, scope.now) || scope.named || scope.include_deprecated;
}

bool in_scope(const Caller& caller, const ImageScope& scope, const ImageRecord& rec) {
  if (!scope.owners.empty() &&
      std::none_of(scope.owners.begin(), scope.owners.end(), [&](const std::string& o) {
        return rec.owner == (o == "self" ? caller.account : o);
      })) {
    return false;
  }
  if (!scope.executable_users.empty() &&
      std::none_of(scope.executable_users.begin(), scope.executable_users.end(), [&](const std::string& u) {
        if (u == "all") return is_public(rec);
        // self: images you own or that are shared with you by account (not via `all`).
        if (u == "self" || u == caller.account) return rec.owner == caller.account || shared_with(rec, caller.account);
        // Another account: your images shared with it (admins: anyone's).
        return caller.may_manage(rec.owner) && shared_with(rec, u);
      })) {
    return false;
  }
  return true;
}

void hide_foreign_tags(const Caller& caller, ImageRecord& rec) {
  if (image_access(caller, rec) != ImageAccess::kOwner) rec.tags.clear();
}

}  // namespace amid
