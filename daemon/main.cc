// amid: the daemon. Parses flags and config, takes the state dir, picks the
// accelerator, opens the catalog and every region (daemon/region.h), then
// serves the socket until SIGTERM/SIGINT. Stopping amid never stops a guest.
// docs/ARCHITECTURE.md shows where everything else is.
#include <fcntl.h>
#include <malloc.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "daemon/api/asio_scheduler.h"
#include "daemon/api/query_server.h"
#include "daemon/api/server.h"
#include "daemon/host/accel.h"
#include "daemon/host/fs.h"
#include "daemon/host/log.h"
#include "daemon/host/reaper.h"
#include "daemon/host/systemd.h"
#include "common/version.h"
#include "daemon/region.h"

namespace amid {
namespace {

// libvirt checks /dev/kvm as QEMU's user; when that user cannot open it, libvirt
// re-probes QEMU's capabilities before every launch (seconds each time).
void warn_if_kvm_unreadable_by_qemu() {
  struct stat st;
  if (::stat("/dev/kvm", &st) != 0 || ::geteuid() != 0) return;
  if ((st.st_mode & 0006) == 0006) return;
  struct group* kvm = ::getgrnam("kvm");
  if (kvm && st.st_gid == kvm->gr_gid && (st.st_mode & 0060) == 0060) return;
  log_warn("/dev/kvm is not open to group kvm (mode " + std::to_string(st.st_mode & 0777) +
           "); libvirt will re-probe QEMU at every launch. Run: chgrp kvm /dev/kvm && "
           "chmod 0660 /dev/kvm (what Debian's udev rule does)");
}

// True when something already answers on the socket.
bool socket_in_use(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return in_use;
}

// Holds an exclusive lock on the state dir for the life of the process.
int lock_state_dir(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw AmidError(codes::kInternalError, "cannot open " + lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    (void)n;
    throw AmidError(codes::kInternalError,
                    "another amid (pid " + std::string(pid) + ") is using this state dir; stop it "
                    "first or pass another --state-dir");
  }
  std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    log_warn("cannot write pid into " + lock_path);
  }
  return fd;
}

// Group names from the config, as gids; a missing group is said once and left out.
AccessPolicy access_policy(const Config& config) {
  AccessPolicy p;
  p.daemon_uid = ::geteuid();
  auto gid_of = [](const std::string& name, const char* key, const char* without) -> std::optional<gid_t> {
    if (name.empty()) return std::nullopt;
    struct group* g = ::getgrnam(name.c_str());
    if (g) return g->gr_gid;
    log_warn(std::string(key) + ": no group named '" + name + "'; " + without +
             " (create it with: groupadd --system " + name + ")");
    return std::nullopt;
  };
  p.socket_gid = gid_of(config.socket_group, "socket_group", "only root and amid's own user can connect");
  p.admin_gid = gid_of(config.admin_group, "admin_group", "root is the only admin");
  return p;
}

ConnectionPolicy connection_policy(const Config& config) {
  ConnectionPolicy p;
  p.max_connections = config.max_connections;
  p.max_per_user = config.max_connections_per_user;
  p.admin_reserved = config.admin_reserved_connections;
  p.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  p.request_timeout = std::chrono::seconds(config.request_timeout_seconds);
  return p;
}

// EC2's HTTP door on [ec2_api] listen; null when it is off, or when the
// address cannot be bound (said in the log: the socket is served all the same).
std::unique_ptr<QueryServer> open_query_server(const Config& config, asio::io_context& io, asio::thread_pool& workers,
                                               asio::thread_pool& readers, const QueryHandler& handler,
                                               ConnectionLimits& limits) {
  if (config.ec2_api_listen.empty()) {
    log_info("EC2 API off ([ec2_api] listen = \"\")");
    return nullptr;
  }
  auto at = parse_listen_address(config.ec2_api_listen);  // checked by validate_config
  auto door = std::make_unique<QueryServer>(io, workers, readers, handler, limits, config.max_request_bytes);
  try {
    unsigned short port = door->listen(at->address, at->port);
    log_info("EC2 API on http://" + at->address + ":" + std::to_string(port) +
             " (aws --endpoint-url http://" + at->address + ":" + std::to_string(port) + " ec2 ...)");
  } catch (const AmidError& e) {
    log_error(std::string(e.what()) + "; amid serves its socket without it (set [ec2_api] listen in amid.toml: "
              "another ADDRESS:PORT, or \"\" to turn it off)");
    return nullptr;
  }
  return door;
}

// Every connection, guest console and libvirt handle is a descriptor: amid
// takes all the hard limit allows (Debian's soft default of 1024 would make
// max_connections in the hundreds fail at accept).
void raise_descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) log_warn("cannot raise the open-file limit to " + std::to_string(rl.rlim_max));
}

