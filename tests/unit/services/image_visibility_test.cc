// services/image_visibility.h: EC2's rule for deprecated images in DescribeImages,
// for owners and for callers with launch permission (shared with them, or public).
#include "daemon/services/image_visibility.h"

#include <gtest/gtest.h>

#include "daemon/state/iso_time.h"

namespace amid {
namespace {

constexpr std::time_t kNow = 1'800'000'000;

ImageRecord image_deprecated_at(std::time_t when) {
  ImageRecord r;
  r.id = "ami-0123456789abcdef0";
  r.owner = "000000001000";
  r.state = ImageState::kAvailable;
  r.deprecation_time = iso_time(when);
  return r;
}

Caller caller(uid_t uid, bool admin = false) {
  Caller c;
  c.uid = uid;
  c.admin = admin;
  c.account = "00000000" + std::to_string(uid);
  return c;
}

TEST(ImageVisibility, AccessIsOwnershipOrALaunchPermission) {
  ImageRecord r = image_deprecated_at(kNow);
  EXPECT_EQ(image_access(caller(1000), r), ImageAccess::kOwner);
  EXPECT_EQ(image_access(caller(0, true), r), ImageAccess::kOwner) << "admins see everything";
  EXPECT_EQ(image_access(caller(2000), r), ImageAccess::kNone);
  EXPECT_FALSE(is_public(r));

  r.launch_permissions = {{"user", "000000002000"}};
  EXPECT_EQ(image_access(caller(2000), r), ImageAccess::kLaunchPermission);
  EXPECT_EQ(image_access(caller(3000), r), ImageAccess::kNone);
  EXPECT_TRUE(shared_with(r, "000000002000"));
  EXPECT_FALSE(is_public(r));

  r.launch_permissions.push_back({"group", "all"});
  EXPECT_EQ(image_access(caller(3000), r), ImageAccess::kLaunchPermission);
  EXPECT_TRUE(is_public(r));
  EXPECT_FALSE(shared_with(r, "000000003000")) << "public is not shared by account";
  EXPECT_EQ(image_access(caller(1000), r), ImageAccess::kOwner);
}

TEST(ImageVisibility, DeprecatedOnlyOnceTheTimeHasCome) {
  EXPECT_FALSE(is_deprecated(image_deprecated_at(kNow + 1), kNow));
  EXPECT_TRUE(is_deprecated(image_deprecated_at(kNow), kNow));
  EXPECT_TRUE(is_deprecated(image_deprecated_at(kNow - 60), kNow));
  ImageRecord never;
  EXPECT_FALSE(is_deprecated(never, kNow));
}

TEST(ImageVisibility, OwnersAlwaysSeeTheirDeprecatedImages) {
  ImageRecord r = image_deprecated_at(kNow - 60);
  EXPECT_TRUE(describe_shows(ImageAccess::kOwner, r, {false, false, kNow}));
  EXPECT_TRUE(describe_shows(ImageAccess::kOwner, r, {true, false, kNow}));
}

TEST(ImageVisibility, OthersSeeADeprecatedImageOnlyByIdOrWhenTheyAsk) {
  ImageRecord deprecated = image_deprecated_at(kNow - 60);
  EXPECT_FALSE(describe_shows(ImageAccess::kLaunchPermission, deprecated, {false, false, kNow}));
  EXPECT_TRUE(describe_shows(ImageAccess::kLaunchPermission, deprecated, {true, false, kNow})) << "named by id";
  EXPECT_TRUE(describe_shows(ImageAccess::kLaunchPermission, deprecated, {false, true, kNow})) << "IncludeDeprecated";
  // Not deprecated yet, or never: listed.
  EXPECT_TRUE(describe_shows(ImageAccess::kLaunchPermission, image_deprecated_at(kNow + 60), {false, false, kNow}));
  ImageRecord plain;
  plain.state = ImageState::kAvailable;
  EXPECT_TRUE(describe_shows(ImageAccess::kLaunchPermission, plain, {false, false, kNow}));
}

TEST(ImageVisibility, NobodySeesADeregisteredImageOrOneTheyHaveNoAccessTo) {
  ImageRecord r = image_deprecated_at(kNow + 60);
  EXPECT_FALSE(describe_shows(ImageAccess::kNone, r, {true, true, kNow}));
  r.state = ImageState::kDeregistered;
  EXPECT_FALSE(describe_shows(ImageAccess::kOwner, r, {true, true, kNow}));
  EXPECT_FALSE(describe_shows(ImageAccess::kLaunchPermission, r, {true, true, kNow}));
}

}  // namespace
}  // namespace amid
