// Which images a caller sees in DescribeImages, and what of them, in one place.
//
// EC2's rules: a deregistered image is gone for everyone. The owner (and amid's
// admins) always see their images, deprecated or not. Anyone else who may launch
// an image (a launch permission names their account, or the group `all`) sees a
// deprecated one only when they name it by id or ask for IncludeDeprecated.
// Pure functions; any thread.
#pragma once

#include <ctime>

#include "daemon/services/caller.h"
#include <string>
#include <vector>

#include "daemon/state/records.h"

namespace amid {

// How a caller stands to an image.
enum class ImageAccess {
  kNone,              // may not see it
  kLaunchPermission,  // may see and launch it (shared with them, or public)
  kOwner,             // owns it, or is an admin: sees and manages it
};

// kOwner for owners and admins; kLaunchPermission when the image's launch
// permissions name the caller's account or the group `all`; else kNone.
ImageAccess image_access(const Caller& caller, const ImageRecord& image);

// EC2's Public: a launch permission for the group `all`.
bool is_public(const ImageRecord& image);
// Whether a launch permission names `account` itself (not the group `all`).
bool shared_with(const ImageRecord& image, const std::string& account);

// True once the image's DeprecationTime has passed.
bool is_deprecated(const ImageRecord& image, std::time_t now);

struct DescribeScope {
  bool named = false;               // the caller named this image in ImageIds
  bool include_deprecated = false;  // IncludeDeprecated
  std::time_t now = 0;
};

// Whether DescribeImages shows `image` to a caller with `access`.
bool describe_shows(ImageAccess access, const ImageRecord& image, const DescribeScope& scope);

// DescribeImages' Owners and ExecutableUsers (EC2's scoping lists; empty: not given).
// Owners: `self` or account ids. ExecutableUsers: `self`, `all` or account ids.
struct ImageScope {
  std::vector<std::string> owners, executable_users;
};

// EC2: Owners and ExecutableUsers each narrow the images the caller may launch;
// an image is kept when it matches one entry of every list given.
bool in_scope(const Caller& caller, const ImageScope& scope, const ImageRecord& image);

// Tags are the owner's own: EC2 does not show them to those who may only launch
// the image. Clears them for such a caller.
void hide_foreign_tags(const Caller& caller, ImageRecord& image);

}  // namespace amid
