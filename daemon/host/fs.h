// File-system steps that make amid's changes atomic: write to a temp name,
// fsync, rename into place, fsync the folder. Blocking; throw AmidError.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace amid::fs {

void fsync_path(const std::string& path);  // a file or a folder
void fsync_parent(const std::string& path);
// Writes `data` to `path` atomically with the given mode.
void write_file_atomic(const std::string& path, const std::string& data, unsigned mode = 0600);
// rename(2) then fsync of the destination's folder.
void rename_durable(const std::string& from, const std::string& to);
// Copies a regular file to `to` (temp name, fsync, rename, fsync of the folder).
void copy_file_durable(const std::string& from, const std::string& to, unsigned mode);
// Copies a regular file byte for byte to `to`, sending only its data: holes
// (found with SEEK_DATA/SEEK_HOLE) stay holes. `progress(bytes_done)` is called
// as it goes (offsets, so holes count as done). Durable as copy_file_durable.
void copy_sparse_durable(const std::string& from, const std::string& to, unsigned mode,
                         const std::function<void(std::uint64_t)>& progress = {});
void make_dirs(const std::string& path, unsigned mode = 0700);
// Removes a folder tree; no error when it does not exist.
void remove_tree(const std::string& path);

// A new folder `prefix` + six random characters, mode 0700, removed with all it
// holds when this goes: for files that must exist only while a tool runs.
class PrivateTempDir {
 public:
  explicit PrivateTempDir(const std::string& prefix);
  ~PrivateTempDir();
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};
bool exists(const std::string& path);
std::string read_file(const std::string& path);
// The last `max_bytes` of a file ("" when it does not exist).
std::string read_tail(const std::string& path, std::size_t max_bytes);

}  // namespace amid::fs
