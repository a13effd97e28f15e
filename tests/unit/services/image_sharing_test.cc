// Image sharing (EC2 launch permissions) through the dispatcher with the real
// services (tests/unit/service_fixture.h): ModifyImageAttribute, DescribeImageAttribute
// and ResetImageAttribute; what a user an image is shared with may do (see, launch,
// copy) and may not (modify, deregister, protect, deprecate, tag); Public and the
// is-public filter; DescribeImages' Owners and ExecutableUsers; bad input.
#include <gtest/gtest.h>

#include <string>

#include "daemon/state/iso_time.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

class ImageSharingTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
    // The accounts that exist on this pretend host: alice, bob and carol.
    images_->set_account_lookup([](uid_t uid) { return uid == 1000 || uid == 2000 || uid == 3000; });
    image_ = register_image("web");
    ASSERT_FALSE(image_.empty());
  }

  protocol::Response share(const Json& launch_permission, const Caller& as) {
    return call("ModifyImageAttribute",
                {{"ImageId", image_}, {"Attribute", "launchPermission"}, {"LaunchPermission", launch_permission}}, as);
  }
  protocol::Response share(const Json& launch_permission) { return share(launch_permission, alice_); }
  Json add_user(const Caller& who) { return {{"Add", {{{"UserId", who.account}}}}}; }

  // The ids DescribeImages lists for `as` with `params`.
  std::vector<std::string> listed(const Caller& as, const Json& params = Json::object()) {
    auto r = call("DescribeImages", params, as);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    std::vector<std::string> ids;
    if (r.ok) {
      for (const auto& img : r.body["Images"]) ids.push_back(img["ImageId"]);
    }
    return ids;
  }
  Json permissions(const Caller& as) {
    auto r = call("DescribeImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}}, as);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok ? r.body["LaunchPermissions"] : Json();
  }

  std::string image_;
  const Caller carol_ = ::amid::testing::user_caller(3000);
};

TEST_F(ImageSharingTest, AnUnsharedImageIsPrivate) {
  EXPECT_TRUE(listed(bob_).empty());
  EXPECT_EQ(describe_image(image_)["Public"], false);
  EXPECT_EQ(permissions(alice_), Json::array());
  auto r = call("DescribeImages", {{"ImageIds", {image_}}}, bob_);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
}

TEST_F(ImageSharingTest, ASharedUserSeesLaunchesAndCopiesTheImage) {
  auto r = share(add_user(bob_));
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  EXPECT_EQ(permissions(alice_), Json::parse(R"([{"UserId":")" + bob_.account + R"("}])"));
  EXPECT_EQ(describe_image(image_)["Public"], false) << "shared with one account is not public";

  EXPECT_EQ(listed(bob_), std::vector<std::string>{image_});
  EXPECT_EQ(listed(bob_, {{"ImageIds", {image_}}}), std::vector<std::string>{image_});
  EXPECT_TRUE(listed(carol_).empty()) << "shared with bob only";

  auto launch = call("RunInstances", {{"ImageId", image_}, {"InstanceType", "t3.nano"}}, bob_);
  ASSERT_TRUE(launch.ok) << launch.error_code << ": " << launch.error_message;
  EXPECT_EQ(launch.body["OwnerId"], bob_.account) << "the instance is bob's";
  EXPECT_EQ(call("RunInstances", {{"ImageId", image_}, {"InstanceType", "t3.nano"}}, carol_).error_code,
            codes::kInvalidAmiIdNotFound);

  auto copy = call("CopyImage", {{"SourceRegion", "local-1"}, {"SourceImageId", image_}, {"Name", "bobs web"}}, bob_);
  ASSERT_TRUE(copy.ok) << copy.error_code << ": " << copy.error_message;
  scheduler_.run_posted();
  std::string copied = copy.body["ImageId"];
  auto mine = call("DescribeImages", {{"ImageIds", {copied}}}, bob_);
  ASSERT_TRUE(mine.ok) << mine.error_message;
  EXPECT_EQ(mine.body["Images"][0]["OwnerId"], bob_.account);
  EXPECT_EQ(mine.body["Images"][0]["State"], "available");
  // The copy is bob's own and private: launch permissions are not copied.
  auto copy_permissions = call("DescribeImageAttribute", {{"ImageId", copied}, {"Attribute", "launchPermission"}}, bob_);
  ASSERT_TRUE(copy_permissions.ok) << copy_permissions.error_message;
  EXPECT_EQ(copy_permissions.body["LaunchPermissions"], Json::array());
  EXPECT_EQ(call("DescribeImages", {{"ImageIds", {copied}}}, alice_).error_code, codes::kInvalidAmiIdNotFound);
}

