// Where a region keeps its files, and the only way amid touches them.
//
// A region whose libvirt runs on this machine (the embedded driver,
// qemu:///system, qemu+unix://...) has its store folder here: its files are
// files, written with fs:: and qemu-img (LocalFiles). A region whose libvirt
// runs on another host (qemu+ssh://host2/system, qemu+tcp://...) has its store
// folder on that host, and amid reaches it only through libvirt's storage API
// (LibvirtFiles): each folder a "dir" storage pool, each file a volume, data
// moved in sparse streams. Paths are always paths on the region's host.
//
// Blocking; call from worker threads. Failures throw AmidError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/host/qemu_img.h"

namespace amid {

class Hypervisor;

// Bytes done so far, out of the file's size (holes count as done).
using CopyProgress = std::function<void(std::uint64_t)>;

class RegionFiles {
 public:
  virtual ~RegionFiles() = default;
  // True when paths are on this machine (amid may open them itself).
  virtual bool on_this_host() const = 0;
  // A folder on this machine for work files on their way to another host ("" here).
  virtual std::string staging_dir() const = 0;

  virtual void make_dir(const std::string& dir) = 0;
  virtual bool dir_exists(const std::string& dir) = 0;
  // Removes a folder and all it holds; no error when it does not exist.
  virtual void remove_dir(const std::string& dir) = 0;
  // Removes what a folder holds but `keep` (a file name).
  virtual void empty_dir_but(const std::string& dir, const std::string& keep) = 0;
  virtual bool exists(const std::string& path) = 0;
  // A file's size in bytes (its length, holes included); throws when it is missing.
  virtual std::uint64_t file_size(const std::string& path) = 0;
  // Removes a file; no error when it does not exist.
  virtual void remove(const std::string& path) = 0;
  // A small file, written whole and atomically (user data, manifests).
  virtual void write_file(const std::string& path, const std::string& data, unsigned mode) = 0;
  // The last max_bytes of a file ("" when it does not exist).
  virtual std::string read_tail(const std::string& path, std::size_t max_bytes) = 0;
  // Makes everything written under `path` (a file or a folder) durable.
  virtual void sync(const std::string& path) = 0;

  // A qcow2 overlay on `backing` (qcow2); size 0 keeps the backing file's size.
  virtual void create_overlay(const std::string& backing, const std::string& path, std::uint64_t size) = 0;
  virtual void create_blank(const std::string& path, std::uint64_t size) = 0;
  // What a qcow2 file's header says: its backing file ("" for none) and virtual size.
  virtual DiskInfo disk_info(const std::string& path) = 0;

  // A file of this machine copied in byte for byte, holes kept, sealed with
  // `mode`; it appears at `path` only when complete.
  virtual void put(const std::string& local_from, const std::string& path, unsigned mode,
                   const CopyProgress& progress = {}) = 0;
  // A file copied out to this machine, byte for byte, holes kept (a temp name,
  // then renamed into place).
  virtual void get(const std::string& path, const std::string& local_to, const CopyProgress& progress = {}) = 0;
  // A byte-for-byte copy inside the region, holes kept, sealed read-only.
  virtual void copy(const std::string& from, const std::string& to, const CopyProgress& progress = {}) = 0;
  // `from` and its whole backing chain as one standalone qcow2 at `to`, sealed read-only.
  virtual void flatten(const std::string& from, const std::string& to,
                       const std::function<void(double)>& progress = {}) = 0;
  // Writes what `overlay` holds into its backing file (the overlay is not in use).
  virtual void commit(const std::string& overlay) = 0;
  // Moves a file to another folder of the region, durably (on another host: a
  // byte-for-byte copy through this machine, then the original is removed).
  virtual bool move(const std::string& from, const std::string& to) = 0;
};

// The store on this machine.
std::unique_ptr<RegionFiles> make_local_files(const QemuImg& qemu_img);
// The store on the host of `hypervisor`'s connection, through libvirt storage
// pools it defines there as it needs them (named amid-<hash of the folder>).
std::unique_ptr<RegionFiles> make_libvirt_files(Hypervisor& hypervisor, std::string staging_dir);

// A file copied from one store to another (or within one) through a staging
// file on this machine, byte for byte with its holes, sealed with `mode`: for
// what libvirt has no stream for (host to host, or volume to volume). The
// progress counts the two legs as halves.
void relay(RegionFiles& from_files, const std::string& from, RegionFiles& to_files, const std::string& to,
           const std::string& staging_dir, unsigned mode, const CopyProgress& progress = {});

// Copies a file from one region to another (or the same), byte for byte with
// its holes, sealed read-only. Through this machine when neither end is here:
// staged in `staging_dir`, then sent on.
void copy_across(RegionFiles& from_files, const std::string& from, RegionFiles& to_files, const std::string& to,
                 const std::string& staging_dir, const CopyProgress& progress = {});

}  // namespace amid
