// Catalogs as older amids wrote them, for the tests of the catalog's upgrades
// (state/schema.cc): each is the SQL of that schema with a few rows, exactly as
// it stood, kept here once. And the small SQLite helpers those tests share.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

namespace amid::testing {

// Runs `sql` on the SQLite file at `path` (made if missing).
inline void sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

// One integer a query answers (user_version, a count), or -1.
inline int sqlite_integer(const std::string& path, const std::string& query) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  sqlite3_stmt* s = nullptr;
  int v = -1;
  if (sqlite3_prepare_v2(db, query.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    v = sqlite3_column_int(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

inline int user_version(const std::string& path) { return sqlite_integer(path, "PRAGMA user_version"); }

// Schema 1 (amid 0.1), with one image and one instance.
inline const char* kSchemaOneCatalog = R"sql(
CREATE TABLE images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, architecture TEXT NOT NULL, virtualization_type TEXT NOT NULL,
  root_device_type TEXT NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  creation_date TEXT NOT NULL, size_bytes INTEGER NOT NULL, disk_file TEXT NOT NULL,
  source TEXT NOT NULL);
CREATE UNIQUE INDEX images_name ON images(region, owner, name) WHERE state != 'deregistered';
CREATE TABLE instances (
  id TEXT PRIMARY KEY, reservation_id TEXT NOT NULL, image_id TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, instance_type TEXT NOT NULL, vcpus INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  launch_time TEXT NOT NULL, terminated_time TEXT NOT NULL, domain_uuid TEXT NOT NULL,
  root_device_type TEXT NOT NULL, virtualization_type TEXT NOT NULL, architecture TEXT NOT NULL,
  dir TEXT NOT NULL);
CREATE INDEX instances_image ON instances(image_id);
INSERT INTO images VALUES ('ami-0000000000000000a','old','d','000000001000','local-1','x86_64',
  'hvm','ebs','available','','2026-01-01T00:00:00.000Z',1048576,'/s/images/a/disk.qcow2','file:/x');
INSERT INTO instances VALUES ('i-0000000000000000a','r-0000000000000000a','ami-0000000000000000a',
  '000000001000','local-1','t3.micro',2,1024,'running','','2026-01-01T00:00:00.000Z','',
  '6f1c3c4e-2b0a-4d8e-9c55-0a1b2c3d4e5f','ebs','hvm','x86_64','/s/instances/i');
PRAGMA user_version=1;
)sql";

// Schema 3 (tags), with an image, its snapshot, an instance and a tag.
inline const char* kSchemaThreeTables = R"sql(
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
  restart_source INTEGER NOT NULL DEFAULT 0);
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
)sql";
inline const char* kSchemaThreeRows = R"sql(
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
)sql";
inline const std::string kSchemaThreeCatalog =
    std::string(kSchemaThreeTables) + kSchemaThreeRows + "PRAGMA user_version=3;\n";

// Schema 4 (deregistration protection, deprecation, ClientTokens): schema 3 as
// its migration changed it, with the same rows.
inline const char* kSchemaThreeToFour = R"sql(
ALTER TABLE images ADD COLUMN deregistration_protection TEXT NOT NULL DEFAULT 'disabled';
ALTER TABLE images ADD COLUMN protected_until TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN deprecation_time TEXT NOT NULL DEFAULT '';
CREATE TABLE client_tokens (
  owner TEXT NOT NULL, action TEXT NOT NULL, token TEXT NOT NULL, parameters TEXT NOT NULL,
  resource_id TEXT NOT NULL, result TEXT NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY (owner, action, token)) WITHOUT ROWID;
CREATE INDEX client_tokens_resource ON client_tokens(resource_id);
)sql";
inline const std::string kSchemaFourCatalog = std::string(kSchemaThreeTables) + kSchemaThreeToFour +
                                              kSchemaThreeRows + "PRAGMA user_version=4;\n";

}  // namespace amid::testing
