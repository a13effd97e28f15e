// End to end: EC2's instance lifecycle on real guests (stop, start, reboot,
// guest-initiated power-off, instance-store rules).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override { amid_.start(); }

  std::string register_image(const std::string& name, const std::string& root_type = "ebs") {
    Result r = amid_.amictl({"register-image", "--name", name, "--disk", tiny_image(),
                             "--root-device-type", root_type});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  std::string launch(const std::string& image, const std::string& user_data) {
    Result r = amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano",
                             "--user-data", user_data, "--output", "text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\t'));
  }
  void wait_console(const std::string& id, const std::string& text) {
    Result r = amid_.amictl({"get-console-output", "--instance-id", id, "--wait-for", text,
                             "--timeout", "180"});
    ASSERT_EQ(r.exit_code, 0) << "waiting for '" << text << "'; console:\n" << r.out;
  }
  std::string state(const std::string& id) {
    Result r = amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)["Reservations"][0]["Instances"][0]["State"]["Name"];
  }
  // Polls describe-instances until the state is `want` (bounded).
  bool wait_state(const std::string& id, const std::string& want, int seconds = 120) {
    for (int i = 0; i < seconds * 4; ++i) {
      if (state(id) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
  Json change(const Result& r, const std::string& key) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)[key][0];
  }

  Amid amid_;
};

TEST_F(Lifecycle, EbsInstanceStopsStartsAndRebootsKeepingItsDisk) {
  std::string image = register_image("ebs-tiny");
  std::string id = launch(image, "echo boot >> /root/boots; echo \"boots=$(wc -l < /root/boots)\"");
  wait_console(id, "boots=1");

  // Starting a running instance succeeds and changes nothing.
  Json c = change(amid_.amictl({"start-instances", "--instance-ids", id, "--output", "json"}),
                  "StartingInstances");
  EXPECT_EQ(c["PreviousState"]["Name"], "running");
  EXPECT_EQ(c["CurrentState"]["Name"], "running");

  c = change(amid_.amictl({"stop-instances", "--instance-ids", id, "--output", "json"}),
             "StoppingInstances");
  EXPECT_EQ(c["PreviousState"]["Name"], "running");
  EXPECT_EQ(c["CurrentState"]["Name"], "stopping");
  ASSERT_TRUE(wait_state(id, "stopped")) << "still " << state(id);
  EXPECT_EQ(qemu_pid_of(id), -1) << "a stopped instance still has a QEMU process";

  // Stopping a stopped instance changes nothing; rebooting it is refused.
  c = change(amid_.amictl({"stop-instances", "--instance-ids", id, "--output", "json"}),
             "StoppingInstances");
  EXPECT_EQ(c["CurrentState"]["Name"], "stopped");
  Result r = amid_.amictl({"reboot-instances", "--instance-ids", id});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("IncorrectInstanceState"), std::string::npos) << r.err;
  EXPECT_EQ(state(id), "stopped");

  // Stopped, it holds no definition in libvirt (the embedded driver keeps each
  // persistent one as a file, and in memory): amid keeps it, across a restart too.
  const std::string config = amid_.state_dir() + "/libvirt/etc/qemu/" + id + ".xml";
  EXPECT_FALSE(std::filesystem::exists(config)) << config;
  ASSERT_EQ(amid_.stop(), 0);
  amid_.start();
  EXPECT_EQ(state(id), "stopped");

  c = change(amid_.amictl({"start-instances", "--instance-ids", id, "--output", "json"}),
             "StartingInstances");
  EXPECT_EQ(c["PreviousState"]["Name"], "stopped");
  wait_console(id, "boots=2");  // the root disk kept what the first boot wrote
  EXPECT_EQ(state(id), "running");
  EXPECT_TRUE(std::filesystem::exists(config)) << "running, it is a persistent domain again";

  ASSERT_EQ(amid_.amictl({"reboot-instances", "--instance-ids", id}).exit_code, 0);
  wait_console(id, "boots=3");
  EXPECT_EQ(state(id), "running");

  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", id}).exit_code, 0);
  r = amid_.amictl({"start-instances", "--instance-ids", id});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("IncorrectInstanceState"), std::string::npos) << r.err;
  EXPECT_EQ(state(id), "terminated");
}

