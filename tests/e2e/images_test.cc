// End to end: image kinds an EC2 user meets (paravirtual with its own kernel).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

}  // namespace
}  // namespace amid::e2e
