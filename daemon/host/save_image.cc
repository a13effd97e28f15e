// libvirt's QEMU save image: the header read and checked, rendered again for a
// new domain XML, and a restorable copy made with the stream copied in the kernel.
#include "daemon/host/save_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace amid {
namespace {

constexpr std::size_t kMagicSize = 16;
constexpr char kMagic[] = "LibvirtQemudSave";
// What libvirt writes first and overwrites with kMagic once the stream is complete.
constexpr char kPartialMagic[] = "LibvirtQemudPart";
constexpr std::uint32_t kVersion = 2;
constexpr char kStreamMagic[] = "QEVM";  // QEMU_VM_FILE_MAGIC
constexpr std::size_t kStreamMagicSize = 4;

// The header's u32 fields, by byte offset.
constexpr std::size_t kVersionAt = 16;
constexpr std::size_t kDataLenAt = 20;
constexpr std::size_t kWasRunningAt = 24;
constexpr std::size_t kCompressedAt = 28;
constexpr std::size_t kCookieOffsetAt = 32;

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw AmidError(codes::kInternalError, "save image " + path + ": " + what);
}

[[noreturn]] void io_failure(const std::string& what, const std::string& path) {
  throw AmidError(codes::kInternalError, what + " " + path + ": " + std::strerror(errno));
}

// A file descriptor, closed when this goes.
class OpenFile {
 public:
  OpenFile(const std::string& path, int flags, mode_t mode = 0)
      : path_(path), fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)) {
    if (fd_ < 0) io_failure((flags & O_CREAT) != 0 ? "cannot create" : "cannot open", path);
  }
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::uint64_t size() const {
    struct stat st{};
    if (::fstat(fd_, &st) != 0) io_failure("cannot stat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }
  // close(2) with its error: some file systems report a failed write-back only here.
  void close() {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) io_failure("cannot finish", path_);
  }

 private:
  std::string path_;
  int fd_;
};

