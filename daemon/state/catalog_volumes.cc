// The catalog's EBS volumes and snapshots.
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {

namespace {
const char* kVolumeCols =
    "id,owner,region,size_gib,volume_type,state,create_time,snapshot_id,file,instance_id,device,"
    "delete_on_termination";

void bind_volume(sql::Stmt& s, const VolumeRecord& r) {
  s.bind(1, r.id).bind(2, r.owner).bind(3, r.region).bind(4, static_cast<std::int64_t>(r.size_gib));
  s.bind(5, r.volume_type).bind(6, r.state).bind(7, r.create_time).bind(8, r.snapshot_id);
  s.bind(9, r.file).bind(10, r.instance_id).bind(11, r.device);
  s.bind(12, static_cast<std::int64_t>(r.delete_on_termination ? 1 : 0));
}

VolumeRecord read_volume(const sql::Stmt& s) {
  VolumeRecord r;
  r.id = s.text(0);
  r.owner = s.text(1);
  r.region = s.text(2);
  r.size_gib = static_cast<std::uint64_t>(s.integer(3));
  r.volume_type = s.text(4);
  r.state = s.text(5);
  r.create_time = s.text(6);
  r.snapshot_id = s.text(7);
  r.file = s.text(8);
  r.instance_id = s.text(9);
  r.device = s.text(10);
  r.delete_on_termination = s.integer(11) != 0;
  return r;
}

const char* kSnapshotCols =
    "id,owner,region,description,state,start_time,volume_id,volume_size_gib,file,image_id,base_snapshot_id";

SnapshotRecord read_snapshot(const sql::Stmt& s) {
  SnapshotRecord r;
  r.id = s.text(0);
  r.owner = s.text(1);
  r.region = s.text(2);
  r.description = s.text(3);
  r.state = s.text(4);
  r.start_time = s.text(5);
  r.volume_id = s.text(6);
  r.volume_size_gib = static_cast<std::uint64_t>(s.integer(7));
  r.file = s.text(8);
  r.image_id = s.text(9);
  r.base_snapshot_id = s.text(10);
  return r;
}

}  // namespace

void Catalog::write_snapshot(const SnapshotRecord& r) {
  sql::Stmt s(db_, (std::string("INSERT INTO snapshots (") + kSnapshotCols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)").c_str());
  s.bind(1, r.id).bind(2, r.owner).bind(3, r.region).bind(4, r.description).bind(5, r.state);
  s.bind(6, r.start_time).bind(7, r.volume_id).bind(8, static_cast<std::int64_t>(r.volume_size_gib));
  s.bind(9, r.file).bind(10, r.image_id).bind(11, r.base_snapshot_id);
  s.step();
  sql::write_tags(db_, r.id, r.tags);
}

void Catalog::insert_volume(const VolumeRecord& r) {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("INSERT INTO volumes (") + kVolumeCols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
  in_transaction([&] {
    bind_volume(s, r);
    s.step();
    sql::write_tags(db_, r.id, r.tags);
  });
}

void Catalog::update_volume(const VolumeRecord& r) {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, "UPDATE volumes SET id=?1, owner=?2, region=?3, size_gib=?4, volume_type=?5, state=?6, "
              "create_time=?7, snapshot_id=?8, file=?9, instance_id=?10, device=?11, "
              "delete_on_termination=?12 WHERE id=?1");
  bind_volume(s, r);
  s.step();
}

std::optional<VolumeRecord> Catalog::find_volume(const std::string& id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kVolumeCols + " FROM volumes WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_volume(s);
  r.tags = sql::read_tags(db_, id);
  return r;
}

std::vector<VolumeRecord> Catalog::list_volumes() const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kVolumeCols + " FROM volumes ORDER BY create_time, id").c_str());
  std::vector<VolumeRecord> out;
  while (s.step()) out.push_back(read_volume(s));
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "vol-"));
  return out;
}

std::vector<VolumeRecord> Catalog::volumes_of_instance(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kVolumeCols +
               " FROM volumes WHERE instance_id=? ORDER BY device").c_str());
  s.bind(1, instance_id);
  std::vector<VolumeRecord> out;
  while (s.step()) out.push_back(read_volume(s));
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "vol-"));
  return out;
}

void Catalog::delete_volume(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    sql::Stmt s(db_, "DELETE FROM volumes WHERE id=?");
    s.bind(1, id);
    s.step();
    sql::drop_tags(db_, id);
  });
}

void Catalog::insert_snapshot(const SnapshotRecord& r) {
  std::lock_guard lock(mu_);
  in_transaction([&] { write_snapshot(r); });
}

void Catalog::set_snapshot_state(const std::string& id, const std::string& state) {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, "UPDATE snapshots SET state=? WHERE id=?");
  s.bind(1, state).bind(2, id);
  s.step();
}

std::optional<SnapshotRecord> Catalog::find_snapshot(const std::string& id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_snapshot(s);
  r.tags = sql::read_tags(db_, id);
  return r;
}

std::vector<SnapshotRecord> Catalog::snapshots_of_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots WHERE image_id=? ORDER BY id").c_str());
  s.bind(1, image_id);
  std::vector<SnapshotRecord> out;
  while (s.step()) out.push_back(read_snapshot(s));
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "snap-"));
  return out;
}

std::vector<SnapshotRecord> Catalog::list_snapshots() const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots ORDER BY start_time, id").c_str());
  std::vector<SnapshotRecord> out;
  while (s.step()) out.push_back(read_snapshot(s));
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "snap-"));
  return out;
}

void Catalog::delete_snapshot(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    sql::Stmt s(db_, "DELETE FROM snapshots WHERE id=?");
    s.bind(1, id);
    s.step();
    sql::drop_tags(db_, id);
  });
}

int Catalog::count_volumes_using_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, "SELECT count(*) FROM volumes v JOIN snapshots s ON v.snapshot_id = s.id "
              "WHERE s.image_id=? AND v.state != 'deleting'");
  s.bind(1, image_id);
  s.step();
  return static_cast<int>(s.integer(0));
}

int Catalog::count_snapshots_based_on_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, "SELECT count(*) FROM snapshots child JOIN snapshots base ON child.base_snapshot_id = base.id "
              "WHERE base.image_id=?1 AND child.image_id != ?1");
  s.bind(1, image_id);
  s.step();
  return static_cast<int>(s.integer(0));
}

}  // namespace amid