TEST_F(ImageSharingTest, ASharedUserCannotManageTheImage) {
  ASSERT_TRUE(share(add_user(bob_)).ok);
  catalog_->set_tags(image_, {{"team", "web"}});
  auto expect_refused = [&](const std::string& action, const Json& params) {
    auto r = call(action, params, bob_);
    EXPECT_FALSE(r.ok) << action;
    EXPECT_EQ(r.error_code, codes::kAuthFailure) << action << ": " << r.error_message;
    EXPECT_TRUE(has_substr(r.error_message, "only its owner")) << action << ": " << r.error_message;
  };
  expect_refused("ModifyImageAttribute", {{"ImageId", image_}, {"LaunchPermission", add_user(carol_)}});
  expect_refused("DescribeImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}});
  expect_refused("ResetImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}});
  expect_refused("DeregisterImage", {{"ImageId", image_}});
  expect_refused("EnableImageDeregistrationProtection", {{"ImageId", image_}});
  expect_refused("DisableImageDeregistrationProtection", {{"ImageId", image_}});
  expect_refused("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", iso_time(std::time(nullptr) + 86400)}});
  expect_refused("DisableImageDeprecation", {{"ImageId", image_}});
  // Tags stay the owner's: bob neither sees nor changes them.
  EXPECT_EQ(call("CreateTags", {{"Resources", {image_}}, {"Tags", {{{"Key", "x"}, {"Value", "y"}}}}}, bob_).error_code,
            codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(call("DeleteTags", {{"Resources", {image_}}}, bob_).error_code, codes::kInvalidAmiIdNotFound);
  auto seen = call("DescribeImages", {{"ImageIds", {image_}}}, bob_);
  ASSERT_TRUE(seen.ok);
  EXPECT_FALSE(seen.body["Images"][0].contains("Tags"));
  EXPECT_EQ(describe_image(image_)["Tags"].size(), 1u) << "alice still sees hers";
  // Nothing changed.
  EXPECT_EQ(describe_image(image_)["State"], "available");
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "disabled");
  EXPECT_EQ(permissions(alice_).size(), 1u);
}

