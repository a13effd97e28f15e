#include "daemon/catalog.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/error.h"
#include "daemon/filters.h"

namespace amid {
namespace {

constexpr int kSchemaVersion = 8;

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
const char* kMigrations[] = {
    // 1 -> 2: paravirtual kernels, image block device mappings, capture jobs.
    R"sql(
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
)sql",
    // 2 -> 3: EC2 tags on any resource.
    R"sql(
CREATE TABLE tags (
  resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (resource_id, key)) WITHOUT ROWID;
)sql",
    // 3 -> 4: deregistration protection, deprecation, ClientTokens.
    R"sql(
ALTER TABLE images ADD COLUMN deregistration_protection TEXT NOT NULL DEFAULT 'disabled';
ALTER TABLE images ADD COLUMN protected_until TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN deprecation_time TEXT NOT NULL DEFAULT '';
CREATE TABLE client_tokens (
  owner TEXT NOT NULL, action TEXT NOT NULL, token TEXT NOT NULL, parameters TEXT NOT NULL,
  resource_id TEXT NOT NULL, result TEXT NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY (owner, action, token)) WITHOUT ROWID;
CREATE INDEX client_tokens_resource ON client_tokens(resource_id);
)sql",
    // 4 -> 5: launch permissions (image sharing); they go with their image's row.
    R"sql(
CREATE TABLE launch_permissions (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
  value TEXT NOT NULL,
  PRIMARY KEY (image_id, kind, value)) WITHOUT ROWID;
)sql",
    // 5 -> 6: thin captures: a snapshot's file may sit on another snapshot's file.
    R"sql(
ALTER TABLE snapshots ADD COLUMN base_snapshot_id TEXT NOT NULL DEFAULT '';
CREATE INDEX snapshots_base ON snapshots(base_snapshot_id) WHERE base_snapshot_id != '';
)sql",
    // 6 -> 7: a stopped instance's libvirt definition is kept here, not in libvirt.
    R"sql(
ALTER TABLE instances ADD COLUMN domain_xml TEXT NOT NULL DEFAULT '';
)sql",
    // 7 -> 8: EC2's AmiLaunchIndex, an instance's place in its reservation.
    R"sql(
