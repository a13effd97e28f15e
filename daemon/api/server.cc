#include "daemon/api/server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>

#include "common/ids.h"
#include "daemon/host/log.h"

namespace amid {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server& server, asio::local::stream_protocol::socket socket, Caller caller,
          std::optional<ConnectionLimits::Slot> slot)
      : server_(server), socket_(std::move(socket)), timer_(server.io_), caller_(std::move(caller)),
        slot_(std::move(slot)) {}

  void start() {
    expect(Wait::kIdle);
    read_more();
  }

  // Idempotent; gives the connection's place back at once.
  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    slot_.reset();
    server_.forget(shared_from_this());
  }

  // Answers `code: message` and closes, after reading what the client still sends
  // (at most Server::kLinger): its request then never meets a closed socket.
  void refuse(const char* code, const std::string& message) {
    if (closed_ || refusing_) return;
    refusing_ = true;
    waiting_ = Wait::kNone;
    timer_.cancel();
    slot_.reset();
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(protocol::encode_error(new_uuid(), code, message));
    asio::async_write(socket_, asio::buffer(*text), [self, text](boost::system::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->linger();
    });
  }

  const Caller& caller() const { return caller_; }

 private:
  enum class Wait { kNone, kIdle, kRequest };

  // Dispatches the next buffered line, or reads more of it.
  void read_more() {
    for (;;) {
      auto nl = pending_.find('\n');
      if (nl == std::string::npos) break;
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      return dispatch(std::move(line));
    }
    if (pending_.size() > server_.max_line_) {
      return refuse(codes::kMalformedRequest,
                    "request line longer than " + std::to_string(server_.max_line_) + " bytes");
    }
    expect(pending_.empty() ? Wait::kIdle : Wait::kRequest);
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(chunk_), [self](boost::system::error_code ec, std::size_t n) {
      if (self->closed_ || self->refusing_) return;
      if (ec) return self->close();
      self->pending_.append(self->chunk_.data(), n);
      self->read_more();
    });
  }

  void dispatch(std::string line) {
    waiting_ = Wait::kNone;
    timer_.cancel();
    // Blocking work goes to a pool (reads to their own); the answer comes back
    // to the I/O thread.
    auto& pool = Dispatcher::reads_only(line) ? server_.readers_ : server_.workers_;
    auto self = shared_from_this();
    asio::post(pool, [self, line = std::move(line)] {
      std::string answer = self->server_.dispatcher_.handle(self->caller_, line);
      asio::post(self->server_.io_, [self, answer = std::move(answer)]() mutable { self->write(std::move(answer)); });
    });
  }

  void write(std::string answer) {
    if (closed_) return;
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(std::move(answer));
    asio::async_write(socket_, asio::buffer(*text), [self, text](boost::system::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close();
      self->read_more();
    });
  }

  // Starts the timer for what the session now waits for; a deadline already
  // running for the same wait keeps running (a trickled request is timed from
  // its first byte, not its last).
  void expect(Wait wait) {
    if (wait == waiting_) return;
    waiting_ = wait;
    const auto& policy = server_.limits_.policy();
    timer_.expires_after(wait == Wait::kIdle ? policy.idle_timeout : policy.request_timeout);
    auto self = shared_from_this();
    timer_.async_wait([self, wait, generation = ++generation_](boost::system::error_code ec) {
      if (ec || self->closed_ || self->refusing_ || generation != self->generation_ || self->waiting_ != wait) return;
      self->timed_out(wait);
    });
  }

  void timed_out(Wait wait) {
    const auto& policy = server_.limits_.policy();
    std::string who = "uid " + std::to_string(caller_.uid) + " (pid " + std::to_string(caller_.pid) + ")";
    if (wait == Wait::kIdle) {
      log_info("connection of " + who + " closed: no request for " + duration_text(policy.idle_timeout) +
               " (daemon.idle_timeout_seconds)");
      return close();
    }
    log_warn("connection of " + who + " closed: its request line did not arrive in full within " +
             duration_text(policy.request_timeout) + " of its first byte (daemon.request_timeout_seconds)");
    refuse(codes::kRequestTimeout, "the request line did not arrive in full within " +
                                       duration_text(policy.request_timeout) + "; send a whole line at once");
  }

  static std::string duration_text(std::chrono::milliseconds d) {
    auto ms = d.count();
    return ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s";
  }

  // After a refusal: the client's request is read and dropped until it closes,
  // or until kLinger has passed.
  void linger() {
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    auto self = shared_from_this();
    timer_.expires_after(Server::kLinger);
    timer_.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->close();
    });
    drain();
  }

  void drain() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(chunk_), [self](boost::system::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close();
      self->drain();
    });
  }

  Server& server_;
  asio::local::stream_protocol::socket socket_;
  asio::steady_timer timer_;
  Caller caller_;
  std::optional<ConnectionLimits::Slot> slot_;  // empty for a refused connection
  std::string pending_;                         // bytes read, not yet a whole line
  std::array<char, 4096> chunk_{};
  Wait waiting_ = Wait::kNone;
  unsigned generation_ = 0;  // of the timer's current wait
  bool closed_ = false;
  bool refusing_ = false;
};

