// End to end: create-image from real guests, both ways EC2 does it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
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
      "[ -f /root/late ] && echo LATE-SURVIVED; echo early > /root/early; sync; "
      "(sleep 15; [ -f /root/late ] || { echo late > /root/late; sync; echo LATE-WRITTEN; }) &");
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
  // Right after one capture is available the next may begin: it waits for the
  // first one's overlay merge instead of being refused.
  Result again = amid_.amictl({"create-image", "--instance-id", src, "--name", "right after", "--no-reboot", "--wait"});
  EXPECT_EQ(again.exit_code, 0) << again.err;

  // The new template is a thin layer on the source template (docs/CAPTURE.md),
  // and read-only.
  std::string file = template_of(captured);
  Json info = Json::parse(run({"qemu-img", "info", "-U", "--output=json", file}).out);
  EXPECT_EQ(info.value("backing-filename", ""), template_of(base)) << info.dump();
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

  // The guest's writes during the capture went to a capture overlay that was
  // merged back into its own disk: nothing is left beside it, and the write is
  // still there after a stop and a start (which boot the disk's definition).
  for (const auto& entry : std::filesystem::directory_iterator(amid_.state_dir() + "/instances/" + src)) {
    EXPECT_EQ(entry.path().string().find(".capture"), std::string::npos) << entry.path();
  }
  ASSERT_EQ(amid_.amictl({"stop-instances", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"wait", "instance-stopped", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"start-instances", "--instance-ids", src}).exit_code, 0);
  wait_console(src, "LATE-SURVIVED");
}