// EC2 users stop instances they have just launched. The first power-button
// press reaches the guest in its firmware and is lost; amid presses again while
// the guest runs, so the stop ends when the guest can shut down, cleanly, not
// after the 120 s that forces it off.
TEST_F(Lifecycle, AStopSentRightAfterLaunchEndsAsSoonAsTheGuestCanShutDown) {
  std::string image = register_image("ebs-tiny");
  std::string id = launch(image, "echo hello");
  auto launched = std::chrono::steady_clock::now();
  Json c = change(amid_.amictl({"stop-instances", "--instance-ids", id, "--output", "json"}), "StoppingInstances");
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - launched);
  std::cout << "stop-instances answered " << gap.count() << " ms after run-instances" << std::endl;
  EXPECT_EQ(c["CurrentState"]["Name"], "stopping");
  // The press went out while the guest was still in its firmware: its kernel had not started.
  Result early = amid_.amictl({"get-console-output", "--instance-id", id, "--output", "text"});
  EXPECT_EQ(early.out.find("Linux version"), std::string::npos) << "the guest's kernel ran before the stop:\n"
                                                                  << early.out;
  ASSERT_TRUE(wait_state(id, "stopped", 60)) << "still " << state(id) << " a minute after the stop";
  std::cout << "stopped "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - launched).count()
            << " s after the launch" << std::endl;
  Result console = amid_.amictl({"get-console-output", "--instance-id", id, "--output", "text"});
  EXPECT_NE(console.out.find("reboot: Power down"), std::string::npos)
      << "the guest powered itself off (not forced):\n" << console.out;
  std::ifstream in(amid_.log());
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("instance " + id + " still runs"), std::string::npos) << log;
  EXPECT_NE(log.find("pressing it again"), std::string::npos) << log;
  EXPECT_EQ(log.find("forcing it off"), std::string::npos) << log;
  Result d = amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"});
  EXPECT_EQ(Json::parse(d.out)["Reservations"][0]["Instances"][0]["StateReason"]["Code"],
            "Client.UserInitiatedShutdown");
  ASSERT_EQ(amid_.amictl({"terminate-instances", "--instance-ids", id}).exit_code, 0);
}

TEST_F(Lifecycle, GuestPowerOffStopsEbsAndTerminatesInstanceStore) {
  std::string ebs = register_image("ebs-tiny");
  std::string store = register_image("store-tiny", "instance-store");
  std::string a = launch(ebs, "poweroff");
  std::string b = launch(store, "echo store-up");
  wait_console(b, "amid-tiny: ready");

  // An instance-store instance cannot be stopped; nothing changes.
  Result r = amid_.amictl({"stop-instances", "--instance-ids", b});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("UnsupportedOperation"), std::string::npos) << r.err;
  EXPECT_EQ(state(b), "running");
  // ... and with an ebs one in the same request, neither changes.
  r = amid_.amictl({"stop-instances", "--instance-ids", a, b});
  EXPECT_EQ(r.exit_code, 5);

  // The guest that powered itself off is stopped (EBS-backed), as on EC2.
  ASSERT_TRUE(wait_state(a, "stopped")) << "still " << state(a);
  Result d = amid_.amictl({"describe-instances", "--instance-ids", a, "--output", "json"});
  EXPECT_NE(d.out.find("Client.InstanceInitiatedShutdown"), std::string::npos) << d.out;
  EXPECT_TRUE(std::filesystem::exists(amid_.state_dir() + "/instances/" + a + "/root.qcow2"));

  // An instance-store instance that powers off is terminated and its disk is gone.
  ASSERT_EQ(amid_.amictl({"reboot-instances", "--instance-ids", b}).exit_code, 0);
  wait_console(b, "amid-tiny: ready");
  pid_t qemu = qemu_pid_of(b);
  ASSERT_GT(qemu, 0);
  ::kill(qemu, SIGTERM);  // QEMU exits as on a power-off: libvirt reports a shutdown
  ASSERT_TRUE(wait_state(b, "terminated")) << "still " << state(b);
  EXPECT_FALSE(std::filesystem::exists(amid_.state_dir() + "/instances/" + b + "/root.qcow2"));
}

}  // namespace
}  // namespace amid::e2e
