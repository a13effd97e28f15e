// One region of amid's real services for tests of whole actions: a catalog and
// a store in a temp dir, libvirt's test driver (x86_64 guests on its domain
// type), the built-in instance types, a 1 GiB cap on registered disks, wired by
// daemon/region.h as amid wires its own, and a dispatcher over it. The catalog
// can be closed and opened again, as a restarted amid would.
//
// catalog_fixture.h and service_fixture.h build on it; so does dispatcher_test.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/ids.h"
#include "daemon/region.h"
#include "tests/unit/test_support.h"

namespace amid::testing {

// A caller with uid = gid, as SO_PEERCRED gives it.
inline Caller user_caller(uid_t uid, bool admin = false) {
  Caller c;
  c.uid = uid;
  c.gid = uid;
  c.pid = 4242;
  c.admin = admin;
  c.account = account_id(uid);
  return c;
}

// Keeps posted work until the test runs it (never inline, as the contract says).
class ManualScheduler : public Scheduler {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void post_after(std::chrono::milliseconds, std::function<void()> fn) override { later_.push_back(std::move(fn)); }
  // Drops everything not run, as a stopped amid does (the work refers to the
  // services it was posted by).
  void drop_all() {
    queue_.clear();
    later_.clear();
  }
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

// What a test region is made of (another region on the same catalog: another
// store_root and name).
inline RegionParts test_region_parts(Catalog& catalog, std::shared_ptr<Hypervisor> hypervisor,
                                     const std::string& store_root, const std::string& name = "local-1") {
  RegionSettings settings;
  settings.region = name;
  settings.max_image_gib = 1;
  return {settings, store_root, catalog, std::move(hypervisor), {{"x86_64", "test"}}, builtin_instance_types(),
          nullptr};
}

class RegionFixture : public TempDirTest {
 protected:
  void SetUp() override {
    store_ = std::make_unique<Store>(tmp_.file("state"));
    store_->prepare();
    hypervisor_ = std::make_shared<Hypervisor>("test:///default");
    open_catalog();
  }
  void TearDown() override { close_catalog(); }

  // As a restart: every service and the catalog go, then come back on the same
  // file; libvirt (its test driver's domains) stays, as it outlives amid.
  void reopen_catalog() {
    close_catalog();
    open_catalog();
  }
  // What a fixture adds to a region it has just opened (a scheduler, a clock).
  virtual void region_opened() {}

  // A running instance of alice's holding `ip`, written straight to the catalog
  // (no libvirt domain behind it): for what finds instances by address.
  InstanceRecord add_running_instance_at(const std::string& ip, const std::string& key_name = "",
                                         std::vector<GroupRef> groups = {}) {
    InstanceRecord r;
    r.id = new_id("i");
    r.reservation_id = "r-0123456789abcdef0";
    r.image_id = "ami-0123456789abcdef0";
    r.owner = alice_.account;
    r.region = "local-1";
    r.instance_type = "t3.nano";
    r.state = InstanceState::kRunning;
    r.launch_time = "2026-12-06T10:00:00.000Z";
    r.dir = store_->instance_dir(r.id);
    r.key_name = key_name;
    r.private_ip = ip;
    r.security_groups = std::move(groups);
    catalog_->insert_instances({r});
    return r;
  }

  protocol::Response call(const std::string& action, const protocol::Json& params, const Caller& caller) {
    std::string line = protocol::encode_request({action, params});
    line.pop_back();  // the server hands the dispatcher the line without its newline
    std::string answer = dispatcher_->handle(caller, line);
    auto parsed = protocol::parse_response(answer);
    EXPECT_TRUE(parsed.ok()) << answer;
    return parsed.ok() ? std::move(parsed).value() : protocol::Response{};
  }
  protocol::Response call(const std::string& action, const protocol::Json& params) {
    return call(action, params, alice_);
  }

  std::unique_ptr<Store> store_;
  std::shared_ptr<Hypervisor> hypervisor_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Region> region_;
  // The region's parts, by name.
  Runtime* rt_ = nullptr;
  ImageService* images_ = nullptr;
  InstanceService* instances_ = nullptr;
  CaptureService* capture_ = nullptr;
  TagService* tags_ = nullptr;
  std::unique_ptr<Dispatcher> dispatcher_;
  ManualScheduler scheduler_;  // set on the region by fixtures that run jobs
  const Caller alice_ = user_caller(1000);
  const Caller bob_ = user_caller(2000);
  const Caller root_ = user_caller(0, true);

 private:
  void open_catalog() {
    catalog_ = std::make_unique<Catalog>(store_->catalog_path());
    region_ = std::make_unique<Region>(test_region_parts(*catalog_, hypervisor_, store_->root()));
    rt_ = &region_->runtime();
    images_ = &region_->images();
    instances_ = &region_->instances();
    capture_ = &region_->capture();
    tags_ = &region_->tags();
    dispatcher_ = std::make_unique<Dispatcher>(region_->services());
    region_opened();
  }
  void close_catalog() {
    scheduler_.drop_all();
    dispatcher_.reset();
    region_.reset();
    catalog_.reset();
  }
};

}  // namespace amid::testing
