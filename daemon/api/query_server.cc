#include "daemon/api/query_server.h"

// After daemon/api/asio.h (through the header): Boost 1.74 wants <utility> first.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <atomic>
#include <ctime>
#include <mutex>
#include <optional>

#include "common/error.h"
#include "common/ids.h"
#include "daemon/api/query_protocol.h"
#include "daemon/host/log.h"

namespace amid {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

// RFC 7231's date: "Mon, 07 Dec 2026 03:40:00 GMT".
std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

class QuerySession : public std::enable_shared_from_this<QuerySession> {
 public:
  QuerySession(QueryServer& server, asio::ip::tcp::socket socket, std::string peer)
      : server_(server), stream_(std::move(socket)), peer_(std::move(peer)) {}

  void start() { read_request(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::socket_base::shutdown_both, ignored);
    stream_.socket().close(ignored);
    {
      std::lock_guard lock(slot_mu_);
      slot_.reset();
      if (!signed_) {
        signed_ = true;
        --*server_.unsigned_;
      }
    }
    server_.forget(shared_from_this());
  }

 private:
  void read_request() {
    const ConnectionPolicy& policy = server_.limits_.policy();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(QueryServer::kMaxHeaderBytes));
    parser_->body_limit(server_.max_body_bytes_);
    // The first request must come within the request timeout; a kept-alive
    // connection's next one within the idle timeout, as on the socket.
    stream_.expires_after(served_ == 0 ? policy.request_timeout : policy.idle_timeout);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::header_limit) {
      return reply_error_and_close(codes::kMalformedRequest, "the request's head is larger than " +
                                                                 std::to_string(QueryServer::kMaxHeaderBytes) + " bytes", 431);
    }
    if (ec == http::error::body_limit) {
      return reply_error_and_close("RequestEntityTooLarge", "the request's body is larger than " +
                                                                std::to_string(server_.max_body_bytes_) +
                                                                " bytes (daemon.max_request_bytes)", 413);
    }
    if (ec == beast::error::timeout) {
      // The stream has closed the socket by now: nothing can be answered.
      if (parser_->got_some()) log_warn("EC2 API: a request from " + peer_ + " did not arrive in full in time; closed");
      return close();
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return close();
    }
    if (ec) return reply_error_and_close(codes::kMalformedRequest, "not an HTTP/1.1 request: " + ec.message(), 400);

    auto& req = parser_->get();
    sigv4::HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request.body = std::move(req.body());
    const bool keep_alive = req.keep_alive() && served_ + 1 < QueryServer::kMaxRequestsPerConnection;
    const unsigned version = req.version();
    const bool reads = Dispatcher::reads_only_action(QueryHandler::peek_action(request));

