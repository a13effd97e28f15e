#include "daemon/services/reconcile.h"

#include <filesystem>
#include <functional>
#include <set>

#include "common/ids.h"
#include "daemon/host/domain_xml.h"
#include "daemon/host/fs.h"
#include "daemon/host/log.h"

namespace amid {

void reconcile(Runtime& rt, ImageService& images, InstanceService& instances) {
  // A registration cut short left a pending image: its copy never completed.
  for (const auto& img : rt.catalog.list_images()) {
    if (img.state != ImageState::kPending || !img.source_instance.empty()) continue;  // captures: CaptureService
    if (img.region != rt.settings.region) continue;  // another region's store
    log_warn("image " + img.id + " was being registered when amid stopped; it failed");
    rt.files->remove_dir(rt.store.image_dir(img.id));
    for (const auto& snap : rt.catalog.snapshots_of_image(img.id)) rt.catalog.delete_snapshot(snap.id);
    rt.catalog.delete_warm_state(img.id);  // a copy's, recorded just before the end
    bool copy = img.source.rfind("copy:", 0) == 0;
    rt.catalog.set_image_state(img.id, ImageState::kFailed,
                               copy ? "Server.InternalError: amid stopped during the copy; run copy-image again"
                                    : "Server.InternalError: amid stopped during the registration; register it again");
  }
  std::set<std::string> known;
  for (auto& inst : rt.catalog.list_instances()) {
    if (inst.region != rt.settings.region) continue;  // another region's libvirt
    instances.finish_interrupted(inst);
    if (!rt.catalog.find_instance(inst.id)) continue;  // an undone launch
    known.insert(inst.id);
    instances.refresh(inst);
  }
  for (const auto& dom : rt.hypervisor.list_domains()) {
    if (known.count(dom.name)) continue;
    auto xml = rt.hypervisor.domain_xml(dom.name);
    auto owner = xml ? read_domain_ownership(*xml) : std::nullopt;
    if (owner && owner->state_dir == rt.store.root()) {
      log_warn("domain " + dom.name + " carries amid's mark but is not in the catalog; left alone");
    } else if (!owner && is_valid_id(dom.name, "i")) {
      log_warn("domain " + dom.name + " is named like an instance but is not amid's; left alone");
    }
  }
  // Entries in the store that no catalog row accounts for: never deleted (amid
  // cannot prove they are its own), only reported.
  std::set<std::string> image_ids, volume_files;
  for (const auto& img : rt.catalog.list_images()) image_ids.insert(img.id);
  for (const auto& vol : rt.catalog.list_volumes()) volume_files.insert(vol.file);
  std::set<std::string> instance_ids;
  for (const auto& inst : rt.catalog.list_instances()) instance_ids.insert(inst.id);
  auto report = [](const std::string& dir, const std::function<bool(const std::string&)>& known_entry) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind(".", 0) == 0 || known_entry(name)) continue;
      log_warn(e.path().string() + " is in amid's store but not in its catalog; left alone");
    }
  };
  if (!rt.files->on_this_host()) {  // a folder there lists only through its pool: not done at start
    images.reclaim_unused();
    return;
  }
  report(rt.store.images_dir(), [&](const std::string& n) { return image_ids.count(n) > 0; });
  report(rt.store.instances_dir(), [&](const std::string& n) { return instance_ids.count(n) > 0; });
  report(rt.store.volumes_dir(),
         [&](const std::string& n) { return volume_files.count(rt.store.volumes_dir() + "/" + n) > 0; });
  images.reclaim_unused();
}

}  // namespace amid
