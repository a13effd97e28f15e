#include "e2e_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace amid::e2e {
namespace {

std::string read_all(int fd) {
  std::string s;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

Result run(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  char out_tpl[] = "/tmp/amid-e2e-out-XXXXXX";
  char err_tpl[] = "/tmp/amid-e2e-err-XXXXXX";
  int out_fd = ::mkstemp(out_tpl);
  int err_fd = ::mkstemp(err_tpl);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::lseek(out_fd, 0, SEEK_SET);
  ::lseek(err_fd, 0, SEEK_SET);
  r.out = read_all(out_fd);
  r.err = read_all(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  ::unlink(out_tpl);
  ::unlink(err_tpl);
  return r;
}

std::string sha256_of(const std::string& path) {
  Result r = run({"sha256sum", path});
  return r.out.substr(0, 64);
}

pid_t qemu_pid_of(const std::string& instance_id) {
  DIR* d = ::opendir("/proc");
  pid_t found = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    if (cmd.find("guest=" + instance_id) != std::string::npos &&
        cmd.find("qemu-system") != std::string::npos) {
      found = std::atoi(e->d_name);
      break;
    }
  }
  ::closedir(d);
  return found;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && stat.size() > close_paren + 2 &&
         stat[close_paren + 2] != 'Z';
}

namespace {
// $env when set, else images/build-tiny ARCH into a temp folder (with pv/ beside
// it), removed at exit.
std::string env_or_built_tiny(const char* env, const std::string& arch) {
  if (const char* v = std::getenv(env); v && *v) return v;
  std::string tpl_s = "/tmp/amid-tiny-" + arch + "-XXXXXX";
  std::vector<char> tpl(tpl_s.begin(), tpl_s.end());
  tpl.push_back('\0');
  std::string dir = ::mkdtemp(tpl.data());
  std::string path = dir + "/tiny.qcow2";
  Result r = run({std::string(AMID_SOURCE_DIR) + "/images/build-tiny", "--arch", arch, "--kernel-dir", dir + "/pv",
                  path});
  if (r.exit_code != 0) throw std::runtime_error("images/build-tiny --arch " + arch + " failed: " + r.err);
  static std::vector<std::string> cleanup;
  if (cleanup.empty()) std::atexit([] { for (const auto& d : cleanup) std::filesystem::remove_all(d); });
  cleanup.push_back(dir);
  return path;
}
}  // namespace

const std::string& tiny_image() {
  static const std::string path = env_or_built_tiny("AMID_TINY_IMAGE", "x86_64");
  return path;
}

const std::string& tiny_arm64_image() {
  static const std::string path = env_or_built_tiny("AMID_TINY_ARM64_IMAGE", "arm64");
  return path;
}

std::string arm64_unavailable_reason() {
  if (run({"sh", "-c", "command -v qemu-system-aarch64"}).exit_code != 0) {
    return "qemu-system-aarch64 is not installed (apt-get install qemu-system-arm; scripts/install-deps does)";
  }
  if (!std::filesystem::exists("/usr/share/AAVMF/AAVMF_CODE.fd")) {
    return "AAVMF firmware is not installed (apt-get install qemu-efi-aarch64)";
  }
  return "";
}

std::string tiny_kernel_dir() {
  return std::filesystem::path(tiny_image()).parent_path().string() + "/pv";
}

Amid::Amid() {
  // Short: the embedded driver keeps Unix sockets under the state dir.
  char tpl[] = "/tmp/amid-e2e-XXXXXX";
  dir_ = ::mkdtemp(tpl);
}

void Amid::start(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {AMID_BINARY, "--state-dir", state_dir(), "--socket", socket()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::string log_path = log();
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(socket())) {
      Result r = amictl({"describe-images"});
      if (r.exit_code == 0) return;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("amid exited at start:\n" + read_file(log_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("amid did not answer within 90 s:\n" + read_file(log_path));
}

int Amid::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void Amid::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Result Amid::amictl(std::vector<std::string> args) {
  args.insert(args.begin(), {AMICTL_BINARY, "--socket", socket()});
  // amictl ssh remembers host keys there: in the test's folder, not root's home.
  return run(args, {"XDG_STATE_HOME=" + dir_});
}

std::string Amid::log() const { return dir_ + "/amid.log"; }

Amid::~Amid() {
  if (pid_ > 0) {
    Result r = amictl({"describe-instances", "--output", "text"});
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::string id = line.substr(0, line.find('\t'));
      if (id.rfind("i-", 0) == 0) amictl({"terminate-instances", "--instance-ids", id});
    }
    stop();
  }
  // Anything still running from this state dir is a test failure's leftover.
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    if (cmd.find("qemu-system") != std::string::npos && cmd.find(dir_ + "/") != std::string::npos) {
      ::kill(std::atoi(e->d_name), SIGKILL);
    }
  }
  ::closedir(d);
  // The region network's namespace outlives an amid that was killed (or left
  // instances): the log names it.
  std::istringstream log(read_file(this->log()));
  const std::string marker = "guest network in namespace ";
  for (std::string line; std::getline(log, line);) {
    auto at = line.find(marker);
    if (at == std::string::npos) continue;
    std::string ns = line.substr(at + marker.size());
    ns = ns.substr(0, ns.find_first_of(", "));
    if (ns.rfind("amid-", 0) == 0 && std::filesystem::exists("/run/netns/" + ns)) run({"ip", "netns", "delete", ns});
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace amid::e2e
