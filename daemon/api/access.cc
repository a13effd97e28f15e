#include "daemon/api/access.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/ids.h"

namespace amid {

std::vector<gid_t> process_groups(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::vector<gid_t> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Gid:", 0) == 0) {
      std::istringstream f(line.substr(4));
      gid_t real = 0;
      if (f >> real) out.push_back(real);
    } else if (line.rfind("Groups:", 0) == 0) {
      std::istringstream f(line.substr(7));
      gid_t g = 0;
      while (f >> g) out.push_back(g);
    }
  }
  return out;
}

std::optional<Caller> resolve_caller(uid_t uid, gid_t gid, pid_t pid, const std::vector<gid_t>& groups,
                                     const AccessPolicy& policy, std::string& why) {
  auto member = [&](std::optional<gid_t> g) {
    return g && (gid == *g || std::find(groups.begin(), groups.end(), *g) != groups.end());
  };
  Caller c;
  c.uid = uid;
  c.gid = gid;
  c.pid = pid;
  c.groups = groups;
  if (std::find(c.groups.begin(), c.groups.end(), gid) == c.groups.end()) c.groups.push_back(gid);
  c.account = account_id(uid);
  c.admin = uid == 0 || member(policy.admin_gid);
  if (!(uid == 0 || uid == policy.daemon_uid || c.admin || member(policy.socket_gid))) {
    why = "uid " + std::to_string(uid) + " is not in amid's group";
    return std::nullopt;
  }
  return c;
}

std::optional<Caller> resolve_account(uid_t uid, const AccessPolicy& policy, std::string& why) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) {
    why = "account " + account_id(uid) + " has no user on this host any more";
    return std::nullopt;
  }
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  while (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    if (n <= static_cast<int>(groups.size()) || n > 65536) {
      why = "the groups of account " + account_id(uid) + " cannot be read";
      return std::nullopt;
    }
    groups.resize(static_cast<std::size_t>(n));
  }
  groups.resize(static_cast<std::size_t>(n));
  return resolve_caller(uid, pw.pw_gid, 0, groups, policy, why);
}

}  // namespace amid
