// End to end: block device mappings from TOML, EBS volumes and instance store
// on a real guest, as an EC2 user expects them to behave.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

// Run at every boot: marks the EBS volume once and says whether it found the
// mark; says whether the instance-store disk is blank, then dirties it.
constexpr const char* kProbe =
    "if head -c 9 /dev/vdb | grep -q volmarker; then echo FOUND-EBS; else "
    "echo volmarker | dd of=/dev/vdb conv=notrunc 2>/dev/null; sync; echo WROTE-EBS; fi; "
    "if [ -z \"$(head -c 9 /dev/vdd | tr -d '\\0')\" ]; then echo EPHEMERAL-BLANK; "
    "echo dirty | dd of=/dev/vdd conv=notrunc 2>/dev/null; sync; else echo EPHEMERAL-DIRTY; fi";

TEST(Volumes, MappingsGiveTheGuestItsDisksAndEbsOutlivesStopWhileInstanceStoreDoesNot) {
  Amid amid;
  amid.start();
  Result r = amid.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image = r.out.substr(0, r.out.find('\n'));
  std::string bdm = amid.dir() + "/bdm.toml";
  std::ofstream(bdm) << R"([[block_device_mappings]]
device_name = "/dev/vda"
ebs = { volume_size = 2 }

[[block_device_mappings]]
device_name = "/dev/vdb"
ebs = { volume_size = 2, volume_type = "gp3", delete_on_termination = false }

[[block_device_mappings]]
device_name = "/dev/sdc"
ebs = { volume_size = 1 }

[[block_device_mappings]]
device_name = "/dev/vdd"
virtual_name = "ephemeral0"
)";
  // m5d.large has one 75 GiB instance-store disk.
  r = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "m5d.large",
                   "--block-device-mappings", "file://" + bdm, "--user-data", kProbe, "--output", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\t'));
  r = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", "amid-tiny: ready", "--timeout", "180"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The guest sees every disk with the size the mappings asked for (root grown to 2 GiB).
  EXPECT_NE(r.out.find("amid-tiny: disk vda 2147483648 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("amid-tiny: disk vdb 2147483648 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("amid-tiny: disk vdc 1073741824 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("amid-tiny: disk vdd 80530636800 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WROTE-EBS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EPHEMERAL-BLANK"), std::string::npos) << r.out;

  Json vols = Json::parse(amid.amictl({"describe-volumes", "--output", "json"}).out)["Volumes"];
  ASSERT_EQ(vols.size(), 3u) << vols.dump();
  std::string kept;
  for (auto& v : vols) {
    EXPECT_EQ(v["State"], "in-use");
    EXPECT_EQ(v["Attachments"][0]["InstanceId"], id);
    if (v["Attachments"][0]["Device"] == "/dev/vdb") {
      kept = v["VolumeId"];
      EXPECT_EQ(v["Size"], 2);
      EXPECT_EQ(v["Attachments"][0]["DeleteOnTermination"], false);
    }
  }
  ASSERT_FALSE(kept.empty());

  // Stop and start: the EBS volume kept its data, the instance store is blank again.
  ASSERT_EQ(amid.amictl({"stop-instances", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"wait", "instance-stopped", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"start-instances", "--instance-ids", id}).exit_code, 0);
  r = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", "FOUND-EBS", "--timeout", "180"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The rest of the second boot's user data follows FOUND-EBS: wait until it ends.
  std::string second_boot;
  for (int i = 0; i < 600; ++i) {
    second_boot = r.out.substr(r.out.find("FOUND-EBS"));
    if (second_boot.find("amid-tiny: user data exit") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = amid.amictl({"get-console-output", "--instance-id", id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_NE(second_boot.find("EPHEMERAL-BLANK"), std::string::npos) << r.out;
  EXPECT_EQ(second_boot.find("EPHEMERAL-DIRTY"), std::string::npos) << r.out;

  // Terminate: only the delete_on_termination = false volume remains, available.
  ASSERT_EQ(amid.amictl({"terminate-instances", "--instance-ids", id}).exit_code, 0);
  vols = Json::parse(amid.amictl({"describe-volumes", "--output", "json"}).out)["Volumes"];
  ASSERT_EQ(vols.size(), 1u) << vols.dump();
  EXPECT_EQ(vols[0]["VolumeId"], kept);
  EXPECT_EQ(vols[0]["State"], "available");
  EXPECT_TRUE(vols[0]["Attachments"].empty());
  std::size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(amid.state_dir() + "/volumes")) {
    EXPECT_EQ(e.path().filename().string(), kept + ".qcow2");
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(std::filesystem::exists(amid.state_dir() + "/instances/" + id + "/ephemeral0.qcow2"));
}

TEST(Volumes, BadMappingsAreRefusedWithTheirPlaceAndCreateNothing) {
  Amid amid;
  amid.start();
  Result r = amid.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image = r.out.substr(0, r.out.find('\n'));
  std::string bdm = amid.dir() + "/bad.toml";
  auto launch = [&](const std::string& text) {
    std::ofstream(bdm, std::ios::trunc) << text;
    return amid.amictl({"run-instances", "--image-id", image, "--block-device-mappings", "file://" + bdm});
  };
  r = launch("[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { volume_size = 0 }\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bdm + ":3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("volume_size"), std::string::npos) << r.err;
  r = launch("[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { volume_size = 1 }\n"
             "[[block_device_mappings]]\ndevice_name = \"/dev/xvdb\"\nebs = { volume_size = 1 }\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = launch("[[block_device_mappings]]\ndevice_name = \"/dev/vda\"\nebs = { volume_size = 1 }\nsize = 3\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("size"), std::string::npos) << r.err;
  // A snapshot that does not exist: refused by amid before anything is made.
  r = launch("[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { snapshot_id = \"snap-0123456789abcdef0\" }\n");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("InvalidSnapshot.NotFound"), std::string::npos) << r.err;
  Json instances = Json::parse(amid.amictl({"describe-instances", "--output", "json"}).out);
  EXPECT_TRUE(instances["Reservations"].empty()) << instances.dump();
  Json vols = Json::parse(amid.amictl({"describe-volumes", "--output", "json"}).out);
  EXPECT_TRUE(vols["Volumes"].empty());
}

}  // namespace
}  // namespace amid::e2e
