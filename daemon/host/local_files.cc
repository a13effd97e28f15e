// RegionFiles for a store on this machine: files, fs:: and qemu-img.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "daemon/host/fs.h"
#include "daemon/host/region_files.h"

namespace amid {
namespace {

class LocalFiles final : public RegionFiles {
 public:
  explicit LocalFiles(const QemuImg& qemu_img) : qemu_img_(qemu_img) {}

  bool on_this_host() const override { return true; }
  std::string staging_dir() const override { return ""; }
  void make_dir(const std::string& dir) override { fs::make_dirs(dir, 0711); }
  bool dir_exists(const std::string& dir) override {
    struct stat st{};
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  void remove_dir(const std::string& dir) override {
    fs::remove_tree(dir);
    fs::fsync_parent(dir);
  }
  void empty_dir_but(const std::string& dir, const std::string& keep) override {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().filename() == keep) continue;
      if (::unlink(entry.path().c_str()) != 0) {
        throw AmidError(codes::kInternalError, "cannot remove " + entry.path().string());
      }
    }
    if (!ec) fs::fsync_path(dir);
  }
  bool exists(const std::string& path) override { return fs::exists(path); }
  std::uint64_t file_size(const std::string& path) override {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) throw AmidError(codes::kInternalError, path + " is missing");
    return static_cast<std::uint64_t>(st.st_size);
  }
  void remove(const std::string& path) override { ::unlink(path.c_str()); }
  void write_file(const std::string& path, const std::string& data, unsigned mode) override {
    fs::write_file_atomic(path, data, mode);
  }
  std::string read_tail(const std::string& path, std::size_t max_bytes) override {
    return fs::read_tail(path, max_bytes);
  }
  void sync(const std::string& path) override { fs::fsync_path(path); }

  void create_overlay(const std::string& backing, const std::string& path, std::uint64_t size) override {
    qemu_img_.create_overlay(backing, path, size);
  }
  void create_blank(const std::string& path, std::uint64_t size) override { qemu_img_.create_blank(path, size); }
  DiskInfo disk_info(const std::string& path) override { return qemu_img_.info(path); }

  void put(const std::string& local_from, const std::string& path, unsigned mode,
           const CopyProgress& progress) override {
    fs::copy_sparse_durable(local_from, path, mode, progress);
  }
  void get(const std::string& path, const std::string& local_to, const CopyProgress& progress) override {
    fs::copy_sparse_durable(path, local_to, 0600, progress);
  }
  void copy(const std::string& from, const std::string& to, const CopyProgress& progress) override {
    fs::copy_sparse_durable(from, to, 0440, progress);
  }
  void flatten(const std::string& from, const std::string& to,
               const std::function<void(double)>& progress) override {
    std::string tmp = to + ".tmp";
    qemu_img_.flatten(from, tmp, progress);
    // Sealed: read-only, owned by amid, durable, then renamed into place.
    if (::chown(tmp.c_str(), ::geteuid(), ::getegid()) != 0 && ::geteuid() == 0) {
      ::unlink(tmp.c_str());
      throw AmidError(codes::kInternalError, "cannot take ownership of " + tmp);
    }
    ::chmod(tmp.c_str(), 0440);
    fs::fsync_path(tmp);
    fs::rename_durable(tmp, to);
  }
  void commit(const std::string& overlay) override { qemu_img_.commit(overlay); }
  bool move(const std::string& from, const std::string& to) override {
    fs::rename_durable(from, to);
    return true;
  }

 private:
  const QemuImg& qemu_img_;
};

}  // namespace

std::unique_ptr<RegionFiles> make_local_files(const QemuImg& qemu_img) {
  return std::make_unique<LocalFiles>(qemu_img);
}

void copy_across(RegionFiles& from_files, const std::string& from, RegionFiles& to_files, const std::string& to,
                 const std::string& staging_dir, const CopyProgress& progress) {
  if (from_files.on_this_host()) {
    to_files.put(from, to, 0440, progress);
    return;
  }
  if (to_files.on_this_host()) {
    // Straight into the destination folder, sealed as a template is.
    std::string tmp = to + ".part";
    from_files.get(from, tmp, progress);
    ::chmod(tmp.c_str(), 0440);
    fs::rename_durable(tmp, to);
    return;
  }
  relay(from_files, from, to_files, to, staging_dir, 0440, progress);  // host to host
}

void relay(RegionFiles& from_files, const std::string& from, RegionFiles& to_files, const std::string& to,
           const std::string& staging_dir, unsigned mode, const CopyProgress& progress) {
  std::string staged = staging_dir + "/" + std::filesystem::path(to).filename().string() + ".staged";
  try {
    from_files.get(from, staged, [&](std::uint64_t done) {
      if (progress) progress(done / 2);
    });
    struct stat st{};
    std::uint64_t half = ::stat(staged.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) / 2 : 0;
    to_files.put(staged, to, mode, [&](std::uint64_t done) {
      if (progress) progress(half + done / 2);
    });
  } catch (...) {
    ::unlink(staged.c_str());
    throw;
  }
  ::unlink(staged.c_str());
}

}  // namespace amid
