#include "daemon/host/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace amid::fs {
namespace {
[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw AmidError(codes::kInternalError, what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc < 0) fail("cannot fsync", path);
}

void fsync_parent(const std::string& path) {
  fsync_path(std::filesystem::path(path).parent_path().string());
}

void write_file_atomic(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("cannot create", tmp);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail("cannot write", tmp);
    }
    p += n;
    left -= n;
  }
  if (::fchmod(fd, mode) < 0 || ::fsync(fd) < 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail("cannot sync", tmp);
  }
  ::close(fd);
  rename_durable(tmp, path);
}

void rename_durable(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) < 0) fail("cannot rename to", to);
  fsync_parent(to);
}

void copy_file_durable(const std::string& from, const std::string& to, unsigned mode) {
  std::string tmp = to + ".tmp";
  std::error_code ec;
  std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) throw AmidError(codes::kInternalError, "cannot copy " + from + ": " + ec.message());
  ::chmod(tmp.c_str(), mode);
  fsync_path(tmp);
  rename_durable(tmp, to);
}

void copy_sparse_durable(const std::string& from, const std::string& to, unsigned mode,
                         const std::function<void(std::uint64_t)>& progress) {
  std::string tmp = to + ".tmp";
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw AmidError(codes::kInternalError, "cannot open " + from + ": " + std::strerror(errno));
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    ::close(in);
    throw AmidError(codes::kInternalError, "cannot create " + tmp + ": " + std::strerror(err));
  }
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(in);
    ::close(out);
    ::unlink(tmp.c_str());
    throw AmidError(codes::kInternalError, what + ": " + std::strerror(err));
  };
  struct stat st{};
  if (::fstat(in, &st) != 0) fail("cannot stat " + from);
  const off_t size = st.st_size;
  off_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(in, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      fail("cannot read " + from);
    }
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0) fail("cannot read " + from);
    off_t src = data, dst = data;
    while (src < hole) {
      ssize_t n = ::copy_file_range(in, &src, out, &dst, static_cast<std::size_t>(std::min<off_t>(hole - src, 64 << 20)), 0);
      if (n < 0) fail("cannot copy " + from + " to " + tmp);
      if (n == 0) break;  // the file shrank under us
      if (progress) progress(static_cast<std::uint64_t>(src));
    }
    pos = hole;
  }
  if (::ftruncate(out, size) != 0) fail("cannot size " + tmp);
  if (::fchmod(out, mode) != 0 || ::fsync(out) != 0) fail("cannot finish " + tmp);
  ::close(in);
  if (::close(out) != 0) {
    ::unlink(tmp.c_str());
    throw AmidError(codes::kInternalError, "cannot finish " + tmp + ": " + std::strerror(errno));
  }
  if (progress) progress(static_cast<std::uint64_t>(size));
  rename_durable(tmp, to);
}

void make_dirs(const std::string& path, unsigned mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw AmidError(codes::kInternalError, "cannot create " + path + ": " + ec.message());
  ::chmod(path.c_str(), mode);
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw AmidError(codes::kInternalError, "cannot remove " + path + ": " + ec.message());
}

PrivateTempDir::PrivateTempDir(const std::string& prefix) {
  std::string tmpl = prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw AmidError(codes::kInternalError, "cannot make a private folder " + tmpl + ": " + std::strerror(errno));
  }
  path_ = tmpl;
}

PrivateTempDir::~PrivateTempDir() {
  std::error_code ec;  // nothing to do about a failure here; the folder is private
  std::filesystem::remove_all(path_, ec);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AmidError(codes::kInternalError, "cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                             ? size - static_cast<std::streamoff>(max_bytes) : 0;
  in.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace amid::fs
