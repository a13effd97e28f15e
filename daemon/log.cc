#include "daemon/log.h"

#include <unistd.h>

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
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    line = std::string(stamp) + " amid " + level + ": " + message + "\n";
  }
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

void log_info(const std::string& m) { emit(6, "info", m); }
void log_warn(const std::string& m) { emit(4, "warning", m); }
void log_error(const std::string& m) { emit(3, "error", m); }

}  // namespace amid
