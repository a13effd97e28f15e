// The catalog's security groups: their rows, their ingress rules, and which
// instances are in which group.
#include <set>

#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace sql {

std::vector<GroupRef> read_instance_groups(sqlite3* db, const std::string& instance_id) {
  // A group deleted after its instance was terminated leaves no row to join.
  Stmt s(db, "SELECT m.group_id, g.name FROM instance_security_groups m JOIN security_groups g ON g.id = m.group_id "
             "WHERE m.instance_id=? ORDER BY m.position");
  s.bind(1, instance_id);
  std::vector<GroupRef> out;
  while (s.step()) out.push_back({s.text(0), s.text(1)});
  return out;
}

std::map<std::string, std::vector<GroupRef>> read_all_instance_groups(sqlite3* db) {
  Stmt s(db, "SELECT m.instance_id, m.group_id, g.name FROM instance_security_groups m "
             "JOIN security_groups g ON g.id = m.group_id ORDER BY m.instance_id, m.position");
  std::map<std::string, std::vector<GroupRef>> out;
  while (s.step()) out[s.text(0)].push_back({s.text(1), s.text(2)});
  return out;
}

void write_instance_groups(sqlite3* db, const std::string& instance_id, const std::vector<std::string>& group_ids) {
  drop_instance_groups(db, instance_id);
  for (std::size_t i = 0; i < group_ids.size(); ++i) {
    Stmt s(db, "INSERT INTO instance_security_groups (instance_id, position, group_id) VALUES (?,?,?)");
    s.bind(1, instance_id).bind(2, static_cast<std::int64_t>(i)).bind(3, group_ids[i]);
    s.step();
  }
}

void drop_instance_groups(sqlite3* db, const std::string& instance_id) {
  Stmt s(db, "DELETE FROM instance_security_groups WHERE instance_id=?");
  s.bind(1, instance_id);
  s.step();
}

}  // namespace sql

namespace {

using sql::Stmt;

const char* kGroupCols = "id,owner,region,name,description,vpc_id,create_time";
const char* kRuleCols = "id,protocol,from_port,to_port,cidr,description";

SecurityGroupRecord read_group(const Stmt& s) {
  SecurityGroupRecord g;
  g.id = s.text(0);
  g.owner = s.text(1);
  g.region = s.text(2);
  g.name = s.text(3);
  g.description = s.text(4);
  g.vpc_id = s.text(5);
  g.create_time = s.text(6);
  return g;
}

SecurityGroupRule read_rule(const Stmt& s, int at = 0) {
  SecurityGroupRule r;
  r.id = s.text(at);
  r.protocol = s.text(at + 1);
  r.from_port = static_cast<int>(s.integer(at + 2));
  r.to_port = static_cast<int>(s.integer(at + 3));
  r.cidr = s.text(at + 4);
  r.description = s.text(at + 5);
  return r;
}

std::vector<SecurityGroupRule> read_rules(sqlite3* db, const std::string& group_id) {
  Stmt s(db, std::string("SELECT ") + kRuleCols + " FROM security_group_rules WHERE group_id=? ORDER BY position, id");
  s.bind(1, group_id);
  std::vector<SecurityGroupRule> out;
  while (s.step()) out.push_back(read_rule(s));
  return out;
}

// The stored rule that is the same as `rule`, if any. mu_ held.
std::optional<SecurityGroupRule> stored_rule(sqlite3* db, const std::string& group_id, const SecurityGroupRule& rule) {
  Stmt s(db, std::string("SELECT ") + kRuleCols +
                 " FROM security_group_rules WHERE group_id=? AND protocol=? AND from_port=? AND to_port=? AND cidr=?");
  s.bind(1, group_id).bind(2, rule.protocol).bind(3, static_cast<std::int64_t>(rule.from_port));
  s.bind(4, static_cast<std::int64_t>(rule.to_port)).bind(5, rule.cidr);
  if (!s.step()) return std::nullopt;
  return read_rule(s);
}

bool group_exists(sqlite3* db, const std::string& id) {
  Stmt s(db, "SELECT 1 FROM security_groups WHERE id=?");
  s.bind(1, id);
  return s.step();
}

}  // namespace

bool Catalog::insert_security_group(const SecurityGroupRecord& g) {
  std::lock_guard lock(mu_);
  bool inserted = true;
  in_transaction([&] {
    Stmt s(db_, std::string("INSERT INTO security_groups (") + kGroupCols + ") VALUES (?,?,?,?,?,?,?)");
    s.bind(1, g.id).bind(2, g.owner).bind(3, g.region).bind(4, g.name).bind(5, g.description);
    s.bind(6, g.vpc_id).bind(7, g.create_time);
    try {
      s.step();
    } catch (const AmidError& e) {
      if (e.code() != "Constraint") throw;
      inserted = false;  // the name is taken (security_groups_name)
      return;
    }
    sql::write_tags(db_, g.id, g.tags);
  });
  return inserted;
}

std::optional<SecurityGroupRecord> Catalog::find_security_group(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kGroupCols + " FROM security_groups WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  SecurityGroupRecord g = read_group(s);
  g.ingress = read_rules(db_, g.id);
  g.tags = sql::read_tags(db_, g.id);
  return g;
}

