// The catalog's images: their rows, launch permissions and block device
// mappings, and the transactions that change them together.
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

using sql::Stmt;

const char* kImageCols =
    "id,name,description,owner,region,architecture,virtualization_type,root_device_type,state,"
    "state_reason,creation_date,size_bytes,disk_file,source,kernel_id,kernel_file,ramdisk_id,"
    "ramdisk_file,kernel_cmdline,mappings_recorded,source_instance,consistency,progress_done,"
    "progress_total,restart_source,deregistration_protection,protected_until,deprecation_time,freeze_ms";
const char* kImageInsert =
    "INSERT INTO images (id,name,description,owner,region,architecture,virtualization_type,"
    "root_device_type,state,state_reason,creation_date,size_bytes,disk_file,source,kernel_id,"
    "kernel_file,ramdisk_id,ramdisk_file,kernel_cmdline,mappings_recorded,source_instance,"
    "consistency,progress_done,progress_total,restart_source,deregistration_protection,"
    "protected_until,deprecation_time,freeze_ms) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

// The row; its mappings are read apart (a recorded image gets an empty list
// here, filled in by attach_mappings or read_mappings).
ImageRecord read_image(const Stmt& s) {
  ImageRecord r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.description = s.text(2);
  r.owner = s.text(3);
  r.region = s.text(4);
  r.architecture = s.text(5);
  r.virtualization_type = s.text(6);
  r.root_device_type = s.text(7);
  r.state = sql::image_state_of(s.text(8));
  r.state_reason = s.text(9);
  r.creation_date = s.text(10);
  r.size_bytes = static_cast<std::uint64_t>(s.integer(11));
  r.disk_file = s.text(12);
  r.source = s.text(13);
  r.kernel_id = s.text(14);
  r.kernel_file = s.text(15);
  r.ramdisk_id = s.text(16);
  r.ramdisk_file = s.text(17);
  r.kernel_cmdline = s.text(18);
  if (s.integer(19) != 0) r.block_device_mappings.emplace();
  r.source_instance = s.text(20);
  r.consistency = s.text(21);
  r.progress_done = static_cast<std::uint64_t>(s.integer(22));
  r.progress_total = static_cast<std::uint64_t>(s.integer(23));
  r.restart_source = s.integer(24) != 0;
  r.deregistration_protection = s.text(25);
  r.protected_until = s.text(26);
  r.deprecation_time = s.text(27);
  r.freeze_ms = s.integer(28);
  return r;
}

void bind_image(Stmt& s, const ImageRecord& r) {
  s.bind(1, r.id).bind(2, r.name).bind(3, r.description).bind(4, r.owner).bind(5, r.region);
  s.bind(6, r.architecture).bind(7, r.virtualization_type).bind(8, r.root_device_type);
  s.bind(9, to_string(r.state)).bind(10, r.state_reason).bind(11, r.creation_date);
  s.bind(12, static_cast<std::int64_t>(r.size_bytes)).bind(13, r.disk_file).bind(14, r.source);
  s.bind(15, r.kernel_id).bind(16, r.kernel_file).bind(17, r.ramdisk_id).bind(18, r.ramdisk_file);
  s.bind(19, r.kernel_cmdline).bind(20, std::int64_t{r.block_device_mappings ? 1 : 0}).bind(21, r.source_instance);
  s.bind(22, r.consistency).bind(23, static_cast<std::int64_t>(r.progress_done));
  s.bind(24, static_cast<std::int64_t>(r.progress_total));
  s.bind(25, static_cast<std::int64_t>(r.restart_source ? 1 : 0));
  s.bind(26, r.deregistration_protection).bind(27, r.protected_until).bind(28, r.deprecation_time);
  s.bind(29, r.freeze_ms);
}

// The row, its tags and its mappings; the caller holds a transaction.
void write_image(sqlite3* db, const ImageRecord& r) {
  Stmt s(db, kImageInsert);
  bind_image(s, r);
  s.step();
  sql::write_tags(db, r.id, r.tags);
  if (r.block_device_mappings) sql::write_mappings(db, r.id, *r.block_device_mappings);
}

LaunchPermissions read_launch_permissions(sqlite3* db, const std::string& id) {
  Stmt s(db, "SELECT kind, value FROM launch_permissions WHERE image_id=? ORDER BY kind, value");
  s.bind(1, id);
  LaunchPermissions out;
  while (s.step()) out.push_back({s.text(0), s.text(1)});
  return out;
}

void drop_launch_permissions(sqlite3* db, const std::string& id) {
  Stmt s(db, "DELETE FROM launch_permissions WHERE image_id=?");
  s.bind(1, id);
  s.step();
}

