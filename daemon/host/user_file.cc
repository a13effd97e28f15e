#include "daemon/host/user_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.h"

namespace amid {

UserFile::~UserFile() {
  if (fd_ >= 0) ::close(fd_);
}

UserFile& UserFile::operator=(UserFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    size_ = o.size_;
    o.fd_ = -1;
  }
  return *this;
}

std::string UserFile::proc_path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_);
}

namespace {
// Opens with the user's file-system identity. Runs on a thread of its own:
// setfsuid, setfsgid and setgroups made as raw system calls change only the
// calling thread's credentials, and the thread ends right after.
int open_with_identity(const UserIdentity& user, const std::string& path, int& err) {
  int fd = -1;
  std::thread t([&] {
    if (::geteuid() == 0 && user.uid != 0) {
      std::vector<gid_t> groups = user.groups;
      if (::syscall(SYS_setgroups, groups.size(), groups.data()) != 0 ||
          (::syscall(SYS_setfsgid, user.gid), static_cast<gid_t>(::syscall(SYS_setfsgid, -1)) != user.gid) ||
          (::syscall(SYS_setfsuid, user.uid), static_cast<uid_t>(::syscall(SYS_setfsuid, -1)) != user.uid)) {
        err = EPERM;
        return;
      }
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    err = fd < 0 ? errno : 0;
  });
  t.join();
  return fd;
}
}  // namespace

UserFile open_as_user(const UserIdentity& user, const std::string& field, const std::string& path,
                      std::uint64_t max_bytes) {
  if (path.empty() || path[0] != '/') {
    throw AmidError(codes::kInvalidParameterValue, field + ": must be an absolute path");
  }
  int err = 0;
  int fd = open_with_identity(user, path, err);
  if (fd < 0) {
    if (err == EACCES || err == EPERM) {
      throw AmidError(codes::kInvalidDisk, field + ": " + path +
                                               " is not readable by you (uid " + std::to_string(user.uid) +
                                               "): check the file's and its folders' permissions");
    }
    throw AmidError(codes::kInvalidDisk, field + ": cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) st.st_mode = 0;
  UserFile file(fd, static_cast<std::uint64_t>(st.st_size));  // closes fd on every path
  if (!S_ISREG(st.st_mode)) {
    throw AmidError(codes::kInvalidDisk, field + ": " + path + " is not a regular file");
  }
  // Reads from here on block as usual.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (file.size() > max_bytes) {
    throw AmidError(codes::kInvalidParameterValue,
                    field + ": " + path + " is larger than " + std::to_string(max_bytes >> 20) + " MiB");
  }
  return file;
}

}  // namespace amid
