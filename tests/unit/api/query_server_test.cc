// EC2's HTTP door on a test port of 127.0.0.1, with the real handler and
// services behind it: real HTTP/1.1 over TCP, signed requests kept alive, and
// what a hostile client meets: an oversized body (413), a head flood (431), a
// slow or silent client (timed out), one account's crowd of connections (its
// share, not more: another account is still served), a crowd of unsigned ones.
// After each, the door still serves.
#include "daemon/api/query_server.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/unit/region_fixture.h"
#include "tests/unit/tcp_client.h"

namespace amid::testing {
namespace {

class QueryServerTest : public RegionFixture {
 protected:
  void TearDown() override {
    if (server_) {
      asio::post(io_, [this] { server_->stop(); });
      guard_.reset();
      io_.stop();
      io_thread_.join();
      workers_.join();
      readers_.join();
      server_.reset();
    }
    RegionFixture::TearDown();
  }

  void serve(ConnectionPolicy policy = {}, std::size_t max_body = 64 * 1024) {
    // nobody (uid 65534) may use amid through its group here: a second account with a user.
    AccessPolicy access;
    if (const passwd* pw = ::getpwnam("nobody")) access.socket_gid = pw->pw_gid;
    handler_ = std::make_unique<QueryHandler>(*dispatcher_, region_->access_keys(), access);
    limits_ = std::make_unique<ConnectionLimits>(policy);
    server_ = std::make_unique<QueryServer>(io_, workers_, readers_, *handler_, *limits_, max_body);
    port_ = server_->listen("127.0.0.1", 0);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  // A signed POST of `body`, as bytes on the wire.
  std::string signed_request(const AccessKeyRecord& key, const std::string& body, bool keep_alive = true) {
    sigv4::HttpRequest r{"POST", "/", {{"Host", "127.0.0.1:" + std::to_string(port_)},
                                       {"Content-Type", "application/x-www-form-urlencoded"}},
                         body};
    sigv4::sign(r, key.id, key.secret, "local-1", std::chrono::system_clock::now());
    std::string wire = "POST / HTTP/1.1\r\n";
    for (const auto& [name, value] : r.headers) wire += name + ": " + value + "\r\n";
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!keep_alive) wire += "Connection: close\r\n";
    return wire + "\r\n" + body;
  }

  static int status_of(const std::string& response) {
    return response.size() > 12 ? std::atoi(response.substr(9, 3).c_str()) : 0;
  }

  // One signed DescribeImages on its own connection: the answer's status.
  int describe_images(const AccessKeyRecord& key) {
    int fd = connect_from("127.0.0.1", port_);
    if (fd < 0) return -1;
    send_all(fd, signed_request(key, "Action=DescribeImages&Version=2016-11-15", false));
    int status = status_of(read_all(fd));
    ::close(fd);
    return status;
  }

  static Caller nobody() {
    Caller c = user_caller(65534);
    return c;
  }