ALTER TABLE instances ADD COLUMN launch_index INTEGER NOT NULL DEFAULT 0;
)sql",
};

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // True while there is a row.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_CONSTRAINT) throw AmidError("Constraint", sqlite3_errmsg(db_));
    fail("step");
  }
  std::string text(int i) const {
    auto* p = sqlite3_column_text(s_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  [[noreturn]] void fail(const char* what) {
    throw AmidError(codes::kInternalError,
                    std::string("catalog: ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

const char* kImageCols =
    "id,name,description,owner,region,architecture,virtualization_type,root_device_type,state,"
    "state_reason,creation_date,size_bytes,disk_file,source,kernel_id,kernel_file,ramdisk_id,"
    "ramdisk_file,kernel_cmdline,block_device_mappings,source_instance,consistency,progress_done,"
    "progress_total,restart_source,deregistration_protection,protected_until,deprecation_time";
const char* kImageInsert =
    "INSERT INTO images (id,name,description,owner,region,architecture,virtualization_type,"
    "root_device_type,state,state_reason,creation_date,size_bytes,disk_file,source,kernel_id,"
    "kernel_file,ramdisk_id,ramdisk_file,kernel_cmdline,block_device_mappings,source_instance,"
    "consistency,progress_done,progress_total,restart_source,deregistration_protection,"
    "protected_until,deprecation_time) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

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
  r.state = s.text(8);
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
  r.block_device_mappings = s.text(19);
  r.source_instance = s.text(20);
  r.consistency = s.text(21);
  r.progress_done = static_cast<std::uint64_t>(s.integer(22));
  r.progress_total = static_cast<std::uint64_t>(s.integer(23));
  r.restart_source = s.integer(24) != 0;
  r.deregistration_protection = s.text(25);
  r.protected_until = s.text(26);
  r.deprecation_time = s.text(27);
  return r;
}

const char* kInstanceCols =
    "id,reservation_id,image_id,owner,region,instance_type,vcpus,memory_mib,state,state_reason,"
    "launch_time,terminated_time,domain_uuid,root_device_type,virtualization_type,architecture,dir,"
    "block_device_mappings,launch_index";

InstanceRecord read_instance(const Stmt& s) {
  InstanceRecord r;
  r.id = s.text(0);
  r.reservation_id = s.text(1);
  r.image_id = s.text(2);
  r.owner = s.text(3);
  r.region = s.text(4);
  r.instance_type = s.text(5);
  r.vcpus = static_cast<int>(s.integer(6));
  r.memory_mib = static_cast<std::uint64_t>(s.integer(7));
  r.state = s.text(8);
  r.state_reason = s.text(9);
  r.launch_time = s.text(10);
  r.terminated_time = s.text(11);
  r.domain_uuid = s.text(12);
  r.root_device_type = s.text(13);
  r.virtualization_type = s.text(14);
  r.architecture = s.text(15);
  r.dir = s.text(16);
  r.block_device_mappings = s.text(17);
  r.launch_index = static_cast<int>(s.integer(18));
  return r;
}

Tags read_tags(sqlite3* db, const std::string& id) {
  Stmt s(db, "SELECT key, value FROM tags WHERE resource_id=?");
  s.bind(1, id);
  Tags out;
  while (s.step()) out.emplace(s.text(0), s.text(1));
  return out;
}

// Every tag of resources whose id starts with `prefix` ("ami-", "i-"...), by id.
std::map<std::string, Tags> read_all_tags(sqlite3* db, const std::string& prefix) {
  Stmt s(db, "SELECT resource_id, key, value FROM tags WHERE resource_id >= ? AND resource_id < ?");
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  s.bind(1, prefix).bind(2, end);
  std::map<std::string, Tags> out;
  while (s.step()) out[s.text(0)].emplace(s.text(1), s.text(2));
  return out;
}

// Every tag of resources whose id is in [first, last], by id.
std::map<std::string, Tags> read_tags_between(sqlite3* db, const std::string& first, const std::string& last) {
  Stmt s(db, "SELECT resource_id, key, value FROM tags WHERE resource_id >= ? AND resource_id <= ?");
  s.bind(1, first).bind(2, last);
  std::map<std::string, Tags> out;
  while (s.step()) out[s.text(0)].emplace(s.text(1), s.text(2));
  return out;
}

void write_tags(sqlite3* db, const std::string& id, const Tags& tags) {
  for (const auto& [k, v] : tags) {
    Stmt s(db, "INSERT INTO tags (resource_id, key, value) VALUES (?,?,?) "
               "ON CONFLICT (resource_id, key) DO UPDATE SET value=excluded.value");
    s.bind(1, id).bind(2, k).bind(3, v);
    s.step();
  }
}

void drop_tags(sqlite3* db, const std::string& id) {
  Stmt s(db, "DELETE FROM tags WHERE resource_id=?");
  s.bind(1, id);
  s.step();
}

LaunchPermissions read_launch_permissions(sqlite3* db, const std::string& id) {
  Stmt s(db, "SELECT kind, value FROM launch_permissions WHERE image_id=? ORDER BY kind, value");
  s.bind(1, id);
  LaunchPermissions out;
  while (s.step()) out.push_back({s.text(0), s.text(1)});
  return out;
}

void attach_launch_permissions(sqlite3* db, std::vector<ImageRecord>& list) {
  std::map<std::string, LaunchPermissions> all;
  Stmt s(db, "SELECT image_id, kind, value FROM launch_permissions ORDER BY image_id, kind, value");
  while (s.step()) all[s.text(0)].push_back({s.text(1), s.text(2)});
  if (all.empty()) return;
  for (auto& r : list) {
    auto it = all.find(r.id);
    if (it != all.end()) r.launch_permissions = std::move(it->second);
  }
}

// Tags and launch permissions of `list` (images), one query each over the range
// of their ids.
void attach_image_extras(sqlite3* db, std::vector<ImageRecord>& list) {
  if (list.empty()) return;
  auto [lo, hi] = std::minmax_element(list.begin(), list.end(),
                                      [](const ImageRecord& a, const ImageRecord& b) { return a.id < b.id; });
  const std::string first = lo->id, last = hi->id;
  auto tags = read_tags_between(db, first, last);
  std::map<std::string, LaunchPermissions> perms;
  {
    Stmt s(db, "SELECT image_id, kind, value FROM launch_permissions WHERE image_id >= ? AND image_id <= ? "
               "ORDER BY image_id, kind, value");
    s.bind(1, first).bind(2, last);
    while (s.step()) perms[s.text(0)].push_back({s.text(1), s.text(2)});
  }
  for (auto& r : list) {
    if (auto it = tags.find(r.id); it != tags.end()) r.tags = std::move(it->second);
    if (auto it = perms.find(r.id); it != perms.end()) r.launch_permissions = std::move(it->second);
  }
}

// SQL amid_glob(pattern, text): EC2's wildcard match (filters.h).
void sql_glob(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* p = sqlite3_value_text(argv[0]);
  const auto* t = sqlite3_value_text(argv[1]);
  if (!p || !t) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  std::string_view pattern(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  std::string_view text(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_value_bytes(argv[1])));
  sqlite3_result_int(ctx, glob_match(pattern, text) ? 1 : 0);
}

void drop_launch_permissions(sqlite3* db, const std::string& id) {
  Stmt s(db, "DELETE FROM launch_permissions WHERE image_id=?");
  s.bind(1, id);
  s.step();
}

template <typename Record>
void attach_tags(sqlite3* db, std::vector<Record>& list, const std::string& prefix) {
  auto all = read_all_tags(db, prefix);
  for (auto& r : list) {
    auto it = all.find(r.id);
    if (it != all.end()) r.tags = std::move(it->second);
  }
}

}  // namespace

std::string iso_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

Catalog::Catalog(const std::string& path) : path_(path) {
  // Private to amid: SQLite gives the -wal and -shm files the database's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                              SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw AmidError(codes::kInternalError, "catalog " + path + ": cannot open: " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_create_function_v2(db_, "amid_glob", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, sql_glob, nullptr,
                             nullptr, nullptr);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA cache_size=-512");
    std::int64_t version = 0, objects = 0;
    {  // finalised before the schema changes, which an open statement would block
      Stmt ver(db_, "PRAGMA user_version");
      ver.step();
      version = ver.integer(0);
      Stmt count(db_, "SELECT count(*) FROM sqlite_master");
      count.step();
      objects = count.integer(0);
    }
    if (version == 0 && objects > 0) {
      throw AmidError(codes::kInternalError, "holds tables that are not amid's");
    }
    if (version > kSchemaVersion) {
      throw AmidError(codes::kInternalError, "was written by a newer amid (schema " +
                                                 std::to_string(version) + ")");
    }
    in_transaction([&] {
      if (version == 0) {
        exec(kSchema);
        version = 1;
      }
      for (; version < kSchemaVersion; ++version) exec(kMigrations[version - 1]);
      exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    });
    Stmt check(db_, "PRAGMA quick_check");
    check.step();
    if (check.text(0) != "ok") throw AmidError(codes::kInternalError, "is damaged: " + check.text(0));
  } catch (const AmidError& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw AmidError(codes::kInternalError,
                    "catalog " + path + ": " + e.what() +
                        "; amid will not start on it (move it aside to start afresh)");
  }
}

Catalog::~Catalog() { sqlite3_close(db_); }

void Catalog::in_transaction(const std::function<void()>& body) {
  exec("BEGIN IMMEDIATE");
  try {
    body();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void Catalog::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw AmidError(codes::kInternalError, msg);
  }
}

namespace {
void bind_image(Stmt& s, const ImageRecord& r) {
  s.bind(1, r.id).bind(2, r.name).bind(3, r.description).bind(4, r.owner).bind(5, r.region);
  s.bind(6, r.architecture).bind(7, r.virtualization_type).bind(8, r.root_device_type);
  s.bind(9, r.state).bind(10, r.state_reason).bind(11, r.creation_date);
  s.bind(12, static_cast<std::int64_t>(r.size_bytes)).bind(13, r.disk_file).bind(14, r.source);
  s.bind(15, r.kernel_id).bind(16, r.kernel_file).bind(17, r.ramdisk_id).bind(18, r.ramdisk_file);
  s.bind(19, r.kernel_cmdline).bind(20, r.block_device_mappings).bind(21, r.source_instance);
  s.bind(22, r.consistency).bind(23, static_cast<std::int64_t>(r.progress_done));
  s.bind(24, static_cast<std::int64_t>(r.progress_total));
  s.bind(25, static_cast<std::int64_t>(r.restart_source ? 1 : 0));
  s.bind(26, r.deregistration_protection).bind(27, r.protected_until).bind(28, r.deprecation_time);
}

void insert_token(sqlite3* db, const ClientTokenRecord& t) {
  Stmt s(db, "INSERT INTO client_tokens (owner,action,token,parameters,resource_id,result,created) "
             "VALUES (?,?,?,?,?,?,?)");
  s.bind(1, t.owner).bind(2, t.action).bind(3, t.token).bind(4, t.parameters).bind(5, t.resource_id);
  s.bind(6, t.result).bind(7, t.created);
  s.step();
}

bool token_taken(sqlite3* db, const ClientTokenRecord& t) {
  Stmt s(db, "SELECT 1 FROM client_tokens WHERE owner=? AND action=? AND token=?");
  s.bind(1, t.owner).bind(2, t.action).bind(3, t.token);
  return s.step();
}
}  // namespace

void Catalog::insert_image(const ImageRecord& r) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt s(db_, kImageInsert);
    bind_image(s, r);
    s.step();
    write_tags(db_, r.id, r.tags);
  });
}

