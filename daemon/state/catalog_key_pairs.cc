// The catalog's key pairs.
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

using sql::Stmt;

const char* kKeyPairCols = "id,owner,region,name,type,fingerprint,public_key,create_time";

KeyPairRecord read_key_pair(const Stmt& s) {
  return KeyPairRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6), s.text(7)};
}

}  // namespace

bool Catalog::insert_key_pair(const KeyPairRecord& k) {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("INSERT INTO key_pairs (") + kKeyPairCols + ") VALUES (?,?,?,?,?,?,?,?)");
  s.bind(1, k.id).bind(2, k.owner).bind(3, k.region).bind(4, k.name).bind(5, k.type).bind(6, k.fingerprint);
  s.bind(7, k.public_key).bind(8, k.create_time);
  try {
    s.step();
  } catch (const AmidError& e) {
    if (e.code() != "Constraint") throw;
    return false;  // the name is taken (key_pairs_name)
  }
  return true;
}

std::optional<KeyPairRecord> Catalog::find_key_pair(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kKeyPairCols + " FROM key_pairs WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_key_pair(s);
}

std::optional<KeyPairRecord> Catalog::find_key_pair_named(const std::string& owner, const std::string& region,
                                                          const std::string& name) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kKeyPairCols + " FROM key_pairs WHERE owner=? AND region=? AND name=?");
  s.bind(1, owner).bind(2, region).bind(3, name);
  if (!s.step()) return std::nullopt;
  return read_key_pair(s);
}

std::vector<KeyPairRecord> Catalog::list_key_pairs(const std::string& region) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kKeyPairCols + " FROM key_pairs WHERE ?1 = '' OR region = ?1 ORDER BY name, id");
  s.bind(1, region);
  std::vector<KeyPairRecord> out;
  while (s.step()) out.push_back(read_key_pair(s));
  return out;
}

void Catalog::delete_key_pair(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM key_pairs WHERE id=?");
  s.bind(1, id);
  s.step();
}

}  // namespace amid
