// The metadata service's HTTP door on 127.0.0.1 (a test port; amid's own sits
// on 169.254.169.254:80 in a region's namespace): real HTTP/1.1 over TCP, the
// asking instance told apart by the client's source address (127.0.0.2,
// 127.0.0.3, ... each hold an instance's address here), and the door's limits.
#include "daemon/api/metadata_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/unit/region_fixture.h"
#include "tests/unit/tcp_client.h"

namespace amid::testing {
namespace {

class MetadataServerTest : public RegionFixture {
 protected:
  void TearDown() override {
    if (server_) {
      asio::post(io_, [this] { server_->stop(); });
      guard_.reset();
      io_.stop();
      io_thread_.join();
      workers_.join();
      server_.reset();
    }
    RegionFixture::TearDown();
  }

  void serve(MetadataDoorLimits limits = {}) {
    server_ = std::make_unique<MetadataServer>(io_, workers_, region_->metadata(), limits);
    port_ = server_->listen("127.0.0.1", 0);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  InstanceRecord add_instance(const std::string& ip) { return add_running_instance_at(ip); }

  // One request on its own connection, answered and closed.
  std::string request(const std::string& from, const std::string& head) {
    int fd = connect_from(from, port_);
    if (fd < 0) return "";
    send_all(fd, head);
    std::string out = read_all(fd);
    ::close(fd);
    return out;
  }
  std::string get(const std::string& from, const std::string& path, const std::string& extra = "") {
    return request(from, "GET " + path + " HTTP/1.1\r\nHost: 169.254.169.254\r\n" + extra +
                             "Connection: close\r\n\r\n");
  }

  bool wait_for(const std::function<bool()>& done) {
    for (int i = 0; i < 300; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  asio::thread_pool workers_{1};
  std::thread io_thread_;
  std::unique_ptr<MetadataServer> server_;
  unsigned short port_ = 0;
};

TEST_F(MetadataServerTest, ServesTheAskersMetadataOverHttp) {
  auto a = add_instance("127.0.0.2");
  auto b = add_instance("127.0.0.3");
  serve();
  std::string r = get("127.0.0.2", "/latest/meta-data/instance-id");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain\r\n"), std::string::npos) << r;
  EXPECT_EQ(body_of(r), a.id);
  EXPECT_EQ(body_of(get("127.0.0.3", "/latest/meta-data/instance-id")), b.id);
  EXPECT_EQ(body_of(get("127.0.0.3", "/latest/meta-data/local-ipv4")), "127.0.0.3");
  EXPECT_EQ(get("127.0.0.2", "/latest/meta-data/nothing-here").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get("127.0.0.9", "/latest/meta-data/instance-id").rfind("HTTP/1.1 403", 0), 0u) << "nobody's address";
  // A query string does not change the path.
  EXPECT_EQ(body_of(get("127.0.0.2", "/latest/meta-data/instance-id?x=1")), a.id);
  // HTTP/1.0, as a plain `nc` sends it.
  std::string old = request("127.0.0.2", "GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.rfind("HTTP/1.0 200", 0), 0u) << old;
  EXPECT_EQ(body_of(old), a.id);
}

TEST_F(MetadataServerTest, HeadTellsTheLengthWithoutTheBodyAndOtherMethodsAre405) {
  auto a = add_instance("127.0.0.2");
  serve();
  std::string r = request("127.0.0.2", "HEAD /latest/meta-data/instance-id HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: " + std::to_string(a.id.size()) + "\r\n"), std::string::npos) << r;
  EXPECT_EQ(body_of(r), "");
  std::string post = request("127.0.0.2", "POST /latest/meta-data/instance-id HTTP/1.1\r\nContent-Length: 0\r\n"
                                          "Connection: close\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD, PUT\r\n"), std::string::npos) << post;
}

TEST_F(MetadataServerTest, Imdsv2TokensOverHttp) {
  auto a = add_instance("127.0.0.2");
  add_instance("127.0.0.3");
  serve();
  std::string put = request("127.0.0.2", "PUT /latest/api/token HTTP/1.1\r\n"
                                         "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(put.rfind("HTTP/1.1 200", 0), 0u) << put;
  EXPECT_NE(put.find("X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"), std::string::npos) << put;
  const std::string token = body_of(put);
  ASSERT_FALSE(token.empty());

  std::string ok = get("127.0.0.2", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token: " + token + "\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_EQ(body_of(ok), a.id);
  std::string theirs = get("127.0.0.3", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token: " + token + "\r\n");
  EXPECT_EQ(theirs.rfind("HTTP/1.1 401", 0), 0u) << theirs;
  std::string wrong = get("127.0.0.2", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token: AAAA\r\n");
  EXPECT_EQ(wrong.rfind("HTTP/1.1 401", 0), 0u) << wrong;

  std::string no_ttl = request("127.0.0.2", "PUT /latest/api/token HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(no_ttl.rfind("HTTP/1.1 400", 0), 0u) << no_ttl;
  std::string too_long = request("127.0.0.2", "PUT /latest/api/token HTTP/1.1\r\n"
                                              "X-aws-ec2-metadata-token-ttl-seconds: 21601\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(too_long.rfind("HTTP/1.1 400", 0), 0u) << too_long;
  std::string proxied = request("127.0.0.2", "PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\n"
                                             "X-aws-ec2-metadata-token-ttl-seconds: 60\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(proxied.rfind("HTTP/1.1 403", 0), 0u) << proxied;
}

TEST_F(MetadataServerTest, AKeptAliveConnectionServesSeveralRequests) {
  auto a = add_instance("127.0.0.2");
  serve();
  int fd = connect_from("127.0.0.2", port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n"
               "GET /latest/meta-data/placement/region HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string both = read_all(fd);
  ::close(fd);
  auto second = both.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << both;
  EXPECT_NE(both.find(a.id), std::string::npos);
  EXPECT_EQ(body_of(both.substr(second)), "local-1");
}

TEST_F(MetadataServerTest, OneAddressHoldsAtMostItsShareOfConnections) {
  add_instance("127.0.0.2");
  add_instance("127.0.0.3");
  MetadataDoorLimits limits;
  limits.max_per_source = 3;
  limits.max_connections = 5;
  serve(limits);
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_from("127.0.0.2", port_));
  ASSERT_TRUE(wait_for([&] { return server_->open_connections_from("127.0.0.2") == 3; }));

  // A fourth from the same address is answered 429 and closed...
  std::string refused = get("127.0.0.2", "/latest/meta-data/instance-id");
  EXPECT_EQ(refused.rfind("HTTP/1.1 429", 0), 0u) << refused;
  // ...while another instance is still served.
  EXPECT_EQ(get("127.0.0.3", "/latest/meta-data/instance-id").rfind("HTTP/1.1 200", 0), 0u);

  // The whole door: 3 + 2 more fill it, and a third address is turned away.
  ASSERT_TRUE(wait_for([&] { return server_->open_connections() == 3; }));
  idle.push_back(connect_from("127.0.0.3", port_));
  idle.push_back(connect_from("127.0.0.3", port_));
  ASSERT_TRUE(wait_for([&] { return server_->open_connections() == 5; }));
  EXPECT_EQ(get("127.0.0.4", "/latest/meta-data/instance-id").rfind("HTTP/1.1 429", 0), 0u);

  for (int fd : idle) ::close(fd);
  ASSERT_TRUE(wait_for([&] { return server_->open_connections() == 0; })) << "closed connections give their place back";
  EXPECT_EQ(get("127.0.0.2", "/latest/meta-data/instance-id").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(MetadataServerTest, ASilentConnectionIsClosedAndAnOversizedRequestRefused) {
  add_instance("127.0.0.2");
  MetadataDoorLimits limits;
  limits.request_timeout = std::chrono::milliseconds(200);
  limits.idle_timeout = std::chrono::milliseconds(200);
  serve(limits);
  int fd = connect_from("127.0.0.2", port_);
  ASSERT_GE(fd, 0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(fd, 3000), "") << "closed without an answer";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ::close(fd);
  ASSERT_TRUE(wait_for([&] { return server_->open_connections() == 0; }));

  // A trickled request is timed from the connection, not from its last byte.
  fd = connect_from("127.0.0.2", port_);
  send_all(fd, "GET /latest/meta-data/ HTTP/1.1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  send_all(fd, "Host: x\r\n");
  EXPECT_EQ(read_all(fd, 3000), "");
  ::close(fd);

  std::string huge = "GET /latest/meta-data/ HTTP/1.1\r\nX-Padding: " + std::string(16 * 1024, 'a') + "\r\n\r\n";
  std::string r = request("127.0.0.2", huge);
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r.substr(0, 200);
  std::string body = request("127.0.0.2", "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" +
                                              std::string(2048, 'b'));
  EXPECT_EQ(body.rfind("HTTP/1.1 413", 0), 0u) << body.substr(0, 200);
  std::string garbage = request("127.0.0.2", "\x16\x03\x01 not http at all\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;
}

}  // namespace
}  // namespace amid::testing
