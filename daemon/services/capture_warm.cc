// create-image --warm (services/capture_service.h, docs/WARM_IMAGES.md): the
// capture mode that also keeps the guest's memory. Its rules, the save of the
// running guest, and the warm state kept once the disks are copied; run()
// (capture_service.cc) puts them in order and restores the guest.
#include "daemon/host/domain_xml.h"
#include "daemon/host/fs.h"
#include "daemon/host/guest_resume.h"
#include "daemon/host/log.h"
#include "daemon/services/capture_service.h"
#include "daemon/services/warm_images.h"

namespace amid {
namespace {

// How long create-image --warm waits for the guest's resume listener to greet.
constexpr std::chrono::seconds kListenerTimeout{10};

}  // namespace

void CaptureService::check_warm(const InstanceRecord& inst, const std::vector<Disk>& disks,
                                const BlockDeviceMappings& extra) const {
  if (inst.state != InstanceState::kRunning) {
    throw AmidError(codes::kIncorrectInstanceState, "Warm: instance " + inst.id + " is " + to_string(inst.state) +
                                                        "; create-image --warm saves a running guest's memory");
  }
  if (!rt_.files->on_this_host()) {
    throw AmidError(codes::kUnsupportedOperation,
                    "Warm: region " + rt_.settings.region + "'s store is on another host; warm images are made on this one");
  }
  auto beside_root = [](const std::string& device) {
    return "Warm: the image would map " + device + " beside its root, and a warm image has its root disk only; "
           "drop it with --block-device-mappings (NoDevice) or capture without --warm";
  };
  for (const auto& d : disks) {
    if (d.target != "vda") throw AmidError(codes::kInvalidParameterCombination, beside_root(d.device_name));
  }
  auto type = rt_.instance_types.find(inst.instance_type);
  const bool has_instance_store = type != rt_.instance_types.end() && type->second.instance_store_gib > 0;
  for (const auto& m : inst.block_device_mappings) {
    if (m.virtual_name && has_instance_store) {
      throw AmidError(codes::kInvalidParameterCombination, beside_root(m.device_name));
    }
  }
  for (const auto& m : extra) {
    if (!m.no_device) throw AmidError(codes::kInvalidParameterCombination, beside_root(m.device_name));
  }
}

void CaptureService::save_for_warm(CaptureJob& job) {
  const InstanceRecord& inst = job.lease->instance();
  const std::string socket = rt_.hypervisor.channel_socket(inst.id, kResumeChannel);
  if (socket.empty() || !wait_for_resume_listener(socket, kListenerTimeout)) {
    throw AmidError(codes::kInternalError,
                    "Warm: " + inst.id + "'s guest did not greet amid on the resume port (" + kResumeChannel +
                        ") within " + std::to_string(kListenerTimeout.count()) +
                        " s: its image has no resume listener, or its boot is not done (images/README.md, Warm images)");
  }
  WarmStateRecord& warm = *job.warm;
  warm.image_id = job.image.id;
  record_saved_machine(rt_, inst, warm);
  warm.memory_file = warm_memory_file(rt_.store, job.image.id);
  warm.root_layer = warm_root_layer(rt_.store, job.image.id);
  job.lease->save_memory(warm.memory_file + ".tmp");
  log_info("image " + job.image.id + ": " + inst.id + " saved (" +
           std::to_string(rt_.files->file_size(warm.memory_file + ".tmp")) + " bytes of memory state)");
}

void CaptureService::keep_warm_state(const CaptureJob& job) {
  WarmStateRecord warm = *job.warm;
  // Restored instances get their overlays on the root layer, as for an image
  // made warm by booting it; here the guest wrote nothing after the copy, so
  // the layer is empty.
  write_root_layer(warm.root_layer,
                   [&](const std::string& part) { rt_.qemu_img.create_overlay(job.image.disk_file, part); });
  fs::rename_durable(warm.memory_file + ".tmp", warm.memory_file);
  warm.memory_bytes = rt_.files->file_size(warm.memory_file);
  warm.state = "available";
  rt_.catalog.put_warm_state(warm);
}

}  // namespace amid
