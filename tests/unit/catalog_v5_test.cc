// daemon/catalog.h, schema 5: a schema-4 catalog is upgraded in place and keeps
// its rows; images carry launch permissions (sharing), which go with their image.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "daemon/catalog.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

void sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

int user_version(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_stmt* s = nullptr;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    v = sqlite3_column_int(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

int count_rows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_stmt* s = nullptr;
  int n = -1;
  if (sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    n = sqlite3_column_int(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

// The catalog amid wrote at schema 4 (protection, deprecation, ClientTokens), with
// an image, its snapshot, an instance and a tag.
const char* kSchemaFour = R"sql(
CREATE TABLE images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, architecture TEXT NOT NULL, virtualization_type TEXT NOT NULL,
  root_device_type TEXT NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  creation_date TEXT NOT NULL, size_bytes INTEGER NOT NULL, disk_file TEXT NOT NULL,
  source TEXT NOT NULL, kernel_id TEXT NOT NULL DEFAULT '', kernel_file TEXT NOT NULL DEFAULT '',
  ramdisk_id TEXT NOT NULL DEFAULT '', ramdisk_file TEXT NOT NULL DEFAULT '',
  kernel_cmdline TEXT NOT NULL DEFAULT '', block_device_mappings TEXT NOT NULL DEFAULT '',
  source_instance TEXT NOT NULL DEFAULT '', consistency TEXT NOT NULL DEFAULT '',
  progress_done INTEGER NOT NULL DEFAULT 0, progress_total INTEGER NOT NULL DEFAULT 0,
  restart_source INTEGER NOT NULL DEFAULT 0,
  deregistration_protection TEXT NOT NULL DEFAULT 'disabled', protected_until TEXT NOT NULL DEFAULT '',
  deprecation_time TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX images_name ON images(region, owner, name)
  WHERE state NOT IN ('deregistered', 'failed');
CREATE TABLE instances (
  id TEXT PRIMARY KEY, reservation_id TEXT NOT NULL, image_id TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, instance_type TEXT NOT NULL, vcpus INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  launch_time TEXT NOT NULL, terminated_time TEXT NOT NULL, domain_uuid TEXT NOT NULL,
  root_device_type TEXT NOT NULL, virtualization_type TEXT NOT NULL, architecture TEXT NOT NULL,
  dir TEXT NOT NULL, block_device_mappings TEXT NOT NULL DEFAULT '');
CREATE INDEX instances_image ON instances(image_id);
CREATE TABLE volumes (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL, size_gib INTEGER NOT NULL,
  volume_type TEXT NOT NULL, state TEXT NOT NULL, create_time TEXT NOT NULL,
  snapshot_id TEXT NOT NULL, file TEXT NOT NULL, instance_id TEXT NOT NULL, device TEXT NOT NULL,
  delete_on_termination INTEGER NOT NULL);
CREATE INDEX volumes_instance ON volumes(instance_id);
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL, description TEXT NOT NULL,
  state TEXT NOT NULL, start_time TEXT NOT NULL, volume_id TEXT NOT NULL,
  volume_size_gib INTEGER NOT NULL, file TEXT NOT NULL, image_id TEXT NOT NULL);
CREATE INDEX snapshots_image ON snapshots(image_id);
CREATE TABLE tags (
  resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (resource_id, key)) WITHOUT ROWID;
CREATE TABLE client_tokens (
  owner TEXT NOT NULL, action TEXT NOT NULL, token TEXT NOT NULL, parameters TEXT NOT NULL,
  resource_id TEXT NOT NULL, result TEXT NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY (owner, action, token)) WITHOUT ROWID;
CREATE INDEX client_tokens_resource ON client_tokens(resource_id);
INSERT INTO images (id,name,description,owner,region,architecture,virtualization_type,root_device_type,
  state,state_reason,creation_date,size_bytes,disk_file,source,block_device_mappings)
  VALUES ('ami-0000000000000000a','old','d','000000001000','local-1','x86_64','hvm','ebs','available','',
  '2026-01-01T00:00:00.000Z',1048576,'/s/images/a/disk.qcow2','file:/x','');
INSERT INTO snapshots VALUES ('snap-0000000000000000a','000000001000','local-1','root','completed',
  '2026-01-01T00:00:00.000Z','',1,'/s/images/a/disk.qcow2','ami-0000000000000000a');
INSERT INTO instances VALUES ('i-0000000000000000a','r-0000000000000000a','ami-0000000000000000a',
  '000000001000','local-1','t3.micro',2,1024,'running','','2026-01-01T00:00:00.000Z','',
  '6f1c3c4e-2b0a-4d8e-9c55-0a1b2c3d4e5f','ebs','hvm','x86_64','/s/instances/i','');
INSERT INTO tags VALUES ('ami-0000000000000000a','team','infra');
PRAGMA user_version=4;
)sql";

class CatalogV5Test : public ::amid::testing::TempDirTest {
 protected:
  std::string db_path() const { return tmp_.file("catalog.db"); }
};

TEST_F(CatalogV5Test, UpgradesASchemaFourCatalogAndKeepsItsRows) {
  sqlite_exec(db_path(), kSchemaFour);
  const std::string id = "ami-0000000000000000a";
  {
    Catalog c(db_path());
    auto img = c.find_image(id);
    ASSERT_TRUE(img.has_value());
    EXPECT_EQ(img->name, "old");
    EXPECT_TRUE(img->launch_permissions.empty()) << "old images stay private";
    EXPECT_EQ(img->tags.at("team"), "infra");
    EXPECT_EQ(c.snapshots_of_image(id).size(), 1u);
    EXPECT_EQ(c.count_instances_using(id), 1);
    c.edit_launch_permissions(id, {{"user", "000000002000"}, {"group", "all"}}, {});
  }
  EXPECT_EQ(user_version(db_path()), 8) << "upgraded through every schema since";
  Catalog again(db_path());
  auto img = again.find_image(id);
  ASSERT_TRUE(img.has_value());
  const LaunchPermissions expected = {{"group", "all"}, {"user", "000000002000"}};
  EXPECT_EQ(img->launch_permissions, expected) << "sorted, and kept across a reopen";
  EXPECT_EQ(again.list_images().at(0).launch_permissions, expected);
}

// Schema 6: snapshots from before stand alone; a thin snapshot keeps its base,
// which counts as a use of the base's image (and not of its own).
TEST_F(CatalogV5Test, SnapshotsKeepTheirBaseFromSchemaSix) {
  sqlite_exec(db_path(), kSchemaFour);
  const std::string base_image = "ami-0000000000000000a";
  Catalog c(db_path());
  auto old = c.find_snapshot("snap-0000000000000000a");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->base_snapshot_id, "") << "older snapshots are standalone";
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 0);

  ImageRecord child;
  child.id = "ami-0000000000000000b";
  child.name = "child";
  child.owner = "000000001000";
  child.region = "local-1";
  child.creation_date = "2026-01-02T03:04:05.006Z";
  c.insert_image(child);
  SnapshotRecord thin;
  thin.id = "snap-0000000000000000b";
  thin.owner = child.owner;
  thin.region = child.region;
  thin.file = "/s/images/b/disk.qcow2";
  thin.image_id = child.id;
  thin.base_snapshot_id = old->id;
  c.complete_image(child.id, "", {thin});
  EXPECT_EQ(c.find_snapshot(thin.id)->base_snapshot_id, old->id);
  EXPECT_EQ(c.snapshots_of_image(child.id).at(0).base_snapshot_id, old->id);
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 1);
  EXPECT_EQ(c.count_snapshots_based_on_image(child.id), 0);
  c.delete_image_and_snapshots(child.id);
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 0);
}

