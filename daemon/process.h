// Runs a child program from an argv (never a shell) and collects its output.
// Thread-safe; blocks the calling thread, so call it from a worker.
#pragma once

#include <string>
#include <vector>

namespace amid {

struct ProcessResult {
  int exit_code = -1;  // -1 when it could not start or was killed by a signal
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv);

}  // namespace amid
