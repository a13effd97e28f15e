// End to end: warm images (docs/WARM_IMAGES.md) on real tiny guests. An image
// made warm restores instead of booting; each restored instance is its own
// machine (instance id, hostname, MAC, address, random output, clock, user
// data), reaches the metadata service as itself, and a launch that does not
// match the warm state boots cold and says why. A copy of the image is warm
// and restores on its own once the source is gone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

// What each restored guest says about itself, read back from its console.
constexpr const char* kUserData = R"sh(
B=http://169.254.169.254/latest
echo "warm-host=$(hostname)"
echo "warm-mac=$(cat /sys/class/net/eth0/address)"
echo "warm-random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "warm-clock=$(date +%s)"
echo "warm-imds=$(wget -q -O - $B/meta-data/instance-id)"
)sh";

std::string value_of(const std::string& console, const std::string& name) {
  std::istringstream in(console);
  std::string line;
  const std::string prefix = "warm-" + name + "=";
  std::string found = "<no " + prefix + " line>";
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(prefix, 0) == 0) found = line.substr(prefix.size());  // the last one
  }
  return found;
}

class Warm : public ::testing::Test {
 protected:
  void SetUp() override { amid_.start(); }

  Json describe_image(const std::string& id) {
    Result r = amid_.amictl({"describe-images", "--image-ids", id, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)["Images"][0];
  }
  Json describe_instance(const std::string& id) {
    Result r = amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)["Reservations"][0]["Instances"][0];
  }
  std::string console_until(const std::string& id, const std::string& text) {
    Result r = amid_.amictl({"get-console-output", "--instance-id", id, "--wait-for", text, "--timeout", "180"});
    EXPECT_EQ(r.exit_code, 0) << "waiting for '" << text << "'; console:\n" << r.out << "\namid's log:\n" << read_file(amid_.log());
    return r.out;
  }

  Amid amid_;
};

TEST_F(Warm, RestoredInstancesAreEachTheirOwnMachineAndAMismatchBootsCold) {
  const bool root = ::geteuid() == 0;
  if (!root) std::cout << "[ note ] not root: instances get no network, so MAC, address and IMDS are not checked\n";
  Result reg = amid_.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  const std::string image = reg.out.substr(0, reg.out.find('\n'));

  Result warm = amid_.amictl({"warm-image", "--image-id", image, "--instance-type", "t3.nano", "--wait",
                              "--timeout", "300"});
  ASSERT_EQ(warm.exit_code, 0) << warm.out << warm.err << "\namid's log:\n" << read_file(amid_.log());
  EXPECT_EQ(warm.out, image + " warm\n");
  Json img = describe_image(image);
  EXPECT_EQ(img["Warm"], true) << img.dump();
  const Json& state = img["WarmState"];
  EXPECT_EQ(state["State"], "available");
  EXPECT_EQ(state["InstanceType"], "t3.nano");
  EXPECT_GT(state.value("MemoryBytes", 0ull), 1u << 20) << "a save image holds the guest's memory";
  EXPECT_TRUE(state["Accelerator"] == "tcg" || state["Accelerator"] == "kvm") << state.dump();
  EXPECT_FALSE(state.value("Machine", "").empty());
  EXPECT_FALSE(state.value("QemuVersion", "").empty());
  Result table = amid_.amictl({"describe-images", "--image-ids", image});
  EXPECT_NE(table.out.find("WARM"), std::string::npos) << table.out;

  // Warming again is refused; the image stays warm.
  Result again = amid_.amictl({"warm-image", "--image-id", image});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("IncorrectState"), std::string::npos) << again.err;

  // Two at once, from one warm state, each with the user data above.
  const std::string ud_path = amid_.dir() + "/ud.sh";
  std::ofstream(ud_path) << kUserData;
  const std::time_t launched = std::time(nullptr);
  Result run = amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano", "--count", "2",
                             "--user-data", "file://" + ud_path, "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err << "\namid's log:\n" << read_file(amid_.log());
  std::vector<std::string> ids;
  const Json reservation = Json::parse(run.out);
  for (const auto& i : reservation["Instances"]) ids.push_back(i["InstanceId"]);
  ASSERT_EQ(ids.size(), 2u) << run.out;

  std::set<std::string> macs, addresses, randoms;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& id : ids) {
    const std::string out = console_until(id, "warm-imds=");
    std::cout << "[ info ] " << id << ": its user data's last line "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
              << " s after run-instances answered (not a benchmark: bench/ measures)\n";
    Json inst = describe_instance(id);
    EXPECT_EQ(inst["LaunchMode"], "warm") << id << " was not restored; amid's log:\n" << read_file(amid_.log());
    EXPECT_NE(out.find("amid-tiny: resumed " + id), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "host"), id) << "its own hostname";
    const std::string clock_text = value_of(out, "clock");
    const long clock = std::atol(clock_text.c_str());
    EXPECT_GE(clock, launched - 2) << "its clock was set to now, not to when the image was saved";
    EXPECT_LE(clock, std::time(nullptr) + 2);
    randoms.insert(value_of(out, "random"));
    if (root) {
      const std::string mac = inst["NetworkInterfaces"][0].value("MacAddress", "");
      EXPECT_EQ(value_of(out, "mac"), mac) << "the guest took its instance's MAC";
      macs.insert(value_of(out, "mac"));
      addresses.insert(inst.value("PrivateIpAddress", ""));
      EXPECT_NE(out.find("amid-tiny: network eth0 " + inst.value("PrivateIpAddress", "") + "/20"), std::string::npos)
          << out;
      EXPECT_EQ(value_of(out, "imds"), id) << "the metadata service knows it by its new address";
    }
  }
  EXPECT_EQ(randoms.size(), 2u) << "two restored guests read the same random bytes";
  if (root) {
    EXPECT_EQ(macs.size(), 2u);
    EXPECT_EQ(addresses.size(), 2u);
  }

  // Another type (memory) than the warm state's: booted cold, and the log says why.
  Result cold = amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.micro", "--user-data",
                              "file://" + ud_path, "--output", "json"});
  ASSERT_EQ(cold.exit_code, 0) << cold.err;
  const std::string cold_id = Json::parse(cold.out)["Instances"][0]["InstanceId"];
  const std::string cold_out = console_until(cold_id, "warm-imds=");
  EXPECT_EQ(describe_instance(cold_id)["LaunchMode"], "cold");
  EXPECT_EQ(cold_out.find("amid-tiny: resumed"), std::string::npos) << cold_out;
  EXPECT_NE(read_file(amid_.log()).find(cold_id + " boots cold: t3.micro has"), std::string::npos) << read_file(amid_.log());

  // A copy of the image is warm too (its root layer now on the copy's disk).
  Result copy = amid_.amictl({"copy-image", "--source-region", "local-1", "--source-image-id", image, "--name",
                              "tiny copy", "--wait", "--timeout", "300"});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  const std::string copy_id = copy.out.substr(0, copy.out.find_first_of(" \n"));
  EXPECT_EQ(describe_image(copy_id)["Warm"], true) << describe_image(copy_id).dump();

  // Deregistered with its instances gone, the warm state's files go with the image.
  ids.push_back(cold_id);
  std::vector<std::string> terminate = {"terminate-instances", "--instance-ids"};
  terminate.insert(terminate.end(), ids.begin(), ids.end());
  ASSERT_EQ(amid_.amictl(terminate).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"deregister-image", "--image-id", image}).exit_code, 0);
  const std::string dir = amid_.state_dir() + "/images/" + image;
  EXPECT_TRUE(std::filesystem::exists(dir + "/warm-memory.save") || !std::filesystem::exists(dir)) << dir;
  for (int i = 0; i < 120 && std::filesystem::exists(dir); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the warm state's files outlived the image; amid's log:\n"
                                             << read_file(amid_.log());

  // The copy restores on its own, with the source's files gone.
  Result from_copy = amid_.amictl({"run-instances", "--image-id", copy_id, "--instance-type", "t3.nano",
                                   "--user-data", "file://" + ud_path, "--output", "json"});
  ASSERT_EQ(from_copy.exit_code, 0) << from_copy.err;
  const std::string copy_instance = Json::parse(from_copy.out)["Instances"][0]["InstanceId"];
  const std::string copy_out = console_until(copy_instance, "warm-imds=");
  EXPECT_EQ(describe_instance(copy_instance)["LaunchMode"], "warm") << read_file(amid_.log());
  EXPECT_NE(copy_out.find("amid-tiny: resumed " + copy_instance), std::string::npos) << copy_out;
}

