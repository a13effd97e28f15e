#include "daemon/host/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace amid {
namespace {

void emit(int priority, const char* level, const std::string& message) {
  static const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  std::string line;
  if (journald) {
    line = "<" + std::to_string(priority) + ">" + message + "\n";
  } else {
    // Milliseconds: pauses and job phases are read from the log (bench/).
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(ts.tv_nsec / 1000000));
    line = std::string(stamp) + ms + " amid " + level + ": " + message + "\n";
  }
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void log_info(const std::string& m) { emit(6, "info", m); }
void log_warn(const std::string& m) { emit(4, "warning", m); }
void log_error(const std::string& m) { emit(3, "error", m); }

}  // namespace amid
