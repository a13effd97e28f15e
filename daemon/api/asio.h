// The one include of Boost.Asio. Boost 1.74's headers need <utility> first on g++ 12.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace amid {
namespace asio = boost::asio;
}
