// services/warm_images.h against libvirt's test driver and the real qemu-img:
// WarmImage's refusals change nothing; a guest that never greets amid leaves
// the image's warm state failed (with why), no files, and no instance running;
// warm_mismatch names each reason a launch boots cold; restore_xml keeps the
// saved machine with the link down and no user data.
#include "daemon/services/warm_images.h"

#include <gtest/gtest.h>

#include <fstream>

#include "daemon/host/fs.h"
#include "daemon/services/render.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;
using protocol::Json;

class WarmImagesTest : public ::amid::testing::ServiceTest {
 protected:
  void region_opened() override {
    ServiceTest::region_opened();
    region_->warm_images().set_boot_timeout(std::chrono::milliseconds(200));
  }

  // An image with an available warm state for t3.nano, whose files exist.
  ImageRecord warm_image_record(const std::string& image_id) {
    ImageRecord image = *catalog_->find_image(image_id);
    WarmStateRecord w;
    w.image_id = image_id;
    w.state = "available";
    w.memory_file = tmp_.file("warm-memory.save");
    w.root_layer = tmp_.file("warm-root.qcow2");
    std::ofstream(w.memory_file) << "saved";
    std::ofstream(w.root_layer) << "layer";
    w.instance_type = "t3.nano";
    w.memory_mib = 512;
    w.vcpus = 2;
    w.machine = "pc-i440fx-7.2";
    w.cpu = "default";
    w.accelerator = "test";
    w.qemu_version = rt_->hypervisor.version();
    w.nic = false;
    image.warm = w;
    return image;
  }

  InstanceRecord nano() {
    InstanceRecord rec;
    rec.id = "i-0000000000000000a";
    rec.instance_type = "t3.nano";
    rec.memory_mib = 512;
    rec.vcpus = 2;
    rec.architecture = "x86_64";
    return rec;
  }

  std::string mismatch(const ImageRecord& image, const InstanceRecord& rec, const BlockDeviceMappings& maps = {},
                       std::uint64_t root_size = 0) {
    return warm_mismatch(*rt_, image, rec, maps, 0, root_size);
  }
};

TEST_F(WarmImagesTest, RefusalsNameTheFieldAndChangeNothing) {
  if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  const std::string image = register_image("tiny");

  auto unknown = call("WarmImage", {{"ImageId", "ami-00000000000000000"}});
  EXPECT_EQ(unknown.error_code, "InvalidAMIID.NotFound");
  auto bobs = call("WarmImage", {{"ImageId", image}}, bob_);
  EXPECT_FALSE(bobs.ok) << "only the image's owner may make it warm";
  auto type = call("WarmImage", {{"ImageId", image}, {"InstanceType", "t9.huge"}});
  EXPECT_EQ(type.error_code, "InvalidParameterValue");
  EXPECT_TRUE(has_substr(type.error_message, "InstanceType"));
  auto missing = call("WarmImage", Json::object());
  EXPECT_EQ(missing.error_code, "MissingParameter");
  EXPECT_TRUE(has_substr(missing.error_message, "ImageId"));

  const std::string with_volume =
      register_image("two disks", {{"BlockDeviceMappings", Json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1}}])")}});
  auto volume = call("WarmImage", {{"ImageId", with_volume}});
  EXPECT_EQ(volume.error_code, "UnsupportedOperation");
  EXPECT_TRUE(has_substr(volume.error_message, "/dev/vdb"));

  EXPECT_TRUE(catalog_->list_warm_states("").empty()) << "a refused request records nothing";
  EXPECT_FALSE(describe_image(image).contains("WarmState"));
}

