#include "daemon/host/port_forwarder.h"

#include <unistd.h>

#include <array>
#include <utility>  // before Asio, whose headers use std::exchange

#include <boost/asio.hpp>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/error.h"
#include "daemon/host/log.h"

namespace amid {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One relayed connection: bytes each way until both sides have finished
// sending; an end of stream on one side is passed on as a half-close.
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(tcp::socket client, tcp::socket guest) : client_(std::move(client)), guest_(std::move(guest)) {}

  void start(const tcp::endpoint& target, std::function<void()> on_end) {
    on_end_ = std::move(on_end);
    guest_.async_connect(target, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->stop();  // the guest refuses or is unreachable: the client sees a reset
      self->pump(self->client_, self->guest_, self->up_);
      self->pump(self->guest_, self->client_, self->down_);
    });
  }

  void stop() {
    boost::system::error_code ignored;
    client_.close(ignored);
    guest_.close(ignored);
    if (on_end_) std::exchange(on_end_, nullptr)();
  }

 private:
  using Buffer = std::array<char, 64 * 1024>;

  void pump(tcp::socket& from, tcp::socket& to, Buffer& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                const boost::system::error_code& ec, std::size_t n) {
      if (ec) {
        if (ec != asio::error::eof) return self->stop();
        boost::system::error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
        if (++self->ended_ == 2) self->stop();
        return;
      }
      asio::async_write(to, asio::buffer(buf, n), [self, &from, &to, &buf](const boost::system::error_code& wec,
                                                                            std::size_t) {
        if (wec) return self->stop();
        self->pump(from, to, buf);
      });
    });
  }

  tcp::socket client_, guest_;
  Buffer up_{}, down_{};
  int ended_ = 0;
  std::function<void()> on_end_;
};

}  // namespace

struct PortForwarder::Impl {
  struct Forward {
    explicit Forward(asio::io_context& io) : acceptor(io) {}
    tcp::acceptor acceptor;
    tcp::endpoint target;
    std::set<std::shared_ptr<Relay>> relays;
  };

  explicit Impl(std::function<int()> make) : make_socket(std::move(make)), guard(io.get_executor()) {
    thread = std::thread([this] { io.run(); });
  }
  // Runs fn on the I/O thread and waits for it (exceptions travel back).
  template <typename Fn>
  auto run(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto done = task.get_future();
    asio::post(io, [&task] { task(); });
    return done.get();
  }

  ~Impl() {
    run([this] {
      for (auto& [key, f] : forwards) drop(*f);
      forwards.clear();
    });
    guard.reset();
    io.stop();
    thread.join();
  }

  void accept(const std::shared_ptr<Forward>& f) {
    f->acceptor.async_accept([this, f](const boost::system::error_code& ec, tcp::socket client) {
      if (ec) return;  // closed (operation_aborted) or out of descriptors: this forward stops accepting
      try {
        tcp::socket guest(io);
        guest.assign(tcp::v4(), make_socket());
        auto relay = std::make_shared<Relay>(std::move(client), std::move(guest));
        f->relays.insert(relay);
        // on_end runs inside one of the relay's own handlers, which holds it:
        // erasing it there does not destroy it under its feet.
        relay->start(f->target, [f, weak = std::weak_ptr<Relay>(relay)] {
          if (auto r = weak.lock()) f->relays.erase(r);
        });
      } catch (const std::exception& e) {
        log_warn(std::string("port forward: cannot reach the guest network: ") + e.what());
      }
      accept(f);
    });
  }

  static void drop(Forward& f) {
    boost::system::error_code ignored;
    f.acceptor.close(ignored);
    auto relays = std::move(f.relays);
    for (const auto& r : relays) r->stop();
  }

  std::function<int()> make_socket;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::map<std::string, std::shared_ptr<Forward>> forwards;  // I/O thread only
};

PortForwarder::PortForwarder(std::function<int()> make_socket)
    : impl_(std::make_unique<Impl>(std::move(make_socket))) {}

PortForwarder::~PortForwarder() = default;

std::uint16_t PortForwarder::open(const std::string& key, const std::string& guest_address, std::uint16_t guest_port,
                                  std::uint16_t host_port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address_v4(guest_address, ec);
  if (ec) throw AmidError(codes::kInternalError, "port forward: '" + guest_address + "' is not an IPv4 address");
  return impl_->run([&]() -> std::uint16_t {
    if (auto old = impl_->forwards.find(key); old != impl_->forwards.end()) {
      const std::uint16_t listening = old->second->acceptor.local_endpoint().port();
      if (old->second->target == tcp::endpoint(address, guest_port) && (host_port == 0 || host_port == listening)) {
        return listening;  // already there: its connections go on
      }
      Impl::drop(*old->second);
      impl_->forwards.erase(old);
    }
    auto f = std::make_shared<Impl::Forward>(impl_->io);
    f->target = tcp::endpoint(address, guest_port);
    auto listen_on = [&](std::uint16_t port) {
      boost::system::error_code e;
      f->acceptor.open(tcp::v4(), e);
      if (!e) f->acceptor.set_option(tcp::acceptor::reuse_address(true), e);
      if (!e) f->acceptor.bind(tcp::endpoint(asio::ip::address_v4::loopback(), port), e);
      if (!e) f->acceptor.listen(asio::socket_base::max_listen_connections, e);
      if (e) f->acceptor.close();
      return !e;
    };
    if (!(host_port != 0 && listen_on(host_port)) && !listen_on(0)) {
      throw AmidError(codes::kInternalError, "port forward: cannot listen on any port of 127.0.0.1");
    }
    impl_->forwards[key] = f;
    impl_->accept(f);
    return f->acceptor.local_endpoint().port();
  });
}

void PortForwarder::close(const std::string& key) {
  impl_->run([&] {
    auto it = impl_->forwards.find(key);
    if (it == impl_->forwards.end()) return;
    Impl::drop(*it->second);
    impl_->forwards.erase(it);
  });
}

std::size_t PortForwarder::connections() const {
  return impl_->run([&] {
    std::size_t n = 0;
    for (const auto& [key, f] : impl_->forwards) n += f->relays.size();
    return n;
  });
}

}  // namespace amid
