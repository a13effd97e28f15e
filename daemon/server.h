// The Unix-socket front of amid: acceptor, sessions and their registry.
//
// Runs on one I/O thread (the io_context's). A session reads one request line,
// hands it to a pool (the Dispatcher may block on libvirt or qemu-img), and
// writes the answer back from the I/O thread, so one slow action never stalls
// other clients. Reads (Describe*, GetConsoleOutput) have a pool of their own:
// a storm of launches holding every worker must not hold up a describe. Lines longer than max_line and connections past
// max_connections are refused with an error answer.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "daemon/access.h"
#include "daemon/asio.h"
#include "daemon/dispatcher.h"

namespace amid {

class Session;

class Server {
 public:
  Server(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers, Dispatcher& dispatcher,
         std::size_t max_line, int max_connections);
  // Binds `path` (mode 0660 with the policy's socket group, else 0600) and starts
  // accepting. Throws AmidError.
  void listen(const std::string& path);
  // Who may connect, and who is an admin (daemon/access.h). Set before listen().
  void set_access_policy(const AccessPolicy& policy) { policy_ = policy; }
  // Adopts an already listening socket (systemd socket activation).
  void adopt(int fd);
  // Stops accepting and closes every session. I/O thread only.
  void stop();

 private:
  friend class Session;
  void accept_next();
  void forget(const std::shared_ptr<Session>& s);

  asio::io_context& io_;
  asio::thread_pool& workers_;
  asio::thread_pool& readers_;
  Dispatcher& dispatcher_;
  std::size_t max_line_;
  int max_connections_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::set<std::shared_ptr<Session>> sessions_;
  bool stopping_ = false;
  AccessPolicy policy_;
};

}  // namespace amid
