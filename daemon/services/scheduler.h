// Where services send work that must not run on the caller's thread: libvirt
// event callbacks (which run on libvirt's event loop) and deadlines such as
// "force the guest off if it has not stopped in 2 minutes". main provides one
// backed by Asio (timers on the I/O thread, work on the worker pool).
// Thread-safe; post() and post_after() never block and never run fn inline.
#pragma once

#include <chrono>
#include <functional>

namespace amid {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void post(std::function<void()> fn) = 0;
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

}  // namespace amid
