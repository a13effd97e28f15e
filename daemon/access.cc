#include "daemon/access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "common/ids.h"

namespace amid {

std::vector<gid_t> process_groups(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::vector<gid_t> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Gid:", 0) == 0) {
      std::istringstream f(line.substr(4));
      gid_t real = 0;
      if (f >> real) out.push_back(real);
    } else if (line.rfind("Groups:", 0) == 0) {
      std::istringstream f(line.substr(7));
      gid_t g = 0;
      while (f >> g) out.push_back(g);
    }
  }
  return out;
}

std::optional<Caller> resolve_caller(uid_t uid, gid_t gid, pid_t pid, const std::vector<gid_t>& groups,
                                     const AccessPolicy& policy, std::string& why) {
  auto member = [&](std::optional<gid_t> g) {
    return g && (gid == *g || std::find(groups.begin(), groups.end(), *g) != groups.end());
  };
  Caller c;
  c.uid = uid;
  c.gid = gid;
  c.pid = pid;
  c.groups = groups;
  if (std::find(c.groups.begin(), c.groups.end(), gid) == c.groups.end()) c.groups.push_back(gid);
  c.account = account_id(uid);
  c.admin = uid == 0 || member(policy.admin_gid);
  if (!(uid == 0 || uid == policy.daemon_uid || c.admin || member(policy.socket_gid))) {
    why = "uid " + std::to_string(uid) + " is not in amid's group";
    return std::nullopt;
  }
  return c;
}

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
// Opens with the caller's file-system identity. Runs on a thread of its own:
// setfsuid, setfsgid and setgroups made as raw system calls change only the
// calling thread's credentials, and the thread ends right after.
int open_with_identity(const Caller& caller, const std::string& path, int& err) {
  int fd = -1;
  std::thread t([&] {
    if (::geteuid() == 0 && caller.uid != 0) {
      std::vector<gid_t> groups = caller.groups;
      if (::syscall(SYS_setgroups, groups.size(), groups.data()) != 0 ||
          (::syscall(SYS_setfsgid, caller.gid), static_cast<gid_t>(::syscall(SYS_setfsgid, -1)) != caller.gid) ||
          (::syscall(SYS_setfsuid, caller.uid), static_cast<uid_t>(::syscall(SYS_setfsuid, -1)) != caller.uid)) {
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

UserFile open_as_caller(const Caller& caller, const std::string& field, const std::string& path,
                        std::uint64_t max_bytes) {
  if (path.empty() || path[0] != '/') {
    throw AmidError(codes::kInvalidParameterValue, field + ": must be an absolute path");
  }
  int err = 0;
  int fd = open_with_identity(caller, path, err);
  if (fd < 0) {
    if (err == EACCES || err == EPERM) {
      throw AmidError(codes::kInvalidDisk, field + ": " + path +
                                               " is not readable by you (uid " + std::to_string(caller.uid) +
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
