// amid: the daemon. Parses flags and config, takes the state dir, picks the
// accelerator, opens libvirt and the catalog, reconciles, then serves the socket
// until SIGTERM/SIGINT. Stopping amid never stops a guest.
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
#include <iostream>
#include <memory>

#include "daemon/accel.h"
#include "daemon/asio.h"
#include "daemon/dispatcher.h"
#include "daemon/fs.h"
#include "daemon/log.h"
#include "daemon/reaper.h"
#include "daemon/reconcile.h"
#include "daemon/scheduler.h"
#include "daemon/server.h"

namespace amid {
namespace {

constexpr const char* kEmbeddedQemuConf =
    "# Written by amid at every start for its embedded QEMU driver; edits are lost.\n"
    "# QEMU's stdio goes to files, so no virtlogd is needed.\n"
    "stdio_handler = \"file\"\n"
    "# Ownership is not remembered in xattrs: amid owns every file it hands to QEMU.\n"
    "remember_owner = 0\n";

// Deadlines as timers on the I/O thread; the work itself on the worker pool.
class AsioScheduler : public Scheduler {
 public:
  AsioScheduler(asio::io_context& io, asio::thread_pool& workers) : io_(io), workers_(workers) {}
  void post(std::function<void()> fn) override { asio::post(workers_, std::move(fn)); }
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    asio::post(io_, [this, delay, fn = std::move(fn)]() mutable {
      auto timer = std::make_shared<asio::steady_timer>(io_, delay);
      timer->async_wait([this, timer, fn = std::move(fn)](boost::system::error_code ec) mutable {
        if (!ec) asio::post(workers_, std::move(fn));
      });
    });
  }

 private:
  asio::io_context& io_;
  asio::thread_pool& workers_;
};

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

// What guests this host can run; one log line each, so a missing emulator is visible.
std::map<std::string, std::string> runnable_guests(Hypervisor& hypervisor, const std::string& host_type) {
  auto types = amid::guest_domain_types(host_arch(), host_type, [&](const std::string& arch, const std::string& type) {
    return hypervisor.supports_domain_type(arch, type);
  });
  for (const char* arch : {"x86_64", "arm64"}) {
    auto it = types.find(arch);
    if (it != types.end()) {
      log_info(std::string(arch) + " guests: " + (it->second == "kvm" ? "KVM" : "TCG (software emulation)"));
    } else if (std::string(arch) == "arm64") {
      log_info("arm64 guests: not available (install qemu-system-arm and qemu-efi-aarch64, then restart amid)");
    } else {
      log_info(std::string(arch) + " guests: not available (libvirt has no emulator for them)");
    }
  }
  return types;
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

// Every connection, guest console and libvirt handle is a descriptor: amid
// takes all the hard limit allows (Debian's soft default of 1024 would make
// max_connections in the hundreds fail at accept).
void raise_descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) log_warn("cannot raise the open-file limit to " + std::to_string(rl.rlim_max));
}

// One region: its store, libvirt connection and services. Built once at start.
struct Region {
  std::unique_ptr<Hypervisor> hypervisor;
  std::unique_ptr<Runtime> rt;
  ImageService images;
  InstanceService instances;
  CaptureService capture;
  TagService tags;
  Region(std::unique_ptr<Hypervisor> hv, std::unique_ptr<Runtime> runtime)
      : hypervisor(std::move(hv)), rt(std::move(runtime)), images(*rt), instances(*rt, images),
        capture(*rt, images, instances), tags(*rt) {}
};

// A configured region's store must exist and be writable: amid does not guess
// where a region's disks belong.
void check_region_store(const RegionConfig& rc) {
  struct stat st{};
  if (::stat(rc.store.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store +
                                               " is not a folder; create it (mkdir -p " + rc.store +
                                               ") or fix amid.toml");
  }
  if (::access(rc.store.c_str(), W_OK | X_OK) != 0) {
    throw AmidError(codes::kInternalError,
                    "regions." + rc.name + ".store: " + rc.store + " is not writable by amid");
  }
}

// A region on another host: its store folder must exist there (amid does not
// guess where a region's disks belong); amid makes its subfolders through libvirt.
void prepare_remote_store(const RegionConfig& rc, const Store& store, RegionFiles& files, const std::string& host) {
  if (!files.dir_exists(store.root())) {
    throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store + " is not a folder on " +
                                               host + "; create it there (mkdir -p " + rc.store +
                                               ") or fix amid.toml");
  }
  for (const auto& dir : {store.images_dir(), store.instances_dir(), store.volumes_dir()}) {
    try {
      files.make_dir(dir);
    } catch (const AmidError& e) {
      throw AmidError(codes::kInternalError, "regions." + rc.name + ".store: " + rc.store + " on " + host +
                                                 ": amid cannot make " + dir + " there (" + e.what() +
                                                 "); check that folder's owner and mode on that host");
    }
  }
}

