#include "daemon/api/metadata_server.h"

// After daemon/api/asio.h (through the header): Boost 1.74 wants <utility> first.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <map>
#include <mutex>
#include <optional>

#include "common/error.h"
#include "daemon/host/log.h"

namespace amid {

namespace beast = boost::beast;
namespace http = boost::beast::http;

struct MetadataServer::Counts {
  mutable std::mutex mu;
  int total = 0;
  int refusing = 0;  // refused connections still being answered
  std::map<std::string, int> per_source;
  std::map<std::string, std::chrono::steady_clock::time_point> last_refusal_logged;
};

namespace {

// A connection's place in the counts; given back when the session ends.
class SourceSlot {
 public:
  SourceSlot(std::shared_ptr<MetadataServer::Counts> counts, std::string source, bool refused)
      : counts_(std::move(counts)), source_(std::move(source)), refused_(refused) {}
  SourceSlot(const SourceSlot&) = delete;
  SourceSlot& operator=(const SourceSlot&) = delete;
  ~SourceSlot() {
    std::lock_guard lock(counts_->mu);
    if (refused_) {
      --counts_->refusing;
      return;
    }
    --counts_->total;
    auto it = counts_->per_source.find(source_);
    if (it != counts_->per_source.end() && --it->second == 0) counts_->per_source.erase(it);
  }

 private:
  std::shared_ptr<MetadataServer::Counts> counts_;
  std::string source_;
  bool refused_;
};

const char* reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

}  // namespace

class MetadataSession : public std::enable_shared_from_this<MetadataSession> {
 public:
  // `refused`: over a limit; the request is read (so that the answer never
  // meets a reset) and answered 429 without reaching the service.
  MetadataSession(MetadataServer& server, asio::ip::tcp::socket socket, std::string peer,
                  std::unique_ptr<SourceSlot> slot, bool refused)
      : server_(server), stream_(std::move(socket)), buffer_(server.limits_.max_header_bytes +
                                                             server.limits_.max_body_bytes),
        peer_(std::move(peer)), slot_(std::move(slot)), refused_(refused) {}

  void start() { read_request(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::socket_base::shutdown_both, ignored);
    stream_.socket().close(ignored);
    slot_.reset();
    server_.forget(shared_from_this());
  }

 private:
  void read_request() {
    const auto& limits = server_.limits_;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser_->body_limit(limits.max_body_bytes);
    // The first request is timed from the connection; later ones from the
    // last answer (a kept-alive connection may wait that long, no longer).
    auto timeout = served_ == 0 ? limits.request_timeout : limits.idle_timeout;
    if (refused_) timeout = std::min(timeout, std::chrono::milliseconds(1000));
    stream_.expires_after(timeout);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::header_limit) return reply_and_close(431, "Request Header Fields Too Large\n");
    if (ec == http::error::body_limit) return reply_and_close(413, "Payload Too Large\n");
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return close();
    }
    if (ec) return reply_and_close(400, "Bad Request\n");
    if (refused_) return reply_and_close(429, "Too Many Requests: too many connections to the metadata service; "
                                              "retry in a moment\n");
    const auto& req = parser_->get();
    MetadataRequest request;
    request.method = std::string(req.method_string());
    std::string target(req.target());
    request.path = target.substr(0, target.find('?'));
    request.peer = peer_;
    if (auto it = req.find("X-aws-ec2-metadata-token"); it != req.end()) request.token = std::string(it->value());
    if (auto it = req.find("X-aws-ec2-metadata-token-ttl-seconds"); it != req.end()) {
      request.token_ttl = std::string(it->value());
    }
    request.forwarded = req.find("X-Forwarded-For") != req.end();
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive() && served_ + 1 < server_.limits_.max_requests_per_connection;
    const unsigned version = req.version();

