// A file for a secret amictl is handed once (a key pair's private key, an
// access key's secret): made new with mode 0600 before amid is asked, so that a
// path that cannot be written fails before a secret exists that nobody can use;
// removed again when nothing was written to it. Never overwrites a file.
#pragma once

#include <string>

namespace amid::cli {

class PrivateFile {
 public:
  // Throws std::invalid_argument naming `option` (--save-to) and the path.
  PrivateFile(const std::string& option, const std::string& path);
  ~PrivateFile();
  PrivateFile(const PrivateFile&) = delete;
  PrivateFile& operator=(const PrivateFile&) = delete;
  // Writes the whole text and closes the file. Throws std::runtime_error.
  void write(const std::string& text);

 private:
  std::string option_, path_;
  int fd_ = -1;
};

}  // namespace amid::cli