std::unique_ptr<Region> open_region(const Config& config, const RegionConfig& rc, AccelChoice choice,
                                    Catalog& catalog, const InstanceTypes& types, const Store& state) {
  Store store(rc.store);
  if (!rc.store_on_libvirt_host()) store.prepare();
  if (rc.libvirt_uri == "embedded") {
    fs::make_dirs(store.libvirt_root() + "/etc", 0700);
    fs::write_file_atomic(store.libvirt_root() + "/etc/qemu.conf", kEmbeddedQemuConf, 0600);
  }
  std::unique_ptr<Hypervisor> hypervisor;
  try {
    hypervisor = std::make_unique<Hypervisor>(rc.effective_libvirt_uri());
  } catch (const AmidError& e) {
    throw AmidError(e.code(), "region " + rc.name + ": " + e.what());
  }
  if (choice.domain_type == "kvm" && !hypervisor->supports_domain_type(host_arch(), "kvm")) {
    if (config.accel == "kvm") {
      throw AmidError(codes::kInternalError, "libvirt at " + hypervisor->uri() + " offers no kvm domains");
    }
    choice = {"qemu", "accelerator tcg: libvirt offers no kvm domains"};
    log_info("region " + rc.name + ": " + choice.reason);
  }
  // Probe QEMU's capabilities now rather than on the first launch.
  hypervisor->capabilities_xml();
  log_info("region " + rc.name + ": libvirt connected: " + hypervisor->uri() + ", store " + rc.store);
  std::map<std::string, std::string> domain_types = runnable_guests(*hypervisor, choice.domain_type);
  Config region_config = config;
  region_config.region = rc.name;
  region_config.libvirt_uri = rc.libvirt_uri;
  auto rt = std::unique_ptr<Runtime>(
      new Runtime{region_config, store, catalog, *hypervisor, domain_types, types, QemuImg{}, {}});
  if (rc.store_on_libvirt_host()) {
    rt->files = make_libvirt_files(*hypervisor, state.tmp_dir());
    prepare_remote_store(rc, store, *rt->files, hypervisor->hostname());
  }
  auto region = std::make_unique<Region>(std::move(hypervisor), std::move(rt));
  reconcile(*region->rt, region->images, region->instances);
  region->capture.recover_interrupted();
  return region;
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
  app.set_version_flag("--version", "amid 0.1.0");
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
  if (socket_in_use(config.socket_path)) {
    throw AmidError(codes::kInternalError,
                    "another amid is already listening on " + config.socket_path);
  }
  fs::make_dirs(std::filesystem::path(config.socket_path).parent_path().string(), 0755);

  const AccelChoice host_choice = choose_accel(config.accel, probe_kvm());
  warn_if_kvm_unreadable_by_qemu();
  log_info(host_choice.reason);

  Catalog catalog(state.catalog_path());
  std::vector<std::unique_ptr<Region>> regions;
  for (const RegionConfig& rc : config.effective_regions()) {
    if (!config.regions.empty() && !rc.store_on_libvirt_host()) check_region_store(rc);
    regions.push_back(open_region(config, rc, host_choice, catalog, types, state));
  }

  Region& home = *regions.front();
  Dispatcher dispatcher(home.images, home.instances, home.tags, &home.capture);
  for (std::size_t i = 1; i < regions.size(); ++i) {
    dispatcher.add_region({regions[i]->images, regions[i]->instances, regions[i]->tags, &regions[i]->capture});
  }
  asio::io_context io(1);
  asio::thread_pool workers(static_cast<std::size_t>(config.workers));
  asio::thread_pool readers(2);  // Describe* and GetConsoleOutput, never behind launches
  AsioScheduler scheduler(io, workers);
  for (auto& region : regions) {
    region->instances.set_scheduler(&scheduler);
    region->capture.set_scheduler(&scheduler);
    InstanceService& instances = region->instances;
    region->hypervisor->watch_stops([&instances](const std::string& name) { instances.on_domain_stopped(name); });
    region->instances.resume_pending_work();
  }
  ConnectionLimits limits(connection_policy(config));
  Server server(io, workers, readers, dispatcher, config.max_request_bytes, limits);
  server.set_access_policy(access_policy(config));
  server.listen(config.socket_path);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int sig) {
    log_info(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
             "; guests keep running");
    server.stop();
    io.stop();
  });
  // Opening libvirt (QEMU's capabilities read from its cache and parsed) and the
  // reconcile free more than they keep: a fresh amid held 5.8 MB of heap with
  // 1.6 MB in use, 3.5 MiB of VmRSS for nothing until an answer trimmed it.
  malloc_trim(0);
  std::string served;
  for (const auto& region : regions) served += (served.empty() ? "" : ", ") + region->rt->config.region;
  log_info("amid ready on " + config.socket_path + " (regions " + served + "; default " + config.region +
           "; state " + config.state_dir + ")");
  io.run();
  workers.join();
  readers.join();
  ::unlink(config.socket_path.c_str());
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
