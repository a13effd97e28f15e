// Logging, one event a line, thread-safe (one write or one datagram a line).
// From a shell: to stderr, with a UTC time to the millisecond. Under systemd
// (stderr is the journal stream named by JOURNAL_STREAM): to journald directly,
// with the line's priority and, for every instance or image id the line names,
// a field, so `journalctl AMID_INSTANCE_ID=i-...` shows that instance's story.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace amid {

void log_info(const std::string& message);
void log_warn(const std::string& message);
void log_error(const std::string& message);

// The journal fields of a line: AMID_INSTANCE_ID for each instance id
// (i- and 17 hex digits) and AMID_IMAGE_ID for each image id (ami-...) it
// names, in order, each once.
std::vector<std::pair<std::string, std::string>> log_fields(const std::string& message);

}  // namespace amid
