#include "daemon/config.h"

#include "common/toml_util.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace amid {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

using toml_util::where;

// Reads one key of a table into `out`, with type and range checks.
struct TableReader {
  const toml::table& table;
  std::string file;
  std::string prefix;  // "daemon." etc, for messages
  std::set<std::string> known{};
  std::optional<Problem> failed{};

  template <typename T>
  void get(const std::string& key, T& out, std::int64_t min = 1) {
    known.insert(key);
    if (failed) return;
    const toml::node* node = table.get(key);
    if (!node) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value<std::string>(); v && node->is_string()) {
        out = *v;
      } else {
        fail(*node, key, "must be a string");
      }
    } else if constexpr (std::is_same_v<T, bool>) {
      if (node->is_boolean()) out = *node->value<bool>();
      else fail(*node, key, "must be true or false");
    } else {
      if (!node->is_integer()) return fail(*node, key, "must be an integer");
      auto v = *node->value<std::int64_t>();
      if (v < min || v > static_cast<std::int64_t>(std::numeric_limits<int>::max())) {
        return fail(*node, key, "must be between " + std::to_string(min) + " and 2147483647");
      }
      out = static_cast<T>(v);
    }
  }

  void fail(const toml::node& node, const std::string& key, const std::string& what) {
    failed = problem(where(file, node.source()) + ": " + prefix + key + ": " + what);
  }

  void refuse_unknown() {
    if (failed) return;
    for (auto& [k, v] : table) {
      if (!known.count(std::string(k.str()))) {
        failed = problem(where(file, v.source()) + ": unknown key '" + prefix +
                         std::string(k.str()) + "' (see configs/amid.toml for the keys amid knows)");
        return;
      }
    }
  }
};

}  // namespace

std::string default_socket_path() {
  if (geteuid() == 0) return "/run/amid/amid.sock";
  std::string runtime = env_or("XDG_RUNTIME_DIR", "/tmp/amid-" + std::to_string(getuid()));
  return runtime + "/amid/amid.sock";
}

Config default_config() {
  Config c;
  c.socket_path = default_socket_path();
  if (geteuid() == 0) {
    c.state_dir = "/var/lib/amid";
    c.socket_group = "amid";  // the system daemon serves the members of group amid
  } else {
    std::string home = env_or("HOME", "/tmp");
    c.state_dir = env_or("XDG_STATE_HOME", home + "/.local/state") + "/amid";
  }
  return c;
}

std::string Config::effective_libvirt_uri() const {
  if (libvirt_uri == "embedded") return "qemu:///embed?root=" + state_dir + "/libvirt";
  return libvirt_uri;
}

namespace {
std::string uri_host(const std::string& uri);
}  // namespace

bool RegionConfig::store_on_libvirt_host() const { return !uri_host(libvirt_uri).empty(); }

std::string RegionConfig::effective_libvirt_uri() const {
  if (libvirt_uri == "embedded") return "qemu:///embed?root=" + store + "/libvirt";
  return libvirt_uri;
}

std::vector<RegionConfig> Config::effective_regions() const {
  if (regions.empty()) return {RegionConfig{region, state_dir, libvirt_uri}};
  std::vector<RegionConfig> out;
  for (const auto& r : regions) {
    if (r.name == region) out.insert(out.begin(), r);
    else out.push_back(r);
  }
  return out;
}

