// A warm launch's restore (docs/WARM_IMAGES.md, "Launching from a warm
// image"): the instance service's side, beside launch_one in
// instance_launch.cc, which decides whether a launch restores.
#include <future>

#include "daemon/host/log.h"
#include "daemon/host/save_image.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/warm_images.h"

namespace amid {

bool InstanceService::restore_guest(const InstanceRecord& rec, const DomainSpec& spec, const WarmStateRecord& warm,
                                    const std::optional<std::string>& user_data) {
  // The saved guest's state with this instance's XML in its header: one copy
  // per launch, removed once QEMU read it.
  const std::string save = rec.dir + "/restore.save";
  try {
    // The copy, and the filter and tap, side by side: neither needs the other.
    auto network = std::async(std::launch::async, [&] { prepare_guest_network(rt_, rec); });
    write_save_image(warm.memory_file, save, restore_xml(warm, spec), /*running=*/true);
    network.get();
    // Running at once, not paused as a boot starts (start_guest): the restored
    // NIC's link is down (restore_xml) until the guest has answered, so no
    // frame leaves before the tap is in the region's namespace. The tap goes
    // there, and the copy QEMU has read goes (unlinking 99 MB took 25 ms
    // here), while the guest takes its identity.
    rt_.hypervisor.restore_domain(save, /*paused=*/false);
    auto attached = std::async(std::launch::async, [&] {
      attach_guest_network(rt_, rec);
      rt_.files->remove(save);
    });
    resume_restored(rt_, rec, spec, user_data);
    attached.get();
    if (has_guest_network(rt_, rec)) {
      rt_.hypervisor.set_link(rec.id, spec.mac, true);
      update_forwards(rt_, rec.id);
    }
    return true;
  } catch (const std::exception& e) {
    log_warn("instance " + rec.id + ": restoring " + warm.image_id + "'s warm state failed (" + e.what() +
             "); it boots cold");
    try {
      rt_.files->remove(save);
      rt_.hypervisor.destroy_domain(rec.id);
    } catch (const std::exception& again) {
      log_warn("instance " + rec.id + ": " + again.what());
    }
    release_guest_network(rt_, rec.id);
    start_guest(rt_, rec);
    return false;
  }
}

}  // namespace amid
