// qemu-img, run as a child process: inspecting a user's disk before amid
// accepts it, importing it into the store, and creating instance overlays.
// Blocking; call from a worker thread. Failures throw AmidError.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"

namespace amid {

struct DiskInfo {
  std::string format;  // "qcow2", "raw", ...
  std::uint64_t virtual_size = 0;
  std::uint64_t actual_size = 0;
  std::string backing_file;  // "" when none
  std::string data_file;     // "" when none (qcow2 external data file)
  bool encrypted = false;
};

// Parses `qemu-img info --output=json`. Never throws.
Result<DiskInfo> parse_disk_info(const std::string& json_text);

// The rules a user's disk must pass before register-image copies it:
// qcow2 or raw, no backing file, no data file, not encrypted, virtual size
// within max_bytes. The message names the problem and the path.
Result<DiskInfo> check_importable(const DiskInfo& info, const std::string& path,
                                  std::uint64_t max_bytes);

class QemuImg {
 public:
  DiskInfo info(const std::string& path) const;
  // Copies `src` (format given, never probed again) into a standalone qcow2 at `dst`.
  void convert_to_qcow2(const std::string& src, const std::string& src_format,
                        const std::string& dst) const;
  // Flattens `src` and its whole backing chain into a standalone qcow2 at `dst`,
  // reporting progress (0..1) as qemu-img prints it. Reads with a shared lock.
  void flatten(const std::string& src, const std::string& dst,
               const std::function<void(double)>& progress) const;
  // Writes what `overlay` holds into its backing file (qemu-img commit).
  void commit(const std::string& overlay) const;
  // A new, empty, sparse qcow2 of size_bytes.
  void create_blank(const std::string& path, std::uint64_t size_bytes) const;
  // A qcow2 overlay on `backing` with the backing format stated explicitly.
  // size_bytes 0 keeps the backing file's size.
  void create_overlay(const std::string& backing, const std::string& overlay,
                      std::uint64_t size_bytes = 0) const;
  // Points the qcow2 `overlay` at `backing` (qcow2) without reading either
  // (qemu-img rebase -u): only for a backing file with the same content as
  // the one it replaces, such as a byte-for-byte copy.
  void set_backing_file(const std::string& overlay, const std::string& backing) const;
};

}  // namespace amid
