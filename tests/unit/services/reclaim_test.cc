// ImageService::reclaim_unused with the real services (tests/unit/service_fixture.h):
// a deregistered image's files go only once no instance, volume or live image
// depends on them, and they do go then, whichever way the last user ended
// (terminate-instances, a guest powering itself off, a restart).
#include <gtest/gtest.h>

#include <string>

#include "daemon/services/layers.h"
#include "daemon/host/process.h"
#include "daemon/services/reconcile.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::file_exists;

class ReclaimTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
  }
  void deregister(const std::string& image) {
    auto r = call("DeregisterImage", {{"ImageId", image}});
    ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    EXPECT_EQ(call("DescribeImages", {{"ImageIds", {image}}}).error_code, codes::kInvalidAmiIdNotFound)
        << "hidden at once";
  }
  // The image's files and rows are all still there.
  ::testing::AssertionResult kept(const std::string& image) {
    auto rec = catalog_->find_image(image);
    if (!rec) return ::testing::AssertionFailure() << image << ": its row is gone";
    if (!file_exists(rec->disk_file)) return ::testing::AssertionFailure() << image << ": its disk is gone";
    for (const auto& snap : catalog_->snapshots_of_image(image)) {
      if (!file_exists(snap.file)) return ::testing::AssertionFailure() << snap.id << ": its file is gone";
    }
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult reclaimed(const std::string& image) {
    if (catalog_->find_image(image)) return ::testing::AssertionFailure() << image << ": its row is still there";
    if (!catalog_->snapshots_of_image(image).empty()) {
      return ::testing::AssertionFailure() << image << ": snapshot rows are still there";
    }
    if (file_exists(store_->image_dir(image))) return ::testing::AssertionFailure() << image << ": folder still there";
    return ::testing::AssertionSuccess();
  }
  std::string root_snapshot(const std::string& image) {
    return describe_image(image)["BlockDeviceMappings"][0]["Ebs"].value("SnapshotId", "");
  }
};

TEST_F(ReclaimTest, FilesGoWithTheLastOfTwoInstances) {
  std::string image = register_image("web");
  auto ids = run(image, 2);
  ASSERT_EQ(ids.size(), 2u);
  deregister(image);
  EXPECT_TRUE(kept(image)) << "two instances run on it";
  EXPECT_EQ(catalog_->count_instances_using(image), 2);

  terminate(ids[0]);
  EXPECT_TRUE(kept(image)) << "one instance still runs on it";
  EXPECT_EQ(catalog_->count_instances_using(image), 1);
  EXPECT_EQ(catalog_->count_volumes_using_image(image), 1);

  terminate(ids[1]);
  EXPECT_EQ(catalog_->count_instances_using(image), 0);
  EXPECT_EQ(catalog_->count_volumes_using_image(image), 0);
  EXPECT_TRUE(reclaimed(image));
}

TEST_F(ReclaimTest, AKeptRootVolumeKeepsTheTemplateItSitsOn) {
  std::string image = register_image("web");
  Json keep_root = Json::parse(R"([{"DeviceName":"/dev/vda","Ebs":{"DeleteOnTermination":false}}])");
  auto ids = run(image, 1, {{"BlockDeviceMappings", keep_root}});
  ASSERT_EQ(ids.size(), 1u);
  deregister(image);
  terminate(ids[0]);
  EXPECT_TRUE(kept(image)) << "the kept root volume is an overlay on the template";
  EXPECT_EQ(catalog_->count_volumes_using_image(image), 1);
}

TEST_F(ReclaimTest, ACapturedImageIsCountedThroughItsSnapshots) {
  std::string base = register_image("base");
  Json data = Json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1}}])");
  auto source = run(base, 1, {{"BlockDeviceMappings", data}});
  ASSERT_EQ(source.size(), 1u);
  // Captured stopped (the test driver cannot shut a guest down cleanly).
  auto stopped = call("StopInstances", {{"InstanceIds", {source[0]}}, {"Force", true}});
  ASSERT_TRUE(stopped.ok) << stopped.error_message;
  auto created = call("CreateImage", {{"InstanceId", source[0]}, {"Name", "captured"}});
  ASSERT_TRUE(created.ok) << created.error_code << ": " << created.error_message;
  std::string captured = created.body["ImageId"];
  scheduler_.run_posted();
  Json img = describe_image(captured);
  ASSERT_EQ(img["State"], "available") << img.dump();
  auto snaps = catalog_->snapshots_of_image(captured);
  ASSERT_EQ(snaps.size(), 2u) << "root and data disk";

  // The root snapshot is a thin layer on the base's template; the blank data
  // disk's copy stands alone.
  for (const auto& snap : snaps) {
    if (snap.file == catalog_->find_image(captured)->disk_file) {
      EXPECT_EQ(snap.base_snapshot_id, root_snapshot(base));
    } else {
      EXPECT_EQ(snap.base_snapshot_id, "");
    }
  }
  terminate(source[0]);
  deregister(base);
  EXPECT_TRUE(kept(base)) << "the captured root snapshot sits on its template";
  EXPECT_EQ(catalog_->count_snapshots_based_on_image(base), 1);
  EXPECT_TRUE(kept(captured));

  // Launched from the captured image: its root on the template, vdb on the data snapshot.
  Json keep_data = Json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"DeleteOnTermination":false}}])");
  auto first = run(captured);
  auto second = run(captured, 1, {{"BlockDeviceMappings", keep_data}});
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(catalog_->count_volumes_using_image(captured), 4);
  deregister(captured);
  terminate(first[0]);
  EXPECT_TRUE(kept(captured));
  terminate(second[0]);
  EXPECT_TRUE(kept(captured)) << "the kept data volume sits on the captured snapshot";
  EXPECT_EQ(catalog_->count_instances_using(captured), 0);
  EXPECT_EQ(catalog_->count_volumes_using_image(captured), 1);
  EXPECT_TRUE(kept(base)) << "under the captured image, which is kept";
}

