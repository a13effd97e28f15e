#include "cli/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace amid::cli {

std::string default_socket_path() {
  if (const char* env = std::getenv("AMID_SOCKET"); env && *env) return env;
  constexpr const char* kSystem = "/run/amid/amid.sock";
  if (::geteuid() == 0) return kSystem;
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string base = (runtime && *runtime) ? runtime : "/tmp/amid-" + std::to_string(::getuid());
  std::string own = base + "/amid/amid.sock";
  // A user's own amid first; else the system's (amid.socket), which members
  // of group amid may use.
  struct stat st {};
  if (::stat(own.c_str(), &st) != 0 && ::stat(kSystem, &st) == 0 && S_ISSOCK(st.st_mode)) return kSystem;
  return own;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

void Client::connect() {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw UnreachableError("cannot create a socket: " + std::string(strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw UnreachableError("socket path too long: " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    std::string hint = err == EACCES ? " (are you in group amid?)"
                                     : " (is amid running? start it, or pass --socket / set AMID_SOCKET)";
    throw UnreachableError("cannot reach amid at " + path_ + ": " + strerror(err) + hint);
  }
}

bool Client::closed_by_amid() const {
  // amid closes a connection that sat idle (daemon.idle_timeout_seconds); it
  // never sends anything unasked, so a readable socket here means it is closed.
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char byte;
  return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

protocol::Response Client::call(const std::string& action, const protocol::Json& parameters) {
  if (fd_ >= 0 && pending_.empty() && closed_by_amid()) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) connect();
  protocol::Json params = parameters;
  if (!region_.empty()) {
    if (params.is_null()) params = protocol::Json::object();
    params["Region"] = region_;
  }
  std::string line = protocol::encode_request({action, params});
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // amid answers a connection it refuses (RequestLimitExceeded) before it
      // reads the request: that answer may be waiting although the send failed.
      if (errno == EPIPE || errno == ECONNRESET) break;
      throw UnreachableError("lost the connection to amid: " + std::string(strerror(errno)));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  char buf[65536];
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string answer = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      auto parsed = protocol::parse_response(answer);
      if (!parsed) throw UnreachableError(parsed.problem().message);
      return std::move(parsed).value();
    }
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw UnreachableError(left > 0 ? "lost the connection to amid before the request was sent (is amid stopping?)"
                                      : "amid closed the connection before answering");
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace amid::cli
