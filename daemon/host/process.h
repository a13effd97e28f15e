// Runs a child program from an argv (never a shell) and collects its output.
// Thread-safe; blocks the calling thread, so call it from a worker.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace amid {

struct ProcessResult {
  int exit_code = -1;  // -1 when it could not start or was killed by a signal
  std::string out;
  std::string err;
};

// on_line, when given, sees each stdout line (split at '\n' or '\r') as it arrives.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::function<void(const std::string&)>& on_line = nullptr);

}  // namespace amid
