// The catalog's schema: the first version, then one migration per version
// since, in order. A migration is never edited once it has landed (a catalog
// out there went through it as it was); a change is a new entry at the end.
#include <string>
#include <utility>
#include <vector>

#include "daemon/state/sql.h"

namespace amid::sql {
namespace {

// Moves block device mappings out of the TOML text they were kept in into rows
// of their own (9): read as typed values, without a parse per record and read.
void mappings_to_rows(sqlite3* db);

struct Migration {
  const char* sql;
  void (*then)(sqlite3*) = nullptr;  // work SQL cannot do, after `sql`
};

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, architecture TEXT NOT NULL, virtualization_type TEXT NOT NULL,
  root_device_type TEXT NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  creation_date TEXT NOT NULL, size_bytes INTEGER NOT NULL, disk_file TEXT NOT NULL,
  source TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS images_name ON images(region, owner, name)
  WHERE state != 'deregistered';
CREATE TABLE IF NOT EXISTS instances (
  id TEXT PRIMARY KEY, reservation_id TEXT NOT NULL, image_id TEXT NOT NULL, owner TEXT NOT NULL,
  region TEXT NOT NULL, instance_type TEXT NOT NULL, vcpus INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,
  launch_time TEXT NOT NULL, terminated_time TEXT NOT NULL, domain_uuid TEXT NOT NULL,
  root_device_type TEXT NOT NULL, virtualization_type TEXT NOT NULL, architecture TEXT NOT NULL,
  dir TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS instances_image ON instances(image_id);
)sql";

// Each entry takes the schema from version N to N+1; entries are never edited.
const Migration kMigrations[] = {
    // 1 -> 2: paravirtual kernels, image block device mappings, capture jobs.
    {R"sql(
ALTER TABLE images ADD COLUMN kernel_id TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN kernel_file TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN ramdisk_id TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN ramdisk_file TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN kernel_cmdline TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN block_device_mappings TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN source_instance TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN consistency TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN progress_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN progress_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN restart_source INTEGER NOT NULL DEFAULT 0;
DROP INDEX images_name;
CREATE UNIQUE INDEX images_name ON images(region, owner, name)
  WHERE state NOT IN ('deregistered', 'failed');
ALTER TABLE instances ADD COLUMN block_device_mappings TEXT NOT NULL DEFAULT '';
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
)sql"},
    // 2 -> 3: EC2 tags on any resource.
    {R"sql(
CREATE TABLE tags (
  resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (resource_id, key)) WITHOUT ROWID;
)sql"},
    // 3 -> 4: deregistration protection, deprecation, ClientTokens.
    {R"sql(
ALTER TABLE images ADD COLUMN deregistration_protection TEXT NOT NULL DEFAULT 'disabled';
ALTER TABLE images ADD COLUMN protected_until TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN deprecation_time TEXT NOT NULL DEFAULT '';
CREATE TABLE client_tokens (
  owner TEXT NOT NULL, action TEXT NOT NULL, token TEXT NOT NULL, parameters TEXT NOT NULL,
  resource_id TEXT NOT NULL, result TEXT NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY (owner, action, token)) WITHOUT ROWID;
CREATE INDEX client_tokens_resource ON client_tokens(resource_id);
)sql"},
    // 4 -> 5: launch permissions (image sharing); they go with their image's row.
    {R"sql(
CREATE TABLE launch_permissions (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
  value TEXT NOT NULL,
  PRIMARY KEY (image_id, kind, value)) WITHOUT ROWID;
)sql"},
    // 5 -> 6: thin captures: a snapshot's file may sit on another snapshot's file.
    {R"sql(
ALTER TABLE snapshots ADD COLUMN base_snapshot_id TEXT NOT NULL DEFAULT '';
CREATE INDEX snapshots_base ON snapshots(base_snapshot_id) WHERE base_snapshot_id != '';
)sql"},
    // 6 -> 7: a stopped instance's libvirt definition is kept here, not in libvirt.
    {R"sql(
ALTER TABLE instances ADD COLUMN domain_xml TEXT NOT NULL DEFAULT '';
)sql"},
    // 7 -> 8: EC2's AmiLaunchIndex, an instance's place in its reservation.
    {R"sql(
ALTER TABLE instances ADD COLUMN launch_index INTEGER NOT NULL DEFAULT 0;
)sql"},
    // 8 -> 9: block device mappings as rows, not TOML text (mappings_to_rows).
    {R"sql(
CREATE TABLE block_device_mappings (
  resource_id TEXT NOT NULL, position INTEGER NOT NULL, device_name TEXT NOT NULL,
  virtual_name TEXT, no_device INTEGER NOT NULL, ebs INTEGER NOT NULL,
  volume_size_gib INTEGER, volume_type TEXT NOT NULL, volume_type_set INTEGER NOT NULL,
  delete_on_termination INTEGER NOT NULL, delete_on_termination_set INTEGER NOT NULL,
  snapshot_id TEXT,
  PRIMARY KEY (resource_id, position)) WITHOUT ROWID;
ALTER TABLE images ADD COLUMN mappings_recorded INTEGER NOT NULL DEFAULT 0;
)sql", mappings_to_rows},
    // 9 -> 10: EC2 key pairs, and the key an instance was launched with.
    {R"sql(
CREATE TABLE key_pairs (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
  type TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, create_time TEXT NOT NULL);
CREATE UNIQUE INDEX key_pairs_name ON key_pairs(region, owner, name);
ALTER TABLE instances ADD COLUMN key_name TEXT NOT NULL DEFAULT '';
)sql"},
    // 10 -> 11: how long a live capture held the guest's file systems frozen.
    {R"sql(
ALTER TABLE images ADD COLUMN freeze_ms INTEGER NOT NULL DEFAULT -1;
)sql"},
    // 11 -> 12: EC2 security groups, their ingress rules, and each instance's
    // groups in order. Instances from before have none (render shows them so).
    {R"sql(
CREATE TABLE security_groups (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
  description TEXT NOT NULL, vpc_id TEXT NOT NULL, create_time TEXT NOT NULL);
CREATE UNIQUE INDEX security_groups_name ON security_groups(region, owner, name COLLATE NOCASE);
CREATE TABLE security_group_rules (
  id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
  position INTEGER NOT NULL, protocol TEXT NOT NULL, from_port INTEGER NOT NULL, to_port INTEGER NOT NULL,
  cidr TEXT NOT NULL, description TEXT NOT NULL);
CREATE UNIQUE INDEX security_group_rules_key
  ON security_group_rules(group_id, protocol, from_port, to_port, cidr);
CREATE TABLE instance_security_groups (
  instance_id TEXT NOT NULL, position INTEGER NOT NULL, group_id TEXT NOT NULL,
  PRIMARY KEY (instance_id, position)) WITHOUT ROWID;
CREATE INDEX instance_security_groups_group ON instance_security_groups(group_id);
)sql"},
    // 12 -> 13: each instance's address on its region's network.
    {R"sql(
ALTER TABLE instances ADD COLUMN private_ip TEXT NOT NULL DEFAULT '';
)sql"},
    // 13 -> 14: the host ports of each instance's forwards (127.0.0.1:host_port
    // to its guest_port), kept for its life so a port stays the same across
    // stops, rule changes and amid restarts; `open` marks those listening now.
    {R"sql(
CREATE TABLE port_forwards (
  instance_id TEXT NOT NULL, guest_port INTEGER NOT NULL, host_port INTEGER NOT NULL,
  open INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, guest_port)) WITHOUT ROWID;
)sql"},
    // 14 -> 15: access keys for EC2's HTTP endpoint (SigV4): account-wide, not
    // per region, as IAM's. The secret is kept as it is, since verifying a
    // signature needs it; the catalog file is readable by amid alone.
    {R"sql(
CREATE TABLE access_keys (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, secret TEXT NOT NULL, create_time TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX access_keys_owner ON access_keys(owner);
)sql"},
    // 15 -> 16: warm images (docs/WARM_IMAGES.md): an image's saved memory
    // state and what a launch must match to restore it; how an instance came up.
    {R"sql(
CREATE TABLE warm_states (
  image_id TEXT PRIMARY KEY, state TEXT NOT NULL, state_reason TEXT NOT NULL DEFAULT '',
  memory_file TEXT NOT NULL DEFAULT '', root_layer TEXT NOT NULL DEFAULT '',
  memory_bytes INTEGER NOT NULL DEFAULT 0, instance_type TEXT NOT NULL, memory_mib INTEGER NOT NULL,
  vcpus INTEGER NOT NULL, machine TEXT NOT NULL DEFAULT '', cpu TEXT NOT NULL DEFAULT '',
  accelerator TEXT NOT NULL DEFAULT '', qemu_version TEXT NOT NULL DEFAULT '', nic INTEGER NOT NULL DEFAULT 0,
  create_time TEXT NOT NULL) WITHOUT ROWID;
ALTER TABLE instances ADD COLUMN launch_mode TEXT NOT NULL DEFAULT 'cold';
)sql"},
};

void mappings_to_rows(sqlite3* db) {
  for (const char* table : {"images", "instances"}) {
    std::vector<std::pair<std::string, std::string>> texts;
    {
      Stmt s(db, std::string("SELECT id, block_device_mappings FROM ") + table + " WHERE block_device_mappings != ''");
      while (s.step()) texts.emplace_back(s.text(0), s.text(1));
    }
    for (const auto& [id, text] : texts) {
      BlockDeviceMappings mappings;
      try {
        mappings = parse_stored_mappings(text);
      } catch (const AmidError& e) {
        throw AmidError(codes::kInternalError, id + "'s block device mappings are not text amid wrote: " + e.what());
      }
      write_mappings(db, id, mappings);
      if (std::string(table) == "images") {
        Stmt s(db, "UPDATE images SET mappings_recorded=1 WHERE id=?");
        s.bind(1, id);
        s.step();
      }
    }
  }
  exec(db, "ALTER TABLE images DROP COLUMN block_device_mappings");
  exec(db, "ALTER TABLE instances DROP COLUMN block_device_mappings");
}

}  // namespace

std::int64_t schema_version() { return static_cast<std::int64_t>(std::size(kMigrations)) + 1; }

void create_or_upgrade(sqlite3* db, std::int64_t version) {
  if (version == 0) {
    exec(db, kSchema);
    version = 1;
  }
  for (; version < schema_version(); ++version) {
    const Migration& m = kMigrations[version - 1];
    exec(db, m.sql);
    if (m.then) m.then(db);
  }
  exec(db, ("PRAGMA user_version=" + std::to_string(schema_version())).c_str());
}

}  // namespace amid::sql
