// Shared harness for end-to-end tests: builds (or reuses) the tiny template,
// starts the real amid on a temporary state dir and socket, runs the real
// amictl, and leaves no process, domain or file behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace amid::e2e {

struct Result {  // what a child process did
  int exit_code = -1;
  std::string out, err;
};

// Runs argv (no shell), returns exit code and output.
Result run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
std::string sha256_of(const std::string& path);
// A file's whole text ("" when it cannot be read): amid's log, a console.
std::string read_file(const std::string& path);
// The pid of the QEMU process whose command line names guest=ID, or -1.
pid_t qemu_pid_of(const std::string& instance_id);
bool process_alive(pid_t pid);

// The tiny template: $AMID_TINY_IMAGE when set, else built once per test binary
// with images/build-tiny into a temp folder.
const std::string& tiny_image();
// The folder beside it holding vmlinuz, initrd.img and cmdline for direct kernel boot.
std::string tiny_kernel_dir();
// The arm64 tiny template ($AMID_TINY_ARM64_IMAGE, or built once with
// images/build-tiny --arch arm64), its kernel folder beside it as pv/.
const std::string& tiny_arm64_image();
// Why arm64 guests cannot run here ("" when qemu-system-aarch64 and AAVMF exist).
std::string arm64_unavailable_reason();

class Amid {
 public:
  Amid();   // makes a temp dir; does not start amid
  ~Amid();  // terminates instances it knows of, stops amid, kills strays, removes the dir
  // Starts amid and waits until its socket answers. Extra args are appended.
  void start(const std::vector<std::string>& extra = {});
  // Sends SIGTERM and waits for the exit code.
  int stop();
  // Sends SIGKILL (no clean-up at all) and reaps amid.
  void kill9();
  pid_t pid() const { return pid_; }
  Result amictl(std::vector<std::string> args);
  const std::string& dir() const { return dir_; }
  std::string state_dir() const { return dir_ + "/s"; }
  std::string socket() const { return dir_ + "/a.sock"; }
  std::string log() const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace amid::e2e