    // The service reads the catalog: off the I/O thread, back to it to write.
    auto self = shared_from_this();
    asio::post(server_.workers_, [self, request = std::move(request), head, keep_alive, version] {
      MetadataAnswer answer;
      try {
        answer = self->server_.service_.handle(request);
      } catch (const std::exception& e) {
        log_warn("metadata: request of " + request.peer + " for " + request.path + " failed: " + e.what());
        answer.status = 500;
        answer.body = "Internal Server Error\n";
      }
      asio::post(self->server_.io_, [self, answer = std::move(answer), head, keep_alive, version]() mutable {
        self->write(std::move(answer), head, keep_alive, version);
      });
    });
  }

  void reply_and_close(int status, std::string body) {
    MetadataAnswer a;
    a.status = status;
    a.body = std::move(body);
    write(std::move(a), false, false, parser_ && parser_->is_header_done() ? parser_->get().version() : 11);
  }

  void write(MetadataAnswer answer, bool head, bool keep_alive, unsigned version) {
    if (closed_) return;
    ++served_;
    res_ = http::response<http::string_body>{};
    res_.version(version);
    res_.result(static_cast<unsigned>(answer.status));
    res_.reason(reason_of(answer.status));
    res_.set(http::field::server, "EC2ws");
    res_.set(http::field::content_type, "text/plain");
    for (auto& [name, value] : answer.headers) res_.set(name, value);
    res_.keep_alive(keep_alive);
    res_.content_length(answer.body.size());
    if (!head) res_.body() = std::move(answer.body);
    // A guest that does not read its answer is not waited for.
    stream_.expires_after(server_.limits_.request_timeout);
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

  MetadataServer& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::string peer_;
  std::unique_ptr<SourceSlot> slot_;
  std::array<char, 1024> scratch_{};
  bool refused_;
  int served_ = 0;
  bool closed_ = false;
};

MetadataServer::MetadataServer(asio::io_context& io, asio::thread_pool& workers, const MetadataService& service,
                               MetadataDoorLimits limits)
    : io_(io), workers_(workers), service_(service), limits_(limits), acceptor_(io), accept_pause_(io),
      counts_(std::make_shared<Counts>()) {}

MetadataServer::~MetadataServer() {
  if (!stopping_) stop();
}

void MetadataServer::adopt(int listening_fd) {
  boost::system::error_code ec;
  acceptor_.assign(asio::ip::tcp::v4(), listening_fd, ec);
  if (ec) throw AmidError(codes::kInternalError, "metadata: cannot serve the listening socket: " + ec.message());
  accept_next();
}

unsigned short MetadataServer::listen(const std::string& address, unsigned short port) {
  listen_tcp(acceptor_, address, port, "metadata");
  accept_next();
  return acceptor_.local_endpoint().port();
}

void MetadataServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (pause_if_exhausted(ec, accept_pause_, stopping_, [this] { accept_next(); })) {
      log_warn("metadata: accept failed: " + ec.message() + "; accepting again in 100 ms");
      return;
    }
    if (ec) {
      log_warn("metadata: accept failed: " + ec.message());
      return accept_next();
    }
    boost::system::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    if (peer_ec) return accept_next();  // gone already
    const std::string source = peer.address().to_string();

    std::unique_ptr<SourceSlot> slot;
    bool refused = false;
    bool log_it = false;
    std::string why;
    {
      std::lock_guard lock(counts_->mu);
      int& mine = counts_->per_source[source];
      if (counts_->total >= limits_.max_connections) {
        why = "the metadata service holds its maximum of " + std::to_string(limits_.max_connections) + " connections";
      } else if (mine >= limits_.max_per_source) {
        why = source + " already holds " + std::to_string(mine) + " connections, the most one address may";
      }
      if (why.empty()) {
        ++mine;
        ++counts_->total;
        slot = std::make_unique<SourceSlot>(counts_, source, false);
      } else {
        if (mine == 0) counts_->per_source.erase(source);
        refused = true;
        // Refusals are answered while few; beyond that the connection is dropped.
        if (counts_->refusing < limits_.max_connections) {
          ++counts_->refusing;
          slot = std::make_unique<SourceSlot>(counts_, source, true);
        }
        auto now = std::chrono::steady_clock::now();
        auto& last = counts_->last_refusal_logged[source];
        if (now - last > std::chrono::seconds(10)) {
          last = now;
          log_it = true;
        }
      }
    }
    if (log_it) log_warn("metadata: connection of " + source + " refused: " + why);
    if (refused && !slot) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return accept_next();
    }
    auto session = std::make_shared<MetadataSession>(*this, std::move(socket), source, std::move(slot), refused);
    sessions_.insert(session);
    session->start();
    accept_next();
  });
}

void MetadataServer::forget(const std::shared_ptr<MetadataSession>& s) { sessions_.erase(s); }

void MetadataServer::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_pause_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (const auto& s : sessions) s->close();
}

int MetadataServer::open_connections() const {
  std::lock_guard lock(counts_->mu);
  return counts_->total;
}

int MetadataServer::open_connections_from(const std::string& address) const {
  std::lock_guard lock(counts_->mu);
  auto it = counts_->per_source.find(address);
  return it == counts_->per_source.end() ? 0 : it->second;
}

}  // namespace amid
