#include "cli/private_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace amid::cli {

PrivateFile::PrivateFile(const std::string& option, const std::string& path) : option_(option), path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw std::invalid_argument(option + ": cannot create " + path + ": " + std::strerror(errno) +
                                (errno == EEXIST ? " (amictl never overwrites a secret's file; remove it or pick another path)"
                                                 : ""));
  }
}

PrivateFile::~PrivateFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());  // not written: leave nothing behind
  }
}

void PrivateFile::write(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(option_ + ": cannot write " + path_ + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw std::runtime_error(option_ + ": cannot write " + path_ + ": " + std::strerror(errno));
  }
  fd_ = -1;
}

}  // namespace amid::cli