    // The action may block on libvirt or qemu-img: off the I/O thread, back to it to write.
    auto self = shared_from_this();
    asio::post(reads ? server_.readers_ : server_.workers_, [self, request = std::move(request), keep_alive, version] {
      bool refused = false;
      QueryHandler::Result result = self->server_.handler_.handle(
          request, std::chrono::system_clock::now(), [&](const Caller& caller, std::string& why) {
            if (self->admit(caller, why)) return true;
            refused = true;
            return false;
          });
      asio::post(self->server_.io_, [self, answer = std::move(result.answer), keep_alive, version, refused]() mutable {
        self->write(std::move(answer), keep_alive && !refused, version);
      });
    });
  }

  // The signer's place among the connections (ConnectionLimits), taken at its
  // first signed request and kept while the connection is open. Worker thread.
  bool admit(const Caller& caller, std::string& why) {
    std::lock_guard lock(slot_mu_);
    if (slot_ && slot_uid_ == caller.uid) return true;
    auto slot = server_.limits_.admit(caller, why);
    // Signed now, admitted or not: a refused connection is answered and closed,
    // and no longer waits among the unsigned ones.
    if (!signed_) {
      signed_ = true;
      --*server_.unsigned_;
    }
    if (!slot) {
      int suppressed = 0;
      if (server_.limits_.should_log_refusal(caller.uid, suppressed)) {
        log_warn("EC2 API: request of account " + caller.account + " from " + peer_ + " refused: " + why +
                 (suppressed ? " (" + std::to_string(suppressed) + " more refused, not logged)" : ""));
      }
      return false;
    }
    slot_ = std::move(slot);
    slot_uid_ = caller.uid;
    return true;
  }

  void reply_error_and_close(const std::string& code, const std::string& message, int status) {
    HttpAnswer a{status, query::error_xml(code, message, new_uuid())};
    write(std::move(a), false, parser_ && parser_->is_header_done() ? parser_->get().version() : 11);
  }

  void write(HttpAnswer answer, bool keep_alive, unsigned version) {
    if (closed_) return;
    ++served_;
    res_ = http::response<http::string_body>{};
    res_.version(version);
    res_.result(static_cast<unsigned>(answer.status));
    res_.set(http::field::server, "AmazonEC2");
    // As EC2 does: SDKs read it to correct their clock after RequestExpired.
    res_.set(http::field::date, http_date(std::time(nullptr)));
    res_.set(http::field::content_type, answer.content_type);
    res_.keep_alive(keep_alive);
    res_.body() = std::move(answer.body);
    res_.prepare_payload();
    // A client that does not read its answer is not waited for.
    stream_.expires_after(server_.limits_.policy().request_timeout);
    auto self = shared_from_this();
    http::async_write(stream_, res_, [self, keep_alive](beast::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close();
      if (!keep_alive) return self->linger();
      self->read_request();
    });
  }

  // After the last answer: what the client still sends is read and dropped
  // until it closes (at most a second), so that closing with unread bytes
  // never turns into a reset that destroys the answer before it is read.
  void linger() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::socket_base::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    drain();
  }

  void drain() {
    auto self = shared_from_this();
    stream_.async_read_some(asio::buffer(scratch_), [self](beast::error_code ec, std::size_t) {
      if (self->closed_) return;
      if (ec) return self->close();
      self->drain();
    });
  }

  QueryServer& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::string peer_;
  std::array<char, 1024> scratch_{};
  int served_ = 0;
  bool closed_ = false;

  std::mutex slot_mu_;  // admit() runs on a worker, close() on the I/O thread
  std::optional<ConnectionLimits::Slot> slot_;
  uid_t slot_uid_ = 0;
  bool signed_ = false;  // no longer counted among the unsigned connections
};

QueryServer::QueryServer(asio::io_context& io, asio::thread_pool& workers, asio::thread_pool& readers,
                         const QueryHandler& handler, ConnectionLimits& limits, std::size_t max_body_bytes)
    : io_(io), workers_(workers), readers_(readers), handler_(handler), limits_(limits),
      max_body_bytes_(max_body_bytes), max_unsigned_(limits.policy().max_connections), acceptor_(io),
      accept_pause_(io), unsigned_(std::make_shared<std::atomic<int>>(0)) {}

QueryServer::~QueryServer() {
  if (!stopping_) stop();
}

unsigned short QueryServer::listen(const std::string& address, unsigned short port) {
  listen_tcp(acceptor_, address, port, "EC2 API");
  accept_next();
  return acceptor_.local_endpoint().port();
}

void QueryServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (pause_if_exhausted(ec, accept_pause_, stopping_, [this] { accept_next(); })) {
      log_warn("EC2 API: accept failed: " + ec.message() + "; accepting again in 100 ms");
      return;
    }
    if (ec) {
      log_warn("EC2 API: accept failed: " + ec.message());
      return accept_next();
    }
    boost::system::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    if (peer_ec) return accept_next();  // gone already
    std::string source = peer.address().to_string() + ":" + std::to_string(peer.port());
    if (unsigned_->load() >= max_unsigned_) {
      // Nobody known to answer to yet: a crowd of silent connections is dropped, not served.
      boost::system::error_code ignored;
      socket.close(ignored);
      return accept_next();
    }
    ++*unsigned_;
    auto session = std::make_shared<QuerySession>(*this, std::move(socket), std::move(source));
    sessions_.insert(session);
    session->start();
    accept_next();
  });
}

void QueryServer::forget(const std::shared_ptr<QuerySession>& s) { sessions_.erase(s); }

void QueryServer::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_pause_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& s : sessions) s->close();
}

int QueryServer::unsigned_connections() const { return unsigned_->load(); }

}  // namespace amid
