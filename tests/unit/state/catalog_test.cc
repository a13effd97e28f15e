// state/catalog.h on a SQLite file in a temp dir: records round-trip, names
// are unique per owner and region among live images, and a file that is not
// amid's catalog is refused instead of being read as empty.
#include "daemon/state/catalog.h"
#include "daemon/state/iso_time.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "common/error.h"
#include "tests/unit/old_catalogs.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

ImageRecord image(const std::string& id, const std::string& name, const std::string& owner = "000000001000",
                  const std::string& region = "local-1") {
  ImageRecord r;
  r.id = id;
  r.name = name;
  r.description = "desc of " + name;
  r.owner = owner;
  r.region = region;
  r.architecture = "x86_64";
  r.virtualization_type = "hvm";
  r.root_device_type = "ebs";
  r.state = ImageState::kAvailable;
  r.state_reason = "";
  r.creation_date = "2026-01-02T03:04:05.006Z";
  r.size_bytes = std::uint64_t{1} << 40;  // 1 TiB: needs 64 bits
  r.disk_file = "/var/lib/amid/images/" + id + "/disk.qcow2";
  r.source = "file:/home/u/" + name + ".qcow2";
  r.kernel_id = "aki-0000000000000000a";
  r.kernel_file = "/var/lib/amid/images/" + id + "/vmlinuz";
  r.ramdisk_id = "ari-0000000000000000a";
  r.ramdisk_file = "/var/lib/amid/images/" + id + "/initrd.img";
  r.kernel_cmdline = "console=ttyS0 root=/dev/vda1";
  r.block_device_mappings = BlockDeviceMappings{BlockDeviceMapping{"/dev/vdb", {}, {}, false}};
  r.source_instance = "i-0000000000000000a";
  r.consistency = "crash";
  r.progress_done = std::uint64_t{1} << 35;
  r.progress_total = std::uint64_t{1} << 36;
  return r;
}

InstanceRecord instance(const std::string& id, const std::string& image_id,
                        const std::string& state = "running") {
  InstanceRecord r;
  r.id = id;
  r.reservation_id = "r-0000000000000000a";
  r.image_id = image_id;
  r.owner = "000000001000";
  r.region = "local-1";
  r.instance_type = "t3.micro";
  r.vcpus = 2;
  r.memory_mib = 1024;
  r.state = *instance_state_named(state);
  r.state_reason = "";
  r.launch_time = "2026-01-02T03:04:05.006Z";
  r.terminated_time = "";
  r.domain_uuid = "6f1c3c4e-2b0a-4d8e-9c55-0a1b2c3d4e5f";
  r.root_device_type = "ebs";
  r.virtualization_type = "hvm";
  r.architecture = "x86_64";
  r.dir = "/var/lib/amid/instances/" + id;
  return r;
}

void expect_same(const ImageRecord& a, const ImageRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.virtualization_type, b.virtualization_type);
  EXPECT_EQ(a.root_device_type, b.root_device_type);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.state_reason, b.state_reason);
  EXPECT_EQ(a.creation_date, b.creation_date);
  EXPECT_EQ(a.size_bytes, b.size_bytes);
  EXPECT_EQ(a.disk_file, b.disk_file);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.kernel_id, b.kernel_id);
  EXPECT_EQ(a.kernel_file, b.kernel_file);
  EXPECT_EQ(a.ramdisk_id, b.ramdisk_id);
  EXPECT_EQ(a.ramdisk_file, b.ramdisk_file);
  EXPECT_EQ(a.kernel_cmdline, b.kernel_cmdline);
  EXPECT_EQ(a.block_device_mappings, b.block_device_mappings);
  EXPECT_EQ(a.source_instance, b.source_instance);
  EXPECT_EQ(a.consistency, b.consistency);
  EXPECT_EQ(a.progress_done, b.progress_done);
  EXPECT_EQ(a.progress_total, b.progress_total);
}

