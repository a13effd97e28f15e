// What the catalog's files share: a prepared statement, and the rows that more
// than one table group writes (tags, ClientTokens, block device mappings).
// Private to state/: nothing outside it sees SQL.
//
// Every function here runs with the catalog's mutex held; the writers run
// inside the caller's transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "daemon/state/records.h"

namespace amid::sql {

// One prepared statement; errors are AmidError(InternalError, "catalog: ..."),
// a constraint violation AmidError("Constraint", ...).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("prepare");
  }
  Stmt(sqlite3* db, const std::string& sql) : Stmt(db, sql.c_str()) {}
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
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
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
  bool is_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  [[noreturn]] void fail(const char* what) {
    throw AmidError(codes::kInternalError, std::string("catalog: ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

// Runs statements that return no rows; throws AmidError(InternalError).
void exec(sqlite3* db, const char* sql);

// The schema the catalog's files read and write, created or brought up to date
// inside the caller's transaction (state/schema.cc: append-only migrations).
// `version` is the database's user_version (0: empty).
void create_or_upgrade(sqlite3* db, std::int64_t version);
std::int64_t schema_version();

// A state as stored (its EC2 name), and back; a name amid did not write throws.
ImageState image_state_of(const std::string& stored);
InstanceState instance_state_of(const std::string& stored);

// ---- tags (any resource)
Tags read_tags(sqlite3* db, const std::string& id);
// Which rows a read for a set of resources covers: `column` IN the ids when
// they are few, else every id between the least and the greatest (one scan; a
// caller looks its own ids up in what comes back). Binds from 1 on.
struct IdFilter {
  std::string where;               // "resource_id IN (?,?)" or "resource_id >= ? AND resource_id <= ?"
  std::vector<std::string> binds;
};
IdFilter id_filter(const char* column, const std::vector<std::string>& ids);

// Every tag of the resources `ids` (and, for many, of others between them), by id.
std::map<std::string, Tags> read_tags_of(sqlite3* db, const std::vector<std::string>& ids);
// The warm states of the images `ids` (and, for many, of others between them).
std::vector<WarmStateRecord> read_warm_states_of(sqlite3* db, const std::vector<std::string>& ids);
// Every tag of resources whose id starts with `prefix` ("ami-", "i-"...), by id.
std::map<std::string, Tags> read_tags_with_prefix(sqlite3* db, const std::string& prefix);
void write_tags(sqlite3* db, const std::string& id, const Tags& tags);  // adds or overwrites keys
void drop_tags(sqlite3* db, const std::string& id);

// Each record's tags from one read of `all` (by id).
template <typename Record>
void attach_tags(std::vector<Record>& list, std::map<std::string, Tags> all) {
  for (auto& r : list) {
    auto it = all.find(r.id);
    if (it != all.end()) r.tags = std::move(it->second);
  }
}

// ---- ClientTokens
void insert_token(sqlite3* db, const ClientTokenRecord& t);
bool token_taken(sqlite3* db, const ClientTokenRecord& t);

// ---- block device mappings (an image's or an instance's), one row each
BlockDeviceMappings read_mappings(sqlite3* db, const std::string& id);
// Every mapping of the resources `ids` (and, for many, of others between them), by id.
std::map<std::string, BlockDeviceMappings> read_mappings_of(sqlite3* db, const std::vector<std::string>& ids);
// Every mapping of resources whose id starts with `prefix` ("ami-", "i-"), by id.
std::map<std::string, BlockDeviceMappings> read_mappings_with_prefix(sqlite3* db, const std::string& prefix);
// Replaces the resource's mappings with `mappings`.
void write_mappings(sqlite3* db, const std::string& id, const BlockDeviceMappings& mappings);
void drop_mappings(sqlite3* db, const std::string& id);

// ---- an instance's security groups, in order
std::vector<GroupRef> read_instance_groups(sqlite3* db, const std::string& instance_id);
// Every instance's groups, by instance id.
std::map<std::string, std::vector<GroupRef>> read_all_instance_groups(sqlite3* db);
// Replaces the instance's groups with `group_ids`, in order.
void write_instance_groups(sqlite3* db, const std::string& instance_id, const std::vector<std::string>& group_ids);
void drop_instance_groups(sqlite3* db, const std::string& instance_id);

}  // namespace amid::sql