  bool wait_for(const std::function<bool()>& done) {
    for (int i = 0; i < 500; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  asio::thread_pool workers_{2};
  asio::thread_pool readers_{1};
  std::thread io_thread_;
  std::unique_ptr<QueryHandler> handler_;
  std::unique_ptr<ConnectionLimits> limits_;
  std::unique_ptr<QueryServer> server_;
  unsigned short port_ = 0;
};

TEST_F(QueryServerTest, SignedRequestsAreAnsweredOnAKeptAliveConnection) {
  serve();
  auto key = region_->access_keys().create_access_key(root_);
  int fd = connect_from("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    send_all(fd, signed_request(key, "Action=DescribeImages&Version=2016-11-15"));
    std::string answer = read_response(fd);
    EXPECT_EQ(status_of(answer), 200) << answer;
    EXPECT_NE(answer.find("<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"),
              std::string::npos)
        << answer;
  }
  EXPECT_EQ(limits_->open_connections_of(0), 1) << "the connection holds its signer's place while open";
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return limits_->open_connections_of(0) == 0; }));
}

TEST_F(QueryServerTest, AnOversizedBodyOrHeadIsRefusedAndTheDoorServesOn) {
  serve({}, 4096);
  auto key = region_->access_keys().create_access_key(root_);
  int fd = connect_from("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  send_all(fd, signed_request(key, "Action=DescribeImages&Version=2016-11-15&Owner.1=" + std::string(8000, 'x')));
  std::string big = read_all(fd);
  ::close(fd);
  EXPECT_EQ(status_of(big), 413) << big;
  EXPECT_NE(big.find("<Code>RequestEntityTooLarge</Code>"), std::string::npos) << big;

  fd = connect_from("127.0.0.1", port_);
  std::string flood = "POST / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 1000; ++i) flood += "X-Flood-" + std::to_string(i) + ": " + std::string(20, 'y') + "\r\n";
  send_all(fd, flood + "\r\n");
  std::string heads = read_all(fd);
  ::close(fd);
  EXPECT_EQ(status_of(heads), 431) << heads;

  EXPECT_EQ(describe_images(key), 200);
}

TEST_F(QueryServerTest, ASlowClientIsTimedOutAndASilentOneClosed) {
  ConnectionPolicy policy;
  policy.request_timeout = std::chrono::milliseconds(300);
  serve(policy);
  auto key = region_->access_keys().create_access_key(root_);
  int slow = connect_from("127.0.0.1", port_);
  int silent = connect_from("127.0.0.1", port_);
  ASSERT_GE(slow, 0);
  ASSERT_GE(silent, 0);
  send_all(slow, "POST / HTTP/1.1\r\nHost: x\r\nContent-Le");  // ... and nothing more
  const auto start = std::chrono::steady_clock::now();
  std::string timed_out = read_all(slow, 3000);
  std::string nothing = read_all(silent, 3000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << "both were closed, not left open";
  EXPECT_EQ(timed_out, "") << "a request that does not arrive in full in time is closed";
  EXPECT_EQ(nothing, "") << "a connection that sent nothing is closed without an answer";
  ::close(slow);
  ::close(silent);
  EXPECT_TRUE(wait_for([&] { return server_->unsigned_connections() == 0; }));
  EXPECT_EQ(describe_images(key), 200);
}

TEST_F(QueryServerTest, OneAccountsCrowdOfConnectionsTakesItsShareAndAnotherIsStillServed) {
  if (!::getpwnam("nobody")) GTEST_SKIP() << "no user 'nobody' on this host to hold a second account's key";
  ConnectionPolicy policy;
  policy.max_connections = 64;
  policy.max_per_user = 4;
  policy.admin_reserved = 8;
  serve(policy);
  auto crowd_key = region_->access_keys().create_access_key(nobody());
  auto other_key = region_->access_keys().create_access_key(root_);
  // 200 connections of one key, each with a signed request and then idle.
  std::vector<int> fds;
  int served = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_from("127.0.0.1", port_);
    ASSERT_GE(fd, 0);
    send_all(fd, signed_request(crowd_key, "Action=DescribeImages&Version=2016-11-15"));
    std::string answer = read_response(fd);
    if (status_of(answer) == 200) ++served;
    if (status_of(answer) == 503 && answer.find("<Code>RequestLimitExceeded</Code>") != std::string::npos) ++refused;
    fds.push_back(fd);
  }
  EXPECT_EQ(served, 4) << "the account's share";
  EXPECT_EQ(refused, 196) << "the rest are told to retry, not dropped";
  EXPECT_EQ(limits_->open_connections_of(65534), 4);
  // Another account is served all the same.
  EXPECT_EQ(describe_images(other_key), 200);
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(wait_for([&] { return limits_->open_connections_of(65534) == 0; }));
  EXPECT_EQ(describe_images(crowd_key), 200) << "its places came back";
}

TEST_F(QueryServerTest, ACrowdOfUnsignedConnectionsIsCappedAndGoesAtItsTimeout) {
  ConnectionPolicy policy;
  policy.max_connections = 16;
  policy.max_per_user = 4;
  policy.admin_reserved = 2;
  policy.request_timeout = std::chrono::milliseconds(500);
  serve(policy);
  auto key = region_->access_keys().create_access_key(root_);
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) fds.push_back(connect_from("127.0.0.1", port_));
  EXPECT_TRUE(wait_for([&] { return server_->unsigned_connections() == 16; }))
      << server_->unsigned_connections() << " unsigned connections held; the cap is max_connections";
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(wait_for([&] { return server_->unsigned_connections() == 0; }));
  EXPECT_EQ(describe_images(key), 200);
}

}  // namespace
}  // namespace amid::testing