bool Catalog::insert_image_if_name_free(const ImageRecord& r) {
  return insert_image_checked(r, nullptr) == ImageInsert::kInserted;
}

ImageInsert Catalog::insert_image_checked(const ImageRecord& r, const ClientTokenRecord* token) {
  std::lock_guard lock(mu_);
  ImageInsert outcome = ImageInsert::kInserted;
  in_transaction([&] {
    if (token && token_taken(db_, *token)) {
      outcome = ImageInsert::kTokenTaken;
      return;
    }
    Stmt s(db_, kImageInsert);
    bind_image(s, r);
    try {
      s.step();
    } catch (const AmidError& e) {
      if (e.code() != "Constraint") throw;
      outcome = ImageInsert::kNameTaken;  // the unique index on live names
      return;
    }
    write_tags(db_, r.id, r.tags);
    if (token) insert_token(db_, *token);
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

void Catalog::set_image_mappings(const std::string& id, const std::string& toml) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET block_device_mappings=? WHERE id=?");
  s.bind(1, toml).bind(2, id);
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


void Catalog::set_image_state(const std::string& id, const std::string& state,
                              const std::string& reason) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE images SET state=?, state_reason=? WHERE id=?");
  s.bind(1, state).bind(2, reason).bind(3, id);
  s.step();
  if (state != "pending") progress_.erase(id);
}

std::optional<ImageRecord> Catalog::find_image(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kImageCols + " FROM images WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_image(s);
  r.tags = read_tags(db_, id);
  r.launch_permissions = read_launch_permissions(db_, id);
  overlay_progress(r);
  return r;
}

std::vector<ImageRecord> Catalog::list_images() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kImageCols + " FROM images ORDER BY creation_date, id").c_str());
  std::vector<ImageRecord> out;
  while (s.step()) out.push_back(read_image(s));
  attach_tags(db_, out, "ami-");
  attach_launch_permissions(db_, out);
  if (!progress_.empty()) {
    for (auto& r : out) overlay_progress(r);
  }
  return out;
}

