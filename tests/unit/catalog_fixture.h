// A region of the real services (tests/unit/region_fixture.h) for tests that put
// records straight into the catalog (hundreds of images without a qemu-img run
// each) and then drive the actions.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"
#include "daemon/state/iso_time.h"
#include "tests/unit/region_fixture.h"

namespace amid::testing {

class CatalogFixture : public RegionFixture {
 protected:
  // Records as the services would have written them (no files behind them).
  ImageRecord add_image(const std::string& name, const Caller& owner, Tags tags = {},
                        const std::string& state = "available") {
    ImageRecord r;
    r.id = new_id("ami");
    r.name = name;
    r.owner = owner.account;
    r.region = "local-1";
    r.state = *image_state_named(state);
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
    r.state = InstanceState::kPending;
    r.launch_time = iso_now();
    r.dir = store_->instance_dir(r.id);
    r.tags = std::move(tags);
    catalog_->insert_instances({r});
    return r;
  }
};

}  // namespace amid::testing
