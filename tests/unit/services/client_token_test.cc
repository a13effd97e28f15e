// EC2's ClientToken on RunInstances and CreateImage (services/client_token.h): the
// token's rules, and through the dispatcher with the real services that the same
// request sent again answers with the first result, that other parameters are
// IdempotentParameterMismatch and change nothing, and that tokens outlive a restart.
#include "daemon/services/client_token.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;
using ::amid::testing::list_dir;

TEST(ClientTokenRules, OneTo64PrintableAsciiCharacters) {
  for (const std::string& ok : {std::string("a"), std::string(64, 'x'), std::string("run 1: web/2026-01-01~!@#")}) {
    EXPECT_TRUE(validate_client_token(ok).ok()) << ok;
  }
  for (const std::string& bad : {std::string(), std::string(65, 'x'), std::string("tab\there"), std::string("nl\n"),
                                std::string("del\x7f"), std::string("caf\xc3\xa9")}) {
    auto r = validate_client_token(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(has_substr(r.problem().message, "ClientToken")) << bad;
    }
  }
}

TEST(ClientTokenRules, CanonicalParametersIgnoreOrderAndTheTokenItself) {
  Json a = Json::parse(R"({"ImageId":"ami-1","MaxCount":2,"ClientToken":"t1"})");
  Json b = Json::parse(R"({"MaxCount":2,"ClientToken":"t2","ImageId":"ami-1"})");
  EXPECT_EQ(canonical_parameters(a), canonical_parameters(b));
  EXPECT_EQ(canonical_parameters(a), R"({"ImageId":"ami-1","MaxCount":2})");
  Json c = Json::parse(R"({"ImageId":"ami-1","MaxCount":3,"ClientToken":"t1"})");
  EXPECT_NE(canonical_parameters(a), canonical_parameters(c));
}

class ClientTokenTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
    image_ = register_image("web");
    ASSERT_FALSE(image_.empty());
  }
  Json launch_params(const std::string& token, int count = 2) {
    return {{"ImageId", image_}, {"InstanceType", "t3.nano"}, {"MaxCount", count}, {"ClientToken", token}};
  }
  static std::vector<std::string> ids_of(const Json& reservation) {
    std::vector<std::string> ids;
    for (const auto& i : reservation["Instances"]) ids.push_back(i["InstanceId"]);
    return ids;
  }
  std::string image_;
};

TEST_F(ClientTokenTest, RunInstancesTwiceWithATokenLaunchesOnce) {
  auto first = call("RunInstances", launch_params("launch-web-1"));
  ASSERT_TRUE(first.ok) << first.error_message;
  ASSERT_EQ(first.body["Instances"].size(), 2u);
  EXPECT_EQ(first.body["Instances"][0]["State"]["Name"], "pending");

  auto again = call("RunInstances", launch_params("launch-web-1"));
  ASSERT_TRUE(again.ok) << again.error_message;
  EXPECT_EQ(again.body["ReservationId"], first.body["ReservationId"]);
  EXPECT_EQ(again.body["OwnerId"], alice_.account);
  EXPECT_EQ(ids_of(again.body), ids_of(first.body));
  for (const auto& inst : again.body["Instances"]) EXPECT_EQ(inst["State"]["Name"], "running") << "current state";
  EXPECT_EQ(catalog_->list_instances().size(), 2u);

  // A replay shows what happened since.
  terminate(ids_of(first.body)[0]);
  auto later = call("RunInstances", launch_params("launch-web-1"));
  ASSERT_TRUE(later.ok) << later.error_message;
  EXPECT_EQ(later.body["Instances"][0]["State"]["Name"], "terminated");
  EXPECT_EQ(catalog_->list_instances().size(), 2u);
}

TEST_F(ClientTokenTest, ATokenWithOtherParametersIsAMismatchAndChangesNothing) {
  auto first = call("RunInstances", launch_params("tok"));
  ASSERT_TRUE(first.ok) << first.error_message;
  for (const Json& other : {launch_params("tok", 3),
                            Json{{"ImageId", image_}, {"InstanceType", "t3.micro"}, {"MaxCount", 2},
                                 {"ClientToken", "tok"}},
                            Json{{"ImageId", image_}, {"InstanceType", "t3.nano"}, {"ClientToken", "tok"}}}) {
    auto r = call("RunInstances", other);
    EXPECT_FALSE(r.ok) << other.dump();
    EXPECT_EQ(r.error_code, codes::kIdempotentParameterMismatch) << other.dump() << ": " << r.error_message;
    EXPECT_TRUE(has_substr(r.error_message, "ClientToken"));
  }
  EXPECT_EQ(catalog_->list_instances().size(), 2u);
  EXPECT_EQ(list_dir(store_->instances_dir()).size(), 2u);
}

