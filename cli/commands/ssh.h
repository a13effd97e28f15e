// amictl ssh: OpenSSH to an instance through the forward amid opens for its
// port 22 (docs/NETWORK.md), as `multipass shell` does. The plan (which user,
// key, port, or why not) is pure, for tests; the command runs ssh in amictl's place.
#pragma once

#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "common/protocol.h"

namespace amid::cli {

struct SshRequest {
  std::string instance_id;
  std::string key;                   // --key ("" = find the key pair's file)
  std::string user = "admin";        // --user (the Debian template's, as on Debian's AWS images)
  std::vector<std::string> command;  // after --
  std::string home;                  // $HOME, where ~/.ssh/KEYNAME(.pem) is looked for
  std::string known_hosts;           // amid's own known_hosts file
};

struct SshPlan {
  std::vector<std::string> argv;  // ssh and its arguments; empty when `error` says why not
  std::uint16_t port = 0;         // the host port forwarded to the guest's 22
  std::string error;              // one line: what is wrong and what to do
  ExitCode exit_code = kOk;
};

// The ssh command line for `instance` (one of DescribeInstances' Instances), or
// the reason it cannot be: the instance not running, no network interface, no
// rule admitting tcp 22 from 127.0.0.1, the key file missing.
SshPlan plan_ssh(const protocol::Json& instance, const SshRequest& request);

}  // namespace amid::cli