// create-image --warm: a running guest saved with its disks at one point.
// The source goes on (restored, not rebooted); a launch of the new image
// restores that guest, whose disk holds what it wrote before the capture.
TEST_F(Warm, CreateImageWarmSavesARunningGuestThatGoesOn) {
  Result reg = amid_.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  const std::string image = reg.out.substr(0, reg.out.find('\n'));
  const std::string writer = amid_.dir() + "/writer.sh";
  std::ofstream(writer) << "echo captured-disk >/warm-marker && sync && echo warm-written\n";
  Result run = amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano", "--user-data",
                             "file://" + writer, "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string source = Json::parse(run.out)["Instances"][0]["InstanceId"];
  console_until(source, "amid-tiny: ready");

  Result made = amid_.amictl({"create-image", "--instance-id", source, "--name", "captured warm", "--warm",
                              "--wait", "--timeout", "300"});
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err << "\namid's log:\n" << read_file(amid_.log());
  const std::string captured = made.out.substr(0, made.out.find_first_of(" \n"));
  Json img = describe_image(captured);
  EXPECT_EQ(img["Warm"], true) << img.dump();
  EXPECT_EQ(img["WarmState"]["InstanceType"], "t3.nano") << img.dump();

  // The source was restored, not rebooted, and runs.
  Json src = describe_instance(source);
  EXPECT_EQ(src["State"]["Name"], "running") << src.dump();
  const std::string log = read_file(amid_.log());
  EXPECT_NE(log.find("instance " + source + " resumed after create-image --warm"), std::string::npos) << log;

  const std::string reader = amid_.dir() + "/reader.sh";
  std::ofstream(reader) << "echo \"warm-marker=$(cat /warm-marker)\"\n";
  Result clone = amid_.amictl({"run-instances", "--image-id", captured, "--instance-type", "t3.nano",
                               "--user-data", "file://" + reader, "--output", "json"});
  ASSERT_EQ(clone.exit_code, 0) << clone.err;
  const std::string clone_id = Json::parse(clone.out)["Instances"][0]["InstanceId"];
  const std::string out = console_until(clone_id, "warm-marker=");
  EXPECT_EQ(describe_instance(clone_id)["LaunchMode"], "warm") << read_file(amid_.log());
  EXPECT_NE(out.find("amid-tiny: resumed " + clone_id), std::string::npos) << out;
  EXPECT_EQ(value_of(out, "marker"), "captured-disk") << "the disk as it was when the memory was saved";
}

}  // namespace
}  // namespace amid::e2e
