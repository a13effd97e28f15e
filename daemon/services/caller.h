// Who is asking: taken from SO_PEERCRED by the server, never from the request.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "daemon/host/user_file.h"

namespace amid {

struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // primary and supplementary, as the connecting process had them
  bool admin = false;      // root or the admin group: sees and manages everything
  std::string account;     // uid as a 12-digit account id

  // The one ownership rule: owners and admins may act on a resource.
  bool may_manage(const std::string& owner_account) const { return admin || owner_account == account; }
  // Whose rights the files the caller names are opened with.
  UserIdentity identity() const { return {uid, gid, groups}; }
};

}  // namespace amid