// Up to `size` bytes at `offset`: fewer when the file ends first.
std::string read_at(const OpenFile& file, std::uint64_t offset, std::size_t size) {
  std::string bytes(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(file.fd(), bytes.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_failure("cannot read", file.path());
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

void write_all(const OpenFile& file, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(file.fd(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_failure("cannot write", file.path());
    done += static_cast<std::size_t>(n);
  }
}

// libvirt writes the header's integers in the saving host's byte order.
std::uint32_t u32_at(const std::string& bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

void put_u32(std::string& bytes, std::size_t at, std::uint32_t value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// libvirt's virQEMUSaveFormat, the values of `compressed`.
std::string compression_name(std::uint32_t format) {
  switch (format) {
    case 1: return "gzip";
    case 2: return "bzip2";
    case 3: return "xz";
    case 4: return "lzop";
    default: return "unknown format " + std::to_string(format);
  }
}

// The string that starts at `from` in `data` and ends at the first NUL before
// `to`; refuses when there is no NUL there.
std::string nul_terminated(const std::string& path, const std::string& data, std::size_t from, std::size_t to,
                           const char* what) {
  std::size_t nul = data.find('\0', from);
  if (nul == std::string::npos || nul >= to) {
    refuse(path, std::string(what) + " at data offset " + std::to_string(from) + " has no NUL within its " +
                     std::to_string(to - from) + " bytes");
  }
  return data.substr(from, nul - from);
}

SaveImageHeader read_header(const OpenFile& file) {
  const std::string& path = file.path();
  const std::uint64_t file_size = file.size();
  std::string head = read_at(file, 0, kSaveImageHeaderSize);
  if (head.size() < kSaveImageHeaderSize) {
    refuse(path, "not a libvirt save image: " + std::to_string(head.size()) + " bytes, shorter than the " +
                     std::to_string(kSaveImageHeaderSize) + "-byte header");
  }
  if (head.compare(0, kMagicSize, kPartialMagic) == 0) {
    refuse(path, "the save did not finish (magic " + std::string(kPartialMagic) + ")");
  }
  if (head.compare(0, kMagicSize, kMagic) != 0) {
    refuse(path, "not a libvirt save image: it does not start with " + std::string(kMagic));
  }
  const std::uint32_t version = u32_at(head, kVersionAt);
  if (version == __builtin_bswap32(kVersion)) {
    refuse(path, "written on a host of the other byte order (version field byte-swapped)");
  }
  if (version != kVersion) {
    refuse(path, "version " + std::to_string(version) + "; amid reads version " + std::to_string(kVersion) +
                     " only (libvirt 9.0's)");
  }
  const std::uint32_t compressed = u32_at(head, kCompressedAt);
  if (compressed != 0) {
    refuse(path, "compressed (" + compression_name(compressed) +
                     "); amid reads uncompressed images only (save_image_format = \"raw\" in qemu.conf)");
  }
  const std::uint32_t data_len = u32_at(head, kDataLenAt);
  if (data_len == 0 || data_len > kSaveImageMaxDataLen) {
    refuse(path, "data_len " + std::to_string(data_len) + " is not within 1.." +
                     std::to_string(kSaveImageMaxDataLen));
  }
  const std::uint64_t stream_offset = kSaveImageHeaderSize + std::uint64_t{data_len};
  if (stream_offset > file_size) {
    refuse(path, "data_len " + std::to_string(data_len) + " runs past the end of the file (" +
                     std::to_string(file_size) + " bytes)");
  }
  const std::uint32_t cookie_offset = u32_at(head, kCookieOffsetAt);
  if (cookie_offset >= data_len) {
    refuse(path, "cookieOffset " + std::to_string(cookie_offset) + " is outside the " + std::to_string(data_len) +
                     "-byte data");
  }

  SaveImageHeader header;
  header.path = path;
  header.data_len = data_len;
  header.stream_offset = stream_offset;
  header.was_running = u32_at(head, kWasRunningAt) != 0;
  const std::string data = read_at(file, kSaveImageHeaderSize, data_len);
  const std::size_t xml_end = cookie_offset != 0 ? cookie_offset : data_len;
  header.domain_xml = nul_terminated(path, data, 0, xml_end, "the domain XML");
  if (header.domain_xml.empty()) refuse(path, "the domain XML is empty");
  if (cookie_offset != 0) header.cookie_xml = nul_terminated(path, data, cookie_offset, data_len, "the cookie");

  const std::string stream_magic = read_at(file, stream_offset, kStreamMagicSize);
  if (stream_magic != kStreamMagic) {
    refuse(path, "no QEMU migration stream (" + std::string(kStreamMagic) + ") at offset " +
                     std::to_string(stream_offset));
  }
  return header;
}

// Copies `in` from `offset` to its end into `out` at the same offsets, data
// extents only (SEEK_DATA/SEEK_HOLE), then gives `out` the same size.
void copy_tail(const OpenFile& in, const OpenFile& out, std::uint64_t offset) {
  const off_t size = static_cast<off_t>(in.size());
  off_t pos = static_cast<off_t>(offset);
  while (pos < size) {
    off_t data = ::lseek(in.fd(), pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // only a hole is left
    if (data < 0) io_failure("cannot read", in.path());
    off_t hole = ::lseek(in.fd(), data, SEEK_HOLE);
    if (hole < 0) io_failure("cannot read", in.path());
    off_t from = data;
    off_t to = data;
    while (from < hole) {
      std::size_t chunk = static_cast<std::size_t>(std::min<off_t>(hole - from, off_t{64} << 20));
      ssize_t n = ::copy_file_range(in.fd(), &from, out.fd(), &to, chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) io_failure("cannot copy " + in.path() + " to", out.path());
      if (n == 0) refuse(in.path(), "it shrank while its stream was being copied");
    }
    pos = hole;
  }
  if (::ftruncate(out.fd(), size) != 0) io_failure("cannot size", out.path());
}

}  // namespace

SaveImageHeader read_save_image_header(const std::string& path) {
  OpenFile file(path, O_RDONLY);
  return read_header(file);
}

std::string render_save_image_header(const SaveImageHeader& original, const std::string& new_domain_xml,
                                     bool running) {
  if (new_domain_xml.empty()) refuse(original.path, "the new domain XML is empty");
  if (new_domain_xml.find('\0') != std::string::npos) {
    refuse(original.path, "the new domain XML holds a NUL byte, where libvirt would cut it short");
  }
  const std::size_t xml_size = new_domain_xml.size() + 1;
  const std::size_t cookie_size = original.cookie_xml.empty() ? 0 : original.cookie_xml.size() + 1;
  if (xml_size + cookie_size > original.data_len) {
    refuse(original.path, "the new domain XML (" + std::to_string(xml_size) + " bytes with its NUL) and the cookie (" +
                              std::to_string(cookie_size) + ") do not fit in the " +
                              std::to_string(original.data_len) + "-byte data: " +
                              std::to_string(xml_size + cookie_size - original.data_len) + " bytes too many");
  }

  std::string bytes(kSaveImageHeaderSize + original.data_len, '\0');
  std::memcpy(bytes.data(), kMagic, kMagicSize);
  put_u32(bytes, kVersionAt, kVersion);
  put_u32(bytes, kDataLenAt, original.data_len);
  put_u32(bytes, kWasRunningAt, running ? 1 : 0);
  put_u32(bytes, kCompressedAt, 0);
  put_u32(bytes, kCookieOffsetAt, cookie_size == 0 ? 0 : static_cast<std::uint32_t>(xml_size));
  bytes.replace(kSaveImageHeaderSize, new_domain_xml.size(), new_domain_xml);
  if (cookie_size != 0) bytes.replace(kSaveImageHeaderSize + xml_size, original.cookie_xml.size(), original.cookie_xml);
  return bytes;
}

void write_save_image(const std::string& src, const std::string& dest, const std::string& new_domain_xml,
                      bool running) {
  OpenFile in(src, O_RDONLY);
  const SaveImageHeader original = read_header(in);
  const std::string head = render_save_image_header(original, new_domain_xml, running);
  const std::string tmp = dest + ".tmp";
  try {
    OpenFile out(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (::fchmod(out.fd(), 0600) != 0) io_failure("cannot chmod", tmp);  // a stale .tmp keeps its mode
    write_all(out, head);
    copy_tail(in, out, original.stream_offset);
    out.close();
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    io_failure("cannot rename " + tmp + " to", dest);
  }
}

}  // namespace amid