std::optional<SecurityGroupRecord> Catalog::find_security_group_named(const std::string& owner,
                                                                      const std::string& region,
                                                                      const std::string& name) const {
  std::string id;
  {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT id FROM security_groups WHERE owner=? AND region=? AND name=? COLLATE NOCASE");
    s.bind(1, owner).bind(2, region).bind(3, name);
    if (!s.step()) return std::nullopt;
    id = s.text(0);
  }
  return find_security_group(id);
}

std::vector<SecurityGroupRecord> Catalog::list_security_groups(const std::string& region) const {
  std::lock_guard lock(mu_);
  std::vector<SecurityGroupRecord> out;
  {
    Stmt s(db_, std::string("SELECT ") + kGroupCols + " FROM security_groups WHERE ?1 = '' OR region = ?1 ORDER BY id");
    s.bind(1, region);
    while (s.step()) out.push_back(read_group(s));
  }
  // Every rule in one read, handed to its group.
  std::map<std::string, std::vector<SecurityGroupRule>> rules;
  Stmt r(db_, std::string("SELECT group_id,") + kRuleCols + " FROM security_group_rules ORDER BY group_id, position, id");
  while (r.step()) rules[r.text(0)].push_back(read_rule(r, 1));
  for (auto& g : out) {
    if (auto it = rules.find(g.id); it != rules.end()) g.ingress = std::move(it->second);
  }
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "sg-"));
  return out;
}

std::vector<std::string> Catalog::delete_security_group_if_unused(const std::string& id) {
  std::lock_guard lock(mu_);
  std::vector<std::string> users;
  in_transaction([&] {
    {
      Stmt s(db_, "SELECT m.instance_id FROM instance_security_groups m JOIN instances i ON i.id = m.instance_id "
                  "WHERE m.group_id=? AND i.state != 'terminated' ORDER BY m.instance_id");
      s.bind(1, id);
      while (s.step()) users.push_back(s.text(0));
    }
    if (!users.empty()) return;
    for (const char* sql : {"DELETE FROM instance_security_groups WHERE group_id=?",
                            "DELETE FROM security_group_rules WHERE group_id=?", "DELETE FROM security_groups WHERE id=?"}) {
      Stmt s(db_, sql);
      s.bind(1, id);
      s.step();
    }
    sql::drop_tags(db_, id);
  });
  return users;
}

RuleEditRefusal Catalog::add_security_group_rules(const std::string& group_id,
                                                  const std::vector<SecurityGroupRule>& rules, std::size_t max_rules) {
  std::lock_guard lock(mu_);
  RuleEditRefusal refusal;
  in_transaction([&] {
    if (!group_exists(db_, group_id)) {
      refusal.missing_group = true;
      return;
    }
    for (const auto& rule : rules) {
      if (stored_rule(db_, group_id, rule)) {
        refusal.conflict = rule;
        return;
      }
    }
    std::int64_t count = 0, next = 0;
    {
      Stmt s(db_, "SELECT count(*), coalesce(max(position) + 1, 0) FROM security_group_rules WHERE group_id=?");
      s.bind(1, group_id);
      s.step();
      count = s.integer(0);
      next = s.integer(1);
    }
    if (static_cast<std::size_t>(count) + rules.size() > max_rules) {
      refusal.over_limit = static_cast<std::size_t>(count) + rules.size();
      return;
    }
    for (const auto& rule : rules) {
      Stmt s(db_, std::string("INSERT INTO security_group_rules (group_id,position,") + kRuleCols +
                      ") VALUES (?,?,?,?,?,?,?,?)");
      s.bind(1, group_id).bind(2, next++).bind(3, rule.id).bind(4, rule.protocol);
      s.bind(5, static_cast<std::int64_t>(rule.from_port)).bind(6, static_cast<std::int64_t>(rule.to_port));
      s.bind(7, rule.cidr).bind(8, rule.description);
      s.step();
    }
  });
  return refusal;
}

RuleEditRefusal Catalog::remove_security_group_rules(const std::string& group_id,
                                                     const std::vector<SecurityGroupRule>& rules,
                                                     std::vector<SecurityGroupRule>& removed) {
  std::lock_guard lock(mu_);
  RuleEditRefusal refusal;
  removed.clear();
  in_transaction([&] {
    if (!group_exists(db_, group_id)) {
      refusal.missing_group = true;
      return;
    }
    std::vector<SecurityGroupRule> found;
    for (const auto& rule : rules) {
      auto stored = stored_rule(db_, group_id, rule);
      if (!stored) {
        refusal.conflict = rule;
        return;
      }
      found.push_back(*stored);
    }
    for (const auto& rule : found) {
      Stmt s(db_, "DELETE FROM security_group_rules WHERE id=?");
      s.bind(1, rule.id);
      s.step();
    }
    removed = std::move(found);
  });
  return refusal;
}

void Catalog::set_instance_security_groups(const std::string& instance_id, const std::vector<std::string>& group_ids) {
  std::lock_guard lock(mu_);
  in_transaction([&] { sql::write_instance_groups(db_, instance_id, group_ids); });
}

std::vector<std::string> Catalog::instances_in_security_group(const std::string& group_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT m.instance_id FROM instance_security_groups m JOIN instances i ON i.id = m.instance_id "
              "WHERE m.group_id=? AND i.state != 'terminated' ORDER BY m.instance_id");
  s.bind(1, group_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

}  // namespace amid
