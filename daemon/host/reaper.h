// Reaping the guests' QEMU processes as soon as they exit.
//
// libvirt starts QEMU daemonized (fork, setsid, fork; the middle process exits),
// so QEMU's parent is the nearest "child subreaper" above it, or PID 1. When a
// guest is destroyed, libvirt waits for its pid to vanish (kill(pid, 0) every
// 200 ms), and a dead process does not vanish until its parent reaps it. Under
// an init that reaps late (this project's build machine: about 2 s), every
// terminate-instances and stop waited that long. So amid makes itself the
// subreaper of what it starts and reaps those orphans at once.
//
// Only orphans are reaped. A child in amid's own session was started directly
// (qemu-img, libvirt's helpers) and is left to the waitpid of whoever started
// it. A child leading a session of its own is libvirt's middle process, which
// libvirt waits for at once: it is left alone too, unless it stays a zombie for
// `leader_grace` (then nobody waits for it). A child in another session that
// does not lead it can only be a re-parented orphan, such as QEMU: reaped at once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

namespace amid {

// Reaps the zombie children of `self` as above; `leaders` remembers when each
// zombie session leader was first seen. Returns how many it reaped.
struct Orphans {
  std::map<pid_t, std::chrono::steady_clock::time_point> zombie_leaders;
  std::chrono::steady_clock::duration leader_grace = std::chrono::seconds(10);
};
int reap_orphans(pid_t self, pid_t own_session, Orphans& seen);

class Reaper {
 public:
  // Call before any other thread starts: marks amid a child subreaper and blocks
  // SIGCHLD in the calling thread, so every thread started after inherits the
  // block and the reaper thread alone takes the signal (sigtimedwait).
  static void prepare();
  Reaper();
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

 private:
  void loop();
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace amid
