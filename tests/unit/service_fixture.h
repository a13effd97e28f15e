// A region of the real services for tests of whole actions that make files
// and guests (tests/unit/region_fixture.h): callers register disks the real
// qemu-img made, create-image runs on a scheduler the test drives by hand, and
// the clock the image service reads can be moved (ImageService::set_clock).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <string>
#include <vector>

#include "common/ids.h"
#include "tests/unit/region_fixture.h"

namespace amid::testing {

class ServiceTest : public RegionFixture {
 protected:
  void SetUp() override {
    // Callers register disks from this folder with their own rights.
    ::chmod(tmp_.path().c_str(), 0755);
    RegionFixture::SetUp();
  }
  void region_opened() override {
    region_->set_scheduler(&scheduler_);
    images_->set_clock([this] { return std::time(nullptr) + offset_; });
  }

  bool have_qemu_img() const { return ::amid::testing::have_qemu_img(); }

  std::string make_qcow2(const std::string& name, const std::string& size = "1M") {
    std::string path = tmp_.file(name);
    EXPECT_TRUE(::amid::testing::qemu_img({"create", "-q", "-f", "qcow2", path, size}));
    ::chmod(path.c_str(), 0644);
    return path;
  }

  std::string register_image(const std::string& name, const protocol::Json& extra = protocol::Json::object()) {
    protocol::Json params = {{"Name", name}, {"DiskPath", make_qcow2(name + ".qcow2")}};
    for (auto& [k, v] : extra.items()) params[k] = v;
    auto r = call("RegisterImage", params);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok ? r.body.value("ImageId", "") : "";
  }

  // Launches `count` t3.nano instances; returns their ids.
  std::vector<std::string> run(const std::string& image, int count = 1,
                               const protocol::Json& extra = protocol::Json::object()) {
    protocol::Json params = {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"MaxCount", count}};
    for (auto& [k, v] : extra.items()) params[k] = v;
    auto r = call("RunInstances", params);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    std::vector<std::string> ids;
    if (r.ok) {
      for (const auto& inst : r.body["Instances"]) ids.push_back(inst["InstanceId"]);
    }
    return ids;
  }

  void terminate(const std::string& id) {
    auto r = call("TerminateInstances", {{"InstanceIds", {id}}});
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  }

  protocol::Json describe_image(const std::string& id) {
    auto r = call("DescribeImages", {{"ImageIds", {id}}});
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok && r.body["Images"].size() == 1 ? r.body["Images"][0] : protocol::Json();
  }

  // The clock the image service reads: real time plus `offset_` seconds.
  void advance_clock(std::time_t seconds) { offset_ += seconds; }

  std::time_t offset_ = 0;
};

}  // namespace amid::testing