void expect_same(const InstanceRecord& a, const InstanceRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.reservation_id, b.reservation_id);
  EXPECT_EQ(a.image_id, b.image_id);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.instance_type, b.instance_type);
  EXPECT_EQ(a.vcpus, b.vcpus);
  EXPECT_EQ(a.memory_mib, b.memory_mib);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.state_reason, b.state_reason);
  EXPECT_EQ(a.launch_time, b.launch_time);
  EXPECT_EQ(a.terminated_time, b.terminated_time);
  EXPECT_EQ(a.domain_uuid, b.domain_uuid);
  EXPECT_EQ(a.root_device_type, b.root_device_type);
  EXPECT_EQ(a.virtualization_type, b.virtualization_type);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.dir, b.dir);
}

// Runs SQL on a database file directly, to make files the catalog must refuse.
using ::amid::testing::sqlite_exec;

std::string constructor_error(const std::string& path) {
  try {
    Catalog c(path);
  } catch (const AmidError& e) {
    EXPECT_EQ(e.code(), codes::kInternalError);
    return e.what();
  }
  ADD_FAILURE() << "Catalog(" << path << ") did not throw";
  return "";
}

class CatalogTest : public ::amid::testing::TempDirTest {
 protected:
  std::string db_path() const { return tmp_.file("catalog.db"); }
};

TEST_F(CatalogTest, StartsEmpty) {
  Catalog c(db_path());
  EXPECT_TRUE(c.list_images().empty());
  EXPECT_TRUE(c.list_instances().empty());
  EXPECT_FALSE(c.find_image("ami-0123456789abcdef0").has_value());
  EXPECT_FALSE(c.find_instance("i-0123456789abcdef0").has_value());
}

TEST_F(CatalogTest, ImagesRoundTrip) {
  Catalog c(db_path());
  ImageRecord a = image("ami-0000000000000000a", "alpha");
  ImageRecord b = image("ami-0000000000000000b", "beta");
  b.creation_date = "2026-01-01T00:00:00.000Z";  // older: listed first
  b.state_reason = "Server.InternalError: copy failed";
  c.insert_image(a);
  c.insert_image(b);

  auto found = c.find_image(a.id);
  ASSERT_TRUE(found.has_value());
  expect_same(*found, a);

  auto all = c.list_images();
  ASSERT_EQ(all.size(), 2u);
  expect_same(all[0], b);
  expect_same(all[1], a);
}

TEST_F(CatalogTest, ImageStateChangesAndDeletes) {
  Catalog c(db_path());
  c.insert_image(image("ami-0000000000000000a", "alpha"));
  c.set_image_state("ami-0000000000000000a", ImageState::kFailed, "copy failed");
  auto found = c.find_image("ami-0000000000000000a");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->state, ImageState::kFailed);
  EXPECT_EQ(found->state_reason, "copy failed");

  c.delete_image("ami-0000000000000000a");
  EXPECT_FALSE(c.find_image("ami-0000000000000000a").has_value());
  EXPECT_TRUE(c.list_images().empty());
}

TEST_F(CatalogTest, NameIsRefusedTwiceForTheSameOwnerAndRegion) {
  Catalog c(db_path());
  ASSERT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000a", "web")));
  EXPECT_FALSE(c.insert_image_if_name_free(image("ami-0000000000000000b", "web")));
  EXPECT_FALSE(c.find_image("ami-0000000000000000b").has_value()) << "nothing written";
  EXPECT_EQ(c.list_images().size(), 1u);
}

TEST_F(CatalogTest, NameIsFreeForAnotherOwnerOrRegion) {
  Catalog c(db_path());
  ASSERT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000a", "web")));
  EXPECT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000b", "web", "000000002000")));
  EXPECT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000c", "web", "000000001000", "other-1")));
  EXPECT_EQ(c.list_images().size(), 3u);
}

TEST_F(CatalogTest, NameIsFreeAgainOnceTheImageIsDeregistered) {
  Catalog c(db_path());
  ASSERT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000a", "web")));
  c.set_image_state("ami-0000000000000000a", ImageState::kDeregistered);
  EXPECT_TRUE(c.insert_image_if_name_free(image("ami-0000000000000000b", "web")));
  // ...but only one live image may hold it.
  EXPECT_FALSE(c.insert_image_if_name_free(image("ami-0000000000000000c", "web")));
}

