// host/guest_resume.h against a fake guest: a Unix socket that behaves as the
// tiny image's listener does (images/README.md): greet, read a message, answer.
#include "daemon/host/guest_resume.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>

#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using namespace std::chrono_literals;
using ::amid::testing::has_substr;

// Listens on `path`; each accepted connection is handed to `guest`.
class FakeGuest {
 public:
  FakeGuest(const std::string& path, std::function<void(int fd)> guest) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    thread_ = std::thread([this, guest] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      guest(c);
      ::close(c);
    });
  }
  ~FakeGuest() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }

 private:
  int fd_ = -1;
  std::thread thread_;
};

void say(int fd, const std::string& text) { ASSERT_EQ(::write(fd, text.data(), text.size()), ssize_t(text.size())); }

// Everything up to and including the line "end".
std::string read_message(int fd) {
  std::string got;
  char c;
  while (got.size() < 8192 && ::read(fd, &c, 1) == 1) {
    got += c;
    if (got.size() >= 5 && got.compare(got.size() - 5, 5, "\nend\n") == 0) break;
  }
  return got;
}

ResumeMessage message() {
  ResumeMessage m;
  m.instance_id = "i-0123456789abcdef0";
  m.time = 1796625875;
  m.seed = std::string("\x00\x01\xfe\xff", 4);
  m.hostname = "ip-172-31-0-5";
  m.network = "mac=52:54:00:12:34:56 address=172.31.0.5/20 gateway=172.31.0.1 metadata=169.254.169.254";
  m.user_data = "#!/bin/sh\necho hi\n";
  return m;
}

TEST(ResumeMessage, IsTheListenersLinesEndingWithEnd) {
  EXPECT_EQ(render_resume_message(message()),
            "amid-resume 1\n"
            "instance-id i-0123456789abcdef0\n"
            "time 1796625875\n"
            "seed AAH+/w==\n"
            "hostname ip-172-31-0-5\n"
            "network mac=52:54:00:12:34:56 address=172.31.0.5/20 gateway=172.31.0.1 metadata=169.254.169.254\n"
            "user-data IyEvYmluL3NoCmVjaG8gaGkK\n"
            "end\n");
  ResumeMessage bare = message();
  bare.hostname.clear();
  bare.network.clear();
  bare.user_data.reset();
  EXPECT_EQ(render_resume_message(bare), "amid-resume 1\ninstance-id i-0123456789abcdef0\ntime 1796625875\nseed AAH+/w==\nend\n");
}

TEST(ResumeMessage, RefusesWhatWouldBreakItsLines) {
  ResumeMessage m = message();
  m.network += "\nuser-data x";
  EXPECT_TRUE(has_substr(::amid::testing::thrown([&] { render_resume_message(m); }).what(), "network"));
  m = message();
  m.seed.clear();
  EXPECT_TRUE(has_substr(::amid::testing::thrown([&] { render_resume_message(m); }).what(), "seed"));
  m = message();
  m.instance_id.clear();
  EXPECT_TRUE(has_substr(::amid::testing::thrown([&] { render_resume_message(m); }).what(), "instance-id"));
}

// A guest saved while it waited for a message (it had greeted amid's earlier
// connection) never greets again: the message must not wait for a greeting.
TEST(ResumeGuest, SendsTheMessageToAGuestThatDoesNotGreet) {
  ::amid::testing::TempDir tmp;
  const std::string path = tmp.file("resume.sock");
  std::string received;
  {
    FakeGuest guest(path, [&](int fd) {
      received = read_message(fd);
      say(fd, "amid-resumed i-0123456789abcdef0\n");
    });
    resume_guest(path, message(), 5s);
  }
  EXPECT_EQ(received, render_resume_message(message()));
}

TEST(ResumeGuest, PassesOverTheGreetingAndAStaleAnswer) {
  ::amid::testing::TempDir tmp;
  const std::string path = tmp.file("resume.sock");
  std::string received;
  {
    FakeGuest guest(path, [&](int fd) {
      say(fd, "amid-resume-ready 1\n");
      received = read_message(fd);
      say(fd, "amid-resumed i-0000000000000000a\n");  // for a connection amid had left
      say(fd, "amid-resumed i-0123456789abcdef0\n");
    });
    resume_guest(path, message(), 5s);
  }
  EXPECT_EQ(received, render_resume_message(message()));
}

TEST(ResumeGuest, AGuestThatRefusesSaysWhy) {
  ::amid::testing::TempDir tmp;
  const std::string path = tmp.file("resume.sock");
  FakeGuest guest(path, [&](int fd) {
    say(fd, "amid-resume-ready 1\n");
    read_message(fd);
    say(fd, "amid-resume-failed cannot set the clock to 1796625875\n");
  });
  AmidError e = ::amid::testing::thrown([&] { resume_guest(path, message(), 5s); });
  EXPECT_TRUE(has_substr(e.what(), "refused its identity: cannot set the clock")) << e.what();
}

TEST(ResumeGuest, ASilentGuestIsAnErrorAtTheDeadline) {
  ::amid::testing::TempDir tmp;
  const std::string path = tmp.file("resume.sock");
  FakeGuest guest(path, [&](int fd) {
    say(fd, "amid-resume-ready 1\n");
    read_message(fd);
    std::this_thread::sleep_for(500ms);  // never answers
  });
  AmidError e = ::amid::testing::thrown([&] { resume_guest(path, message(), 200ms); });
  EXPECT_TRUE(has_substr(e.what(), "did not answer")) << e.what();
}

TEST(WaitForResumeListener, TrueOnceTheGuestGreetsFalseWithoutAListener) {
  ::amid::testing::TempDir tmp;
  const std::string path = tmp.file("resume.sock");
  EXPECT_FALSE(wait_for_resume_listener(path, 100ms)) << "no socket at all";
  {
    // QEMU accepts, but the guest (an image without the listener) never greets.
    FakeGuest silent(path, [](int) { std::this_thread::sleep_for(400ms); });
    EXPECT_FALSE(wait_for_resume_listener(path, 200ms));
  }
  ::unlink(path.c_str());
  // A listener that starts after a while (the guest is still booting).
  FakeGuest late(path, [](int fd) {
    std::this_thread::sleep_for(150ms);
    say(fd, "amid-resume-ready 1\n");
  });
  EXPECT_TRUE(wait_for_resume_listener(path, 5s));
}

}  // namespace
}  // namespace amid
