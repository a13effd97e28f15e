// services/render.h: records rendered with EC2's field names and EC2's numbers.
#include "daemon/services/render.h"

#include <gtest/gtest.h>

#include <string>

namespace amid {
namespace {

// EC2's numeric code of the instance state EC2 names so.
int instance_state_code(const char* name) { return state_code(*instance_state_named(name)); }

TEST(InstanceStateCode, IsEc2sNumbering) {
  EXPECT_EQ(instance_state_code("pending"), 0);
  EXPECT_EQ(instance_state_code("running"), 16);
  EXPECT_EQ(instance_state_code("shutting-down"), 32);
  EXPECT_EQ(instance_state_code("terminated"), 48);
  EXPECT_EQ(instance_state_code("stopping"), 64);
  EXPECT_EQ(instance_state_code("stopped"), 80);
  EXPECT_EQ(render_instance_state(InstanceState::kRunning), protocol::Json({{"Code", 16}, {"Name", "running"}}));
}

TEST(RenderImage, VolumeSizeIsTheDiskSizeRoundedUpToGib) {
  const std::uint64_t gib = 1024ull * 1024 * 1024;
  ImageRecord r;
  r.id = "ami-0123456789abcdef0";
  r.owner = "000000001000";
  r.name = "web";
  for (auto [bytes, want] : {std::pair<std::uint64_t, int>{1, 1}, {gib, 1}, {gib + 1, 2}, {10 * gib, 10}}) {
    r.size_bytes = bytes;
    protocol::Json j = render_image(r);
    EXPECT_EQ(j["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], want) << bytes;
    EXPECT_EQ(j["BlockDeviceMappings"][0]["DeviceName"], "/dev/vda");
  }
  protocol::Json j = render_image(r);
  EXPECT_EQ(j["ImageId"], r.id);
  EXPECT_EQ(j["OwnerId"], r.owner);
  EXPECT_EQ(j["ImageLocation"], "000000001000/web");
  EXPECT_FALSE(j.contains("StateReason"));
}

TEST(RenderImage, InstanceStoreImagesMapAnEphemeralRoot) {
  ImageRecord r;
  r.root_device_type = "instance-store";
  protocol::Json root = render_image(r)["BlockDeviceMappings"][0];
  EXPECT_EQ(root["VirtualName"], "ephemeral0");
  EXPECT_FALSE(root.contains("Ebs"));
}

TEST(RenderImage, AFailedImageExplainsWhy) {
  ImageRecord r;
  r.state = ImageState::kFailed;
  r.state_reason = "qemu-img convert failed";
  protocol::Json j = render_image(r);
  EXPECT_EQ(j["StateReason"]["Code"], "failed");
  EXPECT_EQ(j["StateReason"]["Message"], "qemu-img convert failed");
}

TEST(RenderInstance, StateReasonCodeIsThePartBeforeTheColon) {
  InstanceRecord r;
  r.id = "i-0123456789abcdef0";
  r.region = "local-1";
  r.vcpus = 2;
  r.state = InstanceState::kTerminated;
  r.state_reason = "Client.UserInitiatedShutdown: User initiated shutdown";
  protocol::Json j = render_instance(r);
  EXPECT_EQ(j["InstanceId"], r.id);
  EXPECT_EQ(j["State"]["Code"], 48);
  EXPECT_EQ(j["Placement"]["AvailabilityZone"], "local-1a");
  EXPECT_EQ(j["CpuOptions"]["CoreCount"], 2);
  EXPECT_EQ(j["StateReason"]["Code"], "Client.UserInitiatedShutdown");
  EXPECT_EQ(j["StateReason"]["Message"], r.state_reason);
  EXPECT_EQ(j["StateTransitionReason"], r.state_reason);

  r.state_reason.clear();
  EXPECT_FALSE(render_instance(r).contains("StateReason"));
}

}  // namespace
}  // namespace amid
