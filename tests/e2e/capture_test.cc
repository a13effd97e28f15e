// End to end: create-image from real guests, both ways EC2 does it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

class Capture : public ::testing::Test {
 protected:
  std::string register_tiny() {
    Result r = amid_.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  std::string launch(const std::string& image, const std::string& user_data) {
    Result r = amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano",
                             "--user-data", user_data, "--output", "text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\t'));
  }
  std::string wait_console(const std::string& id, const std::string& text, int timeout = 180) {
    Result r = amid_.amictl({"get-console-output", "--instance-id", id, "--wait-for", text,
                             "--timeout", std::to_string(timeout)});
    EXPECT_EQ(r.exit_code, 0) << "waiting for '" << text << "'; console:\n" << r.out;
    return r.out;
  }
  Json image(const std::string& id) {
    Result r = amid_.amictl({"describe-images", "--image-ids", id, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)["Images"][0];
  }
  std::string instance_state(const std::string& id) {
    Result r = amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"});
    return Json::parse(r.out)["Reservations"][0]["Instances"][0]["State"]["Name"];
  }
  std::string template_of(const std::string& image_id) {
    return amid_.state_dir() + "/images/" + image_id + "/disk.qcow2";
  }
  Amid amid_;
};

TEST_F(Capture, NoRebootIsAPointInTimeCopyAndLeavesTheTemplateAlone) {
  amid_.start();
  std::string base = register_tiny();
  std::string base_sum = sha256_of(template_of(base));
  std::string src = launch(base,
      "echo early > /root/early; sync; (sleep 15; echo late > /root/late; sync; echo LATE-WRITTEN) &");
  wait_console(src, "amid-tiny: ready");
  pid_t qemu = qemu_pid_of(src);

  Result r = amid_.amictl({"create-image", "--instance-id", src, "--name", "point in time",
                           "--no-reboot", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string captured = r.out.substr(0, r.out.find('\n'));
  Json img = image(captured);
  EXPECT_EQ(img["State"], "available");
  EXPECT_EQ(img["Consistency"], "crash-consistent");
  EXPECT_EQ(img["SourceInstanceId"], src);
  EXPECT_EQ(img["BlockDeviceMappings"][0]["DeviceName"], "/dev/vda");
  EXPECT_EQ(img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"].get<std::string>().rfind("snap-", 0), 0u);
  // The guest kept running throughout: same QEMU, still running.
  EXPECT_EQ(qemu_pid_of(src), qemu);
  EXPECT_EQ(instance_state(src), "running");

  // The new template stands alone and is read-only.
  std::string file = template_of(captured);
  Json info = Json::parse(run({"qemu-img", "info", "-U", "--output=json", file}).out);
  EXPECT_FALSE(info.contains("backing-filename")) << info.dump();
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0440u);
  EXPECT_EQ(run({"qemu-img", "check", "-U", file}).exit_code, 0);

  // Written after the capture began: in the source, not in the image.
  wait_console(src, "LATE-WRITTEN", 60);
  std::string copy = launch(captured, "echo \"root has: $(ls /root | tr '\\n' ' ')\"");
  std::string console = wait_console(copy, "amid-tiny: ready");
  EXPECT_NE(console.find("root has: early"), std::string::npos) << console;
  EXPECT_EQ(console.find("late"), std::string::npos) << console;
  EXPECT_EQ(sha256_of(template_of(base)), base_sum) << "a capture wrote the source template";
}

TEST_F(Capture, DefaultModeShutsDownCapturesAndStartsTheGuestAgain) {
  amid_.start();
  std::string base = register_tiny();
  std::string base_sum = sha256_of(template_of(base));
  std::string src = launch(base, "echo boot >> /root/boots; echo \"boots=$(wc -l < /root/boots)\"");
  wait_console(src, "boots=1");

  // Two create-image at once on one instance: exactly one is accepted.
  auto first = std::async(std::launch::async, [&] {
    return amid_.amictl({"create-image", "--instance-id", src, "--name", "clean-a"});
  });
  auto second = std::async(std::launch::async, [&] {
    return amid_.amictl({"create-image", "--instance-id", src, "--name", "clean-b"});
  });
  Result a = first.get(), b = second.get();
  EXPECT_EQ((a.exit_code == 0) + (b.exit_code == 0), 1) << a.err << b.err;
  EXPECT_EQ((a.exit_code == 5) + (b.exit_code == 5), 1) << a.err << b.err;
  std::string captured = (a.exit_code == 0 ? a : b).out;
  captured = captured.substr(0, captured.find('\n'));
  Result w = amid_.amictl({"wait", "image-available", "--image-ids", captured});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(image(captured)["Consistency"], "consistent");

  // The source was shut down cleanly and started again with its disk intact.
  wait_console(src, "boots=2");
  EXPECT_EQ(instance_state(src), "running");
  // The image holds what the guest had written before the capture.
  std::string copy = launch(captured, "echo boot >> /root/boots; echo \"copy-boots=$(wc -l < /root/boots)\"");
  wait_console(copy, "copy-boots=2");
  EXPECT_EQ(sha256_of(template_of(base)), base_sum);

  // The name is taken now, as on EC2; nothing is created.
  std::string name = a.exit_code == 0 ? "clean-a" : "clean-b";
  Result dup = amid_.amictl({"create-image", "--instance-id", src, "--name", name});
  EXPECT_EQ(dup.exit_code, 2);
  EXPECT_NE(dup.err.find("InvalidAMIName.Duplicate"), std::string::npos) << dup.err;
  Json all = Json::parse(amid_.amictl({"describe-images", "--output", "json"}).out);
  EXPECT_EQ(all["Images"].size(), 2u);
}

TEST_F(Capture, AFailedCaptureLeavesNothingAndTheSameCommandThenSucceeds) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs as a full store";
  std::string store = amid_.state_dir();
  std::filesystem::create_directories(store);
  // Room for the 19 MiB template and little else: the capture runs out of space.
  ASSERT_EQ(run({"mount", "-t", "tmpfs", "-o", "size=28m,mode=0711", "tmpfs", store}).exit_code, 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { run({"umount", "-l", dir}); }
  } unmount{store};
  amid_.start();
  std::string base = register_tiny();
  std::string src = launch(base, "echo x > /root/x; sync");
  wait_console(src, "amid-tiny: ready");
  ASSERT_EQ(amid_.amictl({"stop-instances", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"wait", "instance-stopped", "--instance-ids", src}).exit_code, 0);

  Result r = amid_.amictl({"create-image", "--instance-id", src, "--name", "retry me", "--wait"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::string failed = r.out.substr(0, r.out.find('\n'));
  Json img = image(failed);
  EXPECT_EQ(img["State"], "failed");
  EXPECT_NE(img["StateReason"]["Message"].get<std::string>().find("No space"), std::string::npos)
      << img.dump();
  EXPECT_FALSE(std::filesystem::exists(store + "/images/" + failed)) << "partial files left behind";
  EXPECT_EQ(instance_state(src), "stopped");

  ASSERT_EQ(run({"mount", "-o", "remount,size=256m", store}).exit_code, 0);
  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "retry me", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(image(r.out.substr(0, r.out.find('\n')))["State"], "available");
  EXPECT_EQ(instance_state(src), "stopped");
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", src}).exit_code, 0);
  amid_.stop();
}

// create-image captures every EBS volume unless --block-device-mappings drops it
// (no_device), and may add instance-store mappings, which are recorded, not copied.
TEST_F(Capture, MappingsAtCreateImageAddAndDropVolumes) {
  amid_.start();
  std::string base = register_tiny();
  std::string bdm = amid_.dir() + "/launch.toml";
  std::ofstream(bdm) << "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { volume_size = 1 }\n";
  Result r = amid_.amictl({"run-instances", "--image-id", base, "--instance-type", "t3.nano",
                           "--block-device-mappings", "file://" + bdm, "--output", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string src = r.out.substr(0, r.out.find('\t'));
  wait_console(src, "amid-tiny: ready");

  auto qcow2_files = [&](const std::string& image_id) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(amid_.state_dir() + "/images/" + image_id)) {
      n += e.path().extension() == ".qcow2";
    }
    return n;
  };
  auto mapping = [](const Json& img, const std::string& dev) -> Json {
    for (const auto& m : img["BlockDeviceMappings"]) {
      if (m["DeviceName"] == dev) return m;
    }
    return nullptr;
  };

  // By default: root and vdb, each a snapshot.
  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "both", "--no-reboot", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string both = r.out.substr(0, r.out.find('\n'));
  Json img = image(both);
  ASSERT_TRUE(mapping(img, "/dev/vdb").is_object()) << img.dump();
  EXPECT_EQ(mapping(img, "/dev/vdb")["Ebs"]["VolumeSize"], 1);
  EXPECT_EQ(mapping(img, "/dev/vdb")["Ebs"]["SnapshotId"].get<std::string>().rfind("snap-", 0), 0u);
  EXPECT_EQ(qcow2_files(both), 2);

  // Dropping vdb and adding an instance-store mapping.
  std::string change = amid_.dir() + "/capture.toml";
  std::ofstream(change) << "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nno_device = true\n"
                        << "[[block_device_mappings]]\ndevice_name = \"/dev/vdc\"\nvirtual_name = \"ephemeral0\"\n";
  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "root only", "--no-reboot",
                    "--block-device-mappings", "file://" + change, "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string root_only = r.out.substr(0, r.out.find('\n'));
  img = image(root_only);
  EXPECT_TRUE(mapping(img, "/dev/vdb").is_null()) << img.dump();
  ASSERT_TRUE(mapping(img, "/dev/vdc").is_object()) << img.dump();
  EXPECT_EQ(mapping(img, "/dev/vdc")["VirtualName"], "ephemeral0");
  EXPECT_TRUE(mapping(img, "/dev/vda")["Ebs"].contains("SnapshotId"));
  EXPECT_EQ(qcow2_files(root_only), 1) << "only the root is copied";

  // Mappings create-image cannot honour are refused by device and create nothing.
  std::ofstream(change) << "[[block_device_mappings]]\ndevice_name = \"/dev/vda\"\nno_device = true\n";
  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "bad", "--no-reboot",
                    "--block-device-mappings", "file://" + change});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("/dev/vda is the root device"), std::string::npos) << r.err;
  Json all = Json::parse(amid_.amictl({"describe-images", "--output", "json"}).out);
  EXPECT_EQ(all["Images"].size(), 3u);
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", src}).exit_code, 0);
}

// amid killed (SIGKILL) in the middle of a default-mode capture: after restart the
// image is failed with no files, the instance runs again, and a retry succeeds.
TEST_F(Capture, AmidKilledMidCaptureFailsTheImageAndRestartsTheInstance) {
  amid_.start();
  std::string base = register_tiny();
  std::string src = launch(base, "echo boot >> /root/boots; echo \"boots=$(wc -l < /root/boots)\"");
  wait_console(src, "boots=1");
  Result r = amid_.amictl({"create-image", "--instance-id", src, "--name", "interrupted"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string killed = r.out.substr(0, r.out.find('\n'));
  amid_.kill9();  // the guest is shutting down for the capture
  amid_.start();

  Json img = image(killed);
  EXPECT_EQ(img["State"], "failed") << img.dump();
  EXPECT_NE(img["StateReason"]["Message"].get<std::string>().find("run create-image again"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(amid_.state_dir() + "/images/" + killed)) << "partial files left";
  EXPECT_EQ(instance_state(src), "running");
  wait_console(src, "boots=2");  // started again, its disk intact

  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "interrupted", "--no-reboot", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << "the same name can be used again: " << r.err;
  EXPECT_EQ(image(r.out.substr(0, r.out.find('\n')))["State"], "available");
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", src}).exit_code, 0);
}

}  // namespace
}  // namespace amid::e2e
