// Opening the catalog: the SQLite file, its settings, the schema brought up to
// date (state/schema.cc), and what every table group's file shares.
#include "daemon/state/catalog.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "daemon/state/glob.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

// SQL amid_glob(pattern, text): EC2's wildcard match (state/glob.h).
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

}  // namespace

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
      sql::Stmt ver(db_, "PRAGMA user_version");
      ver.step();
      version = ver.integer(0);
      sql::Stmt count(db_, "SELECT count(*) FROM sqlite_master");
      count.step();
      objects = count.integer(0);
    }
    if (version == 0 && objects > 0) {
      throw AmidError(codes::kInternalError, "holds tables that are not amid's");
    }
    if (version > sql::schema_version()) {
      throw AmidError(codes::kInternalError, "was written by a newer amid (schema " +
                                                 std::to_string(version) + ")");
    }
    in_transaction([&] { sql::create_or_upgrade(db_, version); });
    sql::Stmt check(db_, "PRAGMA quick_check");
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

void Catalog::exec(const char* sql) { sql::exec(db_, sql); }

}  // namespace amid