Result<Config> load_config_text(const std::string& text, const std::string& source_name,
                                Config base) {
  toml::table root;
  if (auto deep = toml_util::deep_key_problem(text, source_name)) return problem(*deep);
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return problem(where(source_name, e.source()) + ": " + std::string(e.description()));
  }
  std::set<std::string> sections = {"daemon", "libvirt", "limits", "images", "ec2_api", "regions"};
  for (auto& [k, v] : root) {
    std::string key(k.str());
    if (!sections.count(key)) {
      return problem(where(source_name, v.source()) + ": unknown section or key '" + key +
                     "' (amid knows [daemon], [libvirt], [limits], [images], [ec2_api], [regions.NAME])");
    }
    if (!v.is_table()) {
      return problem(where(source_name, v.source()) + ": " + key + ": must be a table");
    }
  }
  auto section = [&](const char* name) -> const toml::table& {
    static const toml::table kEmpty;
    const toml::table* t = root[name].as_table();
    return t ? *t : kEmpty;
  };

  TableReader d{section("daemon"), source_name, "daemon.", {}, {}};
  d.get("socket", base.socket_path);
  d.get("state_dir", base.state_dir);
  d.get("region", base.region);
  d.get("socket_group", base.socket_group);
  d.get("admin_group", base.admin_group);
  d.get("max_request_bytes", base.max_request_bytes);
  d.get("workers", base.workers);
  d.get("max_connections", base.max_connections);
  d.get("max_connections_per_user", base.max_connections_per_user);
  d.get("admin_reserved_connections", base.admin_reserved_connections, 0);
  d.get("idle_timeout_seconds", base.idle_timeout_seconds);
  d.get("request_timeout_seconds", base.request_timeout_seconds);
  d.get("instance_types", base.instance_types_file);
  d.refuse_unknown();
  if (d.failed) return *d.failed;

  TableReader l{section("libvirt"), source_name, "libvirt.", {}, {}};
  l.get("uri", base.libvirt_uri);
  l.get("accel", base.accel);
  l.refuse_unknown();
  if (l.failed) return *l.failed;

  TableReader m{section("limits"), source_name, "limits.", {}, {}};
  m.get("max_image_gib", base.max_image_gib);
  m.get("capacity_memory_mib", base.capacity_memory_mib, 0);
  m.refuse_unknown();
  if (m.failed) return *m.failed;

  TableReader im{section("images"), source_name, "images.", {}, {}};
  im.get("capture", base.capture);
  im.refuse_unknown();
  if (im.failed) return *im.failed;

  TableReader api{section("ec2_api"), source_name, "ec2_api.", {}, {}};
  api.get("listen", base.ec2_api_listen);
  api.get("allow_remote", base.ec2_api_allow_remote);
  api.refuse_unknown();
  if (api.failed) return *api.failed;

  if (const toml::table* regions = root["regions"].as_table()) {
    base.regions.clear();
    for (auto& [k, v] : *regions) {
      std::string name(k.str());
      const toml::table* t = v.as_table();
      if (!t) return problem(where(source_name, v.source()) + ": regions." + name + ": must be a table");
      RegionConfig r;
      r.name = name;
      TableReader rr{*t, source_name, "regions." + name + ".", {}, {}};
      rr.get("store", r.store);
      rr.get("libvirt_uri", r.libvirt_uri);
      rr.refuse_unknown();
      if (rr.failed) return *rr.failed;
      if (r.store.empty()) {
        return problem(where(source_name, v.source()) + ": regions." + name + ".store: required (the region's folder)");
      }
      base.regions.push_back(r);
    }
  }
  return base;
}

Result<Config> load_config_file(const std::string& path, Config base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return problem(path + ": cannot read the config file (does it exist?)");
  std::stringstream buf;
  buf << in.rdbuf();
  return load_config_text(buf.str(), path, std::move(base));
}

