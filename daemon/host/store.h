// The store: the folders under the state dir where amid keeps the files it
// owns. Only paths built here ever reach libvirt.
//
//   <state>/catalog.db            SQLite catalog
//   <state>/images/ami-.../       disk.qcow2 (read-only template) + manifest.json
//   <state>/instances/i-.../      root.qcow2 (overlay), console.log, user-data
//   <state>/volumes/vol-....qcow2 EBS data volumes (and roots kept after terminate)
//   <state>/libvirt/              root of the embedded QEMU driver
//   <state>/tmp/                  staging for files not yet in place
#pragma once

#include <string>

namespace amid {

class Store {
 public:
  explicit Store(std::string state_dir) : root_(std::move(state_dir)) {}
  // Creates the folders (mode 0700 / 0711 where QEMU must traverse).
  void prepare() const;

  const std::string& root() const { return root_; }
  std::string catalog_path() const { return root_ + "/catalog.db"; }
  std::string lock_path() const { return root_ + "/amid.lock"; }
  std::string images_dir() const { return root_ + "/images"; }
  std::string instances_dir() const { return root_ + "/instances"; }
  std::string image_dir(const std::string& id) const { return images_dir() + "/" + id; }
  std::string image_disk(const std::string& id) const { return image_dir(id) + "/disk.qcow2"; }
  std::string instance_dir(const std::string& id) const { return instances_dir() + "/" + id; }
  std::string volumes_dir() const { return root_ + "/volumes"; }
  std::string libvirt_root() const { return root_ + "/libvirt"; }
  std::string tmp_dir() const { return root_ + "/tmp"; }

 private:
  std::string root_;
};

}  // namespace amid
