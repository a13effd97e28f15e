// amid under systemd: the listening socket systemd hands over (socket
// activation, amid.socket), readiness and progress for Type=notify, and the
// watchdog. Without systemd (no LISTEN_FDS, no NOTIFY_SOCKET, no
// WATCHDOG_USEC) each is a no-op, so amid runs the same from a shell.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace amid::systemd {

// The socket systemd passed for amid to serve, and where it listens.
struct ActivatedSocket {
  int fd = -1;
  std::string path;
};

// The one listening Unix stream socket systemd passed (LISTEN_FDS, for this
// pid), or nothing when amid was not socket-activated. Throws AmidError when
// systemd passed something else (several sockets, a datagram or TCP socket, a
// socket not yet listening): amid.socket must hold one ListenStream= path.
std::optional<ActivatedSocket> activated_socket();

// STATUS= for `systemctl status amid`: what amid is doing while it starts.
void status(const std::string& text);
// READY=1 (with a final STATUS=): the catalog is open, every region's libvirt
// connection is up and reconciled, and the socket is served.
void ready(const std::string& text);
// STOPPING=1: amid is on its way out (guests keep running).
void stopping();

// How often to ping the watchdog (half of WatchdogSec=), or nothing when
// systemd watches no watchdog for amid.
std::optional<std::chrono::microseconds> watchdog_period();
// WATCHDOG=1.
void watchdog_ping();

}  // namespace amid::systemd
