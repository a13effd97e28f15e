// End to end: image kinds an EC2 user meets (paravirtual with its own kernel).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(Images, ParavirtualImageBootsItsRegisteredKernelDirectly) {
  Amid amid;
  amid.start();
  std::string pv = tiny_kernel_dir();
  Result r = amid.amictl({"register-image", "--name", "tiny pv", "--disk", tiny_image(),
                          "--virtualization-type", "paravirtual", "--kernel", pv + "/vmlinuz",
                          "--ramdisk", pv + "/initrd.img", "--kernel-command-line",
                          first_line(pv + "/cmdline")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image = r.out.substr(0, r.out.find('\n'));
  Json d = Json::parse(amid.amictl({"describe-images", "--image-ids", image, "--output", "json"}).out);
  const Json& img = d["Images"][0];
  EXPECT_EQ(img["VirtualizationType"], "paravirtual");
  EXPECT_EQ(img["KernelId"].get<std::string>().rfind("aki-", 0), 0u);
  EXPECT_EQ(img["RamdiskId"].get<std::string>().rfind("ari-", 0), 0u);

  r = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano", "--output", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\t'));
  r = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", "amid-tiny: ready", "--timeout", "180"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Direct kernel boot: no bootloader ran.
  EXPECT_EQ(r.out.find("SYSLINUX"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("amid-tiny: disk vda"), std::string::npos) << r.out;

  // A paravirtual image without a kernel, or an hvm one with a kernel, is refused.
  r = amid.amictl({"register-image", "--name", "no kernel", "--disk", tiny_image(),
                   "--virtualization-type", "paravirtual"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("KernelPath"), std::string::npos) << r.err;
  r = amid.amictl({"register-image", "--name", "hvm kernel", "--disk", tiny_image(), "--kernel",
                   pv + "/vmlinuz"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("paravirtual"), std::string::npos) << r.err;
}

// arm64 images run through qemu-system-aarch64 (TCG here): hvm through UEFI
// (AAVMF, GRUB), paravirtual by direct kernel boot; types must match (t4g).
TEST(Images, Arm64ImagesBootThroughUefiAndDirectly) {
  if (std::string why = arm64_unavailable_reason(); !why.empty()) GTEST_SKIP() << "cannot run arm64 guests: " << why;
  Amid amid;
  amid.start();
  std::ifstream log(amid.log());
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("arm64 guests: TCG"), std::string::npos) << all;

  std::string disk = tiny_arm64_image();
  std::string pv = std::filesystem::path(disk).parent_path().string() + "/pv";
  Result r = amid.amictl({"register-image", "--name", "tiny arm64", "--disk", disk, "--architecture", "arm64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string hvm = r.out.substr(0, r.out.find('\n'));
  r = amid.amictl({"register-image", "--name", "tiny arm64 pv", "--disk", disk, "--architecture", "arm64",
                   "--virtualization-type", "paravirtual", "--kernel", pv + "/vmlinuz", "--ramdisk",
                   pv + "/initrd.img", "--kernel-command-line", first_line(pv + "/cmdline")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string para = r.out.substr(0, r.out.find('\n'));

  // An x86_64 type cannot run an arm64 image, as on EC2.
  r = amid.amictl({"run-instances", "--image-id", hvm, "--instance-type", "t3.nano"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not match the architecture 'arm64'"), std::string::npos) << r.err;

  std::vector<std::string> ids;
  for (const std::string& image : {hvm, para}) {
    r = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t4g.nano", "--user-data",
                     "echo arm-says-$(uname -m)", "--output", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Json inst = Json::parse(r.out)["Instances"][0];
    EXPECT_EQ(inst["Architecture"], "arm64");
    ids.push_back(inst["InstanceId"]);
  }
  for (const auto& id : ids) {
    r = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", "amid-tiny: ready", "--timeout", "120"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("arm-says-aarch64"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("amid-tiny: disk vda"), std::string::npos) << r.out;
  }
  // A clean stop works both ways (ACPI under UEFI, the device-tree power key directly).
  std::vector<std::string> stop = {"stop-instances", "--instance-ids"};
  stop.insert(stop.end(), ids.begin(), ids.end());
  ASSERT_EQ(amid.amictl(stop).exit_code, 0);
  std::vector<std::string> wait = {"wait", "instance-stopped", "--instance-ids"};
  wait.insert(wait.end(), ids.begin(), ids.end());
  EXPECT_EQ(amid.amictl(wait).exit_code, 0);

  // Stopped, the UEFI one holds no libvirt definition (amid keeps it) but keeps
  // its UEFI variables; it starts again from them, and they go with termination.
  const std::string nvram = amid.state_dir() + "/libvirt/lib/qemu/nvram/" + ids[0] + "_VARS.fd";
  EXPECT_FALSE(std::filesystem::exists(amid.state_dir() + "/libvirt/etc/qemu/" + ids[0] + ".xml"));
  EXPECT_TRUE(std::filesystem::exists(nvram)) << nvram;
  ASSERT_EQ(amid.amictl({"start-instances", "--instance-ids", ids[0]}).exit_code, 0);
  int boots = 0;
  for (int i = 0; i < 240 && boots < 2; ++i) {
    std::string out = amid.amictl({"get-console-output", "--instance-id", ids[0]}).out;
    boots = 0;
    for (auto at = out.find("amid-tiny: ready"); at != std::string::npos; at = out.find("amid-tiny: ready", at + 1)) {
      ++boots;
    }
    if (boots < 2) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(boots, 2) << "the UEFI guest did not boot again after its start";

  std::vector<std::string> term = {"terminate-instances", "--instance-ids"};
  term.insert(term.end(), ids.begin(), ids.end());
  EXPECT_EQ(amid.amictl(term).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(nvram)) << "a terminated instance's UEFI variables stayed";
}

// The image lifecycle around a running instance, as on EC2: protection blocks
// deregistration; a ClientToken makes a retried launch return the first one; a
// deregistered image vanishes from describe at once while its instance still
// stops and starts; its files are reclaimed once that instance is terminated.
TEST(Images, DeregisteredWhileRunningKeepsItsInstanceAndIsReclaimedAfter) {
  Amid amid;
  amid.start();
  Result r = amid.amictl({"register-image", "--name", "short lived", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image = r.out.substr(0, r.out.find('\n'));
  std::string files = amid.state_dir() + "/images/" + image;
  ASSERT_TRUE(std::filesystem::exists(files));

  ASSERT_EQ(amid.amictl({"enable-image-deregistration-protection", "--image-id", image}).exit_code, 0);
  r = amid.amictl({"deregister-image", "--image-id", image});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("disable-image-deregistration-protection"), std::string::npos) << r.err;
  ASSERT_EQ(amid.amictl({"disable-image-deregistration-protection", "--image-id", image}).exit_code, 0);

  std::vector<std::string> launch = {"run-instances", "--image-id", image, "--instance-type", "t3.nano",
                                     "--client-token", "launch-once-42", "--output", "json", "--user-data",
                                     "echo boot >> /root/boots; echo \"boots=$(wc -l < /root/boots)\""};
  r = amid.amictl(launch);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json first = Json::parse(r.out);
  std::string id = first["Instances"][0]["InstanceId"];
  r = amid.amictl(launch);  // a retry with the same token: the same instance, no second launch
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["Instances"][0]["InstanceId"], id);
  EXPECT_EQ(Json::parse(r.out)["ReservationId"], first["ReservationId"]);
  Json all = Json::parse(amid.amictl({"describe-instances", "--output", "json"}).out);
  EXPECT_EQ(all["Reservations"].size(), 1u) << all.dump();
  auto console = [&](const std::string& text) {
    Result c = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", text, "--timeout", "180"});
    EXPECT_EQ(c.exit_code, 0) << c.out;
  };
  console("boots=1");

  ASSERT_EQ(amid.amictl({"deregister-image", "--image-id", image}).exit_code, 0);
  Json listed = Json::parse(amid.amictl({"describe-images", "--output", "json"}).out);
  EXPECT_TRUE(listed["Images"].empty()) << listed.dump();
  r = amid.amictl({"describe-images", "--image-ids", image});
  EXPECT_NE(r.err.find("InvalidAMIID.NotFound"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(files)) << "reclaimed while an instance still depends on it";

  ASSERT_EQ(amid.amictl({"stop-instances", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"wait", "instance-stopped", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"start-instances", "--instance-ids", id}).exit_code, 0);
  console("boots=2");
  EXPECT_TRUE(std::filesystem::exists(files));

  ASSERT_EQ(amid.amictl({"terminate-instances", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"wait", "instance-terminated", "--instance-ids", id}).exit_code, 0);
  for (int i = 0; i < 100 && std::filesystem::exists(files); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(std::filesystem::exists(files)) << "not reclaimed after its last instance terminated";
}

}  // namespace
}  // namespace amid::e2e
