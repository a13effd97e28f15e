// amid's loopback proxy in front of a region's guests: each forward listens on
// 127.0.0.1:HOSTPORT in the host's namespace and relays every connection to
// one guest address and port, through a socket opened inside the region's
// network namespace (RegionNetwork::socket_inside). Security groups decide
// which forwards exist; opening and closing one touches neither the guest nor
// libvirt, so rules change on running instances.
//
// One I/O thread of its own (Boost.Asio) relays every connection; the calls
// below are thread-safe and return once the listener is open or closed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace amid {

class PortForwarder {
 public:
  // make_socket: a new, unconnected TCP socket that can reach the guests.
  explicit PortForwarder(std::function<int()> make_socket);
  ~PortForwarder();
  PortForwarder(const PortForwarder&) = delete;
  PortForwarder& operator=(const PortForwarder&) = delete;

  // Forwards 127.0.0.1:host_port to guest_address:guest_port under `key` (one
  // key, one forward). host_port 0, or one that is taken, gets a free port
  // instead: a launch never fails on a port. Opening a key again with the same
  // guest address and port, and host_port 0 or the port it has, keeps it as it
  // is (connections included); anything else replaces it. Returns the port
  // listened on.
  std::uint16_t open(const std::string& key, const std::string& guest_address, std::uint16_t guest_port,
                     std::uint16_t host_port);
  // Stops listening on `key`'s port and drops its connections; no error when
  // there is no such forward.
  void close(const std::string& key);
  // How many connections are being relayed now (for tests and benchmarks).
  std::size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amid
