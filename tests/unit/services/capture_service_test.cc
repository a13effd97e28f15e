// CreateImage's TagSpecifications through a real capture: libvirt's test driver,
// the real qemu-img, and a scheduler the test runs by hand. The new image carries
// its tags from the start (pending); each snapshot gets its tags when the capture
// records it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daemon/services/capture_service.h"
#include "tests/unit/catalog_fixture.h"

namespace amid {
namespace {

using protocol::Json;

class CaptureTagsTest : public ::amid::testing::CatalogFixture {
 protected:
  void SetUp() override {
    ::chmod(tmp_.path().c_str(), 0755);  // alice (uid 1000) registers a disk from here
    CatalogFixture::SetUp();
    region_->set_scheduler(&scheduler_);
  }
  // A t3.nano instance of a registered 2 MiB disk, running (on the test driver).
  void launch(std::string& instance) {
    std::string disk = tmp_.file("disk.qcow2");
    ASSERT_TRUE(::amid::testing::qemu_img({"create", "-q", "-f", "qcow2", disk, "2M"}));
    ::chmod(disk.c_str(), 0644);
    auto reg = call("RegisterImage", {{"Name", "base"}, {"DiskPath", disk}});
    ASSERT_TRUE(reg.ok) << reg.error_code << ": " << reg.error_message;
    auto run = call("RunInstances", {{"ImageId", reg.body["ImageId"]}, {"InstanceType", "t3.nano"}});
    ASSERT_TRUE(run.ok) << run.error_code << ": " << run.error_message;
    instance = run.body["Instances"][0]["InstanceId"];
  }
};

TEST_F(CaptureTagsTest, CreateImageTagsTheImageAndItsSnapshots) {
  if (!::amid::testing::have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  std::string instance;
  ASSERT_NO_FATAL_FAILURE(launch(instance));
  // Captured stopped: the test driver has no ACPI shutdown, and a stopped
  // instance is copied as it is (no shutdown, no restart).
  ASSERT_TRUE(call("StopInstances", {{"InstanceIds", {instance}}, {"Force", true}}).ok);
  auto stopped = call("DescribeInstances", {{"InstanceIds", {instance}}});
  ASSERT_EQ(stopped.body["Reservations"][0]["Instances"][0]["State"]["Name"], "stopped");

  Json specs = Json::parse(R"([{"ResourceType":"image","Tags":[{"Key":"Name","Value":"captured"}]},
                              {"ResourceType":"snapshot","Tags":[{"Key":"backup","Value":"weekly"}]}])");
  auto made = call("CreateImage", {{"InstanceId", instance}, {"Name", "captured"}, {"TagSpecifications", specs}});
  ASSERT_TRUE(made.ok) << made.error_code << ": " << made.error_message;
  std::string image = made.body["ImageId"];

  // Pending, and already tagged.
  auto pending = call("DescribeImages", {{"ImageIds", {image}}});
  EXPECT_EQ(pending.body["Images"][0]["State"], "pending");
  EXPECT_EQ(pending.body["Images"][0]["Tags"], specs[0]["Tags"]);

  scheduler_.run_posted();
  auto done = call("DescribeImages", {{"ImageIds", {image}}});
  ASSERT_EQ(done.body["Images"][0]["State"], "available") << done.body.dump();
  EXPECT_EQ(done.body["Images"][0]["Tags"], specs[0]["Tags"]);
  auto snapshots = catalog_->snapshots_of_image(image);
  ASSERT_FALSE(snapshots.empty());
  for (const auto& s : snapshots) EXPECT_EQ(s.tags, (Tags{{"backup", "weekly"}})) << s.id;

  // DescribeTags shows both kinds, and the source instance kept its own (none).
  auto tags = call("DescribeTags", {{"Filters", Json::parse(R"([{"Name":"resource-type","Values":["image","snapshot"]}])")}});
  ASSERT_TRUE(tags.ok) << tags.error_message;
  size_t snapshot_rows = 0, image_rows = 0;
  for (const auto& t : tags.body["Tags"]) {
    if (t["ResourceType"] == "snapshot") ++snapshot_rows;
    if (t["ResourceType"] == "image" && t["ResourceId"] == image) ++image_rows;
  }
  EXPECT_EQ(snapshot_rows, snapshots.size()) << "the registered image's root snapshot has no tags";
  EXPECT_EQ(image_rows, 1u);
  EXPECT_TRUE(catalog_->tags_of(instance).empty());
}

// create-image --warm (Warm) needs a running guest and an image of its root
// disk only; a refused request names Warm and records nothing.
TEST_F(CaptureTagsTest, WarmIsRefusedForAStoppedInstanceOrAnImageWithMoreThanItsRoot) {
  if (!::amid::testing::have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  std::string instance;
  ASSERT_NO_FATAL_FAILURE(launch(instance));
  const std::size_t images = catalog_->list_images().size();

  auto added = call("CreateImage", {{"InstanceId", instance}, {"Name", "warm"}, {"Warm", true},
                                    {"BlockDeviceMappings", Json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1}}])")}});
  EXPECT_EQ(added.error_code, codes::kInvalidParameterCombination);
  EXPECT_NE(added.error_message.find("Warm: the image would map /dev/vdb beside its root"), std::string::npos)
      << added.error_message;

  ASSERT_TRUE(call("StopInstances", {{"InstanceIds", {instance}}, {"Force", true}}).ok);
  auto stopped = call("CreateImage", {{"InstanceId", instance}, {"Name", "warm"}, {"Warm", true}});
  EXPECT_EQ(stopped.error_code, codes::kIncorrectInstanceState);
  EXPECT_NE(stopped.error_message.find("Warm: instance " + instance + " is stopped"), std::string::npos)
      << stopped.error_message;
  EXPECT_EQ(catalog_->list_images().size(), images) << "nothing recorded";
  // The lease was let go: a plain capture goes ahead.
  auto plain = call("CreateImage", {{"InstanceId", instance}, {"Name", "plain"}});
  EXPECT_TRUE(plain.ok) << plain.error_code << ": " << plain.error_message;
  scheduler_.run_posted();
}

}  // namespace
}  // namespace amid