TEST_F(CatalogTest, InstancesRoundTrip) {
  Catalog c(db_path());
  InstanceRecord a = instance("i-0000000000000000a", "ami-0000000000000000a");
  InstanceRecord b = instance("i-0000000000000000b", "ami-0000000000000000a", "pending");
  b.launch_time = "2026-01-01T00:00:00.000Z";
  b.memory_mib = std::uint64_t{1} << 33;
  c.insert_instances({a, b});

  auto found = c.find_instance(a.id);
  ASSERT_TRUE(found.has_value());
  expect_same(*found, a);
  auto all = c.list_instances();
  ASSERT_EQ(all.size(), 2u);
  expect_same(all[0], b);
  expect_same(all[1], a);
}

TEST_F(CatalogTest, InsertInstancesIsAllOrNothing) {
  Catalog c(db_path());
  c.insert_instances({instance("i-0000000000000000a", "ami-0000000000000000a")});
  EXPECT_THROW(c.insert_instances({instance("i-0000000000000000b", "ami-0000000000000000a"),
                                   instance("i-0000000000000000a", "ami-0000000000000000a")}),
               AmidError);
  EXPECT_FALSE(c.find_instance("i-0000000000000000b").has_value()) << "half a batch was written";
  EXPECT_EQ(c.list_instances().size(), 1u);
  // The catalog is still usable after the rollback.
  c.insert_instances({instance("i-0000000000000000c", "ami-0000000000000000a")});
  EXPECT_EQ(c.list_instances().size(), 2u);
}

TEST_F(CatalogTest, InstanceStateTerminationAndDeletion) {
  Catalog c(db_path());
  c.insert_instances({instance("i-0000000000000000a", "ami-0000000000000000a", "pending")});
  c.set_instance_state("i-0000000000000000a", InstanceState::kStopped, "Client.InstanceInitiatedShutdown: x");
  auto found = c.find_instance("i-0000000000000000a");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->state, InstanceState::kStopped);
  EXPECT_EQ(found->state_reason, "Client.InstanceInitiatedShutdown: x");

  c.mark_terminated("i-0000000000000000a", "2026-02-03T04:05:06.007Z");
  found = c.find_instance("i-0000000000000000a");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->state, InstanceState::kTerminated);
  EXPECT_EQ(found->terminated_time, "2026-02-03T04:05:06.007Z");
  EXPECT_TRUE(has_substr(found->state_reason, "UserInitiatedShutdown"));

  c.delete_instance("i-0000000000000000a");
  EXPECT_FALSE(c.find_instance("i-0000000000000000a").has_value());
}

TEST_F(CatalogTest, CountInstancesUsingIgnoresTerminated) {
  Catalog c(db_path());
  c.insert_instances({instance("i-0000000000000000a", "ami-0000000000000000a", "running"),
                      instance("i-0000000000000000b", "ami-0000000000000000a", "stopped"),
                      instance("i-0000000000000000c", "ami-0000000000000000a", "terminated"),
                      instance("i-0000000000000000d", "ami-0000000000000000b", "pending")});
  EXPECT_EQ(c.count_instances_using("ami-0000000000000000a"), 2);
  EXPECT_EQ(c.count_instances_using("ami-0000000000000000b"), 1);
  EXPECT_EQ(c.count_instances_using("ami-0000000000000000c"), 0);
  c.mark_terminated("i-0000000000000000a", "2026-02-03T04:05:06.007Z");
  EXPECT_EQ(c.count_instances_using("ami-0000000000000000a"), 1);
}

TEST_F(CatalogTest, ReopeningKeepsTheData) {
  {
    Catalog c(db_path());
    c.insert_image(image("ami-0000000000000000a", "alpha"));
    c.insert_instances({instance("i-0000000000000000a", "ami-0000000000000000a")});
  }
  Catalog again(db_path());
  auto img = again.find_image("ami-0000000000000000a");
  ASSERT_TRUE(img.has_value());
  expect_same(*img, image("ami-0000000000000000a", "alpha"));
  auto inst = again.find_instance("i-0000000000000000a");
  ASSERT_TRUE(inst.has_value());
  expect_same(*inst, instance("i-0000000000000000a", "ami-0000000000000000a"));
  // Unique names survive a reopen too.
  EXPECT_FALSE(again.insert_image_if_name_free(image("ami-0000000000000000b", "alpha")));
}

