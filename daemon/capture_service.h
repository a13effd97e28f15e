// create-image: a running or stopped EBS-backed instance becomes a new image.
//
// create_image() checks everything, records the image as `pending` and returns
// at once; the capture runs on the scheduler. Default mode shuts the guest down
// cleanly (ACPI, forced after a timeout), copies its EBS disks and starts it
// again; --no-reboot takes a disk-only external snapshot (the guest goes on
// writing to new overlays, its vCPUs never stopped), copies the now frozen disks
// and merges the overlays back into the instance's own disks with an active block
// commit (never into the template). Either way each EBS disk becomes a standalone
// (flattened) read-only snapshot qcow2 in the new image's folder; the source
// template and the instance's own disks are only read. A failure part way
// removes every partial file, marks the image `failed` with the reason, and
// returns the instance to the state it was in.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/block_device_mapping.h"
#include "daemon/caller.h"
#include "daemon/client_token.h"
#include "daemon/image_service.h"
#include "daemon/instance_service.h"
#include "daemon/runtime.h"
#include "daemon/scheduler.h"

namespace amid {

struct CreateImageRequest {
  std::string instance_id, name, description;
  bool no_reboot = false;
  BlockDeviceMappings block_device_mappings;  // add ephemerals / drop volumes, as EC2 allows
  std::optional<ClientToken> client_token;    // makes the request idempotent (daemon/client_token.h)
  Tags image_tags;     // TagSpecifications, ResourceType "image": on the image from the start
  Tags snapshot_tags;  // TagSpecifications, ResourceType "snapshot": on each snapshot it makes
};

// copy-image: an image of another region (or this one) becomes a new image here.
struct CopyImageRequest {
  std::string source_region, source_image_id, name;
  std::optional<std::string> description;  // absent: "[Copied ami-... from REGION] ...", as EC2 writes
  bool copy_image_tags = false;
  Tags image_tags;     // TagSpecifications "image": over the copied tags, if any
  Tags snapshot_tags;  // TagSpecifications "snapshot": on each new snapshot
  std::optional<ClientToken> client_token;  // makes the request idempotent (daemon/client_token.h)
};

class CaptureService {
 public:
  CaptureService(Runtime& rt, ImageService& images, InstanceService& instances)
      : rt_(rt), images_(images), instances_(instances) {}
  void set_scheduler(Scheduler* scheduler) { scheduler_ = scheduler; }

  // Validates, records the pending image, starts the capture; returns the image.
  // With a ClientToken this caller already used: the first request's image, in
  // whatever state it is now (IdempotentParameterMismatch if the parameters
  // differ); the token is recorded with the pending image in one transaction.
  ImageRecord create_image(const Caller& caller, const CreateImageRequest& request);

  // Checks, records a pending image in this region and returns it; a job copies
  // every file of `source` (which the caller can see, through `source_images`)
  // byte for byte and sparse into this region's store, with new snap- ids.
  ImageRecord copy_image(const Caller& caller, const CopyImageRequest& request, ImageService& source_images);

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
    // Thin: the new snapshot is a copy of the instance's own layer, on the file of
    // this base snapshot (or standalone when base is "" and the disk has no backing).
    bool thin = false;
    std::string base_snapshot_id;
  };
  // Decides whether the disk can be captured as a thin layer (see docs/CAPTURE.md).
  void plan_layer(const ImageRecord& image, Disk& disk) const;
  // qemu-img convert of the whole chain into a standalone qcow2, sealed into place.
  ImageRecord start_capture(const Caller& caller, const CreateImageRequest& request);
  ImageRecord replayed_image(const ClientTokenRecord& prior) const;
  void run(ImageRecord image, InstanceRecord instance, bool no_reboot, std::vector<Disk> disks,
           BlockDeviceMappings extra, Tags snapshot_tags);
  void copy_disks(const ImageRecord& image, const InstanceRecord& instance, bool live,
                  std::vector<Disk>& disks);
  void fail(const ImageRecord& image, const std::string& reason);
  void flatten_across(RegionFiles& from_files, const std::string& from, const std::string& to,
                      const std::function<void(double)>& progress);
  // A folder on this machine for files on their way between hosts.
  std::string staging() const;
  struct CopyFile {
    std::string from, to;
    std::uint64_t bytes = 0;
    bool flatten = false;  // a thin snapshot: copied as a standalone qcow2
    RegionFiles* from_files = nullptr;  // the source region's store
  };
  ImageRecord start_copy(const Caller& caller, const CopyImageRequest& request, ImageService& source_images,
                         const std::string& token_action);
  void run_copy(ImageRecord image, std::vector<CopyFile> files, std::vector<SnapshotRecord> snapshots);
  // Without sizes, a volume-less (older) instance costs no qemu-img info.
  std::vector<Disk> ebs_disks(const InstanceRecord& instance, bool with_sizes = true) const;
  static std::string overlay_of(const std::string& source);
  // Merges any capture overlay of the instance back into its disk, live or
  // offline, and removes it. Throws on failure; merge_back() logs instead.
  void settle_overlays(const InstanceRecord& instance);
  void merge_back(const InstanceRecord& instance);

  Runtime& rt_;
  ImageService& images_;
  InstanceService& instances_;
  Scheduler* scheduler_ = nullptr;
};

}  // namespace amid