TEST_F(ImageSharingTest, UnsharingHidesTheImageAgain) {
  ASSERT_TRUE(share(add_user(bob_)).ok);
  ASSERT_EQ(listed(bob_).size(), 1u);
  auto r = share({{"Remove", {{{"UserId", bob_.account}}}}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_TRUE(listed(bob_).empty());
  EXPECT_EQ(call("DescribeImages", {{"ImageIds", {image_}}}, bob_).error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(call("RunInstances", {{"ImageId", image_}}, bob_).error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(call("DeregisterImage", {{"ImageId", image_}}, bob_).error_code, codes::kInvalidAmiIdNotFound)
      << "who cannot see it is told it does not exist";
  // Removing what is not there changes nothing and is no error.
  EXPECT_TRUE(share({{"Remove", {{{"UserId", carol_.account}}}}}).ok);
}

TEST_F(ImageSharingTest, GroupAllMakesTheImagePublic) {
  ASSERT_TRUE(share({{"Add", {{{"Group", "all"}}}}}).ok);
  EXPECT_EQ(describe_image(image_)["Public"], true);
  EXPECT_EQ(listed(bob_), std::vector<std::string>{image_});
  EXPECT_EQ(listed(carol_), std::vector<std::string>{image_});
  const Json is_public = Json::array({{{"Name", "is-public"}, {"Values", {"true"}}}});
  const Json is_private = Json::array({{{"Name", "is-public"}, {"Values", {"false"}}}});
  EXPECT_EQ(listed(carol_, {{"Filters", is_public}}), std::vector<std::string>{image_});
  EXPECT_TRUE(listed(carol_, {{"Filters", is_private}}).empty());
  EXPECT_EQ(permissions(alice_), Json::parse(R"([{"Group":"all"}])"));

  ASSERT_TRUE(share({{"Remove", {{{"Group", "all"}}}}}).ok);
  EXPECT_EQ(describe_image(image_)["Public"], false);
  EXPECT_TRUE(listed(carol_).empty());
  EXPECT_EQ(listed(alice_, {{"Filters", is_private}}), std::vector<std::string>{image_});
}

TEST_F(ImageSharingTest, ADeprecatedSharedImageIsListedOnlyWhenAskedFor) {
  ASSERT_TRUE(share(add_user(bob_)).ok);
  ASSERT_TRUE(call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", iso_time(std::time(nullptr) + 120)}}).ok);
  advance_clock(3600);
  EXPECT_TRUE(listed(bob_).empty()) << "deprecated images of others are left out";
  EXPECT_EQ(listed(bob_, {{"IncludeDeprecated", true}}).size(), 1u);
  EXPECT_EQ(listed(bob_, {{"ImageIds", {image_}}}).size(), 1u) << "named by id";
  EXPECT_EQ(listed(alice_).size(), 1u) << "the owner always sees it";
}

TEST_F(ImageSharingTest, OwnersAndExecutableUsersScopeTheListingAsOnEc2) {
  // alice: image_ shared with bob, `pub` public, `priv` private. bob: `bobs`, shared with carol.
  ASSERT_TRUE(share(add_user(bob_)).ok);
  std::string pub = register_image("pub");
  std::string priv = register_image("priv");
  ASSERT_TRUE(call("ModifyImageAttribute", {{"ImageId", pub}, {"LaunchPermission", {{"Add", {{{"Group", "all"}}}}}}}).ok);
  auto bobs_reg = call("RegisterImage", {{"Name", "bobs"}, {"DiskPath", make_qcow2("bobs.qcow2")}}, bob_);
  ASSERT_TRUE(bobs_reg.ok) << bobs_reg.error_message;
  std::string bobs = bobs_reg.body["ImageId"];
  ASSERT_TRUE(call("ModifyImageAttribute",
                   {{"ImageId", bobs}, {"OperationType", "add"}, {"UserIds", {carol_.account}}}, bob_).ok);

  using Ids = std::vector<std::string>;
  // Default: everything bob may launch (own, shared with him, public).
  EXPECT_EQ(listed(bob_), (Ids{image_, pub, bobs}));
  EXPECT_EQ(listed(bob_, {{"Owners", {"self"}}}), (Ids{bobs}));
  EXPECT_EQ(listed(bob_, {{"Owners", {alice_.account}}}), (Ids{image_, pub})) << "alice's, that bob may launch";
  EXPECT_EQ(listed(bob_, {{"Owners", {"self", alice_.account}}}), (Ids{image_, pub, bobs}));
  EXPECT_TRUE(listed(bob_, {{"Owners", {"amazon"}}}).empty());
  // self: owned, or shared with bob by account; all: public.
  EXPECT_EQ(listed(bob_, {{"ExecutableUsers", {"self"}}}), (Ids{image_, bobs}));
  EXPECT_EQ(listed(bob_, {{"ExecutableUsers", {bob_.account}}}), (Ids{image_, bobs}));
  EXPECT_EQ(listed(bob_, {{"ExecutableUsers", {"all"}}}), (Ids{pub}));
  // Another account: the caller's images shared with it.
  EXPECT_EQ(listed(bob_, {{"ExecutableUsers", {carol_.account}}}), (Ids{bobs}));
  EXPECT_EQ(listed(alice_, {{"ExecutableUsers", {bob_.account}}}), (Ids{image_}));
  EXPECT_TRUE(listed(alice_, {{"ExecutableUsers", {carol_.account}}}).empty()) << "bob's share is not alice's business";
  // The lists intersect.
  EXPECT_EQ(listed(bob_, {{"Owners", {alice_.account}}, {"ExecutableUsers", {"self"}}}), (Ids{image_}));
  EXPECT_EQ(listed(bob_, {{"ImageIds", {image_, pub}}, {"ExecutableUsers", {"all"}}}), (Ids{pub}));
  EXPECT_EQ(listed(alice_), (Ids{image_, pub, priv}));

  auto bad = call("DescribeImages", {{"Owners", {"bob"}}}, bob_);
  EXPECT_EQ(bad.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(bad.error_message, "Owners")) << bad.error_message;
  auto bad2 = call("DescribeImages", {{"ExecutableUsers", {"12345"}}}, bob_);
  EXPECT_EQ(bad2.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(bad2.error_message, "ExecutableUsers")) << bad2.error_message;
}

TEST_F(ImageSharingTest, Ec2sOperationTypeFormWorksToo) {
  auto r = call("ModifyImageAttribute", {{"ImageId", image_},
                                         {"Attribute", "launchPermission"},
                                         {"OperationType", "add"},
                                         {"UserIds", {bob_.account, carol_.account}},
                                         {"UserGroups", {"all"}}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(permissions(alice_).size(), 3u);
  ASSERT_TRUE(call("ModifyImageAttribute",
                   {{"ImageId", image_}, {"OperationType", "remove"}, {"UserIds", {carol_.account}}, {"UserGroups", {"all"}}})
                  .ok);
  EXPECT_EQ(permissions(alice_), Json::parse(R"([{"UserId":")" + bob_.account + R"("}])"));
}

TEST_F(ImageSharingTest, BadLaunchPermissionsAreRefusedWholeAndNamed) {
  struct Case {
    Json params;
    const char* code;
    const char* field;
  };
  const Json ok_add = {{"UserId", bob_.account}};
  const std::vector<Case> cases = {
      {{{"LaunchPermission", {{"Add", {ok_add, {{"UserId", "12345"}}}}}}}, codes::kInvalidAmiAttributeItemValue,
       "LaunchPermission.Add[1].UserId"},
      {{{"LaunchPermission", {{"Add", {{{"UserId", "00000000100a"}}}}}}}, codes::kInvalidAmiAttributeItemValue,
       "LaunchPermission.Add[0].UserId"},
      {{{"LaunchPermission", {{"Add", {ok_add, {{"UserId", "000000004242"}}}}}}}, codes::kInvalidAmiAttributeItemValue,
       "000000004242"},
      {{{"LaunchPermission", {{"Add", {{{"Group", "everyone"}}}}}}}, codes::kInvalidAmiAttributeItemValue,
       "LaunchPermission.Add[0].Group"},
      {{{"LaunchPermission", {{"Add", {{{"UserId", bob_.account}, {"Group", "all"}}}}}}}, codes::kInvalidParameterValue,
       "LaunchPermission.Add[0]"},
      {{{"LaunchPermission", {{"Add", {ok_add}}, {"Remove", {ok_add}}}}}, codes::kInvalidParameterValue, "both added and removed"},
      {{{"LaunchPermission", {{"Grant", {ok_add}}}}}, codes::kUnknownParameter, "LaunchPermission.Grant"},
      {{{"LaunchPermission", {{"Add", Json::array()}}}}, codes::kMissingParameter, "LaunchPermission"},
      {{{"Attribute", "description"}, {"LaunchPermission", {{"Add", {ok_add}}}}}, codes::kInvalidParameterValue, "Attribute"},
      {{{"OperationType", "grant"}, {"UserIds", {bob_.account}}}, codes::kInvalidParameterValue, "OperationType"},
      {{{"UserIds", {bob_.account}}}, codes::kMissingParameter, "OperationType"},
      {{{"OperationType", "add"}, {"UserGroups", {"admins"}}}, codes::kInvalidAmiAttributeItemValue, "UserGroups[0]"},
      {{{"LaunchPermission", {{"Add", {ok_add}}}}, {"OperationType", "add"}}, codes::kInvalidParameterCombination,
       "LaunchPermission"},
      {Json::object(), codes::kMissingParameter, "LaunchPermission"},
  };
  for (const auto& c : cases) {
    Json params = c.params;
    params["ImageId"] = image_;
    auto r = call("ModifyImageAttribute", params);
    EXPECT_FALSE(r.ok) << params.dump();
    EXPECT_EQ(r.error_code, c.code) << params.dump() << ": " << r.error_message;
    EXPECT_TRUE(has_substr(r.error_message, c.field)) << params.dump() << ": " << r.error_message;
  }
  EXPECT_EQ(permissions(alice_), Json::array()) << "a refused request changes nothing";
  EXPECT_TRUE(listed(bob_).empty());
  auto malformed = call("ModifyImageAttribute", {{"ImageId", "ami-1"}, {"LaunchPermission", add_user(bob_)}});
  EXPECT_EQ(malformed.error_code, codes::kInvalidAmiIdMalformed);
}

TEST_F(ImageSharingTest, SharingWithYourselfChangesNothing) {
  auto r = share(add_user(alice_));
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(permissions(alice_), Json::array()) << "the owner may always launch; nothing to record";
}

TEST_F(ImageSharingTest, ResetRemovesEveryLaunchPermission) {
  ASSERT_TRUE(share({{"Add", {{{"UserId", bob_.account}}, {{"UserId", carol_.account}}, {{"Group", "all"}}}}}).ok);
  EXPECT_EQ(permissions(alice_).size(), 3u);
  auto r = call("ResetImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  EXPECT_EQ(permissions(alice_), Json::array());
  EXPECT_EQ(describe_image(image_)["Public"], false);
  EXPECT_TRUE(listed(bob_).empty());
  auto bad = call("ResetImageAttribute", {{"ImageId", image_}, {"Attribute", "kernel"}});
  EXPECT_EQ(bad.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(bad.error_message, "Attribute")) << bad.error_message;
  EXPECT_EQ(call("ResetImageAttribute", {{"ImageId", image_}}).error_code, codes::kMissingParameter);
}

TEST_F(ImageSharingTest, DescribeImageAttributeIsTheOwners) {
  // Who cannot see the image is told it does not exist; an admin may look.
  auto r = call("DescribeImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}}, bob_);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
  Caller root = ::amid::testing::user_caller(0);
  root.admin = true;
  auto admin = call("DescribeImageAttribute", {{"ImageId", image_}, {"Attribute", "launchPermission"}}, root);
  ASSERT_TRUE(admin.ok) << admin.error_message;
  EXPECT_EQ(admin.body, Json({{"ImageId", image_}, {"LaunchPermissions", Json::array()}}));
}

TEST_F(ImageSharingTest, PermissionsSurviveARestartAndGoWithTheirImage) {
  ASSERT_TRUE(share(add_user(bob_)).ok);
  reopen_catalog();
  images_->set_account_lookup([](uid_t uid) { return uid == 1000 || uid == 2000 || uid == 3000; });
  EXPECT_EQ(listed(bob_), std::vector<std::string>{image_});
  ASSERT_TRUE(call("DeregisterImage", {{"ImageId", image_}}).ok);
  EXPECT_FALSE(catalog_->find_image(image_).has_value()) << "reclaimed";
  EXPECT_TRUE(listed(bob_).empty());
}

}  // namespace
}  // namespace amid