Server::Server(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers,
               Dispatcher& dispatcher, std::size_t max_line, ConnectionLimits& limits)
    : io_(io), workers_(workers), readers_(readers), dispatcher_(dispatcher), max_line_(max_line),
      limits_(limits), acceptor_(io), accept_pause_(io) {}

void Server::listen(const std::string& path) {
  ::unlink(path.c_str());
  acceptor_.open(asio::local::stream_protocol());
  // Created with no access for others, then opened up to owner and group.
  mode_t old = ::umask(0177);
  boost::system::error_code ec;
  acceptor_.bind(asio::local::stream_protocol::endpoint(path), ec);
  ::umask(old);
  if (ec) throw AmidError(codes::kInternalError, "cannot bind " + path + ": " + ec.message());
  if (policy_.socket_gid) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *policy_.socket_gid) != 0) {
      throw AmidError(codes::kInternalError, "cannot give " + path + " to gid " + std::to_string(*policy_.socket_gid));
    }
    ::chmod(path.c_str(), 0660);
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw AmidError(codes::kInternalError, "cannot listen on " + path + ": " + ec.message());
  accept_next();
}

void Server::adopt(int fd) {
  acceptor_.assign(asio::local::stream_protocol(), fd);
  accept_next();
}

void Server::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::local::stream_protocol::socket socket) {
    if (stopping_) return;
    if (ec == asio::error::operation_aborted) return;
    if (pause_if_exhausted(ec, accept_pause_, stopping_, [this] { accept_next(); })) {
      log_warn("accept failed: " + ec.message() + "; accepting again in 100 ms");
      return;
    }
    if (ec) {
      log_warn("accept failed: " + ec.message());
    } else {
      on_accepted(std::move(socket));
    }
    accept_next();
  });
}

void Server::on_accepted(asio::local::stream_protocol::socket socket) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    log_warn("cannot read the peer's credentials; connection dropped");
    return;
  }
  // The one place a peer becomes a caller (api/access.h).
  std::string why;
  auto resolved = resolve_caller(cred.uid, cred.gid, cred.pid, process_groups(cred.pid), policy_, why);
  if (!resolved) {
    log_warn("connection refused: " + why);
    auto refused = std::make_shared<Session>(*this, std::move(socket), Caller{}, std::nullopt);
    sessions_.insert(refused);
    refused->refuse(codes::kAuthFailure,
                    "you (uid " + std::to_string(cred.uid) + ") may not use amid: ask an administrator to add you "
                    "to amid's group (usermod -aG amid USER), then log in again");
    return;
  }
  auto slot = limits_.admit(*resolved, why);
  if (!slot) {
    int unlogged = 0;
    if (limits_.should_log_refusal(cred.uid, unlogged)) {
      log_warn("connection of uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
               ") refused: " + why +
               (unlogged ? " (" + std::to_string(unlogged) + " more of its refusals since the last line)" : ""));
    }
    auto refused = std::make_shared<Session>(*this, std::move(socket), std::move(*resolved), std::nullopt);
    sessions_.insert(refused);
    refused->refuse(codes::kRequestLimitExceeded, why);
    return;
  }
  auto session = std::make_shared<Session>(*this, std::move(socket), std::move(*resolved), std::move(slot));
  sessions_.insert(session);
  session->start();
}

void Server::forget(const std::shared_ptr<Session>& s) { sessions_.erase(s); }

void Server::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_pause_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& s : sessions) s->close();
}

}  // namespace amid
