// The catalog's tags (of any resource) and ClientTokens.
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {

void Catalog::set_tags(const std::string& resource_id, const Tags& tags) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    sql::write_tags(db_, resource_id, tags);
  });
}

void Catalog::delete_tags(const std::string& resource_id, const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    for (const auto& k : keys) {
      sql::Stmt s(db_, "DELETE FROM tags WHERE resource_id=? AND key=?");
      s.bind(1, resource_id).bind(2, k);
      s.step();
    }
  });
}

Tags Catalog::tags_of(const std::string& resource_id) const {
  std::lock_guard lock(mu_);
  return sql::read_tags(db_, resource_id);
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
  sql::Stmt s(db, sql);
  s.bind(1, id);
  return s.step();
}

void apply_tag_edit(sqlite3* db, const TagEdit& edit) {
  if (edit.remove_all) sql::drop_tags(db, edit.resource_id);
  for (const auto& t : edit.remove) {
    sql::Stmt s(db, t.value ? "DELETE FROM tags WHERE resource_id=? AND key=? AND value=?"
                       : "DELETE FROM tags WHERE resource_id=? AND key=?");
    s.bind(1, edit.resource_id).bind(2, t.key);
    if (t.value) s.bind(3, *t.value);
    s.step();
  }
  sql::write_tags(db, edit.resource_id, edit.set);
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
        sql::Stmt count(db_, "SELECT count(*) FROM tags WHERE resource_id=?");
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

std::optional<ClientTokenRecord> Catalog::find_client_token(const std::string& owner, const std::string& action,
                                                            const std::string& token) const {
  std::lock_guard lock(mu_);
  sql::Stmt s(db_, "SELECT parameters, resource_id, result, created FROM client_tokens "
              "WHERE owner=? AND action=? AND token=?");
  s.bind(1, owner).bind(2, action).bind(3, token);
  if (!s.step()) return std::nullopt;
  return ClientTokenRecord{owner, action, token, s.text(0), s.text(1), s.text(2), s.text(3)};
}

}  // namespace amid
