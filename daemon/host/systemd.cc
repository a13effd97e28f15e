#include "daemon/host/systemd.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/error.h"

namespace amid::systemd {

std::optional<ActivatedSocket> activated_socket() {
  // unset_environment: amid's children (QEMU, ssh-keygen) must not think the
  // sockets are theirs.
  int n = ::sd_listen_fds(1);
  if (n == 0) return std::nullopt;
  if (n < 0) throw AmidError(codes::kInternalError, std::string("systemd's LISTEN_FDS: ") + std::strerror(-n));
  if (n > 1) {
    throw AmidError(codes::kInternalError, "systemd passed " + std::to_string(n) +
                                               " sockets; amid serves one: give amid.socket a single ListenStream=");
  }
  const int fd = SD_LISTEN_FDS_START;
  if (::sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    throw AmidError(codes::kInternalError,
                    "systemd passed a socket that is not a listening Unix stream socket; amid.socket's "
                    "ListenStream= must be a path (e.g. /run/amid/amid.sock)");
  }
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  ActivatedSocket out{fd, ""};
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && len > offsetof(sockaddr_un, sun_path)) {
    out.path.assign(addr.sun_path, ::strnlen(addr.sun_path, len - offsetof(sockaddr_un, sun_path)));
  }
  return out;
}

void status(const std::string& text) { ::sd_notify(0, ("STATUS=" + text).c_str()); }

void ready(const std::string& text) { ::sd_notify(0, ("READY=1\nSTATUS=" + text).c_str()); }

void stopping() { ::sd_notify(0, "STOPPING=1\nSTATUS=stopping; guests keep running"); }

std::optional<std::chrono::microseconds> watchdog_period() {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

void watchdog_ping() { ::sd_notify(0, "WATCHDOG=1"); }

}  // namespace amid::systemd