int run(int argc, char** argv) {
  CLI::App app{"amid: local qcow2 templates as AMIs, launched as libvirt guests"};
  std::string config_file, state_dir, socket_path, libvirt_uri, accel;
  app.add_option("--config", config_file, "TOML config file (see configs/amid.toml)");
  app.add_option("--state-dir", state_dir, "where the catalog and the store live");
  app.add_option("--socket", socket_path, "Unix socket amictl connects to");
  app.add_option("--libvirt-uri", libvirt_uri,
                 "libvirt URI, or 'embedded' for qemu:///embed inside the state dir");
  app.add_option("--accel", accel, "auto | kvm | tcg")->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  app.set_version_flag("--version", std::string("amid ") + amid::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Config config = default_config();
  if (!config_file.empty()) {
    auto loaded = load_config_file(config_file, config);
    if (!loaded) {
      std::cerr << "amid: " << loaded.problem().message << "\n";
      return 2;
    }
    config = std::move(loaded).value();
  }
  if (!state_dir.empty()) config.state_dir = state_dir;
  if (!socket_path.empty()) config.socket_path = socket_path;
  if (!libvirt_uri.empty()) config.libvirt_uri = libvirt_uri;
  if (!accel.empty()) config.accel = accel;
  auto valid = validate_config(config);
  if (!valid) {
    std::cerr << "amid: " << valid.problem().message << "\n";
    return 2;
  }
  config = std::move(valid).value();

  InstanceTypes types = builtin_instance_types();
  if (!config.instance_types_file.empty()) {
    std::string text;
    try {
      text = fs::read_file(config.instance_types_file);
    } catch (const AmidError& e) {
      std::cerr << "amid: instance_types: " << e.what() << "\n";
      return 2;
    }
    auto parsed = parse_instance_types(text, config.instance_types_file);
    if (!parsed) {
      std::cerr << "amid: " << parsed.problem().message << "\n";
      return 2;
    }
    types = std::move(parsed).value();
  }

  // glibc would give each of amid's threads an arena of its own and keep what a
  // large answer (describe-images over thousands of images) freed: after one
  // such answer amid stayed at 260 MiB. Two arenas, and big blocks mapped and
  // unmapped on their own (a fixed threshold: glibc's sliding one would soon
  // put them in the heap again), keep amid near its working size.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  // Before libvirt starts any thread: amid reaps the QEMU processes libvirt
  // daemonizes (see reaper.h), instead of waiting for init to.
  raise_descriptor_limit();
  Reaper::prepare();
  Reaper reaper;

  Store state(config.state_dir);  // the catalog and the lock (and the one region's store by default)
  state.prepare();
  int lock_fd = lock_state_dir(state.lock_path());
  // Under amid.socket systemd listens for amid, and keeps listening while amid restarts.
  const std::optional<systemd::ActivatedSocket> activated = systemd::activated_socket();
  if (activated) {
    if (activated->path != config.socket_path) {
      log_warn("systemd's socket is " + activated->path + ", amid.toml's " + config.socket_path +
               "; serving systemd's (give amictl --socket " + activated->path + ", or make them agree)");
      config.socket_path = activated->path;
    }
  } else {
    if (socket_in_use(config.socket_path)) {
      throw AmidError(codes::kInternalError, "another amid is already listening on " + config.socket_path);
    }
    fs::make_dirs(std::filesystem::path(config.socket_path).parent_path().string(), 0755);
  }

  systemd::status("probing the accelerator");
  const AccelChoice host_choice = choose_accel(config.accel, probe_kvm());
  warn_if_kvm_unreadable_by_qemu();
  log_info(host_choice.reason);

  systemd::status("opening the catalog " + state.catalog_path());
  Catalog catalog(state.catalog_path());
  std::vector<std::unique_ptr<Region>> regions;  // the default region first
  for (const RegionConfig& rc : config.effective_regions()) {
    systemd::status("opening region " + rc.name + ": libvirt, then reconciling its instances");
    regions.push_back(open_region(config, rc, host_choice, catalog, types, state));
  }
  Dispatcher dispatcher(regions.front()->services());
  for (std::size_t i = 1; i < regions.size(); ++i) dispatcher.add_region(regions[i]->services());

  asio::io_context io(1);
  asio::thread_pool workers(static_cast<std::size_t>(config.workers));
  asio::thread_pool readers(2);  // Describe* and GetConsoleOutput, never behind launches
  asio::thread_pool metadata_workers(1);  // guests' metadata requests, never ahead of amictl's
  AsioScheduler scheduler(io, workers);
  for (auto& region : regions) {
    region->set_scheduler(&scheduler);
    region->serve();
  }
  ConnectionLimits limits(connection_policy(config));
  Server server(io, workers, readers, dispatcher, config.max_request_bytes, limits);
  const AccessPolicy policy = access_policy(config);
  server.set_access_policy(policy);
  if (activated) {
    server.adopt(activated->fd);  // its mode and group are amid.socket's
  } else {
    server.listen(config.socket_path);
  }
  // EC2's Query API (docs/EC2_API.md): the same dispatcher and limits behind an HTTP door.
  QueryHandler query_handler(dispatcher, regions.front()->access_keys(), policy);
  std::unique_ptr<QueryServer> query_door = open_query_server(config, io, workers, readers, query_handler, limits);
  std::vector<std::unique_ptr<MetadataServer>> metadata_doors;  // one per region with a network
  for (auto& region : regions) {
    if (auto door = open_metadata_server(*region, io, metadata_workers)) metadata_doors.push_back(std::move(door));
  }

  asio::steady_timer watchdog(io);  // systemd's, below
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int sig) {
    log_info(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
             "; guests keep running");
    systemd::stopping();
    server.stop();
    if (query_door) query_door->stop();
    for (auto& door : metadata_doors) door->stop();
    watchdog.cancel();
    io.stop();
  });
  // Opening libvirt (QEMU's capabilities read from its cache and parsed) and the
  // reconcile free more than they keep: a fresh amid held 5.8 MB of heap with
  // 1.6 MB in use, 3.5 MiB of VmRSS for nothing until an answer trimmed it.
  malloc_trim(0);
  // systemd's watchdog (WatchdogSec=): pinged from the socket's own thread, so
  // a stuck I/O thread is what gets amid restarted.
  std::function<void()> ping_watchdog;
  if (auto period = systemd::watchdog_period()) {
    ping_watchdog = [&, period = *period] {
      systemd::watchdog_ping();
      watchdog.expires_after(period);
      watchdog.async_wait([&](boost::system::error_code ec) {
        if (!ec) ping_watchdog();
      });
    };
    ping_watchdog();
  }
  std::string served;
  for (const auto& region : regions) served += (served.empty() ? "" : ", ") + region->name();
  const std::string ready = "amid ready on " + config.socket_path + " (regions " + served + "; default " +
                            config.region + "; state " + config.state_dir + ")";
  log_info(ready);
  systemd::ready(ready);
  io.run();
  workers.join();
  readers.join();
  metadata_workers.join();
  for (auto& region : regions) region->release_network_if_unused();
  if (!activated) ::unlink(config.socket_path.c_str());  // systemd's stays for the next amid
  ::close(lock_fd);
  log_info("amid stopped");
  return 0;
}

}  // namespace
}  // namespace amid

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return amid::run(argc, argv);
  } catch (const amid::AmidError& e) {
    amid::log_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    amid::log_error(std::string("unexpected: ") + e.what());
    return 1;
  }
}