std::vector<ImageRecord> Catalog::list_images(const ImageQuery& q) const {
  std::string sql = std::string("SELECT ") + kImageCols + " FROM images WHERE 1";
  std::vector<std::string> binds;
  if (!q.region.empty()) {
    sql += " AND region = ?";
    binds.push_back(q.region);
  }
  if (q.live_only) sql += " AND state != 'deregistered'";
  for (const auto& [column, patterns] : q.globs) {
    if (std::find_if(std::begin(kImageGlobColumns), std::end(kImageGlobColumns),
                     [&](const char* c) { return column == c; }) == std::end(kImageGlobColumns)) {
      throw AmidError(codes::kInternalError, "catalog: no image column " + column + " to match");
    }
    sql += " AND (0";
    for (const auto& pattern : patterns) {
      sql += " OR amid_glob(?, " + column + ")";
      binds.push_back(pattern);
    }
    sql += ")";
  }
  if (q.by_id) {
    sql += " AND id > ? ORDER BY id";
    binds.push_back(q.after_id);
    if (q.limit) sql += " LIMIT " + std::to_string(q.limit);
  } else {
    if (!q.after_id.empty() || q.limit) throw AmidError(codes::kInternalError, "catalog: a page is ordered by id");
    sql += " ORDER BY creation_date, id";
  }
  std::lock_guard lock(mu_);
  Stmt s(db_, sql.c_str());
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
  in_transaction([&] {
    drop_launch_permissions(db_, id);
    Stmt s(db_, "DELETE FROM images WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
  });
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
      drop_tags(db_, snap);
    }
    drop_launch_permissions(db_, id);
    Stmt s(db_, "DELETE FROM images WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
  });
}

