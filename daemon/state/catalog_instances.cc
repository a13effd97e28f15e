// The catalog's instances: their rows, mappings, parked libvirt definitions,
// and the launch's rows written (or undone) with its ClientToken.
#include <map>

#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

using sql::Stmt;

const char* kInstanceCols =
    "id,reservation_id,image_id,owner,region,instance_type,vcpus,memory_mib,state,state_reason,"
    "launch_time,terminated_time,domain_uuid,root_device_type,virtualization_type,architecture,dir,"
    "launch_index,key_name,private_ip,launch_mode";

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
  r.state = sql::instance_state_of(s.text(8));
  r.state_reason = s.text(9);
  r.launch_time = s.text(10);
  r.terminated_time = s.text(11);
  r.domain_uuid = s.text(12);
  r.root_device_type = s.text(13);
  r.virtualization_type = s.text(14);
  r.architecture = s.text(15);
  r.dir = s.text(16);
  r.launch_index = static_cast<int>(s.integer(17));
  r.key_name = s.text(18);
  r.private_ip = s.text(19);
  r.launch_mode = s.text(20);
  return r;
}

// The forwards listening now: one instance's (id), or every instance's ("").
std::map<std::string, std::vector<PortForward>> open_forwards(sqlite3* db, const std::string& id) {
  Stmt s(db, std::string("SELECT instance_id, guest_port, host_port FROM port_forwards WHERE open=1") +
                 (id.empty() ? "" : " AND instance_id=?") + " ORDER BY instance_id, guest_port");
  if (!id.empty()) s.bind(1, id);
  std::map<std::string, std::vector<PortForward>> out;
  while (s.step()) {
    out[s.text(0)].push_back({static_cast<std::uint16_t>(s.integer(1)), static_cast<std::uint16_t>(s.integer(2))});
  }
  return out;
}

}  // namespace

void Catalog::insert_instances(const std::vector<InstanceRecord>& list) {
  std::lock_guard lock(mu_);
  in_transaction([&] { write_instances(list); });
}

bool Catalog::insert_instances_with_token(const std::vector<InstanceRecord>& list,
                                          const ClientTokenRecord& token) {
  std::lock_guard lock(mu_);
  bool inserted = false;
  in_transaction([&] {
    if (sql::token_taken(db_, token)) return;
    write_instances(list);
    sql::insert_token(db_, token);
    inserted = true;
  });
  return inserted;
}

void Catalog::write_instances(const std::vector<InstanceRecord>& list) {
  for (const auto& r : list) {
    Stmt s(db_, std::string("INSERT INTO instances (") + kInstanceCols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(1, r.id).bind(2, r.reservation_id).bind(3, r.image_id).bind(4, r.owner);
    s.bind(5, r.region).bind(6, r.instance_type).bind(7, static_cast<std::int64_t>(r.vcpus));
    s.bind(8, static_cast<std::int64_t>(r.memory_mib)).bind(9, to_string(r.state)).bind(10, r.state_reason);
    s.bind(11, r.launch_time).bind(12, r.terminated_time).bind(13, r.domain_uuid);
    s.bind(14, r.root_device_type).bind(15, r.virtualization_type).bind(16, r.architecture);
    s.bind(17, r.dir).bind(18, static_cast<std::int64_t>(r.launch_index)).bind(19, r.key_name);
    s.bind(20, r.private_ip).bind(21, r.launch_mode);
    s.step();
    sql::write_tags(db_, r.id, r.tags);
    sql::write_mappings(db_, r.id, r.block_device_mappings);
    std::vector<std::string> groups;
    for (const auto& g : r.security_groups) groups.push_back(g.id);
    sql::write_instance_groups(db_, r.id, groups);
  }
}

std::vector<std::string> Catalog::private_ips_in_use(const std::string& region) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT private_ip FROM instances WHERE region=? AND private_ip != '' AND state != 'terminated'");
  s.bind(1, region);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<PortForward> Catalog::known_port_forwards(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT guest_port, host_port FROM port_forwards WHERE instance_id=? ORDER BY guest_port");
  s.bind(1, instance_id);
  std::vector<PortForward> out;
  while (s.step()) out.push_back({static_cast<std::uint16_t>(s.integer(0)), static_cast<std::uint16_t>(s.integer(1))});
  return out;
}

void Catalog::set_open_port_forwards(const std::string& instance_id, const std::vector<PortForward>& open) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt closed(db_, "UPDATE port_forwards SET open=0 WHERE instance_id=?");
    closed.bind(1, instance_id);
    closed.step();
    for (const auto& f : open) {
      Stmt s(db_, "INSERT INTO port_forwards (instance_id, guest_port, host_port, open) VALUES (?,?,?,1) "
                  "ON CONFLICT (instance_id, guest_port) DO UPDATE SET host_port=excluded.host_port, open=1");
      s.bind(1, instance_id).bind(2, static_cast<std::int64_t>(f.guest_port)).bind(3, static_cast<std::int64_t>(f.host_port));
      s.step();
    }
  });
}

