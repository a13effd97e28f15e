#include "daemon/server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ids.h"
#include "daemon/log.h"

namespace amid {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server& server, asio::local::stream_protocol::socket socket, Caller caller)
      : server_(server), socket_(std::move(socket)), buffer_(server.max_line_ + 1),
        caller_(std::move(caller)) {}

  void start() { read_next(); }
  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
  }
  // Answers and closes (used for refusals before any request is read).
  void refuse(const std::string& answer) {
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(answer);
    asio::async_write(socket_, asio::buffer(*text), [self, text](auto, auto) {
      self->close();
      self->server_.forget(self);
    });
  }

 private:
  void read_next() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, buffer_, '\n', [self](boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::not_found) {
        self->refuse(protocol::encode_error(
            new_uuid(), codes::kMalformedRequest,
            "request line longer than " + std::to_string(self->server_.max_line_) + " bytes"));
        return;
      }
      if (ec) {
        self->close();
        self->server_.forget(self);
        return;
      }
      std::string line(asio::buffers_begin(self->buffer_.data()),
                       asio::buffers_begin(self->buffer_.data()) + static_cast<long>(n) - 1);
      self->buffer_.consume(n);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) return self->read_next();
      // Blocking work goes to a pool (reads to their own); the answer comes back
      // to the I/O thread.
      auto& pool = Dispatcher::reads_only(line) ? self->server_.readers_ : self->server_.workers_;
      asio::post(pool, [self, line = std::move(line)] {
        std::string answer = self->server_.dispatcher_.handle(self->caller_, line);
        asio::post(self->server_.io_, [self, answer = std::move(answer)]() mutable {
          self->write(std::move(answer));
        });
      });
    });
  }

  void write(std::string answer) {
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(std::move(answer));
    asio::async_write(socket_, asio::buffer(*text), [self, text](boost::system::error_code ec, std::size_t) {
      if (ec) {
        self->close();
        self->server_.forget(self);
        return;
      }
      self->read_next();
    });
  }

  Server& server_;
  asio::local::stream_protocol::socket socket_;
  asio::streambuf buffer_;
  Caller caller_;
};

Server::Server(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers,
               Dispatcher& dispatcher, std::size_t max_line, int max_connections)
    : io_(io), workers_(workers), readers_(readers), dispatcher_(dispatcher), max_line_(max_line),
      max_connections_(max_connections), acceptor_(io) {}

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
  acceptor_.async_accept([this](boost::system::error_code ec,
                                asio::local::stream_protocol::socket socket) {
    if (stopping_) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        log_warn("accept failed: " + ec.message());
        accept_next();
      }
      return;
    }
    Caller caller;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log_warn("cannot read the peer's credentials; connection dropped");
      accept_next();
      return;
    }
    // The one place a peer becomes a caller (daemon/access.h).
    std::string why;
    auto resolved = resolve_caller(cred.uid, cred.gid, cred.pid, process_groups(cred.pid), policy_, why);
    if (!resolved) {
      log_warn("connection refused: " + why);
      auto refused = std::make_shared<Session>(*this, std::move(socket), Caller{});
      sessions_.insert(refused);
      refused->refuse(protocol::encode_error(
          new_uuid(), codes::kAuthFailure,
          "you (uid " + std::to_string(cred.uid) + ") may not use amid: ask an administrator to add you "
          "to amid's group (usermod -aG amid USER), then log in again"));
      accept_next();
      return;
    }
    caller = std::move(*resolved);
    auto session = std::make_shared<Session>(*this, std::move(socket), std::move(caller));
    sessions_.insert(session);
    if (static_cast<int>(sessions_.size()) > max_connections_) {
      session->refuse(protocol::encode_error(new_uuid(), codes::kRequestLimitExceeded,
                                             "too many connections to amid; try again shortly"));
    } else {
      session->start();
    }
    accept_next();
  });
}

void Server::forget(const std::shared_ptr<Session>& s) { sessions_.erase(s); }

void Server::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& s : sessions_) s->close();
  sessions_.clear();
}

}  // namespace amid
