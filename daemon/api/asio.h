// The one include of Boost.Asio. Boost 1.74's headers need <utility> first on g++ 12.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <cerrno>
#include <functional>
#include <string>

#include "common/error.h"

namespace amid {
namespace asio = boost::asio;

// After a failed accept on a front door: true when it was for want of
// descriptors or memory. The connection then waits in the listen queue, and
// accepting again at once would spin: `pause` waits 100 ms, then calls `again`
// unless `stopping` is set by then.
inline bool pause_if_exhausted(const boost::system::error_code& ec, asio::steady_timer& pause, const bool& stopping,
                               std::function<void()> again) {
  if (ec != asio::error::no_descriptors && ec != asio::error::no_buffer_space && ec != asio::error::no_memory &&
      ec.value() != ENFILE) {
    return false;
  }
  pause.expires_after(std::chrono::milliseconds(100));
  pause.async_wait([&stopping, again = std::move(again)](boost::system::error_code e) {
    if (!e && !stopping) again();
  });
  return true;
}

// Opens `acceptor` listening on IPv4 address:port (port 0: any free one), for
// an HTTP front door. Throws AmidError(InternalError) whose message starts with
// `door` ("metadata", "EC2 API") and names the address and the reason.
inline void listen_tcp(asio::ip::tcp::acceptor& acceptor, const std::string& address, unsigned short port,
                       const std::string& door) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address_v4(address, ec);
  if (ec) throw AmidError(codes::kInternalError, door + ": '" + address + "' is not an IPv4 address");
  asio::ip::tcp::endpoint at(ip, port);
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    throw AmidError(codes::kInternalError,
                    door + ": cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  }
}

}  // namespace amid
