// Who may use amid, and as whom: the one place where a connection's peer
// (SO_PEERCRED) or a signed request's account becomes a Caller. Every front
// door calls resolve_caller or resolve_account.
//
// Rules (README "Security model"): root, amid's own user and members of the
// socket group (default `amid`) may connect; members of the admin group (default
// `amid-admin`) and root see and manage everything; everyone else only what they
// own. (The files a caller names are opened with the caller's rights by
// host/user_file.h.)
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/services/caller.h"

namespace amid {

struct AccessPolicy {
  uid_t daemon_uid = 0;
  std::optional<gid_t> socket_gid;  // members may connect (unset: only root and amid's user)
  std::optional<gid_t> admin_gid;   // members manage everything (root always does)
};

// The gids a process holds (its primary and supplementary groups), from
// /proc/PID/status; empty when the process is gone.
std::vector<gid_t> process_groups(pid_t pid);

// The caller a peer is, or nullopt with `why` set when it may not use amid.
std::optional<Caller> resolve_caller(uid_t uid, gid_t gid, pid_t pid, const std::vector<gid_t>& groups,
                                     const AccessPolicy& policy, std::string& why);

// The caller a uid is when no process speaks for it (a request signed with an
// access key of that account): its passwd entry's group and its groups in the
// group database, as a login of that user would hold them, then the same rules.
// nullopt with `why` when the uid has no user here or may not use amid.
std::optional<Caller> resolve_account(uid_t uid, const AccessPolicy& policy, std::string& why);

}  // namespace amid
