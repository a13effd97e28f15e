// The instance metadata service's front door: HTTP/1.1 (Boost.Beast) for the
// guests of one region, on 169.254.169.254:80 inside the region's network
// namespace (region.h makes that socket with RegionNetwork::listen_inside and
// hands it here). Each request is parsed into a MetadataRequest, with the TCP
// peer's address as the asker, and answered by MetadataService, which holds
// every rule (services/metadata_service.h); this door holds none.
//
// Guests are not trusted, so the door bounds what one can hold: connections
// at once per source address and in all (a refused one is answered 429 Too
// Many Requests and closed), the size of a request's head and body (431 and
// 413), the time a request may take to arrive and a kept-alive connection may
// sit idle (closed), and the requests one connection may make.
//
// Runs on one I/O thread (the io_context's); MetadataService::handle, which
// blocks on the catalog, runs on `workers`. stop() on the I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include "daemon/api/asio.h"
#include "daemon/services/metadata_service.h"

namespace amid {

struct MetadataDoorLimits {
  int max_connections = 64;                                         // at once, all sources
  int max_per_source = 8;                                           // at once, one address
  std::size_t max_header_bytes = 8 * 1024;                          // request line and headers
  std::size_t max_body_bytes = 1024;                                // no request of IMDS has a body
  std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};  // first request, and each answer
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(10)};    // a kept-alive connection's next request
  int max_requests_per_connection = 100;
};

class MetadataSession;

class MetadataServer {
 public:
  MetadataServer(asio::io_context& io, asio::thread_pool& workers, const MetadataService& service,
                 MetadataDoorLimits limits = {});
  ~MetadataServer();
  MetadataServer(const MetadataServer&) = delete;
  MetadataServer& operator=(const MetadataServer&) = delete;

  // Serves a bound, listening IPv4 TCP socket, which it owns from now on.
  void adopt(int listening_fd);
  // Binds address:port in this process's namespace (0: any free port) and
  // serves it; returns the port. For tests on 127.0.0.1. Throws AmidError.
  unsigned short listen(const std::string& address, unsigned short port);
  // Stops accepting and closes every connection.
  void stop();

  // Connections held now (refused ones not counted). Any thread.
  int open_connections() const;
  int open_connections_from(const std::string& address) const;

  struct Counts;

 private:
  friend class MetadataSession;
  void accept_next();
  void forget(const std::shared_ptr<MetadataSession>& s);

  asio::io_context& io_;
  asio::thread_pool& workers_;
  const MetadataService& service_;
  MetadataDoorLimits limits_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_pause_;  // out of file descriptors: accept again a little later
  std::shared_ptr<Counts> counts_;
  std::set<std::shared_ptr<MetadataSession>> sessions_;
  bool stopping_ = false;
};

}  // namespace amid
