// End to end: two regions in one amid, as amid.toml's [regions] describe them:
// local-1 on the embedded driver, local-2 on a libvirt daemon (libvirtd) this
// test starts on a private socket (one process may hold only one embedded root).
// copy-image moves an image across, byte for byte with its holes, and it boots there.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

// A daemon started for the test and stopped (SIGTERM, then SIGKILL) with it.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
  }
  ~Daemon() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

 private:
  pid_t pid_ = -1;
};

bool have(const std::string& program) {
  return run({"sh", "-c", "command -v " + program}).exit_code == 0;
}

// A region whose libvirt daemon cannot be reached stops amid at start, and the
// message says what is wrong and what to do (as virsh does): the socket that is
// missing, whether libvirtd or virtqemud runs. The embedded region comes first,
// so its QEMU driver is loaded in amid when the daemon's URI is opened.
TEST(Regions, AnUnreachableLibvirtDaemonIsReportedWithItsSocketAndWhatToDo) {
  Amid amid;
  std::filesystem::create_directories(amid.dir() + "/w");
  std::filesystem::create_directories(amid.dir() + "/east");
  auto start_with = [&](const std::string& uri) {
    std::string config = amid.dir() + "/amid.toml";
    std::ofstream(config) << "[regions.local-1]\nstore = \"" << amid.dir() << "/w\"\n"
                          << "[regions.local-2]\nstore = \"" << amid.dir() << "/east\"\nlibvirt_uri = \"" << uri
                          << "\"\n";
    std::filesystem::remove(amid.log());
    EXPECT_THROW(amid.start({"--config", config}), std::runtime_error) << uri << " was reached";
    return read_file(amid.log());
  };
  const bool daemons_run = run({"pgrep", "-x", "libvirtd|virtqemud"}).exit_code == 0;

  std::string missing = amid.dir() + "/nowhere/libvirt-sock";
  std::string log = start_with("qemu+unix:///system?socket=" + missing);
  EXPECT_NE(log.find("region local-2: cannot reach the libvirt daemon of qemu+unix:///system?socket=" + missing +
                     ": its socket " + missing + " does not exist"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(daemons_run ? " is running" : "neither libvirtd nor virtqemud is running"), std::string::npos)
      << log;
  EXPECT_NE(log.find("?socket=PATH"), std::string::npos) << "says what to do: " << log;
  EXPECT_EQ(log.find("no connection driver available"), std::string::npos) << log;

  // The URI without a socket: amid names libvirt's default one itself.
  const bool default_socket = std::filesystem::exists("/run/libvirt/libvirt-sock") ||
                              std::filesystem::exists("/run/libvirt/virtqemud-sock");
  if (default_socket) {
    std::cout << "not checked here: qemu+unix:///system without a socket, since this machine has a libvirt "
                 "socket in /run/libvirt (amid would reach that daemon)" << std::endl;
    return;
  }
  log = start_with("qemu+unix:///system");
  EXPECT_NE(log.find("cannot reach the libvirt daemon of qemu+unix:///system: its socket /run/libvirt/libvirt-sock "
                     "does not exist"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("no connection driver available"), std::string::npos) << log;
}

TEST(Regions, CopyImageToALibvirtDaemonRegionKeepsEveryByteAndBootsThere) {
  for (const char* program : {"libvirtd", "virtlogd"}) {
    ASSERT_TRUE(have(program)) << program << " is missing: scripts/install-deps installs libvirt-daemon-system";
  }
  Amid amid;
  // QEMU under libvirtd runs as libvirt-qemu: it must be able to reach the store.
  ::chmod(amid.dir().c_str(), 0711);
  std::string east = amid.dir() + "/east";
  std::filesystem::create_directories(east);
  ::chmod(east.c_str(), 0711);

  // libvirtd on a socket of our own (its QEMU driver needs virtlogd, at its
  // fixed socket: started here unless one runs already).
  std::string lv = amid.dir() + "/lv";
  std::filesystem::create_directories(lv);
  std::ofstream(lv + "/libvirtd.conf") << "unix_sock_dir = \"" << lv << "\"\nlisten_tls = 0\nlisten_tcp = 0\n"
                                       << "auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n";
  std::unique_ptr<Daemon> virtlogd;
  if (!std::filesystem::exists("/run/libvirt/virtlogd-sock")) {
    virtlogd = std::make_unique<Daemon>(std::vector<std::string>{"virtlogd"}, lv + "/virtlogd.log");
  }
  Daemon libvirtd({"libvirtd", "-f", lv + "/libvirtd.conf", "-p", lv + "/libvirtd.pid"}, lv + "/libvirtd.log");
  for (int i = 0; i < 300 && !std::filesystem::exists(lv + "/libvirt-sock"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(std::filesystem::exists(lv + "/libvirt-sock")) << "libvirtd did not start; see " << lv << "/libvirtd.log";
  // "+unix": the remote driver, not the embedded QEMU driver loaded in amid's process.
  std::string uri = "qemu+unix:///system?socket=" + lv + "/libvirt-sock";
  std::string config = amid.dir() + "/amid.toml";
  std::ofstream(config) << "[regions.local-1]\nstore = \"" << amid.dir() << "/w\"\n"
                        << "[regions.local-2]\nstore = \"" << east << "\"\nlibvirt_uri = \"" << uri << "\"\n";
  std::filesystem::create_directories(amid.dir() + "/w");

  // A region whose store folder is missing stops amid at start, naming it.
  std::string broken = amid.dir() + "/broken.toml";
  std::ofstream(broken) << "[regions.local-1]\nstore = \"" << amid.dir() << "/w\"\n"
                        << "[regions.local-2]\nstore = \"" << amid.dir() << "/nowhere\"\nlibvirt_uri = \"" << uri
                        << "\"\n";
  EXPECT_THROW(amid.start({"--config", broken}), std::runtime_error);
  std::ifstream log_in(amid.log());
  std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("regions.local-2.store: " + amid.dir() + "/nowhere is not a folder"), std::string::npos) << log;

  amid.start({"--config", config});
  Result r = amid.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string src = r.out.substr(0, r.out.find('\n'));

  // Unknown regions are refused and change nothing.
  r = amid.amictl({"copy-image", "--region", "mars-1", "--source-region", "local-1", "--source-image-id", src,
                   "--name", "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Region: 'mars-1' is not a region of this amid"), std::string::npos) << r.err;

  r = amid.amictl({"copy-image", "--region", "local-2", "--source-region", "local-1", "--source-image-id", src,
                   "--name", "tiny copy", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string dst = r.out.substr(0, r.out.find('\n'));
  Json d = Json::parse(amid.amictl({"describe-images", "--region", "local-2", "--output", "json"}).out);
  ASSERT_EQ(d["Images"].size(), 1u) << d.dump();
  EXPECT_EQ(d["Images"][0]["ImageId"], dst);
  EXPECT_EQ(d["Images"][0]["State"], "available");
  r = amid.amictl({"describe-images", "--image-ids", dst});
  EXPECT_NE(r.err.find("InvalidAMIID.NotFound"), std::string::npos) << "an id from another region: " << r.err;
  Json here = Json::parse(amid.amictl({"describe-images", "--output", "json"}).out);
  EXPECT_EQ(here["Images"].size(), 1u) << "the copy is not in local-1";

  // The same bytes, in local-2's store, and no hole filled in.
  std::string from = amid.dir() + "/w/images/" + src + "/disk.qcow2";
  std::string to = east + "/images/" + dst + "/disk.qcow2";
  EXPECT_EQ(sha256_of(to), sha256_of(from));
  struct stat a, b;
  ASSERT_EQ(::stat(from.c_str(), &a), 0);
  ASSERT_EQ(::stat(to.c_str(), &b), 0);
  EXPECT_EQ(b.st_size, a.st_size);
  EXPECT_LE(b.st_blocks, a.st_blocks) << "the copy allocates more than the source: holes were filled";

  // It boots in local-2, on the libvirt daemon.
  r = amid.amictl({"run-instances", "--region", "local-2", "--image-id", dst, "--instance-type", "t3.nano",
                   "--output", "text", "--user-data", "echo \"hello from $(cat /proc/sys/kernel/hostname)\""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\t'));
  r = amid.amictl({"get-console-output", "--region", "local-2", "--instance-id", id, "--wait-for",
                   "amid-tiny: ready", "--timeout", "180"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("hello from"), std::string::npos) << r.out;
  Result listed = run({"virsh", "-c", uri, "list", "--name"});
  EXPECT_NE(listed.out.find(id), std::string::npos) << "not a domain of the libvirt daemon: " << listed.out;
  r = amid.amictl({"describe-instances", "--instance-ids", id});
  EXPECT_NE(r.err.find("InvalidInstanceID.NotFound"), std::string::npos) << r.err;

  ASSERT_EQ(amid.amictl({"terminate-instances", "--region", "local-2", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid.amictl({"wait", "--region", "local-2", "instance-terminated", "--instance-ids", id}).exit_code, 0);
  EXPECT_TRUE(libvirtd.alive());
}

}  // namespace
}  // namespace amid::e2e