void Catalog::insert_instances(const std::vector<InstanceRecord>& list) {
  std::lock_guard lock(mu_);
  in_transaction([&] { write_instances(list); });
}

bool Catalog::insert_instances_with_token(const std::vector<InstanceRecord>& list,
                                          const ClientTokenRecord& token) {
  std::lock_guard lock(mu_);
  bool inserted = false;
  in_transaction([&] {
    if (token_taken(db_, token)) return;
    write_instances(list);
    insert_token(db_, token);
    inserted = true;
  });
  return inserted;
}

void Catalog::write_instances(const std::vector<InstanceRecord>& list) {
  for (const auto& r : list) {
    Stmt s(db_, (std::string("INSERT INTO instances (") + kInstanceCols +
                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
    s.bind(1, r.id).bind(2, r.reservation_id).bind(3, r.image_id).bind(4, r.owner);
    s.bind(5, r.region).bind(6, r.instance_type).bind(7, static_cast<std::int64_t>(r.vcpus));
    s.bind(8, static_cast<std::int64_t>(r.memory_mib)).bind(9, r.state).bind(10, r.state_reason);
    s.bind(11, r.launch_time).bind(12, r.terminated_time).bind(13, r.domain_uuid);
    s.bind(14, r.root_device_type).bind(15, r.virtualization_type).bind(16, r.architecture);
    s.bind(17, r.dir).bind(18, r.block_device_mappings).bind(19, static_cast<std::int64_t>(r.launch_index));
    s.step();
    write_tags(db_, r.id, r.tags);
  }
}

void Catalog::set_instance_state(const std::string& id, const std::string& state,
                                 const std::string& reason) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET state=?, state_reason=? WHERE id=?");
  s.bind(1, state).bind(2, reason).bind(3, id);
  s.step();
}

void Catalog::mark_terminated(const std::string& id, const std::string& when) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET state='terminated', terminated_time=?, domain_xml='', "
              "state_reason='Client.UserInitiatedShutdown: User initiated shutdown' WHERE id=?");
  s.bind(1, when).bind(2, id);
  s.step();
}

std::optional<InstanceRecord> Catalog::find_instance(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kInstanceCols + " FROM instances WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_instance(s);
  r.tags = read_tags(db_, id);
  return r;
}

std::vector<InstanceRecord> Catalog::list_instances() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kInstanceCols +
               " FROM instances ORDER BY launch_time, id").c_str());
  std::vector<InstanceRecord> out;
  while (s.step()) out.push_back(read_instance(s));
  attach_tags(db_, out, "i-");
  return out;
}

void Catalog::delete_instance(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt s(db_, "DELETE FROM instances WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
  });
}

void Catalog::undo_launch_row(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    std::string reservation;
    {
      Stmt s(db_, "SELECT reservation_id FROM instances WHERE id=?");
      s.bind(1, id);
      if (s.step()) reservation = s.text(0);
    }
    Stmt s(db_, "DELETE FROM instances WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
    if (!reservation.empty()) {
      Stmt t(db_, "DELETE FROM client_tokens WHERE action='RunInstances' AND resource_id=?1 AND "
                  "NOT EXISTS (SELECT 1 FROM instances WHERE reservation_id=?1)");
      t.bind(1, reservation);
      t.step();
    }
  });
}

std::optional<ClientTokenRecord> Catalog::find_client_token(const std::string& owner, const std::string& action,
                                                            const std::string& token) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT parameters, resource_id, result, created FROM client_tokens "
              "WHERE owner=? AND action=? AND token=?");
  s.bind(1, owner).bind(2, action).bind(3, token);
  if (!s.step()) return std::nullopt;
  return ClientTokenRecord{owner, action, token, s.text(0), s.text(1), s.text(2), s.text(3)};
}

int Catalog::count_instances_using(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT count(*) FROM instances WHERE image_id=? AND state != 'terminated'");
  s.bind(1, image_id);
  s.step();
  return static_cast<int>(s.integer(0));
}

void Catalog::set_instance_definition(const std::string& id, const std::string& xml) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET domain_xml=? WHERE id=?");
  s.bind(1, xml).bind(2, id);
  s.step();
}

std::string Catalog::instance_definition(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT domain_xml FROM instances WHERE id=?");
  s.bind(1, id);
  return s.step() ? s.text(0) : std::string();
}

