// amid-bench-populate: fills a stopped amid's state dir with many images and
// instances, for bench/scale.sh (amid's memory and describe times with a large
// catalog). A bench fixture, not part of amid: `ninja -C build amid-bench-populate`.
//
//   amid-bench-populate --state-dir DIR --images N --instances M
//
// Adds clones until the catalog holds N images and M instances. The clones are
// made from what amid itself made, so that they are exactly the state amid's
// start-up reconcile keeps as is:
//   - images: clones of the oldest available image (register-image's work):
//     the catalog row and its root snapshot row, through the real Catalog class,
//     and a folder images/ami-.../ with disk.qcow2 (a hard link to the seed's
//     read-only template) and manifest.json;
//   - instances: clones of the oldest stopped instance (run-instances, then
//     stop-instances): the catalog row and its root volume row, a folder
//     instances/i-.../ with a copy of its overlay and console log, and the
//     seed's libvirt definition with the id, UUID and MAC changed: parked in the
//     catalog as amid keeps a stopped instance's, or, when the seed's is still
//     in libvirt (an older state dir), defined there, in the region's libvirt
//     (for the embedded driver: opened here, in this process, on the state dir's
//     root).
// amid must be stopped: the tool takes the state dir's lock as amid does.
//
// Durability is not this fixture's business: SQLite's fsync/fdatasync are
// replaced below by no-ops (one sync(2) at the end), since 10,000 images at one
// fsync'ed transaction each would take minutes on a plain disk.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "daemon/state/catalog.h"
#include "daemon/state/iso_time.h"
#include "daemon/host/domain_xml.h"
#include "daemon/host/fs.h"
#include "daemon/host/hypervisor.h"
#include "daemon/services/render.h"
#include "daemon/host/store.h"

// Interposed for libsqlite3 (the executable's definitions win over libc's).
extern "C" int fsync(int) { return 0; }
extern "C" int fdatasync(int) { return 0; }

