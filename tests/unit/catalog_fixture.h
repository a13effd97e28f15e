// A dispatcher over the real services with a catalog in a temp dir and libvirt's
// test driver, for tests that put records straight into the catalog (hundreds of
// images without a qemu-img run each) and then drive the actions.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"
#include "daemon/dispatcher.h"
#include "daemon/runtime.h"
#include "tests/unit/test_support.h"

namespace amid::testing {

inline Caller user_caller(uid_t uid, bool admin = false) {
  Caller c;
  c.uid = uid;
  c.gid = uid;
  c.pid = 4242;
  c.admin = admin;
  c.account = account_id(uid);
  return c;
}

class CatalogFixture : public TempDirTest {
 protected:
  void SetUp() override {
    store_ = std::make_unique<Store>(tmp_.file("state"));
    store_->prepare();
    catalog_ = std::make_unique<Catalog>(store_->catalog_path());
    hypervisor_ = std::make_unique<Hypervisor>("test:///default");
    Config config;
    config.state_dir = store_->root();
    config.socket_path = tmp_.file("amid.sock");
    config.libvirt_uri = "test:///default";
    config.region = "local-1";
    config.max_image_gib = 1;
    rt_.reset(new Runtime{config, *store_, *catalog_, *hypervisor_, {{"x86_64", "test"}}, builtin_instance_types(),
                          QemuImg{}, {}});
    images_ = std::make_unique<ImageService>(*rt_);
    instances_ = std::make_unique<InstanceService>(*rt_, *images_);
    tags_ = std::make_unique<TagService>(*rt_);
    dispatcher_ = std::make_unique<Dispatcher>(*images_, *instances_, *tags_);
  }

  protocol::Response call(const std::string& action, const protocol::Json& params, const Caller& caller) {
    std::string line = protocol::encode_request({action, params});
    line.pop_back();
    auto parsed = protocol::parse_response(dispatcher_->handle(caller, line));
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? std::move(parsed).value() : protocol::Response{};
  }
  protocol::Response call(const std::string& action, const protocol::Json& params) {
    return call(action, params, alice_);
  }

  // Records as the services would have written them (no files behind them).
  ImageRecord add_image(const std::string& name, const Caller& owner, Tags tags = {},
                        const std::string& state = "available") {
    ImageRecord r;
    r.id = new_id("ami");
    r.name = name;
    r.owner = owner.account;
    r.region = "local-1";
    r.state = state;
    r.creation_date = iso_now();
    r.size_bytes = 1ull << 30;
    r.disk_file = store_->image_disk(r.id);
    r.tags = std::move(tags);
    catalog_->insert_image(r);
    return r;
  }
  SnapshotRecord add_snapshot(const ImageRecord& image, Tags tags = {}) {
    SnapshotRecord s;
    s.id = new_id("snap");
    s.owner = image.owner;
    s.region = "local-1";
    s.state = "completed";
    s.start_time = iso_now();
    s.file = image.disk_file;
    s.image_id = image.id;
    s.tags = std::move(tags);
    catalog_->insert_snapshot(s);
    return s;
  }
  VolumeRecord add_volume(const Caller& owner, Tags tags = {}, std::uint64_t size_gib = 1) {
    VolumeRecord v;
    v.id = new_id("vol");
    v.owner = owner.account;
    v.region = "local-1";
    v.size_gib = size_gib;
    v.state = "available";
    v.create_time = iso_now();
    v.file = store_->volumes_dir() + "/" + v.id + ".qcow2";
    v.tags = std::move(tags);
    catalog_->insert_volume(v);
    return v;
  }
  // A pending instance: describe leaves it alone (no libvirt domain behind it).
  InstanceRecord add_instance(const Caller& owner, const std::string& reservation, Tags tags = {},
                              const std::string& type = "t3.nano") {
    InstanceRecord r;
    r.id = new_id("i");
    r.reservation_id = reservation;
    r.image_id = "ami-0123456789abcdef0";
    r.owner = owner.account;
    r.region = "local-1";
    r.instance_type = type;
    r.state = "pending";
    r.launch_time = iso_now();
    r.dir = store_->instance_dir(r.id);
    r.tags = std::move(tags);
    catalog_->insert_instances({r});
    return r;
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Hypervisor> hypervisor_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<ImageService> images_;
  std::unique_ptr<InstanceService> instances_;
  std::unique_ptr<TagService> tags_;
  std::unique_ptr<Dispatcher> dispatcher_;
  const Caller alice_ = user_caller(1000);
  const Caller bob_ = user_caller(2000);
  const Caller root_ = user_caller(0, true);
};

}  // namespace amid::testing
