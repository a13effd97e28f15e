// create-image: a running or stopped EBS-backed instance becomes a new image.
//
// create_image() checks everything, records the image as `pending` and returns
// at once; the capture runs on the scheduler. Default mode shuts the guest down
// cleanly (ACPI, forced after a timeout), copies its EBS disks and starts it
// again; --no-reboot copies a point-in-time view while the guest runs, through
// libvirt's push-mode backup. Either way each EBS disk becomes a standalone
// (flattened) read-only snapshot qcow2 in the new image's folder; the source
// template and the instance's own disks are only read. A failure part way
// removes every partial file, marks the image `failed` with the reason, and
// returns the instance to the state it was in.
#pragma once

#include <optional>
#include <string>

#include "common/block_device_mapping.h"
#include "daemon/caller.h"
#include "daemon/image_service.h"
#include "daemon/instance_service.h"
#include "daemon/runtime.h"
#include "daemon/scheduler.h"

namespace amid {

struct CreateImageRequest {
  std::string instance_id, name, description;
  bool no_reboot = false;
  BlockDeviceMappings block_device_mappings;  // add ephemerals / drop volumes, as EC2 allows
  Tags image_tags;     // TagSpecifications, ResourceType "image": on the image from the start
  Tags snapshot_tags;  // TagSpecifications, ResourceType "snapshot": on each snapshot it makes
};

class CaptureService {
 public:
  CaptureService(Runtime& rt, ImageService& images, InstanceService& instances)
      : rt_(rt), images_(images), instances_(instances) {}
  void set_scheduler(Scheduler* scheduler) { scheduler_ = scheduler; }

  // Validates, records the pending image, starts the capture; returns the image.
  ImageRecord create_image(const Caller& caller, const CreateImageRequest& request);

  // At start: captures cut short by a stopped amid end `failed`, their partial
  // files removed, and an instance they had stopped is started again.
  void recover_interrupted();

  // How long the default mode waits for a clean shutdown before forcing it.
  static constexpr std::chrono::seconds kShutdownTimeout{60};

 private:
  struct Disk {
    std::string device_name;  // /dev/vda
    std::string target;       // vda
    std::string source;       // the instance's qcow2
    std::string snapshot_file;
    std::string snapshot_id;
    std::uint64_t size_bytes = 0;
    bool delete_on_termination = true;
    std::string volume_type = "gp3";
    std::string volume_id;
  };
  void run(ImageRecord image, InstanceRecord instance, bool no_reboot, std::vector<Disk> disks,
           BlockDeviceMappings extra, Tags snapshot_tags);
  void copy_disks(const ImageRecord& image, const InstanceRecord& instance, bool live,
                  std::vector<Disk>& disks);
  void fail(const ImageRecord& image, const std::string& reason);

  Runtime& rt_;
  ImageService& images_;
  InstanceService& instances_;
  Scheduler* scheduler_ = nullptr;
};

}  // namespace amid