// Tags, launch permissions and mappings of `list`, one query each for their
// ids (sql::id_filter).
void attach_image_extras(sqlite3* db, std::vector<ImageRecord>& list) {
  if (list.empty()) return;
  std::vector<std::string> ids;
  ids.reserve(list.size());
  for (const auto& r : list) ids.push_back(r.id);
  auto tags = sql::read_tags_of(db, ids);
  auto mappings = sql::read_mappings_of(db, ids);
  std::map<std::string, LaunchPermissions> perms;
  {
    sql::IdFilter f = sql::id_filter("image_id", ids);
    Stmt s(db, "SELECT image_id, kind, value FROM launch_permissions WHERE " + f.where +
                   " ORDER BY image_id, kind, value");
    for (std::size_t i = 0; i < f.binds.size(); ++i) s.bind(static_cast<int>(i + 1), f.binds[i]);
    while (s.step()) perms[s.text(0)].push_back({s.text(1), s.text(2)});
  }
  std::map<std::string, WarmStateRecord> warm;
  for (auto& w : sql::read_warm_states_of(db, ids)) warm.emplace(w.image_id, std::move(w));
  for (auto& r : list) {
    if (auto it = warm.find(r.id); it != warm.end()) r.warm = std::move(it->second);
    if (auto it = tags.find(r.id); it != tags.end()) r.tags = std::move(it->second);
    if (auto it = perms.find(r.id); it != perms.end()) r.launch_permissions = std::move(it->second);
    if (auto it = mappings.find(r.id); it != mappings.end() && r.block_device_mappings) {
      r.block_device_mappings = std::move(it->second);
    }
  }
}

void delete_image_row(sqlite3* db, const std::string& id) {
  drop_launch_permissions(db, id);
  Stmt warm(db, "DELETE FROM warm_states WHERE image_id=?");
  warm.bind(1, id);
  warm.step();
  sql::drop_mappings(db, id);
  Stmt s(db, "DELETE FROM images WHERE id=?");
  s.bind(1, id);
  s.step();
  sql::drop_tags(db, id);
}

}  // namespace

void Catalog::insert_image(const ImageRecord& r) {
  std::lock_guard lock(mu_);
  in_transaction([&] { write_image(db_, r); });
}

bool Catalog::insert_image_if_name_free(const ImageRecord& r) {
  return insert_image_checked(r, nullptr) == ImageInsert::kInserted;
}

ImageInsert Catalog::insert_image_checked(const ImageRecord& r, const ClientTokenRecord* token) {
  std::lock_guard lock(mu_);
  ImageInsert outcome = ImageInsert::kInserted;
  in_transaction([&] {
    if (token && sql::token_taken(db_, *token)) {
      outcome = ImageInsert::kTokenTaken;
      return;
    }
    try {
      write_image(db_, r);
    } catch (const AmidError& e) {
      if (e.code() != "Constraint") throw;
      outcome = ImageInsert::kNameTaken;  // the unique index on live names
      return;
    }
    if (token) sql::insert_token(db_, *token);
  });
  return outcome;
}

void Catalog::set_image_protection(const std::string& id, const std::string& protection,
                                   const std::string& protected_until) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET deregistration_protection=?, protected_until=? WHERE id=?");
  s.bind(1, protection).bind(2, protected_until).bind(3, id);
  s.step();
}

void Catalog::set_image_deprecation(const std::string& id, const std::string& deprecation_time) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET deprecation_time=? WHERE id=?");
  s.bind(1, deprecation_time).bind(2, id);
  s.step();
}

void Catalog::set_image_progress(const std::string& id, std::uint64_t done, std::uint64_t total) {
  std::lock_guard lock(mu_);
  progress_[id] = {done, total};
}

void Catalog::overlay_progress(ImageRecord& r) const {
  auto it = progress_.find(r.id);
  if (it == progress_.end()) return;
  r.progress_done = it->second.first;
  r.progress_total = it->second.second;
}

void Catalog::set_image_consistency(const std::string& id, const std::string& consistency,
                                    std::int64_t freeze_ms) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET consistency=?, freeze_ms=? WHERE id=?");
  s.bind(1, consistency).bind(2, freeze_ms).bind(3, id);
  s.step();
}

void Catalog::set_image_state(const std::string& id, ImageState state, const std::string& reason) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET state=?, state_reason=? WHERE id=?");
  s.bind(1, to_string(state)).bind(2, reason).bind(3, id);
  s.step();
  if (state != ImageState::kPending) progress_.erase(id);
}

