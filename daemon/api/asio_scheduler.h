// The Scheduler services post deferred work to (services/scheduler.h), on
// Boost.Asio: deadlines are timers on the I/O thread, the work itself runs on
// the worker pool, never on the I/O thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "daemon/api/asio.h"
#include "daemon/services/scheduler.h"

namespace amid {

class AsioScheduler : public Scheduler {
 public:
  AsioScheduler(asio::io_context& io, asio::thread_pool& workers) : io_(io), workers_(workers) {}
  void post(std::function<void()> fn) override { asio::post(workers_, std::move(fn)); }
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    asio::post(io_, [this, delay, fn = std::move(fn)]() mutable {
      auto timer = std::make_shared<asio::steady_timer>(io_, delay);
      timer->async_wait([this, timer, fn = std::move(fn)](boost::system::error_code ec) mutable {
        if (!ec) asio::post(workers_, std::move(fn));
      });
    });
  }

 private:
  asio::io_context& io_;
  asio::thread_pool& workers_;
};

}  // namespace amid
