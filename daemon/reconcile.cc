#include "daemon/reconcile.h"

#include <set>

#include "daemon/domain_xml.h"
#include "daemon/fs.h"
#include "daemon/log.h"

namespace amid {

void reconcile(Runtime& rt, ImageService& images, InstanceService& instances) {
  // A registration cut short left a pending image: its copy never completed.
  for (const auto& img : rt.catalog.list_images()) {
    if (img.state != "pending" || !img.source_instance.empty()) continue;  // captures: CaptureService
    log_warn("image " + img.id + " was being registered when amid stopped; it failed");
    fs::remove_tree(rt.store.image_dir(img.id));
    fs::fsync_path(rt.store.images_dir());
    for (const auto& snap : rt.catalog.snapshots_of_image(img.id)) rt.catalog.delete_snapshot(snap.id);
    rt.catalog.set_image_state(img.id, "failed",
                               "Server.InternalError: amid stopped during the registration; register it again");
  }
  std::set<std::string> known;
  for (auto& inst : rt.catalog.list_instances()) {
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
    }
  }
  images.reclaim_unused();
}

}  // namespace amid
