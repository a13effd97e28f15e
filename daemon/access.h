// Who may use amid, and as whom: the one place where a connection's peer
// (SO_PEERCRED) becomes a Caller, and where a caller's file paths are opened
// with the caller's own rights.
//
// Rules (README "Security model"): root, amid's own user and members of the
// socket group (default `amid`) may connect; members of the admin group (default
// `amid-admin`) and root see and manage everything; everyone else only what they
// own. A path a caller names (register-image --disk, --kernel, --ramdisk) is
// opened by a thread that has taken on the caller's uid, gid and groups for file
// access, so the kernel checks every folder on the way, symlinks and ACLs exactly
// as for the caller; amid then reads only through that descriptor (no
// check-then-use race).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/caller.h"

namespace amid {

struct AccessPolicy {
  uid_t daemon_uid = 0;
  std::optional<gid_t> socket_gid;  // members may connect (unset: only root and amid's user)
  std::optional<gid_t> admin_gid;   // members manage everything (root always does)
};

// The gids a process holds (its primary and supplementary groups), from
// /proc/PID/status; empty when the process is gone.
std::vector<gid_t> process_groups(pid_t pid);

// The caller a peer is, or nullopt with `why` set when it may not use amid.
std::optional<Caller> resolve_caller(uid_t uid, gid_t gid, pid_t pid, const std::vector<gid_t>& groups,
                                     const AccessPolicy& policy, std::string& why);

// A file a caller named, opened read-only with the caller's rights.
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

// Opens `path` for `caller`: absolute, a regular file the caller may read (as the
// kernel decides for the caller), at most max_bytes. Errors name `field`:
// InvalidParameterValue for the path's form or size, InvalidParameterValue.Disk
// when it is missing, not a file, or not readable by the caller.
UserFile open_as_caller(const Caller& caller, const std::string& field, const std::string& path,
                        std::uint64_t max_bytes);

}  // namespace amid
