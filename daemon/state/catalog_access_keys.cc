// The catalog's access keys (EC2's HTTP endpoint).
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

using sql::Stmt;

const char* kAccessKeyCols = "id,owner,secret,create_time";

AccessKeyRecord read_access_key(const Stmt& s) { return AccessKeyRecord{s.text(0), s.text(1), s.text(2), s.text(3)}; }

}  // namespace

void Catalog::insert_access_key(const AccessKeyRecord& k) {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("INSERT INTO access_keys (") + kAccessKeyCols + ") VALUES (?,?,?,?)");
  s.bind(1, k.id).bind(2, k.owner).bind(3, k.secret).bind(4, k.create_time);
  s.step();
}

std::optional<AccessKeyRecord> Catalog::find_access_key(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kAccessKeyCols + " FROM access_keys WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_access_key(s);
}

std::vector<AccessKeyRecord> Catalog::list_access_keys(const std::string& owner) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kAccessKeyCols +
                  " FROM access_keys WHERE ?1 = '' OR owner = ?1 ORDER BY create_time, id");
  s.bind(1, owner);
  std::vector<AccessKeyRecord> out;
  while (s.step()) out.push_back(read_access_key(s));
  return out;
}

void Catalog::delete_access_key(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM access_keys WHERE id=?");
  s.bind(1, id);
  s.step();
}

}  // namespace amid