std::optional<ImageRecord> Catalog::find_image(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kImageCols + " FROM images WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_image(s);
  r.tags = sql::read_tags(db_, id);
  r.launch_permissions = read_launch_permissions(db_, id);
  if (auto warm = sql::read_warm_states_of(db_, {id}); !warm.empty()) r.warm = std::move(warm.front());
  if (r.block_device_mappings) r.block_device_mappings = sql::read_mappings(db_, id);
  overlay_progress(r);
  return r;
}

std::vector<ImageRecord> Catalog::list_images() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kImageCols + " FROM images ORDER BY creation_date, id");
  std::vector<ImageRecord> out;
  while (s.step()) out.push_back(read_image(s));
  attach_image_extras(db_, out);
  if (!progress_.empty()) {
    for (auto& r : out) overlay_progress(r);
  }
  return out;
}

std::vector<ImageRecord> Catalog::list_images(const ImageQuery& q) const {
  std::string query = std::string("SELECT ") + kImageCols + " FROM images WHERE 1";
  std::vector<std::string> binds;
  if (!q.region.empty()) {
    query += " AND region = ?";
    binds.push_back(q.region);
  }
  if (q.live_only) query += " AND state != 'deregistered'";
  for (const auto& [column, patterns] : q.globs) {
    if (std::find_if(std::begin(kImageGlobColumns), std::end(kImageGlobColumns),
                     [&](const char* c) { return column == c; }) == std::end(kImageGlobColumns)) {
      throw AmidError(codes::kInternalError, "catalog: no image column " + column + " to match");
    }
    query += " AND (0";
    for (const auto& pattern : patterns) {
      query += " OR amid_glob(?, " + column + ")";
      binds.push_back(pattern);
    }
    query += ")";
  }
  if (q.by_id) {
    query += " AND id > ? ORDER BY id";
    binds.push_back(q.after_id);
    if (q.limit) query += " LIMIT " + std::to_string(q.limit);
  } else {
    if (!q.after_id.empty() || q.limit) throw AmidError(codes::kInternalError, "catalog: a page is ordered by id");
    query += " ORDER BY creation_date, id";
  }
  std::lock_guard lock(mu_);
  Stmt s(db_, query);
  for (std::size_t i = 0; i < binds.size(); ++i) s.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<ImageRecord> out;
  while (s.step()) out.push_back(read_image(s));
  attach_image_extras(db_, out);
  if (!progress_.empty()) {
    for (auto& r : out) overlay_progress(r);
  }
  return out;
}

void Catalog::delete_image(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] { delete_image_row(db_, id); });
}

void Catalog::edit_launch_permissions(const std::string& image_id, const LaunchPermissions& add,
                                      const LaunchPermissions& remove) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    for (const auto& p : add) {
      Stmt s(db_, "INSERT INTO launch_permissions (image_id, kind, value) VALUES (?,?,?) "
                  "ON CONFLICT (image_id, kind, value) DO NOTHING");
      s.bind(1, image_id).bind(2, p.kind).bind(3, p.value);
      s.step();
    }
    for (const auto& p : remove) {
      Stmt s(db_, "DELETE FROM launch_permissions WHERE image_id=? AND kind=? AND value=?");
      s.bind(1, image_id).bind(2, p.kind).bind(3, p.value);
      s.step();
    }
  });
}

void Catalog::reset_launch_permissions(const std::string& image_id) {
  std::lock_guard lock(mu_);
  drop_launch_permissions(db_, image_id);
}

void Catalog::delete_image_and_snapshots(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    std::vector<std::string> snaps;
    {
      Stmt s(db_, "SELECT id FROM snapshots WHERE image_id=?");
      s.bind(1, id);
      while (s.step()) snaps.push_back(s.text(0));
    }
    for (const auto& snap : snaps) {
      Stmt s(db_, "DELETE FROM snapshots WHERE id=?");
      s.bind(1, snap);
      s.step();
      sql::drop_tags(db_, snap);
    }
    delete_image_row(db_, id);
  });
}

void Catalog::complete_image(const std::string& id, const BlockDeviceMappings& mappings,
                             const std::vector<SnapshotRecord>& snapshots) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    for (const auto& r : snapshots) write_snapshot(r);
    sql::write_mappings(db_, id, mappings);
    Stmt s(db_, "UPDATE images SET mappings_recorded=1, state='available', state_reason='' WHERE id=?");
    s.bind(1, id);
    s.step();
  });
  progress_.erase(id);
}

}  // namespace amid
