// RegionFiles for a store on another host, through libvirt's storage API only.
//
// Each folder amid uses there is a persistent "dir" storage pool, defined the
// first time amid needs it and named amid-<hash of its path> (pool names may
// not hold '/'); each file is a volume of its folder's pool. Data moves in
// sparse streams (virStorageVolUpload/Download with the SPARSE_STREAM flags):
// holes are neither sent nor filled in. Overlays and blank disks are made by
// libvirt on that host (it runs qemu-img there); so are flattened copies
// (virStorageVolCreateXMLFrom). Files that others write there (QEMU's capture
// overlays, virtlogd's console log) are found after a pool refresh.
//
// What the storage API cannot do: rename a file (a move is a copy through
// this machine, then a removal), fsync, or commit an overlay that no domain
// runs on (commit throws; the caller keeps the overlay in use instead).
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <thread>
#include <vector>

#include "common/error.h"
#include "daemon/host/fs.h"
#include "daemon/host/hypervisor.h"
#include "daemon/host/libvirt_handles.h"
#include "daemon/host/region_files.h"

namespace amid {
namespace {

using libvirt::CString;
using libvirt::PoolHandle;
using libvirt::StreamHandle;
using libvirt::VolHandle;

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string pool_name_for(const std::string& dir) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : dir) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "amid-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string dir_of(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }
std::string name_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string volume_xml(const std::string& name, const std::string& format, std::uint64_t capacity, unsigned mode,
                       const std::string& backing = "") {
  std::string xml = "<volume><name>" + xml_escape(name) + "</name><capacity unit='bytes'>" +
                    std::to_string(capacity) + "</capacity><allocation unit='bytes'>0</allocation>" +
                    "<target><format type='" + format + "'/>" + (format == "qcow2" ? "<compat>1.1</compat>" : "") +
                    "<permissions><mode>" + octal(mode) + "</mode></permissions></target>";
  if (!backing.empty()) {
    xml += "<backingStore><path>" + xml_escape(backing) + "</path><format type='qcow2'/></backingStore>";
  }
  return xml + "</volume>";
}

// A local file read as a sparse stream: data and holes as SEEK_DATA/SEEK_HOLE find them.
struct SendState {
  int fd = -1;
  off_t size = 0;
  std::uint64_t sent = 0;
  const CopyProgress* progress = nullptr;
};

int send_hole(virStreamPtr, int* in_data, long long* length, void* opaque) {
  auto* s = static_cast<SendState*>(opaque);
  off_t cur = ::lseek(s->fd, 0, SEEK_CUR);
  if (cur < 0) return -1;
  if (cur >= s->size) {
    *in_data = 0;
    *length = 0;
    return 0;
  }
  off_t data = ::lseek(s->fd, cur, SEEK_DATA);
  if (data < 0 && errno != ENXIO) return -1;
  if (data < 0) data = s->size;  // only a hole is left
  if (data > cur) {
    *in_data = 0;
    *length = data - cur;
  } else {
    off_t hole = ::lseek(s->fd, cur, SEEK_HOLE);
    if (hole < 0) return -1;
    *in_data = 1;
    *length = hole - cur;
  }
  return ::lseek(s->fd, cur, SEEK_SET) < 0 ? -1 : 0;
}

int send_skip(virStreamPtr, long long length, void* opaque) {
  auto* s = static_cast<SendState*>(opaque);
  if (::lseek(s->fd, length, SEEK_CUR) < 0) return -1;
  s->sent += static_cast<std::uint64_t>(length);
  return 0;
}

int send_data(virStreamPtr, char* data, size_t nbytes, void* opaque) {
  auto* s = static_cast<SendState*>(opaque);
  ssize_t n;
  do {
    n = ::read(s->fd, data, nbytes);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    s->sent += static_cast<std::uint64_t>(n);
    if (s->progress && *s->progress) (*s->progress)(s->sent);
  }
  return static_cast<int>(n);
}

struct RecvState {
  int fd = -1;
  std::uint64_t received = 0;
  const CopyProgress* progress = nullptr;
};

int recv_data(virStreamPtr, const char* data, size_t nbytes, void* opaque) {
  auto* s = static_cast<RecvState*>(opaque);
  size_t left = nbytes;
  while (left > 0) {
    ssize_t n = ::write(s->fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    left -= static_cast<size_t>(n);
  }
  s->received += nbytes;
  if (s->progress && *s->progress) (*s->progress)(s->received);
  return static_cast<int>(nbytes);
}

int recv_hole(virStreamPtr, long long length, void* opaque) {
  auto* s = static_cast<RecvState*>(opaque);
  off_t end = ::lseek(s->fd, length, SEEK_CUR);
  if (end < 0 || ::ftruncate(s->fd, end) != 0) return -1;  // the hole stays a hole
  s->received += static_cast<std::uint64_t>(length);
  return 0;
}

class LibvirtFiles final : public RegionFiles {
 public:
  LibvirtFiles(Hypervisor& hv, std::string staging) : hv_(hv), staging_(std::move(staging)) {}

  bool on_this_host() const override { return false; }
  std::string staging_dir() const override { return staging_; }

  void make_dir(const std::string& dir) override { pool(dir, true); }
  bool dir_exists(const std::string& dir) override { return pool(dir, false) != nullptr; }

  void remove_dir(const std::string& dir) override {
    PoolHandle p = pool(dir, false);
    if (!p) return;
    delete_volumes(p.get(), "");
    // The folder goes with its pool: stop it, delete it (rmdir), forget it.
    std::lock_guard lock(mu_);
    pools_.erase(dir);
    virStoragePoolDestroy(p.get());
    if (virStoragePoolDelete(p.get(), 0) < 0) libvirt::throw_error("cannot remove the folder " + dir);
    virStoragePoolUndefine(p.get());
  }

  void empty_dir_but(const std::string& dir, const std::string& keep) override {
    PoolHandle p = pool(dir, false);
    if (p) delete_volumes(p.get(), keep);
  }

  bool exists(const std::string& path) override { return volume(path) != nullptr; }
  std::uint64_t file_size(const std::string& path) override {
    VolHandle v = volume(path);
    if (!v) throw AmidError(codes::kInternalError, path + " is missing on " + hv_.uri());
    virStorageVolInfo info{};
    if (virStorageVolGetInfoFlags(v.get(), &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
      libvirt::throw_error("cannot read " + path);
    }
    return info.allocation;  // with GET_PHYSICAL: the file's length
  }

  void remove(const std::string& path) override {
    VolHandle v = volume(path);
    if (v && virStorageVolDelete(v.get(), 0) < 0) libvirt::throw_error("cannot remove " + path);
  }

  void write_file(const std::string& path, const std::string& data, unsigned mode) override {
    remove(path);
    VolHandle v = create(path, volume_xml(name_of(path), "raw", data.size(), mode));
    try {
      StreamHandle st(virStreamNew(conn(), 0));
      if (!st || virStorageVolUpload(v.get(), st.get(), 0, data.size(), 0) < 0) libvirt::throw_error("cannot write " + path);
      std::size_t off = 0;
      while (off < data.size()) {
        int n = virStreamSend(st.get(), data.data() + off, data.size() - off);
        if (n < 0) {
          virStreamAbort(st.get());
          libvirt::throw_error("cannot write " + path);
        }
        off += static_cast<std::size_t>(n);
      }
      if (virStreamFinish(st.get()) < 0) libvirt::throw_error("cannot write " + path);
    } catch (...) {
      virStorageVolDelete(v.get(), 0);
      throw;
    }
  }

  std::string read_tail(const std::string& path, std::size_t max_bytes) override {
    VolHandle v = volume(path);
    if (!v) return {};
    virStorageVolInfo info{};
    if (virStorageVolGetInfoFlags(v.get(), &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
      libvirt::throw_error("cannot read " + path);
    }
    std::uint64_t size = info.allocation;  // with GET_PHYSICAL: the file's length
    std::uint64_t start = size > max_bytes ? size - max_bytes : 0;
    if (size == start) return {};
    StreamHandle st(virStreamNew(conn(), 0));
    if (!st || virStorageVolDownload(v.get(), st.get(), start, size - start, 0) < 0) {
      libvirt::throw_error("cannot read " + path);
    }
    std::string out;
    char buf[64 * 1024];
    for (;;) {
      int n = virStreamRecv(st.get(), buf, sizeof buf);
      if (n < 0) {
        virStreamAbort(st.get());
        libvirt::throw_error("cannot read " + path);
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    virStreamFinish(st.get());
    return out;
  }

  void sync(const std::string&) override {}  // libvirt closes what it wrote; there is no fsync call

  void create_overlay(const std::string& backing, const std::string& path, std::uint64_t size) override {
    if (size == 0) size = disk_info(backing).virtual_size;
    remove(path);
    create(path, volume_xml(name_of(path), "qcow2", size, 0600, backing));
  }

  void create_blank(const std::string& path, std::uint64_t size) override {
    remove(path);
    create(path, volume_xml(name_of(path), "qcow2", size, 0600));
  }

  DiskInfo disk_info(const std::string& path) override {
    VolHandle v = volume(path);
    if (!v) throw AmidError(codes::kInvalidDisk, "disk: cannot read " + path + ": no such file on " + hv_.uri());
    CString xml(virStorageVolGetXMLDesc(v.get(), 0));
    if (!xml) libvirt::throw_error("cannot read " + path);
    pugi::xml_document doc;
    doc.load_string(xml.get());
    pugi::xml_node vol = doc.child("volume");
    DiskInfo info;
    info.format = vol.child("target").child("format").attribute("type").as_string();
    info.virtual_size = vol.child("capacity").text().as_ullong();
    info.actual_size = vol.child("allocation").text().as_ullong();
    info.backing_file = vol.child("backingStore").child("path").text().as_string();
    return info;
  }

  void put(const std::string& local_from, const std::string& path, unsigned mode,
           const CopyProgress& progress) override {
    int fd = ::open(local_from.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw AmidError(codes::kInternalError, "cannot open " + local_from + ": " + std::strerror(errno));
    SendState s;
    s.fd = fd;
    s.progress = &progress;
    struct stat st{};
    ::fstat(fd, &st);
    s.size = st.st_size;
    VolHandle v;
    try {
      remove(path);
      // raw: libvirt only sizes the file; the bytes sent are whatever the file is.
      v = create(path, volume_xml(name_of(path), "raw", static_cast<std::uint64_t>(s.size), mode));
      StreamHandle stream(virStreamNew(conn(), 0));
      if (!stream || virStorageVolUpload(v.get(), stream.get(), 0, static_cast<unsigned long long>(s.size),
                                         VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0) {
        libvirt::throw_error("cannot send " + local_from + " to " + path);
      }
      if (virStreamSparseSendAll(stream.get(), send_data, send_hole, send_skip, &s) < 0) {
        virStreamAbort(stream.get());
        libvirt::throw_error("cannot send " + local_from + " to " + path);
      }
      if (virStreamFinish(stream.get()) < 0) libvirt::throw_error("cannot send " + local_from + " to " + path);
      // libvirt still takes it for the raw file it made: a refresh reads what
      // it is (qcow2, its virtual size, its backing file), which overlays made
      // on it and copies made from it rely on.
      refresh(dir_of(path));
    } catch (...) {
      ::close(fd);
      if (v) virStorageVolDelete(v.get(), 0);
      throw;
    }
    ::close(fd);
    if (progress) progress(static_cast<std::uint64_t>(s.size));
  }

  void get(const std::string& path, const std::string& local_to, const CopyProgress& progress) override {
    VolHandle v = volume(path);
    if (!v) throw AmidError(codes::kInternalError, "cannot read " + path + ": no such file on " + hv_.uri());
    std::string tmp = local_to + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw AmidError(codes::kInternalError, "cannot create " + tmp + ": " + std::strerror(errno));
    RecvState r;
    r.fd = fd;
    r.progress = &progress;
    try {
      StreamHandle stream(virStreamNew(conn(), 0));
      if (!stream || virStorageVolDownload(v.get(), stream.get(), 0, 0, VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM) < 0) {
        libvirt::throw_error("cannot fetch " + path);
      }
      if (virStreamSparseRecvAll(stream.get(), recv_data, recv_hole, &r) < 0) {
        virStreamAbort(stream.get());
        libvirt::throw_error("cannot fetch " + path);
      }
      if (virStreamFinish(stream.get()) < 0) libvirt::throw_error("cannot fetch " + path);
      if (::fsync(fd) != 0) throw AmidError(codes::kInternalError, "cannot sync " + tmp);
    } catch (...) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw;
    }
    ::close(fd);
    fs::rename_durable(tmp, local_to);
  }

  void copy(const std::string& from, const std::string& to, const CopyProgress& progress) override {
    // No volume-to-volume byte copy in the API (CreateXMLFrom converts).
    relay(*this, from, *this, to, staging_, 0440, progress);
  }

  void flatten(const std::string& from, const std::string& to,
               const std::function<void(double)>& progress) override {
    VolHandle src = volume(from);
    if (!src) throw AmidError(codes::kInternalError, "cannot read " + from + ": no such file on " + hv_.uri());
    DiskInfo info = disk_info(from);
    remove(to);
    PoolHandle p = pool(dir_of(to), true);
    // libvirt runs qemu-img convert on that host: the whole chain, one file.
    std::string xml = volume_xml(name_of(to), "qcow2", info.virtual_size, 0440);
    VolHandle v(virStorageVolCreateXMLFrom(p.get(), xml.c_str(), src.get(), 0));
    if (!v) libvirt::throw_error("cannot copy " + from + " to " + to);
    refresh(dir_of(to));  // until then libvirt describes it with the source's backing file
    if (progress) progress(1.0);
  }

  void commit(const std::string& overlay) override {
    throw AmidError(codes::kInternalError, "cannot merge " + overlay + " on " + hv_.uri() +
                                               " while no guest runs on it: libvirt merges only live disks");
  }

  // No rename in the API: a byte-for-byte copy (its header, and so its backing
  // file, unchanged), then the original goes.
  bool move(const std::string& from, const std::string& to) override {
    relay(*this, from, *this, to, staging_, 0600);
    remove(from);
    return true;
  }

 private:
  virConnectPtr conn() const { return hv_.connection(); }

  // The pool of a folder: found by its path, or defined (and, with `make`, the
  // folder built) and started. Without `make`, a folder that does not exist has none.
  PoolHandle pool(const std::string& dir, bool make) {
    std::lock_guard lock(mu_);
    if (auto it = pools_.find(dir); it != pools_.end()) return shared(it->second.get());
    PoolHandle p = find_or_start_pool(dir, make);
    if (p) pools_.emplace(dir, shared(p.get()));  // started once; every file step after that reuses it
    return p;
  }

  static PoolHandle shared(virStoragePoolPtr p) {
    virStoragePoolRef(p);
    return PoolHandle(p);
  }

  PoolHandle find_or_start_pool(const std::string& dir, bool make) {
    PoolHandle p(virStoragePoolLookupByTargetPath(conn(), dir.c_str()));
    if (!p) p.reset(virStoragePoolLookupByName(conn(), pool_name_for(dir).c_str()));
    bool defined_here = false;
    if (!p) {
      std::string xml = "<pool type='dir'><name>" + pool_name_for(dir) + "</name><target><path>" + xml_escape(dir) +
                        "</path><permissions><mode>0711</mode></permissions></target></pool>";
      p.reset(virStoragePoolDefineXML(conn(), xml.c_str(), 0));
      if (!p) libvirt::throw_error("cannot define a storage pool for " + dir);
      defined_here = true;
    }
    if (virStoragePoolIsActive(p.get()) == 1) return p;
    if (make && virStoragePoolBuild(p.get(), 0) < 0) libvirt::throw_error("cannot create the folder " + dir);
    if (virStoragePoolCreate(p.get(), 0) < 0) {
      if (!make) {
        // No such folder there: nothing to find, and no pool left behind.
        if (defined_here) virStoragePoolUndefine(p.get());
        return nullptr;
      }
      libvirt::throw_error("cannot open the folder " + dir);
    }
    return p;
  }

  // Rescans a folder. libvirt refuses while a volume of it is being written
  // (another upload): then again, a little later.
  void refresh(const std::string& dir) {
    PoolHandle p = pool(dir, false);
    if (!p) throw AmidError(codes::kInternalError, "the folder " + dir + " is gone from " + hv_.uri());
    for (int attempt = 0;; ++attempt) {
      if (virStoragePoolRefresh(p.get(), 0) == 0) return;
      if (attempt == 50) libvirt::throw_error("cannot rescan " + dir);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // A file's volume; files written by others appear after a refresh.
  VolHandle volume(const std::string& path) {
    PoolHandle p = pool(dir_of(path), false);
    if (!p) return nullptr;
    std::string name = name_of(path);
    VolHandle v(virStorageVolLookupByName(p.get(), name.c_str()));
    if (v) return v;
    virStoragePoolRefresh(p.get(), 0);
    return VolHandle(virStorageVolLookupByName(p.get(), name.c_str()));
  }

  VolHandle create(const std::string& path, const std::string& xml) {
    PoolHandle p = pool(dir_of(path), true);
    VolHandle v(virStorageVolCreateXML(p.get(), xml.c_str(), 0));
    if (!v) libvirt::throw_error("cannot create " + path);
    return v;
  }

  void delete_volumes(virStoragePoolPtr p, const std::string& keep) {
    virStoragePoolRefresh(p, 0);
    virStorageVolPtr* vols = nullptr;
    int n = virStoragePoolListAllVolumes(p, &vols, 0);
    if (n < 0) libvirt::throw_error("cannot list a folder");
    std::string failed;
    for (int i = 0; i < n; ++i) {
      VolHandle v(vols[i]);
      const char* name = virStorageVolGetName(v.get());
      if (name && keep == name) continue;
      if (virStorageVolDelete(v.get(), 0) < 0) failed = name ? name : "?";
    }
    free(vols);  // NOLINT: libvirt allocates with malloc
    if (!failed.empty()) libvirt::throw_error("cannot remove " + failed);
  }

  Hypervisor& hv_;
  std::string staging_;
  std::mutex mu_;  // pool lookups and definitions, one at a time
  std::map<std::string, PoolHandle> pools_;  // folder -> its started pool (under mu_)
};

}  // namespace

std::unique_ptr<RegionFiles> make_libvirt_files(Hypervisor& hypervisor, std::string staging_dir) {
  return std::make_unique<LibvirtFiles>(hypervisor, std::move(staging_dir));
}

}  // namespace amid
