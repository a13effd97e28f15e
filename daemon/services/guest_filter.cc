#include "daemon/services/guest_filter.h"

#include <map>
#include <set>

#include "daemon/host/log.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/security_group_service.h"

namespace amid {
namespace {

std::string port_range(int from, int to) {
  return from == to ? std::to_string(from) : std::to_string(from) + "-" + std::to_string(to);
}

// One rule as an nft statement, or "" for one nothing matches.
std::string statement(const SecurityGroupRule& rule) {
  const std::string from = "ip saddr " + rule.cidr + " ";
  if (rule.protocol == "-1") return from + "accept";
  if (rule.protocol == "tcp" || rule.protocol == "udp") {
    return from + rule.protocol + " dport " + port_range(rule.from_port, rule.to_port) + " accept";
  }
  if (rule.protocol == "icmp") {
    if (rule.from_port < 0) return from + "ip protocol icmp accept";
    std::string s = from + "icmp type " + std::to_string(rule.from_port);
    if (rule.to_port >= 0) s += " icmp code " + std::to_string(rule.to_port);
    return s + " accept";
  }
  return "";
}

}  // namespace

std::string filter_ruleset(const std::vector<GuestIngress>& guests) {
  // Declaring the table before deleting it makes the delete safe when there is
  // none yet; nft applies the whole file as one transaction.
  std::string out =
      "table bridge amid {}\n"
      "delete table bridge amid\n"
      "table bridge amid {\n"
      "  chain guests {\n"
      "    type filter hook forward priority 0; policy accept;\n"
      "    ether type arp accept\n";
  std::string own_source;  // each tap's frames carry its guest's address, or go no further
  for (const auto& g : guests) {
    own_source += "    iifname \"" + g.tap + "\" ether type ip ip saddr != " + g.address + " drop\n";
  }
  out += own_source;
  for (const auto& g : guests) out += "    oifname \"" + g.tap + "\" jump to_" + g.tap + "\n";
  // A tap amid has no rules for (a guest it does not know of) admits nothing.
  out += "    oifname \"amid*\" drop\n  }\n";
  // Frames for the namespace itself (the gateway, the metadata service).
  out += "  chain to_amid {\n    type filter hook input priority 0; policy accept;\n" + own_source + "  }\n";
  for (const auto& g : guests) {
    out += "  chain to_" + g.tap + " {\n";
    out += "    ether type != ip drop\n";
    // Stateless: a tcp packet that is not a connection's first passes (the
    // first, a SYN alone, must be allowed below); icmp's replies pass.
    out += "    tcp flags & (syn | ack) != syn accept\n";
    out += "    icmp type { echo-reply, destination-unreachable, time-exceeded } accept\n";
    if (!g.peers.empty()) {
      std::string set;
      for (const auto& p : g.peers) set += (set.empty() ? "" : ", ") + p;
      out += "    ip saddr { " + set + " } accept\n";
    }
    for (const auto& r : g.rules) {
      if (std::string s = statement(r); !s.empty()) out += "    " + s + "\n";
    }
    out += "    drop\n  }\n";
  }
  return out + "}\n";
}

void update_filter(Runtime& rt) {
  if (!rt.network) return;
  try {
    std::lock_guard lock(rt.filter_mu);
    std::vector<InstanceRecord> guests;
    for (auto& rec : rt.catalog.list_instances()) {
      const bool up = rec.state == InstanceState::kPending || rec.state == InstanceState::kRunning ||
                      rec.state == InstanceState::kStopping;
      if (rec.region == rt.settings.region && up && !rec.private_ip.empty()) guests.push_back(std::move(rec));
    }
    // EC2's default group admits its own members (its one rule on EC2, implied here).
    std::map<std::string, std::set<std::string>> default_members;  // group id -> addresses
    for (const auto& g : guests) {
      for (const auto& ref : g.security_groups) {
        if (ref.name == kDefaultGroupName) default_members[ref.id].insert(g.private_ip);
      }
    }
    std::vector<GuestIngress> filter;
    for (const auto& g : guests) {
      GuestIngress in{tap_of(g.id), g.private_ip, effective_ingress(rt.catalog, g.id), {}};
      std::set<std::string> peers;
      for (const auto& ref : g.security_groups) {
        if (auto it = default_members.find(ref.id); it != default_members.end()) {
          peers.insert(it->second.begin(), it->second.end());
        }
      }
      peers.erase(g.private_ip);
      in.peers.assign(peers.begin(), peers.end());
      filter.push_back(std::move(in));
    }
    rt.network->apply_filter(filter_ruleset(filter));
  } catch (const std::exception& e) {
    log_warn("region " + rt.settings.region + ": cannot update the filter between guests (they keep the one " +
             "they had): " + e.what());
  }
}

}  // namespace amid