TEST_F(CatalogTest, UpgradesASchemaOneCatalogAndKeepsItsRows) {
  // The schema amid 0.1 wrote (user_version 1), with one image and one instance.
  sqlite_exec(db_path(), ::amid::testing::kSchemaOneCatalog);
  {
    Catalog c(db_path());
    auto img = c.find_image("ami-0000000000000000a");
    ASSERT_TRUE(img.has_value());
    EXPECT_EQ(img->name, "old");
    EXPECT_EQ(img->size_bytes, 1048576u);
    EXPECT_EQ(img->disk_file, "/s/images/a/disk.qcow2");
    EXPECT_EQ(img->kernel_id, "");
    EXPECT_EQ(img->progress_total, 0u);
    auto inst = c.find_instance("i-0000000000000000a");
    ASSERT_TRUE(inst.has_value());
    EXPECT_EQ(inst->state, InstanceState::kRunning);
    EXPECT_EQ(c.count_instances_using("ami-0000000000000000a"), 1);
    // New rows use the new columns; the name rule still holds across old and new rows.
    EXPECT_FALSE(c.insert_image_if_name_free(image("ami-0000000000000000b", "old")));
    ImageRecord fresh = image("ami-0000000000000000c", "fresh");
    ASSERT_TRUE(c.insert_image_if_name_free(fresh));
    expect_same(*c.find_image(fresh.id), fresh);
  }
  // Opening the upgraded catalog again neither fails nor migrates twice.
  Catalog again(db_path());
  EXPECT_EQ(again.list_images().size(), 2u);
}

TEST_F(CatalogTest, RefusesAFileThatIsNotSqliteAndLeavesItAlone) {
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage += static_cast<char>((i * 7919 + 13) & 0xff);
  ::amid::testing::write_text(db_path(), garbage);

  std::string message = constructor_error(db_path());
  EXPECT_TRUE(has_substr(message, db_path()));
  EXPECT_EQ(::amid::testing::read_text(db_path()), garbage) << "the catalog file was modified";
}

TEST_F(CatalogTest, RefusesADatabaseWithForeignTables) {
  sqlite_exec(db_path(), "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                         "INSERT INTO customers VALUES (1, 'kept');");
  std::string message = constructor_error(db_path());
  EXPECT_TRUE(has_substr(message, db_path()));
  EXPECT_TRUE(has_substr(message, "not amid's"));
  // Nothing of amid's was added to it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name='images'", -1, &s, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(CatalogTest, RefusesACatalogFromANewerAmid) {
  { Catalog c(db_path()); }
  sqlite_exec(db_path(), "PRAGMA user_version=99");
  std::string message = constructor_error(db_path());
  EXPECT_TRUE(has_substr(message, db_path()));
  EXPECT_TRUE(has_substr(message, "newer"));
}

TEST_F(CatalogTest, RefusesAPathItCannotOpen) {
  std::string path = tmp_.file("no-such-dir/catalog.db");
  EXPECT_TRUE(has_substr(constructor_error(path), path));
}

// True when `s` has the shape of `pattern`: a digit wherever it has '9', the same
// character elsewhere. (Not std::regex: g++ 12 warns -Wmaybe-uninitialized inside
// <regex> under -fsanitize=address,undefined, which -Werror turns into an error.)
bool has_shape(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (pattern[i] == '9' ? !digit : s[i] != pattern[i]) return false;
  }
  return true;
}

TEST(IsoNow, IsEc2sTimestampFormat) {
  std::string now = iso_now();
  EXPECT_TRUE(has_shape(now, "9999-99-99T99:99:99.999Z")) << now;
  EXPECT_FALSE(has_shape("2024-01-02T03:04:05.678", "9999-99-99T99:99:99.999Z"));
  EXPECT_FALSE(has_shape("2024-01-02 03:04:05.678Z", "9999-99-99T99:99:99.999Z"));
}