TEST_F(ClientTokenTest, TokensBelongToTheirCallerAndAction) {
  ASSERT_TRUE(call("RunInstances", launch_params("shared-name", 1)).ok);
  auto bobs_image = call("RegisterImage", {{"Name", "bobs"}, {"DiskPath", make_qcow2("bobs.qcow2")}}, bob_);
  ASSERT_TRUE(bobs_image.ok) << bobs_image.error_message;
  auto bob = call("RunInstances",
                  {{"ImageId", bobs_image.body["ImageId"]},
                   {"InstanceType", "t3.nano"},
                   {"ClientToken", "shared-name"}},
                  bob_);
  ASSERT_TRUE(bob.ok) << bob.error_code << ": " << bob.error_message;
  EXPECT_EQ(catalog_->list_instances().size(), 2u) << "bob's token is his own";
}

TEST_F(ClientTokenTest, BadTokensAreRefusedByNameAndLaunchNothing) {
  for (const Json& token : {Json(""), Json(std::string(65, 'a')), Json("a\tb"), Json("caf\xc3\xa9"), Json(42)}) {
    auto r = call("RunInstances", {{"ImageId", image_}, {"ClientToken", token}});
    EXPECT_FALSE(r.ok) << token.dump();
    EXPECT_EQ(r.error_code, codes::kInvalidParameterValue) << token.dump();
    EXPECT_TRUE(has_substr(r.error_message, "ClientToken")) << token.dump() << ": " << r.error_message;
  }
  EXPECT_TRUE(catalog_->list_instances().empty());
  EXPECT_TRUE(list_dir(store_->instances_dir()).empty());
}

TEST_F(ClientTokenTest, TokensSurviveARestart) {
  auto first = call("RunInstances", launch_params("across-restarts", 1));
  ASSERT_TRUE(first.ok) << first.error_message;
  reopen_catalog();
  auto again = call("RunInstances", launch_params("across-restarts", 1));
  ASSERT_TRUE(again.ok) << again.error_message;
  EXPECT_EQ(again.body["ReservationId"], first.body["ReservationId"]);
  EXPECT_EQ(ids_of(again.body), ids_of(first.body));
  EXPECT_EQ(call("RunInstances", launch_params("across-restarts", 2)).error_code,
            codes::kIdempotentParameterMismatch);
  EXPECT_EQ(catalog_->list_instances().size(), 1u);
}

TEST_F(ClientTokenTest, ALaunchThatIsUndoneFreesItsToken) {
  // The template vanishes behind amid's back: the launch fails and is rolled back.
  std::string disk = store_->image_disk(image_);
  std::string aside = tmp_.file("aside.qcow2");
  ASSERT_EQ(::rename(disk.c_str(), aside.c_str()), 0);
  auto failed = call("RunInstances", launch_params("retry-me", 1));
  ASSERT_FALSE(failed.ok);
  EXPECT_TRUE(catalog_->list_instances().empty());
  EXPECT_FALSE(catalog_->find_client_token(alice_.account, "RunInstances", "retry-me").has_value());

  ASSERT_EQ(::rename(aside.c_str(), disk.c_str()), 0);
  auto retried = call("RunInstances", launch_params("retry-me", 1));
  ASSERT_TRUE(retried.ok) << retried.error_code << ": " << retried.error_message;
  EXPECT_EQ(catalog_->list_instances().size(), 1u);
}

TEST_F(ClientTokenTest, CreateImageTwiceWithATokenCapturesOnce) {
  auto ids = run(image_);
  ASSERT_EQ(ids.size(), 1u);
  Json params = {{"InstanceId", ids[0]}, {"Name", "captured"}, {"ClientToken", "capture-1"}};
  auto first = call("CreateImage", params);
  ASSERT_TRUE(first.ok) << first.error_code << ": " << first.error_message;
  std::string image = first.body["ImageId"];
  // Sent again while the first capture has not even started: the same image.
  auto again = call("CreateImage", params);
  ASSERT_TRUE(again.ok) << again.error_code << ": " << again.error_message;
  EXPECT_EQ(again.body["ImageId"], image);

  Json other = params;
  other["Name"] = "captured-2";
  auto mismatch = call("CreateImage", other);
  EXPECT_EQ(mismatch.error_code, codes::kIdempotentParameterMismatch);
  auto bad = call("CreateImage", {{"InstanceId", ids[0]}, {"Name", "x y z"}, {"ClientToken", std::string(65, 't')}});
  EXPECT_EQ(bad.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(bad.error_message, "ClientToken"));
  int images = 0;
  for (const auto& img : catalog_->list_images()) images += img.source_instance == ids[0];
  EXPECT_EQ(images, 1);

  reopen_catalog();
  EXPECT_EQ(call("CreateImage", params).body["ImageId"], image) << "after a restart too";
}

}  // namespace
}  // namespace amid
