// The catalog's warm states (docs/WARM_IMAGES.md): an image's saved memory and
// what a launch must match to be restored from it.
#include "daemon/state/catalog.h"
#include "daemon/state/sql.h"

namespace amid {
namespace {

using sql::Stmt;

const char* kWarmCols =
    "image_id,state,state_reason,memory_file,root_layer,memory_bytes,instance_type,memory_mib,vcpus,machine,cpu,"
    "accelerator,qemu_version,nic,create_time";

WarmStateRecord read_warm_state(const Stmt& s) {
  WarmStateRecord w;
  w.image_id = s.text(0);
  w.state = s.text(1);
  w.state_reason = s.text(2);
  w.memory_file = s.text(3);
  w.root_layer = s.text(4);
  w.memory_bytes = static_cast<std::uint64_t>(s.integer(5));
  w.instance_type = s.text(6);
  w.memory_mib = static_cast<std::uint64_t>(s.integer(7));
  w.vcpus = static_cast<int>(s.integer(8));
  w.machine = s.text(9);
  w.cpu = s.text(10);
  w.accelerator = s.text(11);
  w.qemu_version = s.text(12);
  w.nic = s.integer(13) != 0;
  w.create_time = s.text(14);
  return w;
}

}  // namespace

std::vector<WarmStateRecord> sql::read_warm_states_of(sqlite3* db, const std::vector<std::string>& ids) {
  std::vector<WarmStateRecord> out;
  if (ids.empty()) return out;
  IdFilter f = id_filter("image_id", ids);
  Stmt s(db, std::string("SELECT ") + kWarmCols + " FROM warm_states WHERE " + f.where);
  for (std::size_t i = 0; i < f.binds.size(); ++i) s.bind(static_cast<int>(i + 1), f.binds[i]);
  while (s.step()) out.push_back(read_warm_state(s));
  return out;
}

void Catalog::put_warm_state(const WarmStateRecord& w) {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("INSERT OR REPLACE INTO warm_states (") + kWarmCols +
                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, w.image_id).bind(2, w.state).bind(3, w.state_reason).bind(4, w.memory_file).bind(5, w.root_layer);
  s.bind(6, static_cast<std::int64_t>(w.memory_bytes)).bind(7, w.instance_type);
  s.bind(8, static_cast<std::int64_t>(w.memory_mib)).bind(9, static_cast<std::int64_t>(w.vcpus));
  s.bind(10, w.machine).bind(11, w.cpu).bind(12, w.accelerator).bind(13, w.qemu_version);
  s.bind(14, static_cast<std::int64_t>(w.nic ? 1 : 0)).bind(15, w.create_time);
  s.step();
}

std::optional<WarmStateRecord> Catalog::find_warm_state(const std::string& image_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kWarmCols + " FROM warm_states WHERE image_id=?");
  s.bind(1, image_id);
  if (!s.step()) return std::nullopt;
  return read_warm_state(s);
}

std::vector<WarmStateRecord> Catalog::list_warm_states(const std::string& state) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, std::string("SELECT ") + kWarmCols + " FROM warm_states WHERE ?1 = '' OR state = ?1 ORDER BY image_id");
  s.bind(1, state);
  std::vector<WarmStateRecord> out;
  while (s.step()) out.push_back(read_warm_state(s));
  return out;
}

void Catalog::delete_warm_state(const std::string& image_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM warm_states WHERE image_id=?");
  s.bind(1, image_id);
  s.step();
}

}  // namespace amid