// Thin layers keep what they sit on, down the chain, and all of it goes once the
// top is gone: base <- first capture <- second capture (of an instance of the first).
TEST_F(ReclaimTest, AThinChainIsKeptFromTheTopAndReclaimedWithIt) {
  auto capture = [&](const std::string& image, const std::string& name) {
    auto ids = run(image, 1);
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_TRUE(call("StopInstances", {{"InstanceIds", {ids[0]}}, {"Force", true}}).ok);
    auto created = call("CreateImage", {{"InstanceId", ids[0]}, {"Name", name}});
    EXPECT_TRUE(created.ok) << created.error_code << ": " << created.error_message;
    std::string id = created.body.value("ImageId", "");
    scheduler_.run_posted();
    EXPECT_EQ(describe_image(id)["State"], "available");
    terminate(ids[0]);
    return id;
  };
  std::string base = register_image("base");
  std::string first = capture(base, "first");
  std::string second = capture(first, "second");
  EXPECT_EQ(catalog_->snapshots_of_image(second).at(0).base_snapshot_id, root_snapshot(first));
  EXPECT_EQ(catalog_->snapshots_of_image(first).at(0).base_snapshot_id, root_snapshot(base));

  deregister(base);
  deregister(first);
  EXPECT_TRUE(kept(base));
  EXPECT_TRUE(kept(first)) << "the second capture sits on it";
  auto on_second = run(second, 1);
  ASSERT_EQ(on_second.size(), 1u);
  deregister(second);
  EXPECT_TRUE(kept(second)) << "an instance runs on it";
  EXPECT_TRUE(kept(first));
  EXPECT_TRUE(kept(base));
  terminate(on_second[0]);
  EXPECT_TRUE(reclaimed(second));
  EXPECT_TRUE(reclaimed(first));
  EXPECT_TRUE(reclaimed(base));
}

// Captures of captures stack layers until a chain holds kMaxTemplateLayers
// template files; the next capture is written standalone, and the chain under it
// can go. gen0 (registered) <- gen1 <- gen2 <- gen3 | gen4 (standalone) <- gen5.
TEST_F(ReclaimTest, StackedCapturesStopAtFourTemplateFilesAndTheNextStandsAlone) {
  std::vector<std::string> images = {register_image("gen0")};
  for (int gen = 1; gen <= 5; ++gen) {
    auto ids = run(images.back(), 1);
    ASSERT_EQ(ids.size(), 1u);
    ASSERT_TRUE(call("StopInstances", {{"InstanceIds", {ids[0]}}, {"Force", true}}).ok);
    auto created = call("CreateImage", {{"InstanceId", ids[0]}, {"Name", "gen" + std::to_string(gen)}});
    ASSERT_TRUE(created.ok) << created.error_code << ": " << created.error_message;
    images.push_back(created.body["ImageId"]);
    scheduler_.run_posted();
    ASSERT_EQ(describe_image(images.back())["State"], "available");
    terminate(ids[0]);
  }
  auto root_of = [&](std::size_t gen) { return catalog_->snapshots_of_image(images[gen]).at(0); };
  EXPECT_EQ(root_of(0).base_snapshot_id, "") << "registered";
  for (std::size_t gen = 1; gen <= 3; ++gen) {
    EXPECT_EQ(root_of(gen).base_snapshot_id, root_snapshot(images[gen - 1])) << gen;
  }
  EXPECT_EQ(chain_files(*catalog_, root_of(3)).size(), kMaxTemplateLayers);
  EXPECT_EQ(root_of(4).base_snapshot_id, "") << "four template files under its instance already: standalone";
  EXPECT_EQ(root_of(5).base_snapshot_id, root_snapshot(images[4])) << "a new chain starts on it";

  for (std::size_t gen = 0; gen <= 4; ++gen) deregister(images[gen]);
  for (std::size_t gen = 0; gen <= 3; ++gen) EXPECT_TRUE(reclaimed(images[gen])) << gen << ": nothing sits on it";
  EXPECT_TRUE(kept(images[4])) << "gen5 sits on it";
  auto launched = run(images[5], 1);
  EXPECT_EQ(launched.size(), 1u);
}

