#include "remote_host.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

// Non-blank lines, trailing blanks cut (virsh pads its --name lists).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string tail(const std::string& text, size_t count) {
  std::vector<std::string> lines = lines_of(text);
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

// A port nobody listens on now (a race with other programs, but a short one).
int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("RemoteHost: no free TCP port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

void require_programs() {
  for (const char* program : {"unshare", "nsenter", "libvirtd", "virtlogd", "virsh"}) {
    if (run({"sh", "-c", std::string("command -v ") + program}).exit_code != 0) {
      throw std::runtime_error(std::string("RemoteHost needs ") + program +
                               ", not found in PATH: scripts/install-deps installs it "
                               "(util-linux, libvirt-daemon-system)");
    }
  }
}

pid_t parent_of(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close_paren + 2));
  char state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9') pids.push_back(std::atoi(e->d_name));
  }
  ::closedir(d);
  return pids;
}

std::string pid_namespace_of(pid_t pid) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec);
  return ec ? "" : target.string();
}

}  // namespace

std::string RemoteHost::fresh_hidden_dir() {
  std::random_device rd;
  std::ostringstream name;
  name << "/srv/amid-remote-" << std::hex << rd() << rd();
  return name.str();
}

RemoteHost::RemoteHost(const std::string& work_dir, const std::string& hidden_dir)
    : work_dir_(std::filesystem::absolute(work_dir).lexically_normal().string()),
      hidden_dir_(std::filesystem::path(hidden_dir).lexically_normal().string()) {
  require_programs();
  std::string shadowed = std::filesystem::path(hidden_dir_).parent_path().string();
  if (!std::filesystem::path(hidden_dir_).is_absolute() || shadowed == "/" ||
      !std::filesystem::is_directory(shadowed) || std::filesystem::exists(hidden_dir_)) {
    throw std::runtime_error("RemoteHost: " + hidden_dir_ +
                             " must be an absolute path that does not exist, in a folder that does (not /)");
  }
  if ((work_dir_ + "/").rfind(shadowed + "/", 0) == 0) {
    throw std::runtime_error("RemoteHost: work dir " + work_dir_ + " is under " + shadowed +
                             ", which the remote host covers with its own tmpfs");
  }
  std::filesystem::create_directories(work_dir_);
  int port = free_tcp_port();
  uri_ = "qemu+tcp://127.0.0.1:" + std::to_string(port) + "/system";
  // TCP on loopback only, no TLS and no auth: what ssh would give a real host.
  std::ofstream(work_dir_ + "/libvirtd.conf")
      << "listen_tls = 0\nlisten_tcp = 1\ntcp_port = \"" << port << "\"\nlisten_addr = \"127.0.0.1\"\n"
      << "auth_tcp = \"none\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n"
      << "unix_sock_dir = \"/run/libvirt\"\n";

  std::string log_path = log();
  // PID 1 there: scripts/remote-host-init.sh (what it mounts, and why).
  std::vector<std::string> argv = {"unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                                   "--mount-proc", "--kill-child", "sh",
                                   std::string(AMID_SOURCE_DIR) + "/scripts/remote-host-init.sh", work_dir_,
                                   hidden_dir_};
  unshare_pid_ = ::fork();
  if (unshare_pid_ == 0) {
    // Should the test die, unshare dies, and with it (--kill-child) the whole host.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  try {
    wait_until_answering();
  } catch (...) {
    stop();
    throw;
  }
}

void RemoteHost::wait_until_answering() {
  // The first start probes QEMU's capabilities (about 10 s under TCG); libvirtd
  // accepts connections but holds them until its drivers are up.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(unshare_pid_, &status, WNOHANG) == unshare_pid_) {
      unshare_pid_ = -1;
      throw std::runtime_error("RemoteHost: libvirtd exited at start; " + log() + " ends with:\n" +
                               tail(read_file(log()), 30));
    }
    if (run({"timeout", "20", "virsh", "-c", uri_, "version"}).exit_code == 0) {
      for (pid_t pid : all_pids()) {
        if (parent_of(pid) == unshare_pid_) init_pid_ = pid;
      }
      pid_ns_ = pid_namespace_of(init_pid_);
      if (init_pid_ > 0 && !pid_ns_.empty()) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("RemoteHost: libvirtd did not answer on " + uri_ + " within 60 s; " + log() +
                           " ends with:\n" + tail(read_file(log()), 30));
}

Result RemoteHost::exec(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"nsenter", "--target", std::to_string(init_pid_), "--mount", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full);
}

Result RemoteHost::virsh(const std::vector<std::string>& args) const {
  std::vector<std::string> full = {"virsh", "-c", uri_};
  full.insert(full.end(), args.begin(), args.end());
  return run(full);
}

std::vector<pid_t> RemoteHost::processes_in(const std::string& pid_namespace) {
  std::vector<pid_t> pids;
  if (pid_namespace.empty()) return pids;
  for (pid_t pid : all_pids()) {
    if (pid_namespace_of(pid) == pid_namespace) pids.push_back(pid);
  }
  return pids;
}

void RemoteHost::stop() {
  if (unshare_pid_ <= 0) return;
  // What a test left behind, as an operator would clean a real host. The
  // volumes go with the tmpfs.
  if (!pid_ns_.empty()) {
    for (const auto& domain : lines_of(virsh({"list", "--all", "--name"}).out)) {
      virsh({"destroy", domain});
      virsh({"undefine", domain});
    }
    for (const auto& pool : lines_of(virsh({"pool-list", "--all", "--name"}).out)) {
      virsh({"pool-destroy", pool});
      virsh({"pool-undefine", pool});
    }
  }
  for (pid_t pid : processes_in(pid_ns_)) {
    if (read_file("/proc/" + std::to_string(pid) + "/comm") == "libvirtd\n") ::kill(pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (::waitpid(unshare_pid_, nullptr, WNOHANG) != unshare_pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      // The namespace's init dies with unshare, and takes every process of it along.
      ::kill(unshare_pid_, SIGKILL);
      ::waitpid(unshare_pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  unshare_pid_ = -1;
  for (int i = 0; i < 100 && !processes_in(pid_ns_).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

RemoteHost::~RemoteHost() { stop(); }

}  // namespace amid::e2e
