// cli/client.h against a stand-in amid on a Unix socket: a connection amid
// closed while idle is opened again, and an answer amid sent before it read the
// request (a refusal for load) is read, not lost to a failed send.
#include "cli/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/unit/test_support.h"

namespace amid::cli {
namespace {

class StandIn : public ::amid::testing::TempDirTest {
 protected:
  void SetUp() override {
    path_ = tmp_.file("amid.sock");
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener_, 8), 0);
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    ::close(listener_);
  }
  static std::string read_line(int fd) {
    std::string out;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') out += c;
    return out;
  }
  static void answer(int fd, const std::string& text) { (void)!::write(fd, text.data(), text.size()); }

  std::string path_;
  int listener_ = -1;
  std::thread server_;
};

TEST_F(StandIn, AConnectionClosedWhileIdleIsOpenedAgain) {
  server_ = std::thread([this] {
    for (int i = 0; i < 2; ++i) {
      int fd = ::accept(listener_, nullptr, nullptr);
      read_line(fd);
      answer(fd, protocol::encode_ok("req-" + std::to_string(i), {{"Images", protocol::Json::array()}}));
      ::close(fd);  // as amid after daemon.idle_timeout_seconds
    }
  });
  Client client(path_);
  auto first = client.call("DescribeImages", protocol::Json::object());
  EXPECT_TRUE(first.ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the stand-in has closed by now
  auto second = client.call("DescribeImages", protocol::Json::object());
  EXPECT_TRUE(second.ok) << second.error_message;
  EXPECT_EQ(second.request_id, "req-1") << "answered on a new connection";
}

TEST_F(StandIn, ARefusalSentBeforeTheRequestIsTheAnswer) {
  server_ = std::thread([this] {
    int fd = ::accept(listener_, nullptr, nullptr);
    answer(fd, protocol::encode_error("req-0", "RequestLimitExceeded", "too many connections; retry"));
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);  // without reading: the client's send fails with EPIPE
  });
  Client client(path_);
  // A request long enough that it cannot all be sent before the close is seen.
  protocol::Json params = {{"Description", std::string(512 * 1024, 'x')}};
  protocol::Response r;
  ASSERT_NO_THROW(r = client.call("RegisterImage", params));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, "RequestLimitExceeded");
  EXPECT_EQ(r.error_message, "too many connections; retry");
}

}  // namespace
}  // namespace amid::cli
