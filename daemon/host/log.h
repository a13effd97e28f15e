// Logging to stderr, one event a line. Under systemd (JOURNAL_STREAM set) each
// line starts with a syslog priority prefix "<N>" that journald understands.
// Thread-safe: a line is written with one write(2).
#pragma once

#include <string>

namespace amid {

void log_info(const std::string& message);
void log_warn(const std::string& message);
void log_error(const std::string& message);

}  // namespace amid
