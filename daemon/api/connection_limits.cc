#include "daemon/api/connection_limits.h"

#include <map>
#include <mutex>

namespace amid {

struct ConnectionLimits::Counts {
  std::mutex mu;
  int total = 0;
  std::map<uid_t, int> per_uid;
  struct Refusals {
    std::chrono::steady_clock::time_point last_logged{};
    int unlogged = 0;
  };
  std::map<uid_t, Refusals> refusals;
};

ConnectionLimits::ConnectionLimits(ConnectionPolicy policy)
    : policy_(policy), counts_(std::make_shared<Counts>()) {}

ConnectionLimits::~ConnectionLimits() = default;

std::optional<ConnectionLimits::Slot> ConnectionLimits::admit(const Caller& caller, std::string& why) {
  std::lock_guard lock(counts_->mu);
  const int total = counts_->total;
  const int mine = counts_->per_uid.count(caller.uid) ? counts_->per_uid[caller.uid] : 0;
  const int shared = policy_.max_connections - policy_.admin_reserved;
  if (total >= policy_.max_connections) {
    why = "amid is serving its maximum of " + std::to_string(policy_.max_connections) +
          " connections (daemon.max_connections); retry in a few seconds";
    return std::nullopt;
  }
  if (!caller.admin && total >= shared) {
    why = "amid is serving " + std::to_string(total) + " connections, all it takes from non-administrators (the last " +
          std::to_string(policy_.admin_reserved) + " of daemon.max_connections = " +
          std::to_string(policy_.max_connections) + " are kept for administrators); retry in a few seconds";
    return std::nullopt;
  }
  if (caller.uid != 0 && mine >= policy_.max_per_user) {
    why = "you (uid " + std::to_string(caller.uid) + ") already hold " + std::to_string(mine) +
          " connections to amid, the most one user may (daemon.max_connections_per_user); close some of them "
          "or retry in a few seconds";
    return std::nullopt;
  }
  ++counts_->total;
  ++counts_->per_uid[caller.uid];
  return Slot(counts_, caller.uid);
}

bool ConnectionLimits::should_log_refusal(uid_t uid, int& suppressed) {
  std::lock_guard lock(counts_->mu);
  auto& r = counts_->refusals[uid];
  auto now = std::chrono::steady_clock::now();
  if (r.last_logged != std::chrono::steady_clock::time_point{} && now - r.last_logged < std::chrono::seconds(10)) {
    ++r.unlogged;
    return false;
  }
  suppressed = r.unlogged;
  r.unlogged = 0;
  r.last_logged = now;
  return true;
}

int ConnectionLimits::open_connections() const {
  std::lock_guard lock(counts_->mu);
  return counts_->total;
}

int ConnectionLimits::open_connections_of(uid_t uid) const {
  std::lock_guard lock(counts_->mu);
  auto it = counts_->per_uid.find(uid);
  return it == counts_->per_uid.end() ? 0 : it->second;
}

ConnectionLimits::Slot::Slot(Slot&& other) noexcept
    : counts_(std::move(other.counts_)), uid_(other.uid_) {}

ConnectionLimits::Slot& ConnectionLimits::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    counts_ = std::move(other.counts_);
    uid_ = other.uid_;
  }
  return *this;
}

ConnectionLimits::Slot::~Slot() { release(); }

void ConnectionLimits::Slot::release() {
  if (!counts_) return;
  std::lock_guard lock(counts_->mu);
  --counts_->total;
  if (auto it = counts_->per_uid.find(uid_); it != counts_->per_uid.end() && --it->second == 0) {
    counts_->per_uid.erase(it);
  }
  counts_.reset();
}

}  // namespace amid