// A captured template is a thin layer on the template its instance came from:
// that template stays, deregistered or not, while the layer needs it, guests boot
// through both, and both go once nothing uses either.
TEST_F(Capture, AThinTemplateKeepsWhatItSitsOnUntilNothingNeedsEither) {
  amid_.start();
  std::string base = register_tiny();
  std::string base_sum = sha256_of(template_of(base));
  std::string src = launch(base, "echo layered > /root/marker; sync; echo MARKED");
  wait_console(src, "MARKED");
  Result r = amid_.amictl({"create-image", "--instance-id", src, "--name", "layer", "--no-reboot", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string layer = r.out.substr(0, r.out.find('\n'));
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", src}).exit_code, 0);

  // Far smaller than the template it sits on: only the guest's own writes.
  EXPECT_LT(std::filesystem::file_size(template_of(layer)), std::filesystem::file_size(template_of(base)));
  ASSERT_EQ(amid_.amictl({"deregister-image", "--image-id", base}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(template_of(base))) << "reclaimed under a template that sits on it";
  EXPECT_EQ(sha256_of(template_of(base)), base_sum);

  std::string copy = launch(layer, "echo \"marker: $(cat /root/marker)\"");
  wait_console(copy, "marker: layered");
  ASSERT_EQ(amid_.amictl({"deregister-image", "--image-id", layer}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(template_of(layer))) << "an instance still runs on it";
  EXPECT_TRUE(std::filesystem::exists(template_of(base)));
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", copy}).exit_code, 0);
  for (int i = 0; i < 100 && std::filesystem::exists(template_of(base)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(std::filesystem::exists(amid_.state_dir() + "/images/" + layer)) << "not reclaimed";
  EXPECT_FALSE(std::filesystem::exists(amid_.state_dir() + "/images/" + base)) << "not reclaimed with the layer";
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
  // Room for the 19 MiB template and the guest's 16 MiB, not for a copy of
  // them: the capture runs out of space.
  ASSERT_EQ(run({"mount", "-t", "tmpfs", "-o", "size=44m,mode=0711", "tmpfs", store}).exit_code, 0);
  struct Unmount {
    std::string dir;
    ~Unmount() { run({"umount", "-l", dir}); }
  } unmount{store};
  amid_.start();
  std::string base = register_tiny();
  std::string src = launch(base, "dd if=/dev/urandom of=/root/x bs=1M count=16 2>/dev/null; sync; echo WROTE-16M");
  wait_console(src, "WROTE-16M");
  pid_t qemu = qemu_pid_of(src);

  // Live (--no-reboot): the copy fails, the guest never stopped, and its capture
  // overlay is merged back (after the image is marked failed) and gone.
  Result live = amid_.amictl({"create-image", "--instance-id", src, "--name", "live retry", "--no-reboot", "--wait"});
  EXPECT_EQ(live.exit_code, 1) << live.err;
  std::string live_failed = live.out.substr(0, live.out.find('\n'));
  EXPECT_EQ(image(live_failed)["State"], "failed");
  EXPECT_FALSE(std::filesystem::exists(store + "/images/" + live_failed)) << "partial files left behind";
  EXPECT_EQ(qemu_pid_of(src), qemu);
  EXPECT_EQ(instance_state(src), "running");

  // stop-instances waits for the overlay's merge, if it is still going.
  ASSERT_EQ(amid_.amictl({"stop-instances", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"wait", "instance-stopped", "--instance-ids", src}).exit_code, 0);
  for (const auto& entry : std::filesystem::directory_iterator(store + "/instances/" + src)) {
    EXPECT_EQ(entry.path().string().find(".capture"), std::string::npos) << entry.path();
  }

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
  // Killed once the capture's job has asked the guest to shut down: killed
  // before (a busy machine may start the job late), the guest would simply
  // run on, and there would be no second boot to wait for.
  for (int i = 0; i < 600 && instance_state(src) != "stopping"; ++i) {  // the shutdown takes over a second
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(instance_state(src), "stopping") << "the capture never began its shutdown";
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

// The pid of a running `qemu-img convert` whose arguments mention `needle`, or 0.
pid_t convert_process(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.rfind("qemu-img", 0) == 0 && cmdline.find(std::string("convert") + '\0') != std::string::npos &&
        cmdline.find(needle) != std::string::npos) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return 0;
}

// amid killed (SIGKILL) while a --no-reboot capture copies: the guest is then
// writing to its capture overlay. After restart the overlay is merged back into
// the instance's disk while the guest runs, the image is failed with no files,
// and what the guest wrote meanwhile is on its disk at the next boot.
TEST_F(Capture, AmidKilledMidLiveCaptureMergesTheGuestsWritesBack) {
  // Standalone templates: the copy is a qemu-img convert, which the test can hold
  // still (a thin capture copies inside amid, too fast to catch part way).
  std::string config = amid_.dir() + "/standalone.toml";
  std::ofstream(config) << "[images]\ncapture = \"standalone\"\n";
  amid_.start({"--config", config});
  std::string base = register_tiny();
  std::string base_sum = sha256_of(template_of(base));
  // Each boot: say which tick the disk last recorded, write 48 MiB (so the copy
  // takes a while), then record a tick every 0.3 s, each synced before it is shown.
  std::string src = launch(base,
      "[ -f /root/ticks ] && echo \"resumed-after=$(tail -n1 /root/ticks)\"; "
      "dd if=/dev/urandom of=/root/bulk bs=1M count=48 2>/dev/null; sync; echo BULK-DONE; "
      "(n=0; while :; do n=$((n+1)); echo $n >> /root/ticks; sync; echo \"tick=$n\"; sleep 0.3; done) &");
  wait_console(src, "BULK-DONE");
  pid_t qemu = qemu_pid_of(src);

  Result r = amid_.amictl({"create-image", "--instance-id", src, "--name", "cut short", "--no-reboot"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string killed = r.out.substr(0, r.out.find('\n'));
  // Hold the copy still (SIGSTOP) so amid dies with the guest on its overlay.
  pid_t convert = 0;
  for (int i = 0; i < 20000 && convert == 0; ++i) {
    convert = convert_process("/images/" + killed + "/");
    if (convert == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_NE(convert, 0) << "never saw the copy of " << killed << "; amid log: " << amid_.log();
  ::kill(convert, SIGSTOP);
  std::string overlay = amid_.state_dir() + "/instances/" + src + "/root.qcow2.capture";
  EXPECT_TRUE(std::filesystem::exists(overlay)) << "the guest should be on its capture overlay";
  amid_.kill9();
  ::kill(convert, SIGKILL);
  // While amid is down the guest's ticks go to the overlay.
  auto last_tick = [&] {
    std::ifstream in(amid_.state_dir() + "/instances/" + src + "/console.log");
    std::string line;
    long last = 0;
    while (std::getline(in, line)) {
      if (auto at = line.find("tick="); at != std::string::npos) last = std::atol(line.c_str() + at + 5);
    }
    return last;
  };
  long before = last_tick();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long during = last_tick();
  EXPECT_GT(during, before) << "the guest should have gone on ticking";
  amid_.start({"--config", config});

  Json img = image(killed);
  EXPECT_EQ(img["State"], "failed") << img.dump();
  EXPECT_FALSE(std::filesystem::exists(amid_.state_dir() + "/images/" + killed)) << "partial files left";
  EXPECT_FALSE(std::filesystem::exists(overlay)) << "the capture overlay was not merged back";
  EXPECT_EQ(qemu_pid_of(src), qemu) << "the guest kept running";
  EXPECT_EQ(instance_state(src), "running");
  std::ifstream log_in(amid_.log());
  std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("capture overlay merged back"), std::string::npos) << log;

  // The ticks written on the overlay are on the instance's own disk at next boot.
  ASSERT_EQ(amid_.amictl({"stop-instances", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"wait", "instance-stopped", "--instance-ids", src}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"start-instances", "--instance-ids", src}).exit_code, 0);
  std::string console = wait_console(src, "resumed-after=");
  long resumed = std::atol(console.c_str() + console.rfind("resumed-after=") + 14);
  EXPECT_GE(resumed, during) << console;
  EXPECT_EQ(sha256_of(template_of(base)), base_sum) << "a capture wrote the source template";

  r = amid_.amictl({"create-image", "--instance-id", src, "--name", "cut short", "--no-reboot", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << "the same name can be used again: " << r.err;
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", src}).exit_code, 0);
}

}  // namespace
}  // namespace amid::e2e
