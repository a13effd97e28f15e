// A dispatcher with the real services behind it, for tests of whole actions: a
// catalog and a store in a temp dir, libvirt's test driver, the real qemu-img,
// create-image on a scheduler the test drives by hand, and a clock the test can
// move (ImageService::set_clock). The catalog can be closed and opened again, as
// a restarted amid would.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/ids.h"
#include "daemon/capture_service.h"
#include "daemon/dispatcher.h"
#include "daemon/runtime.h"
#include "daemon/tag_service.h"
#include "tests/unit/test_support.h"

namespace amid::testing {

// Keeps posted work until the test runs it (never inline, as the contract says).
class ManualScheduler : public Scheduler {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void post_after(std::chrono::milliseconds, std::function<void()> fn) override { later_.push_back(std::move(fn)); }
  // Runs what post() queued, including what that work posts in turn.
  void run_posted() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }

 private:
  std::deque<std::function<void()>> queue_;
  std::deque<std::function<void()>> later_;  // deadlines: never due in these tests
};

inline Caller test_user(uid_t uid) {
  Caller c;
  c.uid = uid;
  c.gid = uid;
  c.pid = 4242;
  c.admin = false;
  c.account = account_id(uid);
  return c;
}

class ServiceTest : public TempDirTest {
 protected:
  void SetUp() override {
    // Callers register disks from this folder with their own rights.
    ::chmod(tmp_.path().c_str(), 0755);
    store_ = std::make_unique<Store>(tmp_.file("state"));
    store_->prepare();
    hypervisor_ = std::make_unique<Hypervisor>("test:///default");
    open_catalog();
  }

  void TearDown() override { close_catalog(); }

  // As a restart: every service and the catalog go, then come back on the same file.
  void reopen_catalog() {
    close_catalog();
    open_catalog();
  }

  protocol::Response call(const std::string& action, const protocol::Json& params, const Caller& caller) {
    std::string line = protocol::encode_request({action, params});
    line.pop_back();
    std::string answer = dispatcher_->handle(caller, line);
    auto parsed = protocol::parse_response(answer);
    EXPECT_TRUE(parsed.ok()) << answer;
    if (!parsed.ok()) return {};
    return std::move(parsed).value();
  }
  protocol::Response call(const std::string& action, const protocol::Json& params) {
    return call(action, params, alice_);
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

  std::unique_ptr<Store> store_;
  std::unique_ptr<Hypervisor> hypervisor_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<ImageService> images_;
  std::unique_ptr<InstanceService> instances_;
  std::unique_ptr<CaptureService> capture_;
  std::unique_ptr<TagService> tags_;
  std::unique_ptr<Dispatcher> dispatcher_;
  ManualScheduler scheduler_;
  std::time_t offset_ = 0;
  const Caller alice_ = test_user(1000);
  const Caller bob_ = test_user(2000);

 private:
  void open_catalog() {
    catalog_ = std::make_unique<Catalog>(store_->catalog_path());
    Config config;
    config.state_dir = store_->root();
    config.socket_path = tmp_.file("amid.sock");
    config.libvirt_uri = "test:///default";
    config.region = "local-1";
    config.max_image_gib = 1;
    rt_.reset(new Runtime{config, *store_, *catalog_, *hypervisor_, {{"x86_64", "test"}}, builtin_instance_types(),
                          QemuImg{}, {}});
    images_ = std::make_unique<ImageService>(*rt_);
    images_->set_clock([this] { return std::time(nullptr) + offset_; });
    instances_ = std::make_unique<InstanceService>(*rt_, *images_);
    capture_ = std::make_unique<CaptureService>(*rt_, *images_, *instances_);
    capture_->set_scheduler(&scheduler_);
    tags_ = std::make_unique<TagService>(*rt_);
    dispatcher_ = std::make_unique<Dispatcher>(*images_, *instances_, *tags_, capture_.get());
  }

  void close_catalog() {
    dispatcher_.reset();
    tags_.reset();
    capture_.reset();
    instances_.reset();
    images_.reset();
    rt_.reset();
    catalog_.reset();
  }
};

}  // namespace amid::testing
