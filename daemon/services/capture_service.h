// create-image: a running or stopped EBS-backed instance becomes a new image.
//
// create_image() checks everything, takes a lease on the instance
// (services/instance_lease.h), records the image as `pending` and returns at
// once; the capture runs on the scheduler as a CaptureJob. Default mode shuts
// the guest down cleanly (ACPI, forced after a timeout), copies its EBS disks and
// starts it again; --no-reboot takes a disk-only external snapshot (the guest
// goes on writing to new overlays, its vCPUs never stopped), copies the now
// frozen disks and merges the overlays back into the instance's own disks with
// an active block commit (never into the template). Each EBS disk becomes a
// read-only snapshot qcow2 in the new image's folder: a thin layer on the
// template it was launched from, or a standalone copy (docs/CAPTURE.md); the
// source template and the instance's own disks are only read. A failure part way
// removes every partial file, marks the image `failed` with the reason, and
// returns the instance to the state it was in.
//
// --warm (amid's extension, docs/WARM_IMAGES.md) also makes the image warm:
// the running guest is saved (memory and disks at one point), its disks
// copied while it is off, and it is restored from that save and goes on; the
// save becomes the image's warm state, with an empty root layer over the
// image's root disk.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/block_device_mapping.h"
#include "daemon/services/caller.h"
#include "daemon/services/client_token.h"
#include "daemon/services/image_service.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/runtime.h"
#include "daemon/services/scheduler.h"

namespace amid {

struct CreateImageRequest {
  std::string instance_id, name, description;
  bool no_reboot = false;
  bool warm = false;  // amid's extension: the image carries the guest's memory too
  BlockDeviceMappings block_device_mappings;  // add ephemerals / drop volumes, as EC2 allows
  std::optional<ClientToken> client_token;    // makes the request idempotent (services/client_token.h)
  Tags image_tags;     // TagSpecifications, ResourceType "image": on the image from the start
  Tags snapshot_tags;  // TagSpecifications, ResourceType "snapshot": on each snapshot it makes
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

  // At start: captures cut short by a stopped amid end `failed`, their partial
  // files removed, and an instance they had stopped is started again.
  void recover_interrupted();

  // How long the default mode waits for a clean shutdown before forcing it.
  static constexpr std::chrono::seconds kShutdownTimeout{60};

 private:
  // One EBS disk of the instance and the snapshot it becomes.
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
  // A capture, from its pending image to its end; runs on the scheduler.
  struct CaptureJob {
    ImageRecord image;                     // pending, as recorded
    std::shared_ptr<InstanceLease> lease;  // the instance, held until the job ends
    bool no_reboot = false;
    std::optional<WarmStateRecord> warm;   // --warm: what the save must record
    std::vector<Disk> disks;               // what is captured (dropped ones left out)
    BlockDeviceMappings extra;             // the request's additions and removals
    Tags snapshot_tags;
  };

  // Checks, leases the instance, records the pending image and posts its job.
  ImageRecord start_capture(const Caller& caller, const CreateImageRequest& request);
  void run(CaptureJob job);
  // --warm's rules (InvalidParameterCombination, IncorrectInstanceState,
  // UnsupportedOperation naming Warm), checked before anything is recorded.
  void check_warm(const InstanceRecord& instance, const std::vector<Disk>& disks,
                  const BlockDeviceMappings& extra) const;
  // --warm: checks the guest has a resume listener, records what a restore
  // must match into job.warm, and saves the guest (its QEMU gone after).
  void save_for_warm(CaptureJob& job);
  // --warm, the disks copied: the image's root layer made and the save moved
  // into place, the warm state recorded available.
  void keep_warm_state(const CaptureJob& job);
  // Decides whether the disk can be captured as a thin layer (see docs/CAPTURE.md).
  void plan_layer(const ImageRecord& image, Disk& disk) const;
  // Copies every disk into its snapshot file (live: after freezing a point in
  // time with capture overlays), reporting progress on the image.
  void copy_disks(ImageRecord& image, InstanceLease& lease, bool live, std::vector<Disk>& disks);
  // Runs `snapshot` with the guest's file systems frozen through its agent when
  // it has one (the image becomes filesystem-consistent, the freeze's length
  // recorded), else plainly.
  void freeze_around(ImageRecord& image, const std::string& instance_id, const std::function<void()>& snapshot);
  // Thaws the guest's file systems; a failure is logged, never thrown.
  void thaw(const std::string& instance_id);
  // The new image's mappings: its snapshots, the instance store the instance
  // had (recorded, not captured), then the request's additions and removals.
  static BlockDeviceMappings captured_mappings(const CaptureJob& job);
  // Every EBS volume attached (root included); an instance launched before
  // volumes existed has its root overlay only. Without sizes, a volume-less
  // (older) instance costs no qemu-img info.
  std::vector<Disk> ebs_disks(const InstanceRecord& instance, bool with_sizes = true) const;
  static std::string overlay_of(const std::string& source);
  bool has_overlays(const InstanceRecord& instance) const;
  // Merges any capture overlay of the leased instance back into its disk, live
  // or offline, and removes it. Throws on failure; merge_back() logs instead.
  void settle_overlays(InstanceLease& lease);
  void merge_back(InstanceLease& lease);

  Runtime& rt_;
  ImageService& images_;
  InstanceService& instances_;
  Scheduler* scheduler_ = nullptr;
};

}  // namespace amid
