// state/catalog.h, schema 16: an image's warm state (docs/WARM_IMAGES.md)
// round-trips, shows on the image, goes with it, and an instance remembers how
// its guest came up (LaunchMode). A schema-4 catalog upgrades to it.
#include <gtest/gtest.h>

#include <string>

#include "daemon/state/catalog.h"
#include "tests/unit/old_catalogs.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::kSchemaFourCatalog;
using ::amid::testing::sqlite_exec;

ImageRecord image(const std::string& id) {
  ImageRecord r;
  r.id = id;
  r.name = "tiny " + id.substr(id.size() - 1);
  r.owner = "000000001000";
  r.region = "local-1";
  r.state = ImageState::kAvailable;
  r.creation_date = "2026-01-02T03:04:05.006Z";
  r.size_bytes = 1 << 30;
  r.disk_file = "/s/images/" + id + "/disk.qcow2";
  return r;
}

WarmStateRecord warm_of(const std::string& image_id) {
  WarmStateRecord w;
  w.image_id = image_id;
  w.state = "available";
  w.memory_file = "/s/images/" + image_id + "/warm-memory.save";
  w.root_layer = "/s/images/" + image_id + "/warm-root.qcow2";
  w.memory_bytes = std::uint64_t{99} << 20;
  w.instance_type = "t3.micro";
  w.memory_mib = 1024;
  w.vcpus = 2;
  w.machine = "pc-i440fx-7.2";
  w.cpu = "custom:qemu64";
  w.accelerator = "qemu";
  w.qemu_version = "7002000";
  w.nic = true;
  w.create_time = "2026-12-07T10:00:00.000Z";
  return w;
}

class CatalogWarmStatesTest : public ::amid::testing::TempDirTest {
 protected:
  std::string db_path() const { return tmp_.file("catalog.db"); }
};

TEST_F(CatalogWarmStatesTest, RoundTripsAndShowsOnItsImage) {
  Catalog c(db_path());
  c.insert_image(image("ami-0000000000000000a"));
  c.insert_image(image("ami-0000000000000000b"));
  EXPECT_FALSE(c.find_image("ami-0000000000000000a")->warm.has_value()) << "an image starts cold";

  const WarmStateRecord w = warm_of("ami-0000000000000000a");
  c.put_warm_state(w);
  auto got = c.find_warm_state(w.image_id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, "available");
  EXPECT_EQ(got->memory_file, w.memory_file);
  EXPECT_EQ(got->root_layer, w.root_layer);
  EXPECT_EQ(got->memory_bytes, w.memory_bytes);
  EXPECT_EQ(got->instance_type, "t3.micro");
  EXPECT_EQ(got->memory_mib, 1024u);
  EXPECT_EQ(got->vcpus, 2);
  EXPECT_EQ(got->machine, "pc-i440fx-7.2");
  EXPECT_EQ(got->cpu, "custom:qemu64");
  EXPECT_EQ(got->accelerator, "qemu");
  EXPECT_EQ(got->qemu_version, "7002000");
  EXPECT_TRUE(got->nic);
  EXPECT_EQ(got->create_time, w.create_time);

  // find_image and list_images carry it; the other image has none.
  ASSERT_TRUE(c.find_image(w.image_id)->warm.has_value());
  EXPECT_EQ(c.find_image(w.image_id)->warm->memory_file, w.memory_file);
  for (const auto& img : c.list_images()) {
    EXPECT_EQ(img.warm.has_value(), img.id == w.image_id) << img.id;
  }
}

TEST_F(CatalogWarmStatesTest, PutReplacesAndListFiltersByState) {
  Catalog c(db_path());
  c.insert_image(image("ami-0000000000000000a"));
  c.insert_image(image("ami-0000000000000000b"));
  WarmStateRecord pending = warm_of("ami-0000000000000000a");
  pending.state = "pending";
  c.put_warm_state(pending);
  WarmStateRecord failed = warm_of("ami-0000000000000000b");
  failed.state = "failed";
  failed.state_reason = "its guest did not greet amid";
  c.put_warm_state(failed);

  ASSERT_EQ(c.list_warm_states("pending").size(), 1u);
  EXPECT_EQ(c.list_warm_states("pending")[0].image_id, pending.image_id);
  EXPECT_EQ(c.list_warm_states("").size(), 2u);
  EXPECT_EQ(c.find_warm_state(failed.image_id)->state_reason, "its guest did not greet amid");

  pending.state = "available";  // the job's end: the same row, replaced
  c.put_warm_state(pending);
  EXPECT_TRUE(c.list_warm_states("pending").empty());
  EXPECT_EQ(c.list_warm_states("").size(), 2u);

  c.delete_warm_state(failed.image_id);
  EXPECT_FALSE(c.find_warm_state(failed.image_id).has_value());
  EXPECT_FALSE(c.find_image(failed.image_id)->warm.has_value());
}

TEST_F(CatalogWarmStatesTest, GoesWithItsImage) {
  Catalog c(db_path());
  c.insert_image(image("ami-0000000000000000a"));
  c.insert_image(image("ami-0000000000000000b"));
  c.put_warm_state(warm_of("ami-0000000000000000a"));
  c.put_warm_state(warm_of("ami-0000000000000000b"));
  c.delete_image("ami-0000000000000000a");
  c.delete_image_and_snapshots("ami-0000000000000000b");
  EXPECT_TRUE(c.list_warm_states("").empty());
}

TEST_F(CatalogWarmStatesTest, SchemaFourUpgradesToColdInstancesAndNoWarmStates) {
  sqlite_exec(db_path(), kSchemaFourCatalog);
  Catalog c(db_path());
  auto img = c.find_image("ami-0000000000000000a");
  ASSERT_TRUE(img.has_value());
  EXPECT_FALSE(img->warm.has_value());
  auto instances = c.list_instances();
  ASSERT_FALSE(instances.empty());
  for (const auto& i : instances) EXPECT_EQ(i.launch_mode, "cold") << i.id << " booted, as every instance did then";

  c.set_instance_launch_mode(instances[0].id, "warm");
  EXPECT_EQ(c.find_instance(instances[0].id)->launch_mode, "warm");
  c.put_warm_state(warm_of(img->id));
  EXPECT_TRUE(c.find_image(img->id)->warm.has_value());
}

}  // namespace
}  // namespace amid
