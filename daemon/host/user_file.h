// Files a user names (register-image --disk, --kernel, --ramdisk), opened with
// that user's own rights: by a thread that has taken on the user's uid, gid and
// groups for file access, so the kernel checks every folder on the way,
// symlinks and ACLs exactly as for the user; amid then reads only through that
// descriptor (no check-then-use race).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace amid {

// Whose rights a file is opened with.
struct UserIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // primary and supplementary
};

// A file a user named, opened read-only with that user's rights.
class UserFile {
 public:
  UserFile() = default;
  explicit UserFile(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~UserFile();
  UserFile(UserFile&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  UserFile& operator=(UserFile&& o) noexcept;
  UserFile(const UserFile&) = delete;
  UserFile& operator=(const UserFile&) = delete;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  // A path other programs (qemu-img) can open to read this very file while it is
  // held open: /proc/<amid's pid>/fd/<fd>.
  std::string proc_path() const;

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Opens `path` for `user`: absolute, a regular file the user may read (as the
// kernel decides for the user), at most max_bytes. Errors name `field`:
// InvalidParameterValue for the path's form or size, InvalidParameterValue.Disk
// when it is missing, not a file, or not readable by the user.
UserFile open_as_user(const UserIdentity& user, const std::string& field, const std::string& path,
                      std::uint64_t max_bytes);

}  // namespace amid
