// Deregistration protection and deprecation of images, through the dispatcher
// with the real services (tests/unit/service_fixture.h): EC2's answers, what they
// forbid, and that a refused request names its field and changes nothing.
#include <gtest/gtest.h>

#include <string>

#include "daemon/state/iso_time.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

class ImageProtectionTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
    image_ = register_image("web");
    ASSERT_FALSE(image_.empty());
  }
  std::string in_future(std::time_t seconds) { return iso_time(std::time(nullptr) + offset_ + seconds); }
  std::string image_;
};

TEST_F(ImageProtectionTest, ImagesStartUnprotectedAndUndeprecated) {
  Json img = describe_image(image_);
  EXPECT_EQ(img["DeregistrationProtection"], "disabled");
  EXPECT_FALSE(img.contains("DeprecationTime"));
}

TEST_F(ImageProtectionTest, EnableAndDisableAnswerAsEc2) {
  auto on = call("EnableImageDeregistrationProtection", {{"ImageId", image_}});
  ASSERT_TRUE(on.ok) << on.error_message;
  EXPECT_EQ(on.body, Json({{"Return", "enabled-without-cooldown"}}));
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "enabled-without-cooldown");

  auto off = call("DisableImageDeregistrationProtection", {{"ImageId", image_}});
  ASSERT_TRUE(off.ok) << off.error_message;
  EXPECT_EQ(off.body, Json({{"Return", "disabled"}}));
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "disabled");

  // Disabling what is disabled changes nothing.
  EXPECT_EQ(call("DisableImageDeregistrationProtection", {{"ImageId", image_}}).body["Return"], "disabled");

  auto cool = call("EnableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", true}});
  EXPECT_EQ(cool.body, Json({{"Return", "enabled-with-cooldown"}}));
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "enabled-with-cooldown");
}

TEST_F(ImageProtectionTest, AProtectedImageCannotBeDeregistered) {
  ASSERT_TRUE(call("EnableImageDeregistrationProtection", {{"ImageId", image_}}).ok);
  auto r = call("DeregisterImage", {{"ImageId", image_}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kOperationNotPermitted);
  EXPECT_TRUE(has_substr(r.error_message, "ImageId"));
  EXPECT_TRUE(has_substr(r.error_message, "disable-image-deregistration-protection --image-id " + image_))
      << "says what to run next";
  EXPECT_EQ(describe_image(image_)["State"], "available");
  EXPECT_TRUE(::amid::testing::file_exists(store_->image_disk(image_)));

  ASSERT_TRUE(call("DisableImageDeregistrationProtection", {{"ImageId", image_}}).ok);
  auto again = call("DeregisterImage", {{"ImageId", image_}});
  EXPECT_TRUE(again.ok) << again.error_message;
  EXPECT_FALSE(catalog_->find_image(image_).has_value());
}

TEST_F(ImageProtectionTest, WithACooldownDeregistrationWaits24HoursAfterDisabling) {
  ASSERT_TRUE(call("EnableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", true}}).ok);
  const std::time_t disabled_at = std::time(nullptr);
  auto off = call("DisableImageDeregistrationProtection", {{"ImageId", image_}});
  ASSERT_TRUE(off.ok) << off.error_message;
  const std::string answer = off.body["Return"];
  ASSERT_TRUE(::amid::testing::starts_with(answer, "disabled-after-"));
  auto until = read_stored_time(answer.substr(std::string("disabled-after-").size()));
  ASSERT_TRUE(until.has_value()) << answer;
  EXPECT_NEAR(static_cast<double>(*until - disabled_at), 24 * 3600.0, 5.0);
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], answer);
  // A second disable does not move the deadline.
  EXPECT_EQ(call("DisableImageDeregistrationProtection", {{"ImageId", image_}}).body["Return"], answer);

  auto early = call("DeregisterImage", {{"ImageId", image_}});
  EXPECT_EQ(early.error_code, codes::kOperationNotPermitted);
  EXPECT_TRUE(has_substr(early.error_message, "after " + answer.substr(15))) << early.error_message;
  advance_clock(23 * 3600);
  EXPECT_EQ(call("DeregisterImage", {{"ImageId", image_}}).error_code, codes::kOperationNotPermitted);
  EXPECT_EQ(describe_image(image_)["State"], "available");

  advance_clock(3600 + 10);
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "disabled");
  auto late = call("DeregisterImage", {{"ImageId", image_}});
  EXPECT_TRUE(late.ok) << late.error_message;
}

TEST_F(ImageProtectionTest, EnablingAgainEndsACooldown) {
  ASSERT_TRUE(call("EnableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", true}}).ok);
  ASSERT_TRUE(call("DisableImageDeregistrationProtection", {{"ImageId", image_}}).ok);
  EXPECT_EQ(call("EnableImageDeregistrationProtection", {{"ImageId", image_}}).body["Return"],
            "enabled-without-cooldown");
  EXPECT_EQ(call("DisableImageDeregistrationProtection", {{"ImageId", image_}}).body["Return"], "disabled");
  EXPECT_TRUE(call("DeregisterImage", {{"ImageId", image_}}).ok);
}

TEST_F(ImageProtectionTest, ProtectionSurvivesARestart) {
  ASSERT_TRUE(call("EnableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", true}}).ok);
  reopen_catalog();
  EXPECT_EQ(describe_image(image_)["DeregistrationProtection"], "enabled-with-cooldown");
  EXPECT_EQ(call("DeregisterImage", {{"ImageId", image_}}).error_code, codes::kOperationNotPermitted);
}

