// amictl's exit codes: fixed, documented in README, never reused.
#pragma once

#include <string>

namespace amid::cli {

enum ExitCode : int {
  kOk = 0,
  kFailed = 1,        // amid failed the request (InternalError and others)
  kBadArguments = 2,  // the command line or a parameter is wrong
  kUnreachable = 3,   // amid cannot be reached on its socket
  kNotFound = 4,      // an id names nothing the caller can see (*.NotFound)
  kWrongState = 5,    // the resource is not in a state that allows it
  kTimedOut = 6,      // a --wait / wait gave up
  kBusy = 7,          // amid refused the connection for load (RequestLimitExceeded): retry shortly
};

// Maps an EC2 error code to the exit code above.
ExitCode exit_code_for(const std::string& ec2_code);

}  // namespace amid::cli
