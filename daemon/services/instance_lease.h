// create-image's hold on one instance, from its checks to its end: the one
// object through which a capture acts on the instance it captures.
//
// While a lease is held, start, stop, reboot and terminate of the instance are
// refused (IncorrectInstanceState), and so is a second lease. Once settling()
// (the image is complete; only the guest's writes are being merged back), those
// actions wait for the lease to end instead (at most 60 s). The lease ends when
// its last holder lets it go, however the capture ends.
//
// Owned by the instance service, which gives it out
// (InstanceService::lease_for_capture, lease_for_recovery); a capture job holds
// it through a shared_ptr. Thread-safe: each call takes the service's lock.
#pragma once

#include <chrono>
#include <string>

#include "daemon/state/records.h"

namespace amid {

class InstanceService;

class InstanceLease {
 public:
  InstanceLease(const InstanceLease&) = delete;
  InstanceLease& operator=(const InstanceLease&) = delete;
  ~InstanceLease();

  // The instance as it was when leased (its state then included).
  const InstanceRecord& instance() const { return instance_; }
  const std::string& id() const { return instance_.id; }

  // The capture is done but for merging the guest's writes back into its
  // disks: actions on the instance now wait for the lease's end.
  void settling();
  // Clean shutdown (through the guest agent where one is connected, else ACPI;
  // the button pressed again while the guest still runs), forced after
  // `timeout`; returns when the guest is off. The instance is stopped.
  void shut_down(std::chrono::seconds timeout);
  // Starts it again after shut_down (its definition defined again if an amid
  // start parked it meanwhile). The instance is running.
  void start_again();
  // create-image --warm: saves the running guest's memory to `path`
  // (libvirt's save image) with its NIC's link down, so that no clone sends
  // with this instance's MAC; QEMU is then gone. The instance is pending.
  void save_memory(const std::string& path);
  // Restores the guest saved at `path` and sets its link up again; if that
  // fails, it boots instead (and the log says why). The instance is running.
  void resume_saved(const std::string& path);
  // The file behind disk `target` ("vda") in the definition the instance's next
  // start uses: libvirt's persistent one, or the one parked in the catalog. ""
  // when neither has that disk.
  std::string next_start_disk(const std::string& target);
  // Points disk `target` of that definition at `file`.
  void point_next_start_disk(const std::string& target, const std::string& file);

 private:
  friend class InstanceService;
  InstanceLease(InstanceService& owner, InstanceRecord instance)
      : owner_(owner), instance_(std::move(instance)) {}
  InstanceService& owner_;
  InstanceRecord instance_;
};

}  // namespace amid