TEST_F(ImageProtectionTest, BadRequestsNameTheFieldAndChangeNothing) {
  struct Case {
    std::string action;
    Json params;
    std::string code, field;
  } cases[] = {
      {"EnableImageDeregistrationProtection", Json::object(), codes::kMissingParameter, "ImageId"},
      {"EnableImageDeregistrationProtection", {{"ImageId", "ami-1"}}, codes::kInvalidAmiIdMalformed, "ImageId"},
      {"EnableImageDeregistrationProtection", {{"ImageId", "ami-0123456789abcdef0"}}, codes::kInvalidAmiIdNotFound,
       "ami-0123456789abcdef0"},
      {"EnableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", "yes"}},
       codes::kInvalidParameterValue, "WithCooldown"},
      {"DisableImageDeregistrationProtection", {{"ImageId", image_}, {"WithCooldown", true}},
       codes::kUnknownParameter, "WithCooldown"},
      {"EnableImageDeprecation", {{"ImageId", image_}}, codes::kMissingParameter, "DeprecateAt"},
      {"EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", "tomorrow"}}, codes::kInvalidParameterValue,
       "DeprecateAt"},
      {"EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", "2030-02-30T00:00:00Z"}},
       codes::kInvalidParameterValue, "DeprecateAt"},
      {"EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", "2030-01-01T00:00:00"}},
       codes::kInvalidParameterValue, "DeprecateAt"},
      {"EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", "2001-01-01T00:00:00Z"}},
       codes::kInvalidParameterValue, "DeprecateAt"},
      {"EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", in_future(11 * 366 * 24 * 3600)}},
       codes::kInvalidParameterValue, "10 years"},
      {"EnableImageDeprecation", {{"ImageId", "ami-0123456789abcdef0"}, {"DeprecateAt", in_future(3600)}},
       codes::kInvalidAmiIdNotFound, "ami-0123456789abcdef0"},
      {"DisableImageDeprecation", {{"ImageId", "ami-0123456789abcdef0"}}, codes::kInvalidAmiIdNotFound,
       "ami-0123456789abcdef0"},
      {"DescribeImages", {{"IncludeDeprecated", 1}}, codes::kInvalidParameterValue, "IncludeDeprecated"},
  };
  for (const auto& c : cases) {
    auto r = call(c.action, c.params);
    EXPECT_FALSE(r.ok) << c.action << " " << c.params.dump();
    EXPECT_EQ(r.error_code, c.code) << c.action << " " << c.params.dump() << ": " << r.error_message;
    EXPECT_TRUE(has_substr(r.error_message, c.field)) << c.action << " " << c.params.dump();
  }
  Json img = describe_image(image_);
  EXPECT_EQ(img["DeregistrationProtection"], "disabled");
  EXPECT_FALSE(img.contains("DeprecationTime"));
}

TEST_F(ImageProtectionTest, OthersCannotProtectOrDeprecateYourImage) {
  EXPECT_EQ(call("EnableImageDeregistrationProtection", {{"ImageId", image_}}, bob_).error_code,
            codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", in_future(3600)}}, bob_).error_code,
            codes::kInvalidAmiIdNotFound);
  Json img = describe_image(image_);
  EXPECT_EQ(img["DeregistrationProtection"], "disabled");
  EXPECT_FALSE(img.contains("DeprecationTime"));
}

TEST_F(ImageProtectionTest, DeprecateAtIsRoundedUpToTheMinute) {
  std::time_t t = std::time(nullptr) + 2 * 3600;
  t -= t % 60;
  auto r = call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", iso_time(t + 17)}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  EXPECT_EQ(describe_image(image_)["DeprecationTime"], iso_time(t + 60));

  // Whole minutes stay; a fraction counts; +00:00 is UTC too.
  std::string whole = iso_time(t);
  ASSERT_TRUE(call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", whole.substr(0, 19) + "Z"}}).ok);
  EXPECT_EQ(describe_image(image_)["DeprecationTime"], whole);
  ASSERT_TRUE(
      call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", whole.substr(0, 19) + ".001+00:00"}}).ok);
  EXPECT_EQ(describe_image(image_)["DeprecationTime"], iso_time(t + 60));

  auto off = call("DisableImageDeprecation", {{"ImageId", image_}});
  ASSERT_TRUE(off.ok) << off.error_message;
  EXPECT_EQ(off.body, Json({{"Return", true}}));
  EXPECT_FALSE(describe_image(image_).contains("DeprecationTime"));
}

TEST_F(ImageProtectionTest, TenYearsIsTheLimit) {
  auto r = call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", in_future(9 * 365 * 24 * 3600)}});
  EXPECT_TRUE(r.ok) << r.error_message;
}

TEST_F(ImageProtectionTest, ADeprecatedImageStaysListedForItsOwnerAndStillLaunches) {
  ASSERT_TRUE(call("EnableImageDeprecation", {{"ImageId", image_}, {"DeprecateAt", in_future(120)}}).ok);
  advance_clock(3600);
  auto all = call("DescribeImages", Json::object());
  ASSERT_TRUE(all.ok) << all.error_message;
  ASSERT_EQ(all.body["Images"].size(), 1u) << "the owner always sees it";
  EXPECT_TRUE(all.body["Images"][0].contains("DeprecationTime"));
  auto with_flag = call("DescribeImages", {{"IncludeDeprecated", true}});
  EXPECT_EQ(with_flag.body["Images"].size(), 1u);
  auto launched = run(image_);
  EXPECT_EQ(launched.size(), 1u) << "launching a deprecated image is allowed, as on EC2";
}

}  // namespace
}  // namespace amid