TEST_F(CatalogTest, TagsTravelWithTheirRecordAndGoWithIt) {
  Catalog c(db_path());
  InstanceRecord a = instance("i-0000000000000000a", "ami-0000000000000000a");
  a.tags = {{"Name", "web"}, {"team", "blue"}};
  InstanceRecord b = instance("i-0000000000000000b", "ami-0000000000000000a");
  c.insert_instances({a, b});
  c.insert_image(image("ami-0000000000000000a", "alpha"));
  c.set_tags("ami-0000000000000000a", {{"Name", "base"}});

  EXPECT_EQ(c.find_instance(a.id)->tags, a.tags);
  EXPECT_TRUE(c.find_instance(b.id)->tags.empty());
  auto all = c.list_instances();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id == a.id ? all[0].tags : all[1].tags, a.tags);
  // Instance tags do not leak into images (ids are looked up by prefix).
  EXPECT_EQ(c.list_images()[0].tags, (Tags{{"Name", "base"}}));

  // set_tags overwrites a key and adds others; delete_tags removes only the keys named.
  c.set_tags(a.id, {{"Name", "api"}, {"env", "prod"}});
  EXPECT_EQ(c.tags_of(a.id), (Tags{{"Name", "api"}, {"env", "prod"}, {"team", "blue"}}));
  c.delete_tags(a.id, {"team", "absent"});
  EXPECT_EQ(c.tags_of(a.id), (Tags{{"Name", "api"}, {"env", "prod"}}));

  c.delete_instance(a.id);
  EXPECT_TRUE(c.tags_of(a.id).empty()) << "a deleted record's tags go with it";
  c.delete_image("ami-0000000000000000a");
  EXPECT_TRUE(c.tags_of("ami-0000000000000000a").empty());
}

TEST_F(CatalogTest, VolumeTagsAreWrittenWithTheVolume) {
  Catalog c(db_path());
  VolumeRecord v;
  v.id = "vol-0000000000000000a";
  v.owner = "000000001000";
  v.region = "local-1";
  v.file = "/s/volumes/vol-0000000000000000a.qcow2";
  v.tags = {{"backup", "daily"}};
  c.insert_volume(v);
  EXPECT_EQ(c.find_volume(v.id)->tags, v.tags);
  EXPECT_EQ(c.list_volumes().at(0).tags, v.tags);
  c.delete_volume(v.id);
  EXPECT_TRUE(c.tags_of(v.id).empty());
}

// create-image's TagSpecifications: the image's tags go in with the pending
// image, the snapshots' with the capture's end; a name clash writes neither.
TEST_F(CatalogTest, ImageAndSnapshotTagsAreWrittenWithTheirRecords) {
  Catalog c(db_path());
  ImageRecord img = image("ami-0000000000000000a", "alpha");
  img.state = ImageState::kPending;
  img.tags = {{"Name", "alpha"}};
  ASSERT_TRUE(c.insert_image_if_name_free(img));
  EXPECT_EQ(c.find_image(img.id)->tags, img.tags);

  ImageRecord clash = image("ami-0000000000000000b", "alpha");
  clash.tags = {{"Name", "clash"}};
  EXPECT_FALSE(c.insert_image_if_name_free(clash));
  EXPECT_TRUE(c.tags_of(clash.id).empty()) << "a refused image leaves no tags behind";

  SnapshotRecord snap;
  snap.id = "snap-0000000000000000a";
  snap.owner = img.owner;
  snap.region = img.region;
  snap.state = "completed";
  snap.image_id = img.id;
  snap.tags = {{"backup", "yes"}};
  c.complete_image(img.id, {}, {snap});
  EXPECT_EQ(c.find_snapshot(snap.id)->tags, snap.tags);
  EXPECT_EQ(c.snapshots_of_image(img.id).at(0).tags, snap.tags);
  EXPECT_EQ(c.find_image(img.id)->state, ImageState::kAvailable);

  SnapshotRecord registered = snap;
  registered.id = "snap-0000000000000000b";
  registered.tags = {{"root", "1"}};
  c.insert_snapshot(registered);
  EXPECT_EQ(c.tags_of(registered.id), registered.tags);
  c.delete_snapshot(registered.id);
  EXPECT_TRUE(c.tags_of(registered.id).empty());
}

}  // namespace
}  // namespace amid