bool Catalog::has_instance_definition(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT domain_xml != '' FROM instances WHERE id=?");
  s.bind(1, id);
  return s.step() && s.integer(0) != 0;
}

void Catalog::set_instance_mappings(const std::string& id, const std::string& toml) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET block_device_mappings=? WHERE id=?");
  s.bind(1, toml).bind(2, id);
  s.step();
}

namespace {
const char* kVolumeCols =
    "id,owner,region,size_gib,volume_type,state,create_time,snapshot_id,file,instance_id,device,"
    "delete_on_termination";

void bind_volume(Stmt& s, const VolumeRecord& r) {
  s.bind(1, r.id).bind(2, r.owner).bind(3, r.region).bind(4, static_cast<std::int64_t>(r.size_gib));
  s.bind(5, r.volume_type).bind(6, r.state).bind(7, r.create_time).bind(8, r.snapshot_id);
  s.bind(9, r.file).bind(10, r.instance_id).bind(11, r.device);
  s.bind(12, static_cast<std::int64_t>(r.delete_on_termination ? 1 : 0));
}

VolumeRecord read_volume(const Stmt& s) {
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

// The snapshot's row and its tags; the caller holds a transaction.
void write_snapshot(sqlite3* db, const SnapshotRecord& r) {
  Stmt s(db, (std::string("INSERT INTO snapshots (") + kSnapshotCols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)").c_str());
  s.bind(1, r.id).bind(2, r.owner).bind(3, r.region).bind(4, r.description).bind(5, r.state);
  s.bind(6, r.start_time).bind(7, r.volume_id).bind(8, static_cast<std::int64_t>(r.volume_size_gib));
  s.bind(9, r.file).bind(10, r.image_id).bind(11, r.base_snapshot_id);
  s.step();
  write_tags(db, r.id, r.tags);
}

SnapshotRecord read_snapshot(const Stmt& s) {
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

void Catalog::insert_volume(const VolumeRecord& r) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("INSERT INTO volumes (") + kVolumeCols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
  in_transaction([&] {
    bind_volume(s, r);
    s.step();
    write_tags(db_, r.id, r.tags);
  });
}

void Catalog::update_volume(const VolumeRecord& r) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE volumes SET id=?1, owner=?2, region=?3, size_gib=?4, volume_type=?5, state=?6, "
              "create_time=?7, snapshot_id=?8, file=?9, instance_id=?10, device=?11, "
              "delete_on_termination=?12 WHERE id=?1");
  bind_volume(s, r);
  s.step();
}

std::optional<VolumeRecord> Catalog::find_volume(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kVolumeCols + " FROM volumes WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_volume(s);
  r.tags = read_tags(db_, id);
  return r;
}

std::vector<VolumeRecord> Catalog::list_volumes() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kVolumeCols + " FROM volumes ORDER BY create_time, id").c_str());
  std::vector<VolumeRecord> out;
  while (s.step()) out.push_back(read_volume(s));
  attach_tags(db_, out, "vol-");
  return out;
}

std::vector<VolumeRecord> Catalog::volumes_of_instance(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kVolumeCols +
               " FROM volumes WHERE instance_id=? ORDER BY device").c_str());
  s.bind(1, instance_id);
  std::vector<VolumeRecord> out;
  while (s.step()) out.push_back(read_volume(s));
  attach_tags(db_, out, "vol-");
  return out;
}

void Catalog::delete_volume(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt s(db_, "DELETE FROM volumes WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
  });
}

void Catalog::insert_snapshot(const SnapshotRecord& r) {
  std::lock_guard lock(mu_);
  in_transaction([&] { write_snapshot(db_, r); });
}

void Catalog::set_snapshot_state(const std::string& id, const std::string& state) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE snapshots SET state=? WHERE id=?");
  s.bind(1, state).bind(2, id);
  s.step();
}

std::optional<SnapshotRecord> Catalog::find_snapshot(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots WHERE id=?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_snapshot(s);
  r.tags = read_tags(db_, id);
  return r;
}

std::vector<SnapshotRecord> Catalog::snapshots_of_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots WHERE image_id=? ORDER BY id").c_str());
  s.bind(1, image_id);
  std::vector<SnapshotRecord> out;
  while (s.step()) out.push_back(read_snapshot(s));
  attach_tags(db_, out, "snap-");
  return out;
}