TEST_F(CatalogV5Test, EditsAreOneTransactionAndIdempotent) {
  sqlite_exec(db_path(), kSchemaFour);
  const std::string id = "ami-0000000000000000a";
  Catalog c(db_path());
  c.edit_launch_permissions(id, {{"user", "000000002000"}, {"user", "000000003000"}}, {});
  c.edit_launch_permissions(id, {{"user", "000000002000"}}, {{"user", "000000003000"}, {"group", "all"}});
  EXPECT_EQ(c.find_image(id)->launch_permissions, (LaunchPermissions{{"user", "000000002000"}}));
  // A kind that is neither user nor group breaks the CHECK: nothing of the edit is written.
  EXPECT_THROW(c.edit_launch_permissions(id, {{"user", "000000004000"}, {"team", "x"}}, {{"user", "000000002000"}}),
               AmidError);
  EXPECT_EQ(c.find_image(id)->launch_permissions, (LaunchPermissions{{"user", "000000002000"}}));
  c.reset_launch_permissions(id);
  EXPECT_TRUE(c.find_image(id)->launch_permissions.empty());
}

TEST_F(CatalogV5Test, PermissionsAreDeletedWithTheirImage) {
  sqlite_exec(db_path(), kSchemaFour);
  const std::string id = "ami-0000000000000000a";
  {
    Catalog c(db_path());
    c.edit_launch_permissions(id, {{"user", "000000002000"}}, {});
    c.delete_image_and_snapshots(id);
    EXPECT_FALSE(c.find_image(id).has_value());
  }
  EXPECT_EQ(count_rows(db_path(), "launch_permissions"), 0);
  {
    Catalog c(db_path());
    ImageRecord r;
    r.id = "ami-0000000000000000b";
    r.name = "new";
    r.owner = "000000001000";
    r.region = "local-1";
    r.creation_date = "2026-01-02T03:04:05.006Z";
    c.insert_image(r);
    c.edit_launch_permissions(r.id, {{"group", "all"}}, {});
    c.delete_image(r.id);
  }
  EXPECT_EQ(count_rows(db_path(), "launch_permissions"), 0);
}

}  // namespace
}  // namespace amid