TEST_F(WarmImagesTest, AGuestThatNeverGreetsLeavesTheStateFailedAndNothingRunning) {
  if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  const std::string image = register_image("no listener");
  auto r = call("WarmImage", {{"ImageId", image}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(r.body["ImageId"], image);
  EXPECT_EQ(r.body["WarmState"]["State"], "pending");
  EXPECT_EQ(describe_image(image)["WarmState"]["State"], "pending");
  EXPECT_EQ(describe_image(image)["Warm"], false);

  auto again = call("WarmImage", {{"ImageId", image}});
  EXPECT_EQ(again.error_code, "IncorrectState") << "one warm state at a time";

  scheduler_.run_posted();  // the test driver's guest has no resume listener
  Json img = describe_image(image);
  EXPECT_EQ(img["WarmState"]["State"], "failed") << img.dump();
  EXPECT_TRUE(has_substr(img["WarmState"].value("StateReason", ""), "resume"));
  EXPECT_EQ(img["Warm"], false);
  EXPECT_FALSE(fs::exists(rt_->store.image_dir(image) + "/warm-memory.save"));
  EXPECT_FALSE(fs::exists(rt_->store.image_dir(image) + "/warm-root.qcow2"));
  for (const auto& inst : catalog_->list_instances()) {
    EXPECT_EQ(inst.state, InstanceState::kTerminated) << inst.id << ": the instance it booted is ended";
  }

  // A failed state may be tried again.
  auto retry = call("WarmImage", {{"ImageId", image}});
  EXPECT_TRUE(retry.ok) << retry.error_code << ": " << retry.error_message;
}

TEST_F(WarmImagesTest, PendingStatesOfAStoppedAmidFailAtStart) {
  if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  const std::string image = register_image("interrupted");
  ASSERT_TRUE(call("WarmImage", {{"ImageId", image}}).ok);
  scheduler_.drop_all();  // amid stopped before the job ran
  std::ofstream(rt_->store.image_dir(image) + "/warm-memory.save.tmp") << "partial";
  region_->warm_images().recover_interrupted();
  auto warm = catalog_->find_warm_state(image);
  ASSERT_TRUE(warm.has_value());
  EXPECT_EQ(warm->state, "failed");
  EXPECT_TRUE(has_substr(warm->state_reason, "amid stopped"));
  EXPECT_FALSE(fs::exists(rt_->store.image_dir(image) + "/warm-memory.save.tmp")) << "its partial file is removed";
}

TEST_F(WarmImagesTest, MismatchSaysWhyALaunchBootsCold) {
  if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH";
  const ImageRecord warm = warm_image_record(register_image("warm"));
  EXPECT_EQ(mismatch(warm, nano()), "") << "the same type, accelerator, QEMU and files: restored";

  ImageRecord cold = warm;
  cold.warm.reset();
  EXPECT_EQ(mismatch(cold, nano()), "the image is not warm");

  ImageRecord pending = warm;
  pending.warm->state = "pending";
  EXPECT_EQ(mismatch(pending, nano()), "the image's warm state is pending");

  InstanceRecord micro = nano();
  micro.instance_type = "t3.micro";
  micro.memory_mib = 1024;
  EXPECT_TRUE(has_substr(mismatch(warm, micro), "t3.micro has 1024 MiB and 2 vCPUs; the warm state is of t3.nano"));

  ImageRecord kvm = warm;
  kvm.warm->accelerator = "kvm";
  EXPECT_TRUE(has_substr(mismatch(kvm, nano()), "saved under kvm"));

  ImageRecord older = warm;
  older.warm->qemu_version = "7001000";
  EXPECT_TRUE(has_substr(mismatch(older, nano()), "saved by QEMU 7001000"));

  BlockDeviceMappings volume = {BlockDeviceMapping{"/dev/vdb", {}, {}, false}};
  volume[0].ebs = EbsSpec{};
  EXPECT_TRUE(has_substr(mismatch(warm, nano(), volume), "/dev/vdb"));

  EXPECT_TRUE(has_substr(mismatch(warm, nano(), {}, warm.size_bytes + 1), "root volume is larger"));

  ::unlink(warm.warm->memory_file.c_str());
  EXPECT_EQ(mismatch(warm, nano()), "the warm state's files are missing");
}

TEST_F(WarmImagesTest, RestoreXmlKeepsTheSavedMachineWithTheLinkDownAndNoUserData) {
  WarmStateRecord warm;
  warm.machine = "pc-i440fx-7.2";
  DomainSpec spec;
  spec.name = "i-0000000000000000a";
  spec.uuid = "6f1c3c4e-2b0a-4d8e-9c55-0a1b2c3d4e5f";
  spec.domain_type = "qemu";
  spec.vcpus = 2;
  spec.memory_mib = 512;
  spec.machine = "pc";
  spec.disks.push_back({"/s/instances/i-0000000000000000a/root.qcow2", "vda", {"/s/images/a/warm-root.qcow2"}, false});
  spec.console_log = "/s/instances/i-0000000000000000a/console.log";
  spec.user_data_file = "/s/instances/i-0000000000000000a/user-data";
  spec.tap = "amid0";
  spec.mac = "52:54:00:12:34:56";
  const std::string xml = restore_xml(warm, spec);
  EXPECT_TRUE(has_substr(xml, "machine=\"pc-i440fx-7.2\""));
  EXPECT_TRUE(has_substr(xml, "<link state=\"down\""));
  EXPECT_FALSE(has_substr(xml, "user-data")) << "user data goes through the resume port";
  EXPECT_TRUE(has_substr(xml, spec.uuid)) << "the instance's own UUID";
  EXPECT_TRUE(has_substr(xml, spec.mac)) << "and its own MAC";
}

TEST(WarmStateRender, ShowsWhatALaunchMustMatchOnceAvailable) {
  WarmStateRecord w;
  w.image_id = "ami-0000000000000000a";
  w.state = "pending";
  w.instance_type = "t3.micro";
  w.create_time = "2026-12-07T10:00:00.000Z";
  Json pending = render_warm_state(w);
  EXPECT_EQ(pending["State"], "pending");
  EXPECT_FALSE(pending.contains("Machine"));

  w.state = "available";
  w.memory_bytes = 103809024;
  w.memory_mib = 1024;
  w.vcpus = 2;
  w.machine = "pc-i440fx-7.2";
  w.cpu = "default";
  w.accelerator = "qemu";
  w.qemu_version = "7002000";
  Json available = render_warm_state(w);
  EXPECT_EQ(available["Accelerator"], "tcg") << "libvirt's qemu domain type is TCG";
  EXPECT_EQ(available["MemoryBytes"], 103809024);
  EXPECT_EQ(available["Machine"], "pc-i440fx-7.2");
  EXPECT_EQ(available["QemuVersion"], "7002000");

  ImageRecord image;
  image.id = w.image_id;
  image.warm = w;
  EXPECT_EQ(render_image(image)["Warm"], true);
  image.warm.reset();
  EXPECT_FALSE(render_image(image).contains("Warm")) << "an image never made warm shows nothing of it";

  InstanceRecord inst;
  inst.state = InstanceState::kPending;
  EXPECT_FALSE(render_instance(inst).contains("LaunchMode")) << "not known before the launch";
  inst.state = InstanceState::kRunning;
  inst.launch_mode = "warm";
  EXPECT_EQ(render_instance(inst)["LaunchMode"], "warm");
  EXPECT_FALSE(render_instance(inst).contains("BootMode")) << "EC2's BootMode is the firmware";
}

}  // namespace
}  // namespace amid