std::vector<SnapshotRecord> Catalog::list_snapshots() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSnapshotCols + " FROM snapshots ORDER BY start_time, id").c_str());
  std::vector<SnapshotRecord> out;
  while (s.step()) out.push_back(read_snapshot(s));
  attach_tags(db_, out, "snap-");
  return out;
}

void Catalog::delete_snapshot(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt s(db_, "DELETE FROM snapshots WHERE id=?");
    s.bind(1, id);
    s.step();
    drop_tags(db_, id);
  });
}

int Catalog::count_volumes_using_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT count(*) FROM volumes v JOIN snapshots s ON v.snapshot_id = s.id "
              "WHERE s.image_id=? AND v.state != 'deleting'");
  s.bind(1, image_id);
  s.step();
  return static_cast<int>(s.integer(0));
}

int Catalog::count_snapshots_based_on_image(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT count(*) FROM snapshots child JOIN snapshots base ON child.base_snapshot_id = base.id "
              "WHERE base.image_id=?1 AND child.image_id != ?1");
  s.bind(1, image_id);
  s.step();
  return static_cast<int>(s.integer(0));
}

void Catalog::set_tags(const std::string& resource_id, const Tags& tags) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    write_tags(db_, resource_id, tags);
  });
}

void Catalog::delete_tags(const std::string& resource_id, const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    for (const auto& k : keys) {
      Stmt s(db_, "DELETE FROM tags WHERE resource_id=? AND key=?");
      s.bind(1, resource_id).bind(2, k);
      s.step();
    }
  });
}

Tags Catalog::tags_of(const std::string& resource_id) const {
  std::lock_guard lock(mu_);
  return read_tags(db_, resource_id);
}

namespace {
// Whether the row of a tagged resource still exists (its table from its id's prefix).
bool resource_exists(sqlite3* db, const std::string& id) {
  const char* sql = id.rfind("ami-", 0) == 0    ? "SELECT 1 FROM images WHERE id=?"
                    : id.rfind("i-", 0) == 0    ? "SELECT 1 FROM instances WHERE id=?"
                    : id.rfind("vol-", 0) == 0  ? "SELECT 1 FROM volumes WHERE id=?"
                    : id.rfind("snap-", 0) == 0 ? "SELECT 1 FROM snapshots WHERE id=?"
                                                : nullptr;
  if (!sql) return false;
  Stmt s(db, sql);
  s.bind(1, id);
  return s.step();
}

void apply_tag_edit(sqlite3* db, const TagEdit& edit) {
  if (edit.remove_all) drop_tags(db, edit.resource_id);
  for (const auto& t : edit.remove) {
    Stmt s(db, t.value ? "DELETE FROM tags WHERE resource_id=? AND key=? AND value=?"
                       : "DELETE FROM tags WHERE resource_id=? AND key=?");
    s.bind(1, edit.resource_id).bind(2, t.key);
    if (t.value) s.bind(3, *t.value);
    s.step();
  }
  write_tags(db, edit.resource_id, edit.set);
}
}  // namespace

TagEditRefusal Catalog::edit_tags(const std::vector<TagEdit>& edits, std::size_t max_tags) {
  std::lock_guard lock(mu_);
  struct Refused {
    TagEditRefusal why;
  };
  try {
    in_transaction([&] {
      for (const auto& edit : edits) {
        // Checked here, inside the transaction, so that a resource deleted or
        // tagged by someone else since the caller looked is seen as it is now.
        if (!resource_exists(db_, edit.resource_id)) throw Refused{{edit.resource_id, "", 0}};
        apply_tag_edit(db_, edit);
        Stmt count(db_, "SELECT count(*) FROM tags WHERE resource_id=?");
        count.bind(1, edit.resource_id);
        count.step();
        auto n = static_cast<std::size_t>(count.integer(0));
        if (n > max_tags) throw Refused{{"", edit.resource_id, n}};
      }
    });
  } catch (const Refused& r) {
    return r.why;
  }
  return {};
}

void Catalog::complete_image(const std::string& id, const std::string& mappings_toml,
                             const std::vector<SnapshotRecord>& snapshots) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    for (const auto& r : snapshots) write_snapshot(db_, r);
    Stmt s(db_, "UPDATE images SET block_device_mappings=?, state='available', state_reason='' WHERE id=?");
    s.bind(1, mappings_toml).bind(2, id);
    s.step();
  });
  progress_.erase(id);
}

}  // namespace amid
