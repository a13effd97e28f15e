// The one include of Boost.Asio. Boost 1.74's headers need <utility> first on g++ 12.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <cerrno>
#include <functional>

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

}  // namespace amid
