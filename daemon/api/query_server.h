// EC2's Query API's front door: HTTP/1.1 (Boost.Beast) on a TCP address of
// this machine (amid.toml's [ec2_api] listen, 127.0.0.1:8773 by default), for
// the AWS CLI and SDKs. Each request goes to QueryHandler (api/query_handler.h),
// which holds every rule; this door holds the transport's limits only.
//
// The socket's limits apply here by the same code (api/connection_limits.h):
// a connection takes its signer's place among the connections at its first
// signed request and keeps it while open, so one account (one uid, whatever
// its keys) holds at most its share, and the idle and request timeouts are
// the socket's. Before its first signed request a connection counts against
// `max_unsigned` (all such connections, every peer) and may wait at most the
// request timeout for it. A request larger than max_body_bytes is answered 413,
// a head larger than kMaxHeaderBytes 431; either closes the connection.
//
// Runs on one I/O thread (the io_context's); handling runs on `workers`, reads
// (Describe*, GetConsoleOutput) on `readers`, as the socket's do. stop() on the I/O thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include "daemon/api/asio.h"
#include "daemon/api/connection_limits.h"
#include "daemon/api/query_handler.h"

namespace amid {

class QuerySession;

class QueryServer {
 public:
  QueryServer(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers, const QueryHandler& handler,
              ConnectionLimits& limits, std::size_t max_body_bytes);
  ~QueryServer();
  QueryServer(const QueryServer&) = delete;
  QueryServer& operator=(const QueryServer&) = delete;

  // Binds address:port (port 0: any free one) and serves it; returns the port.
  // Throws AmidError naming the address and the reason.
  unsigned short listen(const std::string& address, unsigned short port);
  // Stops accepting and closes every connection.
  void stop();

  // Connections open now that have not yet sent a signed request. Any thread.
  int unsigned_connections() const;

  static constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
  static constexpr int kMaxRequestsPerConnection = 1000;

 private:
  friend class QuerySession;
  void accept_next();
  void forget(const std::shared_ptr<QuerySession>& s);

  asio::io_context& io_;
  asio::thread_pool& workers_;
  asio::thread_pool& readers_;
  const QueryHandler& handler_;
  ConnectionLimits& limits_;
  std::size_t max_body_bytes_;
  int max_unsigned_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_pause_;  // out of file descriptors: accept again a little later
  std::shared_ptr<std::atomic<int>> unsigned_;
  std::set<std::shared_ptr<QuerySession>> sessions_;
  bool stopping_ = false;
};

}  // namespace amid