namespace {

using amid::Catalog;
using amid::ImageRecord;
using amid::InstanceRecord;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

void write_plain(const std::string& path, const std::string& data, unsigned mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
  ::chmod(path.c_str(), mode);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int usage() {
  std::cerr << "usage: amid-bench-populate --state-dir DIR --images N --instances M [--libvirt-uri URI]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string state_dir, uri;
  long want_images = -1, want_instances = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--state-dir") state_dir = argv[i + 1];
    else if (a == "--images") want_images = std::atol(argv[i + 1]);
    else if (a == "--instances") want_instances = std::atol(argv[i + 1]);
    else if (a == "--libvirt-uri") uri = argv[i + 1];
    else return usage();
  }
  if (argc % 2 == 0 || state_dir.empty() || want_images < 0 || want_instances < 0) return usage();
  try {
    amid::Store store(state_dir);
    int lock = ::open(store.lock_path().c_str(), O_RDWR | O_CLOEXEC);
    if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
      std::cerr << "amid-bench-populate: " << store.lock_path() << ": no state dir, or amid is running on it\n";
      return 1;
    }
    if (uri.empty()) uri = "qemu:///embed?root=" + store.libvirt_root();
    auto t0 = std::chrono::steady_clock::now();
    Catalog catalog(store.catalog_path());

    std::vector<ImageRecord> images = catalog.list_images();
    const ImageRecord* seed_image = nullptr;
    for (const auto& img : images) {
      if (img.state == amid::ImageState::kAvailable) { seed_image = &img; break; }
    }
    long have_images = static_cast<long>(images.size());
    if (have_images < want_images) {
      if (!seed_image) throw std::runtime_error("no available image to clone (register one first)");
      const ImageRecord seed = *seed_image;
      auto seed_snaps = catalog.snapshots_of_image(seed.id);
      std::string seed_manifest = amid::fs::read_file(store.image_dir(seed.id) + "/manifest.json");
      for (long n = have_images; n < want_images; ++n) {
        ImageRecord r = seed;
        r.id = amid::new_id("ami");
        char name[64];
        std::snprintf(name, sizeof name, "scale-%06ld", n);
        r.name = name;
        r.creation_date = amid::iso_now();
        r.disk_file = store.image_disk(r.id);
        r.tags.clear();
        std::string dir = store.image_dir(r.id);
        amid::fs::make_dirs(dir, 0711);
        if (::link(seed.disk_file.c_str(), r.disk_file.c_str()) != 0) {
          throw std::runtime_error("cannot link " + seed.disk_file + " to " + r.disk_file);
        }
        std::vector<amid::SnapshotRecord> snaps;
        for (auto s : seed_snaps) {
          std::string old_id = s.id;
          s.id = amid::new_id("snap");
          s.image_id = r.id;
          s.start_time = r.creation_date;
          s.file = replace_all(s.file, seed.id, r.id);
          s.description = replace_all(s.description, seed.id, r.id);
          s.tags.clear();
          if (r.block_device_mappings) {
            for (auto& m : *r.block_device_mappings) {
              if (m.ebs && m.ebs->snapshot_id == old_id) m.ebs->snapshot_id = s.id;
            }
          }
          snaps.push_back(s);
        }
        std::string manifest = replace_all(seed_manifest, seed.id, r.id);
        manifest = replace_all(manifest, "\"" + seed.name + "\"", "\"" + r.name + "\"");
        for (std::size_t i = 0; i < snaps.size(); ++i) manifest = replace_all(manifest, seed_snaps[i].id, snaps[i].id);
        write_plain(dir + "/manifest.json", manifest, 0640);
        catalog.insert_image(r);
        for (const auto& s : snaps) catalog.insert_snapshot(s);
      }
      std::cerr << "amid-bench-populate: " << want_images - have_images << " images cloned from " << seed.id
                << " (" << seconds_since(t0) << " s)\n";
    }

    std::vector<InstanceRecord> instances = catalog.list_instances();
    long have_instances = static_cast<long>(instances.size());
    if (have_instances < want_instances) {
      auto t1 = std::chrono::steady_clock::now();
      const InstanceRecord* seed_p = nullptr;
      for (const auto& inst : instances) {
        if (inst.state == amid::InstanceState::kStopped) { seed_p = &inst; break; }
      }
      if (!seed_p) throw std::runtime_error("no stopped instance to clone (run one and stop it first)");
      const InstanceRecord seed = *seed_p;
      // amid parks a stopped instance's definition in the catalog; an older
      // state may still have it in libvirt, and its clones go there too.
      std::string seed_xml = catalog.instance_definition(seed.id);
      std::optional<amid::Hypervisor> hv;
      if (seed_xml.empty()) {
        hv.emplace(uri);
        auto defined = hv->domain_xml(seed.id);
        if (!defined) throw std::runtime_error("instance " + seed.id + " has no definition, in the catalog or at " + uri);
        seed_xml = *defined;
      }
      std::vector<std::pair<std::string, std::string>> parked;
      const std::string seed_mac = amid::mac_for_instance(seed.id);
      auto seed_volumes = catalog.volumes_of_instance(seed.id);
      std::vector<InstanceRecord> made;
      for (long n = have_instances; n < want_instances; ++n) {
        InstanceRecord r = seed;
        r.id = amid::new_id("i");
        r.reservation_id = amid::new_id("r");
        r.domain_uuid = amid::new_uuid();
        r.dir = store.instance_dir(r.id);
        r.launch_time = amid::iso_now();
        r.tags.clear();
        amid::fs::make_dirs(r.dir, 0711);
        for (const auto& e : std::filesystem::directory_iterator(seed.dir)) {
          std::filesystem::copy_file(e.path(), r.dir + "/" + e.path().filename().string());
        }
        std::string xml = replace_all(seed_xml, seed.id, r.id);
        xml = replace_all(xml, seed.domain_uuid, r.domain_uuid);
        xml = replace_all(xml, seed_mac, amid::mac_for_instance(r.id));
        if (hv) {
          hv->define_domain(xml);
        } else {
          parked.emplace_back(r.id, xml);
        }
        made.push_back(r);
      }
      catalog.insert_instances(made);
      for (const auto& [id, xml] : parked) catalog.set_instance_definition(id, xml);
      for (const auto& r : made) {
        for (auto v : seed_volumes) {
          v.id = amid::new_id("vol");
          v.instance_id = r.id;
          v.file = replace_all(v.file, seed.id, r.id);
          v.create_time = r.launch_time;
          v.tags.clear();
          catalog.insert_volume(v);
        }
      }
      std::cerr << "amid-bench-populate: " << made.size() << " stopped instances (their definitions "
                << (hv ? "in libvirt" : "parked in the catalog") << ") cloned from " << seed.id << " (" << seconds_since(t1) << " s)\n";
    }
    ::sync();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "amid-bench-populate: " << e.what() << "\n";
    return 1;
  }
}
