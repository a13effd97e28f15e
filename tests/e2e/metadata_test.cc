// End to end: EC2's instance metadata service at 169.254.169.254, asked by a
// real guest. amid (root, embedded driver) puts the instance on its region's
// network; the tiny template configures eth0 from its fw_cfg entry and runs
// user data that asks the service with busybox's wget (IMDSv1, and v2 with a
// token asked for with a PUT through busybox's nc: its wget cannot PUT) and
// writes what it got on the console.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

// Prints each value as `imds-NAME=VALUE` on a line of its own.
const char* kUserData = R"sh(B=http://169.254.169.254
echo "imds-t0=$(cut -d' ' -f1 /proc/uptime)"
echo "imds-id=$(wget -q -O - $B/latest/meta-data/instance-id)"
T=$(printf 'PUT /latest/api/token HTTP/1.0\r\nX-aws-ec2-metadata-token-ttl-seconds: 300\r\n\r\n' \
    | nc 169.254.169.254 80 | tr -d '\r' | sed '1,/^$/d')
echo "imds-token-bytes=${#T}"
echo "imds-az=$(wget -q -O - --header "X-aws-ec2-metadata-token: $T" $B/latest/meta-data/placement/availability-zone)"
echo "imds-ud-bytes=$(wget -q -O - --header "X-aws-ec2-metadata-token: $T" $B/latest/user-data | wc -c)"
echo "imds-t1=$(cut -d' ' -f1 /proc/uptime)"
echo "imds-wrong-token=$(wget -O /dev/null --header "X-aws-ec2-metadata-token: x$T" $B/latest/meta-data/instance-id 2>&1 | grep -o '401 Unauthorized')"
)sh";

std::string value_of(const std::string& console, const std::string& name) {
  std::istringstream in(console);
  std::string line;
  const std::string prefix = "imds-" + name + "=";
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto at = line.find(prefix);
    if (at == 0) return line.substr(prefix.size());
  }
  return "<no " + prefix + " line>";
}

TEST(Metadata, ATinyGuestReadsItselfFromTheMetadataServiceWithV1AndV2) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root: amid gives instances a network (and so 169.254.169.254) only as root";
  }
  Amid amid;
  amid.start();
  Result reg = amid.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  const std::string image = reg.out.substr(0, reg.out.find('\n'));

  const std::string ud_path = amid.dir() + "/ud.sh";
  std::ofstream(ud_path) << kUserData;
  const auto launched = std::chrono::steady_clock::now();
  Result run = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano", "--user-data",
                            "file://" + ud_path, "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Json inst = Json::parse(run.out)["Instances"][0];
  const std::string id = inst["InstanceId"];
  ASSERT_FALSE(inst.value("PrivateIpAddress", "").empty())
      << "the instance got no address: amid has no region network here; its log:\n" << amid.log();

  Result console = amid.amictl({"get-console-output", "--instance-id", id, "--wait-for", "amid-tiny: ready",
                                "--timeout", "240"});
  ASSERT_EQ(console.exit_code, 0) << console.out << console.err;
  const auto ready = std::chrono::steady_clock::now();
  const std::string& out = console.out;

  EXPECT_NE(out.find("amid-tiny: network eth0 " + inst.value("PrivateIpAddress", "") + "/20"), std::string::npos)
      << out;
  EXPECT_EQ(value_of(out, "id"), id) << out;
  EXPECT_EQ(value_of(out, "token-bytes"), "56") << "an IMDSv2 token came back from the PUT:\n" << out;
  EXPECT_EQ(value_of(out, "az"), "local-1a") << out;
  EXPECT_EQ(value_of(out, "ud-bytes"), std::to_string(std::string(kUserData).size())) << out;
  EXPECT_EQ(value_of(out, "wrong-token"), "401 Unauthorized") << out;
  EXPECT_NE(out.find("amid-tiny: user data exit 0"), std::string::npos) << out;

  double t0 = std::atof(value_of(out, "t0").c_str()), t1 = std::atof(value_of(out, "t1").c_str());
  std::cout << "[ imds     ] launch to ready: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(ready - launched).count() / 1000.0
            << " s; in the guest, v1 GET + v2 PUT + two v2 GETs: " << (t1 - t0) << " s" << std::endl;
}

}  // namespace
}  // namespace amid::e2e
