#include "daemon/host/log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace amid {
namespace {

// systemd's own test for "stderr is my journal stream": JOURNAL_STREAM holds
// the stream's device and inode, and stderr still is that stream (not
// redirected by whoever started amid).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

// Sends the line to journald with its fields; false when journald took none of it.
bool send_to_journal(int priority, const std::string& message) {
  std::vector<std::string> fields = {"MESSAGE=" + message, "PRIORITY=" + std::to_string(priority),
                                     "SYSLOG_IDENTIFIER=amid"};
  for (const auto& [name, value] : log_fields(message)) fields.push_back(name + "=" + value);
  std::vector<iovec> iov;
  for (auto& f : fields) iov.push_back({f.data(), f.size()});
  return ::sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) == 0;
}

void emit(int priority, const char* level, const std::string& message) {
  static const bool journald = stderr_is_journal();
  if (journald && send_to_journal(priority, message)) return;
  std::string line;
  if (journald) {
    line = "<" + std::to_string(priority) + ">" + message + "\n";  // journald reads the prefix
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

std::vector<std::pair<std::string, std::string>> log_fields(const std::string& m) {
  std::vector<std::pair<std::string, std::string>> out;
  constexpr std::size_t kDigits = 17;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i > 0 && is_word(m[i - 1])) continue;  // ids start a word
    const char* field = nullptr;
    std::size_t prefix = 0;
    if (m.compare(i, 4, "ami-") == 0) {
      field = "AMID_IMAGE_ID", prefix = 4;
    } else if (m.compare(i, 2, "i-") == 0) {
      field = "AMID_INSTANCE_ID", prefix = 2;
    } else {
      continue;
    }
    std::size_t end = i + prefix;
    while (end < m.size() && is_hex(m[end])) ++end;
    if (end - (i + prefix) != kDigits || (end < m.size() && is_word(m[end]))) continue;
    std::pair<std::string, std::string> f{field, m.substr(i, end - i)};
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(std::move(f));
    i = end - 1;
  }
  return out;
}

void log_info(const std::string& m) { emit(6, "info", m); }
void log_warn(const std::string& m) { emit(4, "warning", m); }
void log_error(const std::string& m) { emit(3, "error", m); }

}  // namespace amid