// The disk's own header must name the base the catalog records; when they
// disagree the capture is standalone, so no layer is ever recorded on a base it
// does not sit on.
TEST_F(ReclaimTest, ADiskThatDisagreesWithTheCatalogIsCapturedStandalone) {
  std::string base = register_image("base");
  auto ids = run(base, 1);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(call("StopInstances", {{"InstanceIds", {ids[0]}}, {"Force", true}}).ok);
  auto vols = catalog_->volumes_of_instance(ids[0]);
  ASSERT_EQ(vols.size(), 1u);
  VolumeRecord root = vols[0];
  ASSERT_EQ(root.snapshot_id, root_snapshot(base));
  root.snapshot_id.clear();  // as if blank: but its header names the template
  catalog_->update_volume(root);
  auto created = call("CreateImage", {{"InstanceId", ids[0]}, {"Name", "checked"}});
  ASSERT_TRUE(created.ok) << created.error_code << ": " << created.error_message;
  std::string captured = created.body["ImageId"];
  scheduler_.run_posted();
  ASSERT_EQ(describe_image(captured)["State"], "available");
  EXPECT_EQ(catalog_->snapshots_of_image(captured).at(0).base_snapshot_id, "");
  ProcessResult info = run_process({"qemu-img", "info", "-U", "--output=json", catalog_->find_image(captured)->disk_file});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_FALSE(Json::parse(info.out).contains("backing-filename")) << "flattened: " << info.out;
}

TEST_F(ReclaimTest, ALiveImageThatNamesTheSnapshotKeepsIt) {
  std::string a = register_image("image-a");
  std::string snap = root_snapshot(a);
  ASSERT_FALSE(snap.empty());
  Json bdm = Json::array({{{"DeviceName", "/dev/vdb"}, {"Ebs", {{"SnapshotId", snap}}}}});
  std::string b = register_image("image-b", {{"BlockDeviceMappings", bdm}});
  ASSERT_FALSE(b.empty());
  deregister(a);
  EXPECT_TRUE(kept(a)) << b << " names " << snap;
  // b still launches with a volume on a's snapshot.
  auto ids = run(b);
  ASSERT_EQ(ids.size(), 1u);
  terminate(ids[0]);
  EXPECT_TRUE(kept(a));
  deregister(b);
  EXPECT_TRUE(reclaimed(b));
  EXPECT_TRUE(reclaimed(a));
}

TEST_F(ReclaimTest, AnInstanceThatNamesTheSnapshotKeepsIt) {
  std::string a = register_image("image-a");
  std::string b = register_image("image-b");
  Json bdm = Json::array({{{"DeviceName", "/dev/vdb"}, {"Ebs", {{"SnapshotId", root_snapshot(a)}}}}});
  auto ids = run(b, 1, {{"BlockDeviceMappings", bdm}});
  ASSERT_EQ(ids.size(), 1u);
  deregister(a);
  EXPECT_TRUE(kept(a)) << "the instance's vdb sits on a's template";
  terminate(ids[0]);
  EXPECT_TRUE(reclaimed(a));
  EXPECT_TRUE(kept(b));
}

TEST_F(ReclaimTest, FilesGoWhenTheLastGuestPowersItselfOff) {
  std::string image = register_image("eph", {{"RootDeviceType", "instance-store"}});
  auto ids = run(image);
  ASSERT_EQ(ids.size(), 1u);
  deregister(image);
  EXPECT_TRUE(kept(image));
  hypervisor_->destroy_domain(ids[0]);  // as a guest that shuts down
  auto d = call("DescribeInstances", {{"InstanceIds", {ids[0]}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  EXPECT_EQ(d.body["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated") << "instance-store";
  EXPECT_TRUE(reclaimed(image));
}

// A domain removed behind amid's back: the instance is terminated the way
// terminate-instances would do it, so its volumes and its image are released.
TEST_F(ReclaimTest, FilesGoWhenTheLastDomainIsRemovedBehindAmidsBack) {
  std::string image = register_image("gone");
  auto ids = run(image);
  ASSERT_EQ(ids.size(), 1u);
  deregister(image);
  EXPECT_TRUE(kept(image));
  hypervisor_->destroy_domain(ids[0]);
  hypervisor_->undefine_domain(ids[0]);
  auto d = call("DescribeInstances", {{"InstanceIds", {ids[0]}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  EXPECT_EQ(d.body["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated");
  EXPECT_EQ(catalog_->count_volumes_using_image(image), 0) << "its root volume was not released";
  EXPECT_TRUE(reclaimed(image));
}

TEST_F(ReclaimTest, StartUpFinishesAReclaimCutShort) {
  std::string image = register_image("web");
  // amid stopped between marking the image deregistered and reclaiming it.
  catalog_->set_image_state(image, ImageState::kDeregistered);
  EXPECT_TRUE(kept(image));
  reopen_catalog();
  reconcile(*rt_, *images_, *instances_);
  EXPECT_TRUE(reclaimed(image));
}

}  // namespace
}  // namespace amid
