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
    log_warn("image " + img.id + " was pending when amid stopped; removing its partial files");
    fs::remove_tree(rt.store.image_dir(img.id));
    rt.catalog.delete_image(img.id);
  }
  std::set<std::string> known;
  for (auto& inst : rt.catalog.list_instances()) {
    known.insert(inst.id);
    if (inst.state == "pending") {
      // A launch cut short: if libvirt runs it, adopt it; otherwise undo it.
      auto st = rt.hypervisor.domain_status(inst.id);
      if (st && st->state == DomainRunState::kRunning) {
        rt.catalog.set_instance_state(inst.id, "running");
        log_info("instance " + inst.id + " was pending; it runs, so it is running");
      } else {
        log_warn("instance " + inst.id + " was pending when amid stopped; undoing its launch");
        if (st) rt.hypervisor.undefine_domain(inst.id);
        fs::remove_tree(inst.dir);
        rt.catalog.delete_instance(inst.id);
      }
      continue;
    }
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
