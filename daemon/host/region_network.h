// A region's guest network on this machine: a Linux network namespace amid
// creates for the region, a bridge in it holding the subnet's gateway address,
// and each running instance's tap on that bridge (docs/NETWORK.md says why this
// and not QEMU's user network or passt).
//
// Guest addresses exist only inside the namespace: the host's own namespace
// never routes to them, and the namespace has no route out, so a guest reaches
// neither the host's loopback nor anything beyond the machine. amid reaches the
// guests with sockets it opens inside the namespace (socket_inside), which
// keep working from any thread.
//
// The namespace is named (ip netns: /run/netns/NAME) and outlives amid, as
// the guests do: a restarted amid adopts it. Needs root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN for setns); every step runs `ip` from iproute2. Blocking;
// errors are AmidError(InternalError) naming the command that failed.
#pragma once

#include <string>
#include <vector>

#include "common/ipv4.h"

namespace amid {

class RegionNetwork {
 public:
  // `name`: the namespace's name (amid-REGION); `gateway`: the bridge's address
  // with the subnet's prefix (172.31.0.1/20).
  RegionNetwork(std::string name, Ipv4Cidr gateway);

  const std::string& name() const { return name_; }
  const Ipv4Cidr& gateway() const { return gateway_; }

  // True when this process may create namespaces and move links (root).
  static bool supported(std::string* why_not);

  // Creates the namespace, brings its loopback up and makes the bridge with
  // the gateway address and the instance metadata service's address
  // (kMetadataAddress/32), each only where missing: safe on every amid start.
  void ensure();
  // Deletes the namespace (its bridge and any tap in it go with it).
  void remove();

  // A tap in the host's namespace for a domain about to start (one left over
  // from an earlier run, here or in the namespace, is deleted first): libvirt
  // opens it by name (<interface type='ethernet'>, managed='no').
  void create_tap(const std::string& tap);
  // Moves the tap, which QEMU holds open now, into the namespace, onto the
  // bridge, and brings it up. Call while the domain is still paused.
  void attach_tap(const std::string& tap);
  // Deletes the tap wherever it is; no error when it is gone.
  void remove_tap(const std::string& tap);
  // True when the tap sits in the namespace.
  bool has_tap(const std::string& tap) const;

  // A socket (socket(2)'s domain, type) created inside the namespace: connect
  // from it to a guest, or bind it to the gateway address. The caller owns it.
  int socket_inside(int domain, int type) const;

  // Replaces the namespace's nftables rules with `ruleset` (nft's language,
  // read by `nft -f`: one transaction, so traffic never sees half of it).
  void apply_filter(const std::string& ruleset);
  // A TCP socket inside the namespace, bound to address:port and listening
  // (SO_REUSEADDR, so that a restarted amid binds again at once). The caller
  // owns it. Throws AmidError naming the address when the bind fails.
  int listen_inside(const std::string& address, unsigned short port) const;

  // Runs `ip -n NAME ARGS...` and returns its output (for checks and tests).
  std::string ip_inside(const std::vector<std::string>& args) const;

  static constexpr const char* kBridge = "amidbr0";
  // Where guests find EC2's instance metadata service (api/metadata_server.h).
  static constexpr const char* kMetadataAddress = "169.254.169.254";

 private:
  std::string name_;
  Ipv4Cidr gateway_;
};

}  // namespace amid
