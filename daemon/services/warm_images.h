// Warm images (docs/WARM_IMAGES.md): an image that carries, beside its disk,
// the memory of a guest booted from it and saved at its ready point, so that a
// launch restores that guest instead of booting one.
//
// WarmImageService::warm_image makes an image warm: in the background it
// launches one instance of the image (the caller's, as any launch), waits for
// its resume listener to greet amid (host/guest_resume.h: the guest's boot is
// done), sets its NIC's link down, saves its memory (libvirt's save image) and
// keeps its root disk as the image's root layer, then terminates it.
//
// A launch (instance_launch.cc) restores from the warm state when the instance
// matches what was saved (warm_mismatch), and tells the restored guest who it
// is (resume_restored); otherwise it boots cold and says why in one log line.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "daemon/host/domain_xml.h"
#include "daemon/services/caller.h"
#include "daemon/services/image_service.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/runtime.h"
#include "daemon/services/scheduler.h"

namespace amid {

class WarmImageService {
 public:
  WarmImageService(Runtime& rt, ImageService& images, InstanceService& instances)
      : rt_(rt), images_(images), instances_(instances) {}
  void set_scheduler(Scheduler* scheduler) { scheduler_ = scheduler; }

  // For the image's owner: records a pending warm state for instances of
  // `instance_type` ("" = the image's default type) and starts the job; returns
  // the pending record. Refused: an image that is not available, one already
  // warm or warming (IncorrectState), one with volumes beside its root or
  // in a region whose store is on another host (UnsupportedOperation).
  WarmStateRecord warm_image(const Caller& caller, const std::string& image_id, const std::string& instance_type);

  // At start: warm states a stopped amid left pending become failed, their
  // partial files removed (the instance they launched is an ordinary one).
  void recover_interrupted();

  // How long a guest may take from its launch to its listener's greeting
  // (300 s; shorter in tests).
  void set_boot_timeout(std::chrono::milliseconds timeout) { boot_timeout_ = timeout; }

 private:
  void run(const Caller& caller, WarmStateRecord warm);

  Runtime& rt_;
  ImageService& images_;
  InstanceService& instances_;
  Scheduler* scheduler_ = nullptr;
  std::chrono::milliseconds boot_timeout_ = std::chrono::seconds(300);
};

// Where an image's warm state lives in a store: the save image, and the root
// layer (a qcow2 over the image's disk).
std::string warm_memory_file(const Store& store, const std::string& image_id);
std::string warm_root_layer(const Store& store, const std::string& image_id);
// Puts a root layer in place at `to`: `make` writes the qcow2 at the path it
// is given (beside `to`), which is then made read-only (0444) and renamed
// over `to`; on failure it is removed and the error passed on.
void write_root_layer(const std::string& to, const std::function<void(const std::string& part)>& make);

// Fills in what a restore from a save of running instance `rec` must match:
// its type's memory and vCPUs, the machine, CPU and domain type of its live
// domain, libvirt's QEMU version, whether it has a NIC. Throws when its domain
// is gone.
void record_saved_machine(Runtime& rt, const InstanceRecord& rec, WarmStateRecord& warm);

// Why instance `rec` (with its merged `mappings` and root size) cannot be
// restored from `image`'s warm state: "" when it can.
std::string warm_mismatch(const Runtime& rt, const ImageRecord& image, const InstanceRecord& rec,
                          const BlockDeviceMappings& mappings, std::uint64_t instance_store_gib,
                          std::uint64_t root_size);

// The domain XML a save image of `warm` carries for the instance whose
// (cold) domain is `spec`: the same devices as the guest that was saved
// (no user-data entry: user data comes through the resume port), its NIC's
// link down, the machine exactly as saved.
std::string restore_xml(const WarmStateRecord& warm, DomainSpec spec);

// Tells the restored guest of `rec` who it is (host/guest_resume.h); its NIC's
// link stays down (the caller sets it up). Throws when the guest does not
// take its identity.
void resume_restored(Runtime& rt, const InstanceRecord& rec, const DomainSpec& spec,
                     const std::optional<std::string>& user_data);

}  // namespace amid
