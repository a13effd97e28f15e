// The Unix-socket front of amid: acceptor, sessions and their registry.
//
// Runs on one I/O thread (the io_context's). A session reads one request line,
// hands it to a pool (the Dispatcher may block on libvirt or qemu-img), and
// writes the answer back from the I/O thread, so one slow action never stalls
// other clients. Reads (Describe*, GetConsoleOutput) have a pool of their own:
// a storm of launches holding every worker must not hold up a describe.
//
// Who gets a connection, and for how long it may sit idle or trickle a request
// in, is ConnectionLimits' rule (api/connection_limits.h). A refused or
// timed-out connection is answered with an error line (RequestLimitExceeded,
// AuthFailure, RequestTimeout, MalformedQueryString for a line longer than
// max_line), and amid then reads what the client still sends until it closes
// (at most kLinger), so that its request never meets a closed socket.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "daemon/api/access.h"
#include "daemon/api/asio.h"
#include "daemon/api/connection_limits.h"
#include "daemon/api/dispatcher.h"

namespace amid {

class Session;

class Server {
 public:
  Server(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers, Dispatcher& dispatcher,
         std::size_t max_line, ConnectionLimits& limits);
  // Binds `path` (mode 0660 with the policy's socket group, else 0600) and starts
  // accepting. Throws AmidError.
  void listen(const std::string& path);
  // Who may connect, and who is an admin (api/access.h). Set before listen().
  void set_access_policy(const AccessPolicy& policy) { policy_ = policy; }
  // Adopts an already listening socket (systemd socket activation).
  void adopt(int fd);
  // Stops accepting and closes every session. I/O thread only.
  void stop();

  // How long a refused connection is kept open to read the client's request.
  static constexpr std::chrono::seconds kLinger{2};

 private:
  friend class Session;
  void accept_next();
  void on_accepted(asio::local::stream_protocol::socket socket);
  void forget(const std::shared_ptr<Session>& s);

  asio::io_context& io_;
  asio::thread_pool& workers_;
  asio::thread_pool& readers_;
  Dispatcher& dispatcher_;
  std::size_t max_line_;
  ConnectionLimits& limits_;
  asio::local::stream_protocol::acceptor acceptor_;
  asio::steady_timer accept_pause_;  // out of file descriptors: accept again a little later
  std::set<std::shared_ptr<Session>> sessions_;
  bool stopping_ = false;
  AccessPolicy policy_;
};

}  // namespace amid
