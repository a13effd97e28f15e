#include "daemon/host/region_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "daemon/host/process.h"

namespace amid {

namespace {

std::string ip(const std::vector<std::string>& args, bool tolerate_failure = false) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv);
  if (r.exit_code != 0 && !tolerate_failure) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw AmidError(codes::kInternalError, "network: '" + cmd + "' failed: " + r.err);
  }
  return r.out;
}

// `where`: {} for the host's namespace, {"-n", NAME} for another.
bool link_exists(const std::vector<std::string>& where, const std::string& link) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), where.begin(), where.end());
  argv.insert(argv.end(), {"link", "show", "dev", link});
  return run_process(argv).exit_code == 0;
}

}  // namespace

RegionNetwork::RegionNetwork(std::string name, Ipv4Cidr gateway) : name_(std::move(name)), gateway_(gateway) {}

bool RegionNetwork::supported(std::string* why_not) {
  if (::geteuid() != 0) {
    if (why_not) *why_not = "amid is not root, and only root may create network namespaces";
    return false;
  }
  if (run_process({"ip", "-V"}).exit_code != 0) {
    if (why_not) *why_not = "the ip command (iproute2) is not installed";
    return false;
  }
  return true;
}

void RegionNetwork::ensure() {
  if (::access(("/run/netns/" + name_).c_str(), F_OK) != 0) ip({"netns", "add", name_});
  ip({"-n", name_, "link", "set", "lo", "up"});
  if (!link_exists({"-n", name_}, kBridge)) ip({"-n", name_, "link", "add", kBridge, "type", "bridge"});
  // The gateway's and the metadata service's addresses, once each (ip refuses
  // to add one twice).
  const std::string have = ip({"-n", name_, "-o", "-4", "addr", "show", "dev", kBridge});
  for (const std::string& address : {gateway_.str(), std::string(kMetadataAddress) + "/32"}) {
    if (have.find(" " + address + " ") == std::string::npos) ip({"-n", name_, "addr", "add", address, "dev", kBridge});
  }
  ip({"-n", name_, "link", "set", kBridge, "up"});
}

void RegionNetwork::apply_filter(const std::string& ruleset) {
  char path[] = "/tmp/amid-nft-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw AmidError(codes::kInternalError, std::string("network: cannot make a temp file: ") + std::strerror(errno));
  bool written = ::write(fd, ruleset.data(), ruleset.size()) == static_cast<ssize_t>(ruleset.size());
  ::close(fd);
  ProcessResult r;
  if (written) r = run_process({"ip", "netns", "exec", name_, "nft", "-f", path});
  ::unlink(path);
  if (!written) throw AmidError(codes::kInternalError, "network: cannot write the filter's rules to " + std::string(path));
  if (r.exit_code != 0) {
    throw AmidError(codes::kInternalError, "network: nft in namespace " + name_ + " failed" +
                                               (r.exit_code == 127 || r.err.find("nft") != std::string::npos
                                                    ? " (is nftables installed? apt install nftables)"
                                                    : "") +
                                               ": " + r.err);
  }
}

void RegionNetwork::remove() { ip({"netns", "delete", name_}, /*tolerate_failure=*/true); }

void RegionNetwork::create_tap(const std::string& tap) {
  remove_tap(tap);
  ip({"tuntap", "add", "dev", tap, "mode", "tap"});
}

void RegionNetwork::attach_tap(const std::string& tap) {
  ip({"link", "set", "dev", tap, "netns", name_});
  ip({"-n", name_, "link", "set", "dev", tap, "master", kBridge, "up"});  // one request, one process fewer
}

void RegionNetwork::remove_tap(const std::string& tap) {
  if (link_exists({}, tap)) ip({"link", "delete", "dev", tap}, true);
  if (link_exists({"-n", name_}, tap)) ip({"-n", name_, "link", "delete", "dev", tap}, true);
}

bool RegionNetwork::has_tap(const std::string& tap) const { return link_exists({"-n", name_}, tap); }

std::string RegionNetwork::ip_inside(const std::vector<std::string>& args) const {
  std::vector<std::string> all = {"-n", name_};
  all.insert(all.end(), args.begin(), args.end());
  return ip(all);
}

int RegionNetwork::socket_inside(int domain, int type) const {
  // setns changes only the calling thread's namespace: a short-lived thread
  // enters the namespace and makes the socket, which stays in it for good.
  int fd = -1;
  int err = 0;
  std::string path = "/run/netns/" + name_;
  std::thread maker([&] {
    int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      err = errno;
      return;
    }
    if (::setns(ns, CLONE_NEWNET) != 0) {
      err = errno;
    } else {
      fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
      if (fd < 0) err = errno;
    }
    ::close(ns);
  });
  maker.join();
  if (fd < 0) {
    throw AmidError(codes::kInternalError,
                    "network: cannot open a socket in namespace " + name_ + ": " + std::strerror(err));
  }
  return fd;
}

int RegionNetwork::listen_inside(const std::string& address, unsigned short port) const {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    throw AmidError(codes::kInternalError, "network: '" + address + "' is not an IPv4 address");
  }
  int fd = socket_inside(AF_INET, SOCK_STREAM);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    throw AmidError(codes::kInternalError, "network: cannot listen on " + address + ":" + std::to_string(port) +
                                               " in namespace " + name_ + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace amid
