#include "daemon/host/guest_resume.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/base64.h"
#include "common/error.h"
#include "daemon/host/unique_fd.h"

namespace amid {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kGreeting = "amid-resume-ready 1";

[[noreturn]] void fail(const std::string& what) { throw AmidError(codes::kInternalError, "resume port: " + what); }

// A connection to QEMU's end of the port, retried until the deadline while the
// socket is missing or not listening yet (QEMU is still starting).
int connect_until(const std::string& path, Clock::time_point deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) fail(path + ": longer than a Unix socket's path may be");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  while (true) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("cannot make a socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    const int err = errno;
    ::close(fd);
    if (err != ENOENT && err != ECONNREFUSED) fail("cannot connect to " + path + ": " + std::strerror(err));
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Lines from the guest, each without its newline, until the deadline.
class LineReader {
 public:
  LineReader(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}

  // The next line; nullopt at the deadline or when the guest's end closes.
  std::optional<std::string> next() {
    while (true) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (buffer_.size() > 4096) fail("the guest sent a line of more than 4096 bytes");
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) fail(std::string("poll: ") + std::strerror(errno));
      if (ready == 0) return std::nullopt;
      char chunk[512];
      ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  Clock::time_point deadline_;
  std::string buffer_;
};

bool greeted(LineReader& lines) {
  while (auto line = lines.next()) {
    if (*line == kGreeting) return true;
  }
  return false;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(std::string("cannot write the message: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string render_resume_message(const ResumeMessage& m) {
  auto one_line = [](const std::string& field, const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos) fail(field + ": holds a line break");
  };
  if (m.instance_id.empty()) fail("instance-id: empty");
  if (m.seed.empty()) fail("seed: empty");
  one_line("instance-id", m.instance_id);
  one_line("hostname", m.hostname);
  one_line("network", m.network);
  std::string out = "amid-resume 1\n";
  out += "instance-id " + m.instance_id + "\n";
  out += "time " + std::to_string(m.time) + "\n";
  out += "seed " + base64_encode(m.seed) + "\n";
  if (!m.hostname.empty()) out += "hostname " + m.hostname + "\n";
  if (!m.network.empty()) out += "network " + m.network + "\n";
  if (m.user_data) out += "user-data " + base64_encode(*m.user_data) + "\n";
  out += "end\n";
  return out;
}

bool wait_for_resume_listener(const std::string& socket_path, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // A connection QEMU accepted while the guest was still booting says nothing
  // until the listener starts: one connection is enough.
  UniqueFd fd(connect_until(socket_path, deadline));
  if (fd.get() < 0) return false;
  LineReader lines(fd.get(), deadline);
  return greeted(lines);
}

void resume_guest(const std::string& socket_path, const ResumeMessage& message, std::chrono::milliseconds timeout) {
  const std::string text = render_resume_message(message);
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd(connect_until(socket_path, deadline));
  if (fd.get() < 0) fail(socket_path + ": no socket to connect to within " + std::to_string(timeout.count()) + " ms");
  // The message goes first, without waiting for the greeting: a guest saved
  // before it saw amid's earlier connection close (wait_for_resume_listener's)
  // resumes in its read of a message and never greets. One that greets reads
  // the message once its greeting is through; the guest's port keeps it.
  write_all(fd.get(), text);
  LineReader lines(fd.get(), deadline);
  bool greeting = false;
  while (auto line = lines.next()) {
    if (*line == kGreeting) {
      greeting = true;
      continue;
    }
    if (line->rfind("amid-resume-failed ", 0) == 0) fail("the guest refused its identity: " + line->substr(19));
    // An answer meant for an earlier connection (amid hung up before it came) is passed over.
    if (*line == "amid-resumed " + message.instance_id) return;
  }
  fail(std::string("the guest did not answer within ") + std::to_string(timeout.count()) + " ms" +
       (greeting ? "" : " and did not greet (no listener?)"));
}

}  // namespace amid
