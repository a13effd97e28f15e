// copy-image between two regions with the real services (tests/unit/service_fixture.h):
// a second region with its own store on the same catalog, as amid builds them
// from [regions.NAME]. The copy is byte for byte, under new ids, pending until
// the job runs, and only visible in its region; bad input changes nothing.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>

#include "daemon/host/process.h"
#include "daemon/services/warm_images.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::file_exists;
using ::amid::testing::read_text;

class CopyImageTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
    east_store_ = std::make_unique<Store>(tmp_.file("east"));
    east_store_->prepare();
    east_ = std::make_unique<Region>(
        ::amid::testing::test_region_parts(*catalog_, hypervisor_, east_store_->root(), "local-2"));
    east_->set_scheduler(&scheduler_);
    east_images_ = &east_->images();
    dispatcher_->add_region(east_->services());
  }
  void TearDown() override {
    scheduler_.drop_all();  // jobs of east_'s, not run
    east_.reset();
    ServiceTest::TearDown();
  }
  protocol::Response copy(const Json& params) { return call("CopyImage", params); }
  std::size_t image_rows() { return catalog_->list_images().size(); }

  std::unique_ptr<Store> east_store_;
  std::unique_ptr<Region> east_;
  ImageService* east_images_ = nullptr;
};

TEST_F(CopyImageTest, CopiesEveryFileUnderNewIdsIntoTheDestinationRegion) {
  std::string src = register_image("web", {{"BlockDeviceMappings",
                                            Json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1}}])")}});
  catalog_->set_tags(src, {{"team", "web"}});
  Json src_image = describe_image(src);

  auto r = copy({{"Region", "local-2"}, {"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "web copy"},
                 {"CopyImageTags", true}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string dst = r.body["ImageId"];
  EXPECT_NE(dst, src);
  auto pending = call("DescribeImages", {{"Region", "local-2"}, {"ImageIds", {dst}}});
  ASSERT_TRUE(pending.ok) << pending.error_message;
  EXPECT_EQ(pending.body["Images"][0]["State"], "pending");

  scheduler_.run_posted();
  auto d = call("DescribeImages", {{"Region", "local-2"}, {"ImageIds", {dst}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  Json img = d.body["Images"][0];
  EXPECT_EQ(img["State"], "available") << img.dump();
  EXPECT_EQ(img["Name"], "web copy");
  EXPECT_EQ(img["Description"], "[Copied " + src + " from local-1] ");
  EXPECT_EQ(img["Architecture"], src_image["Architecture"]);
  EXPECT_EQ(img["BlockDeviceMappings"].size(), src_image["BlockDeviceMappings"].size());
  std::string root_snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"];
  EXPECT_NE(root_snap, src_image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]) << "a copy has its own snapshots";
  EXPECT_EQ(img["BlockDeviceMappings"][1]["DeviceName"], "/dev/vdb");
  EXPECT_EQ(catalog_->tags_of(dst), (Tags{{"team", "web"}})) << "--copy-image-tags";

  // Byte for byte, in the destination's store, read-only.
  auto copied = catalog_->find_image(dst);
  ASSERT_TRUE(copied);
  EXPECT_EQ(copied->disk_file, east_store_->image_disk(dst));
  EXPECT_EQ(read_text(copied->disk_file), read_text(catalog_->find_image(src)->disk_file));
  auto snap = catalog_->find_snapshot(root_snap);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->region, "local-2");
  EXPECT_EQ(snap->file, copied->disk_file);

  // Regions are separate: each id is NotFound in the other one.
  EXPECT_EQ(call("DescribeImages", {{"ImageIds", {dst}}}).error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(call("DescribeImages", {{"Region", "local-2"}, {"ImageIds", {src}}}).error_code,
            codes::kInvalidAmiIdNotFound);
  auto listed = call("DescribeImages", {{"Region", "local-2"}});
  ASSERT_TRUE(listed.ok);
  EXPECT_EQ(listed.body["Images"].size(), 1u);

  // It launches there, and the source can go without taking the copy with it.
  auto run = call("RunInstances", {{"Region", "local-2"}, {"ImageId", dst}, {"InstanceType", "t3.nano"}});
  ASSERT_TRUE(run.ok) << run.error_code << ": " << run.error_message;
  ASSERT_TRUE(call("DeregisterImage", {{"ImageId", src}}).ok);
  EXPECT_TRUE(file_exists(copied->disk_file));
  EXPECT_FALSE(file_exists(store_->image_dir(src))) << "the source had no users left";
}

// A captured image's root is a thin layer on its source template. Its copy in
// another region stands alone: the destination holds everything it reads.
TEST_F(CopyImageTest, AThinCapturedImageIsCopiedStandalone) {
  std::string base = register_image("base");
  auto r = call("RunInstances", {{"ImageId", base}, {"InstanceType", "t3.nano"}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string inst = r.body["Instances"][0]["InstanceId"];
  ASSERT_TRUE(call("StopInstances", {{"InstanceIds", {inst}}, {"Force", true}}).ok);
  auto created = call("CreateImage", {{"InstanceId", inst}, {"Name", "captured"}});
  ASSERT_TRUE(created.ok) << created.error_code << ": " << created.error_message;
  std::string captured = created.body["ImageId"];
  scheduler_.run_posted();
  ASSERT_EQ(describe_image(captured)["State"], "available");
  ASSERT_FALSE(catalog_->snapshots_of_image(captured).at(0).base_snapshot_id.empty()) << "captured thin";

  auto c = copy({{"Region", "local-2"}, {"SourceRegion", "local-1"}, {"SourceImageId", captured}, {"Name", "away"}});
  ASSERT_TRUE(c.ok) << c.error_code << ": " << c.error_message;
  std::string dst = c.body["ImageId"];
  scheduler_.run_posted();
  auto d = call("DescribeImages", {{"Region", "local-2"}, {"ImageIds", {dst}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  EXPECT_EQ(d.body["Images"][0]["State"], "available") << d.body.dump();
  auto copied = catalog_->find_image(dst);
  ASSERT_TRUE(copied);
  EXPECT_EQ(catalog_->snapshots_of_image(dst).at(0).base_snapshot_id, "");
  ProcessResult info = run_process({"qemu-img", "info", "-U", "--output=json", copied->disk_file});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_FALSE(Json::parse(info.out).contains("backing-filename")) << info.out;
  // The same guest-visible content as the thin chain it came from.
  ProcessResult same = run_process({"qemu-img", "compare", "-U", catalog_->find_image(captured)->disk_file,
                                    copied->disk_file});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_EQ(catalog_->count_snapshots_based_on_image(captured), 0) << "nothing in local-2 sits on it";
}

// A warm image's copy is warm too: its save image copied byte for byte, its
// root layer copied read-only and pointed at the copy's own disk, the rest of
// the warm state as it was. A warm state that is not available stays behind.
TEST_F(CopyImageTest, AWarmImagesCopyCarriesItsWarmState) {
  std::string src = register_image("warm");
  auto source = catalog_->find_image(src);
  ASSERT_TRUE(source);
  WarmStateRecord w;
  w.image_id = src;
  w.state = "available";
  w.memory_file = warm_memory_file(*store_, src);
  w.root_layer = warm_root_layer(*store_, src);
  ::amid::testing::write_text(w.memory_file, "saved guest memory");
  ProcessResult layer = run_process({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                                     source->disk_file, w.root_layer});
  ASSERT_EQ(layer.exit_code, 0) << layer.err;
  w.memory_bytes = 18;
  w.instance_type = "t3.nano";
  w.memory_mib = 512;
  w.vcpus = 2;
  w.machine = "pc-i440fx-7.2";
  w.cpu = "default";
  w.accelerator = "qemu";
  w.qemu_version = "7002000";
  w.nic = true;
  catalog_->put_warm_state(w);

  auto r = copy({{"Region", "local-2"}, {"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "warm copy"}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string dst = r.body["ImageId"];
  EXPECT_FALSE(catalog_->find_warm_state(dst)) << "no warm state before the copy is done";
  scheduler_.run_posted();
  auto d = call("DescribeImages", {{"Region", "local-2"}, {"ImageIds", {dst}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  EXPECT_EQ(d.body["Images"][0]["State"], "available") << d.body.dump();
  EXPECT_EQ(d.body["Images"][0]["Warm"], true) << d.body.dump();

  auto copied = catalog_->find_warm_state(dst);
  ASSERT_TRUE(copied);
  EXPECT_EQ(copied->state, "available");
  EXPECT_EQ(copied->memory_file, warm_memory_file(*east_store_, dst));
  EXPECT_EQ(copied->root_layer, warm_root_layer(*east_store_, dst));
  EXPECT_EQ(read_text(copied->memory_file), "saved guest memory");
  EXPECT_EQ(copied->memory_bytes, w.memory_bytes);
  EXPECT_EQ(copied->instance_type, "t3.nano");
  EXPECT_EQ(copied->machine, w.machine);
  EXPECT_EQ(copied->qemu_version, w.qemu_version);
  EXPECT_TRUE(copied->nic);
  ProcessResult info = run_process({"qemu-img", "info", "-U", "--output=json", copied->root_layer});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(Json::parse(info.out).value("backing-filename", ""), catalog_->find_image(dst)->disk_file)
      << "the copy's layer sits on the copy's disk, not the source's";
  struct stat st {};
  ASSERT_EQ(::stat(copied->root_layer.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_FALSE(file_exists(copied->root_layer + ".part"));

  // The source's warm state untouched; a failed one is not copied.
  EXPECT_EQ(catalog_->find_warm_state(src)->root_layer, w.root_layer);
  w.state = "failed";
  catalog_->put_warm_state(w);
  auto cold = copy({{"Region", "local-2"}, {"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "cold"}});
  ASSERT_TRUE(cold.ok) << cold.error_message;
  scheduler_.run_posted();
  std::string cold_id = cold.body["ImageId"];
  EXPECT_FALSE(catalog_->find_warm_state(cold_id));
  EXPECT_FALSE(file_exists(warm_memory_file(*east_store_, cold_id)));
}

TEST_F(CopyImageTest, TagsAreCopiedOnlyWhenAskedAndADescriptionIsKept) {
  std::string src = register_image("plain");
  catalog_->set_tags(src, {{"team", "web"}});
  auto r = copy({{"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "same region copy"},
                 {"Description", "mine"},
                 {"TagSpecifications", Json::parse(R"([{"ResourceType":"image","Tags":[{"Key":"stage","Value":"dr"}]},
                                                        {"ResourceType":"snapshot","Tags":[{"Key":"kind","Value":"copy"}]}])")}});
  ASSERT_TRUE(r.ok) << r.error_message;
  scheduler_.run_posted();
  std::string dst = r.body["ImageId"];
  Json img = describe_image(dst);
  EXPECT_EQ(img["State"], "available");
  EXPECT_EQ(img["Description"], "mine");
  EXPECT_EQ(catalog_->tags_of(dst), (Tags{{"stage", "dr"}})) << "TagSpecifications only, not the source's";
  std::string snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"];
  EXPECT_EQ(catalog_->tags_of(snap), (Tags{{"kind", "copy"}}));
}

TEST_F(CopyImageTest, AClientTokenMakesTheCopyIdempotentPerRegion) {
  std::string src = register_image("web");
  Json params = {{"Region", "local-2"}, {"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "web copy"},
                 {"ClientToken", "copy-42"}};
  auto first = copy(params);
  ASSERT_TRUE(first.ok) << first.error_message;
  std::size_t rows = image_rows();
  auto again = copy(params);
  ASSERT_TRUE(again.ok) << again.error_message;
  EXPECT_EQ(again.body["ImageId"], first.body["ImageId"]);
  EXPECT_EQ(image_rows(), rows) << "a replay copies nothing";

  Json other = params;
  other["Name"] = "another name";
  auto mismatch = copy(other);
  EXPECT_EQ(mismatch.error_code, codes::kIdempotentParameterMismatch) << mismatch.error_message;
  EXPECT_EQ(image_rows(), rows);

  // The same token copying into another region is another request, as on EC2.
  Json local = params;
  local.erase("Region");
  auto here = copy(local);
  ASSERT_TRUE(here.ok) << here.error_code << ": " << here.error_message;
  EXPECT_NE(here.body["ImageId"], first.body["ImageId"]);
  scheduler_.run_posted();
  EXPECT_EQ(describe_image(here.body["ImageId"])["State"], "available");
}

TEST_F(CopyImageTest, BadInputIsRefusedNamingTheFieldAndCreatesNothing) {
  std::string src = register_image("web");
  std::size_t before = image_rows();
  struct Case {
    Json params;
    std::string code, field;
  };
  const std::vector<Case> cases = {
      {{{"SourceRegion", "mars-1"}, {"SourceImageId", src}, {"Name", "x copy"}}, codes::kInvalidParameterValue,
       "SourceRegion: 'mars-1'"},
      {{{"Region", "mars-1"}, {"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "x copy"}},
       codes::kInvalidParameterValue, "Region: 'mars-1'"},
      {{{"SourceRegion", "local-2"}, {"SourceImageId", src}, {"Name", "x copy"}}, codes::kInvalidAmiIdNotFound, src},
      {{{"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "web"}}, codes::kInvalidAmiNameDuplicate,
       "Name:"},
      {{{"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "x"}}, "", "Name"},
      {{{"SourceRegion", "local-1"}, {"SourceImageId", "ami-nope"}, {"Name", "x copy"}}, "", "ami-nope"},
      {{{"SourceRegion", "local-1"}, {"Name", "x copy"}}, codes::kMissingParameter, "SourceImageId"},
      {{{"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "x copy"}, {"Encrypted", true}},
       codes::kUnknownParameter, "Encrypted"},
  };
  for (const auto& c : cases) {
    auto r = copy(c.params);
    EXPECT_FALSE(r.ok) << c.params.dump();
    if (!c.code.empty()) {
      EXPECT_EQ(r.error_code, c.code) << c.params.dump() << ": " << r.error_message;
    }
    EXPECT_NE(r.error_message.find(c.field), std::string::npos) << c.params.dump() << ": " << r.error_message;
  }
  EXPECT_EQ(image_rows(), before);
  // Bob cannot see Alice's image, so he cannot copy it.
  auto r = call("CopyImage", {{"SourceRegion", "local-1"}, {"SourceImageId", src}, {"Name", "bob copy"}}, bob_);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_EQ(image_rows(), before);
}

}  // namespace
}  // namespace amid
