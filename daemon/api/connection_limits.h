// How many connections amid serves, and to whom: the admission rule and the
// timers that every front door applies (the Unix socket today; EC2's HTTP
// endpoint takes the same ConnectionLimits and ConnectionPolicy).
//
// Rules (README "Security model"):
// - at most `max_connections` at once; the last `admin_reserved` of them are
//   only for admins (root and the admin group), so that no crowd of ordinary
//   callers can lock an administrator out;
// - at most `max_per_user` for one uid, so that one account never takes the
//   whole pool (root, who owns the machine, is held to the total alone);
// - a connection that has not started a request within `idle_timeout`, or whose
//   request has not arrived in full within `request_timeout` of its first byte,
//   is closed (the front door logs why).
// A caller refused for load is answered RequestLimitExceeded with the reason,
// never dropped. Thread-safe; a Slot may outlive the ConnectionLimits that gave it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/services/caller.h"

namespace amid {

struct ConnectionPolicy {
  int max_connections = 64;
  int max_per_user = 16;
  int admin_reserved = 8;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
};

class ConnectionLimits {
  struct Counts;

 public:
  explicit ConnectionLimits(ConnectionPolicy policy);
  ~ConnectionLimits();

  // One admitted connection; gives its place back when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class ConnectionLimits;
    Slot(std::shared_ptr<Counts> counts, uid_t uid) : counts_(std::move(counts)), uid_(uid) {}
    void release();
    std::shared_ptr<Counts> counts_;
    uid_t uid_ = 0;
  };

  // A place for `caller`, or nullopt with `why` set: the message of the
  // RequestLimitExceeded answer, which names the limit and says to retry.
  std::optional<Slot> admit(const Caller& caller, std::string& why);

  // Whether a refusal of `uid` is worth a log line: the first in 10 s for that
  // uid (with how many were left unlogged before it), so a storm of refused
  // connections cannot flood the journal. `suppressed` is set to that count.
  bool should_log_refusal(uid_t uid, int& suppressed);

  int open_connections() const;
  int open_connections_of(uid_t uid) const;
  const ConnectionPolicy& policy() const { return policy_; }

 private:
  ConnectionPolicy policy_;
  std::shared_ptr<Counts> counts_;
};

}  // namespace amid