void Catalog::drop_port_forwards(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM port_forwards WHERE instance_id=?");
  s.bind(1, instance_id);
  s.step();
}

std::optional<InstanceRecord> Catalog::find_instance_at(const std::string& region,
                                                        const std::string& private_ip) const {
  if (private_ip.empty()) return std::nullopt;
  std::string id;
  {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT id FROM instances WHERE region=? AND private_ip=? AND state != 'terminated'");
    s.bind(1, region).bind(2, private_ip);
    if (!s.step()) return std::nullopt;
    id = s.text(0);
  }
  return find_instance(id);
}

void Catalog::set_instance_state(const std::string& id, InstanceState state, const std::string& reason) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET state=?, state_reason=? WHERE id=?");
  s.bind(1, to_string(state)).bind(2, reason).bind(3, id);
  s.step();
}

void Catalog::set_instance_launch_mode(const std::string& id, const std::string& launch_mode) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE instances SET launch_mode=? WHERE id=?");
  s.bind(1, launch_mode).bind(2, id);
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
  Stmt s(db_, std::string("SELECT ") + kInstanceCols + " FROM instances WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto r = read_instance(s);
  r.tags = sql::read_tags(db_, id);
  r.block_device_mappings = sql::read_mappings(db_, id);
  r.security_groups = sql::read_instance_groups(db_, id);
  if (auto f = open_forwards(db_, id); !f.empty()) r.port_forwards = std::move(f.begin()->second);
  return r;
}

std::vector<InstanceRecord> Catalog::list_instances() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kInstanceCols + " FROM instances ORDER BY launch_time, id");
  std::vector<InstanceRecord> out;
  while (s.step()) out.push_back(read_instance(s));
  sql::attach_tags(out, sql::read_tags_with_prefix(db_, "i-"));
  auto mappings = sql::read_mappings_with_prefix(db_, "i-");
  for (auto& r : out) {
    if (auto it = mappings.find(r.id); it != mappings.end()) r.block_device_mappings = std::move(it->second);
  }
  auto groups = sql::read_all_instance_groups(db_);
  for (auto& r : out) {
    if (auto it = groups.find(r.id); it != groups.end()) r.security_groups = std::move(it->second);
  }
  auto forwards = open_forwards(db_, "");
  for (auto& r : out) {
    if (auto it = forwards.find(r.id); it != forwards.end()) r.port_forwards = std::move(it->second);
  }
  return out;
}

void Catalog::delete_instance(const std::string& id) {
  std::lock_guard lock(mu_);
  in_transaction([&] {
    Stmt s(db_, "DELETE FROM instances WHERE id=?");
    s.bind(1, id);
    s.step();
    sql::drop_tags(db_, id);
    sql::drop_mappings(db_, id);
    sql::drop_instance_groups(db_, id);
    Stmt f(db_, "DELETE FROM port_forwards WHERE instance_id=?");
    f.bind(1, id);
    f.step();
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
    sql::drop_tags(db_, id);
    sql::drop_mappings(db_, id);
    sql::drop_instance_groups(db_, id);
    if (!reservation.empty()) {
      Stmt t(db_, "DELETE FROM client_tokens WHERE action='RunInstances' AND resource_id=?1 AND "
                  "NOT EXISTS (SELECT 1 FROM instances WHERE reservation_id=?1)");
      t.bind(1, reservation);
      t.step();
    }
  });
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

}  // namespace amid