namespace {
// The host part of a libvirt URI ("" for qemu:///system, "host2" for
// qemu+ssh://user@host2:22/system).
std::string uri_host(const std::string& uri) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = uri.substr(scheme + 3);
  std::string authority = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

std::optional<std::string> region_name_problem(const std::string& name, const std::string& key) {
  if (name.empty() || name.size() > 32) return key + ": a region name must be 1-32 characters";
  for (char ch : name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-')) {
      return key + ": '" + name + "' may hold only letters, digits and '-'";
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<ListenAddress> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() || text.size() - colon > 6) {
    return std::nullopt;
  }
  ListenAddress out;
  out.address = text.substr(0, colon);
  unsigned long port = 0;
  for (char ch : text.substr(colon + 1)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(ch - '0');
  }
  if (port > 65535) return std::nullopt;
  out.port = static_cast<unsigned short>(port);
  in_addr ignored{};
  if (::inet_pton(AF_INET, out.address.c_str(), &ignored) != 1) return std::nullopt;
  return out;
}

Result<Config> validate_config(Config c) {
  if (!c.ec2_api_listen.empty()) {
    auto at = parse_listen_address(c.ec2_api_listen);
    if (!at) {
      return problem("ec2_api.listen: '" + c.ec2_api_listen +
                     "' is not an IPv4 ADDRESS:PORT such as 127.0.0.1:8773 (\"\" turns the endpoint off)");
    }
    if (at->address.rfind("127.", 0) != 0 && !c.ec2_api_allow_remote) {
      return problem("ec2_api.listen: " + at->address +
                     " is not a loopback address; amid serves EC2's API beyond this machine only with "
                     "ec2_api.allow_remote = true (plain HTTP: signatures authenticate requests but nothing "
                     "hides the answers)");
    }
  }
  if (c.libvirt_uri.empty()) {
    return problem("libvirt.uri: must not be empty (\"embedded\", or a libvirt URI such as qemu:///system)");
  }
  if (c.regions.empty() && !uri_host(c.libvirt_uri).empty()) {
    return problem("libvirt.uri: '" + c.libvirt_uri + "' names another host (" + uri_host(c.libvirt_uri) +
                   "); a region there needs its own store folder on that host: describe it as "
                   "[regions.NAME] with store and libvirt_uri");
  }
  if (c.accel != "auto" && c.accel != "kvm" && c.accel != "tcg") {
    return problem("accel: '" + c.accel + "' is not one of auto, kvm, tcg");
  }
  if (c.capture != "thin" && c.capture != "standalone") {
    return problem("images.capture: '" + c.capture + "' is not one of thin, standalone");
  }
  if (c.admin_reserved_connections < 0) c.admin_reserved_connections = c.max_connections / 8;
  if (c.max_connections_per_user == 0) {
    c.max_connections_per_user = std::max(1, std::min(c.max_connections / 4, c.max_connections - c.admin_reserved_connections));
  }
  if (c.admin_reserved_connections >= c.max_connections) {
    return problem("daemon.admin_reserved_connections: " + std::to_string(c.admin_reserved_connections) +
                   " leaves no connection for anyone else; keep it below daemon.max_connections (" +
                   std::to_string(c.max_connections) + ")");
  }
  if (c.max_connections_per_user > c.max_connections - c.admin_reserved_connections) {
    return problem("daemon.max_connections_per_user: " + std::to_string(c.max_connections_per_user) +
                   " is more than non-administrators may hold in all (daemon.max_connections - "
                   "daemon.admin_reserved_connections = " +
                   std::to_string(c.max_connections - c.admin_reserved_connections) + "); lower it");
  }
  if (c.state_dir.empty() || c.state_dir[0] != '/') {
    return problem("state_dir: must be an absolute path, got '" + c.state_dir + "'");
  }
  if (c.socket_path.empty() || c.socket_path[0] != '/') {
    return problem("socket: must be an absolute path, got '" + c.socket_path + "'");
  }
  if (c.socket_path.size() >= 108) {
    return problem("socket: path is longer than a Unix socket allows (107 bytes)");
  }
  if (c.libvirt_uri == "embedded" && (c.state_dir + "/libvirt").size() > 60) {
    // The embedded driver keeps monitor sockets several levels under its root.
    return problem("state_dir: too long for the embedded libvirt driver's sockets (keep it under "
                   "52 characters, or set libvirt.uri)");
  }
  if (auto bad = region_name_problem(c.region, "region")) return problem(*bad);
  if (c.regions.empty()) return c;
  bool known = false;
  std::string names, embedded;
  std::set<std::string> stores;
  for (const auto& r : c.regions) {
    std::string key = "regions." + r.name;
    if (auto bad = region_name_problem(r.name, key)) return problem(*bad);
    names += (names.empty() ? "" : ", ") + r.name;
    known = known || r.name == c.region;
    if (r.store.empty() || r.store[0] != '/') {
      return problem(key + ".store: must be an absolute path, got '" + r.store + "'");
    }
    std::string store = std::filesystem::path(r.store).lexically_normal().string();
    while (store.size() > 1 && store.back() == '/') store.pop_back();
    if (!stores.insert(store).second) return problem(key + ".store: " + r.store + " is another region's store too");
    if (r.libvirt_uri.empty()) return problem(key + ".libvirt_uri: must not be empty");
    if (r.libvirt_uri == "embedded") {
      if (!embedded.empty()) {
        return problem(key + ".libvirt_uri: regions." + embedded + " uses the embedded driver already, and one "
                       "process holds one embedded root; give this region a libvirt daemon (qemu:///system)");
      }
      embedded = r.name;
      if ((r.store + "/libvirt").size() > 60) {
        return problem(key + ".store: too long for the embedded libvirt driver's sockets (keep it under "
                       "52 characters, or give the region a libvirt_uri)");
      }
    }
  }
  if (!known) {
    return problem("region: the default region '" + c.region + "' is not among [regions] (" + names +
                   "); set region to one of them");
  }
  return c;
}

}  // namespace amid
