// The one place amid talks to libvirt (C API). Nothing else sees a virXxxPtr.
//
// Owns one connection, opened once at start and shared by all worker threads
// (libvirt connections are thread-safe). For the embedded QEMU driver it runs
// libvirt's default event loop on a thread of its own, as that driver requires.
// Every libvirt failure becomes an AmidError(InternalError, "libvirt: ...");
// "no such domain" is not a failure: lookups return std::nullopt.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct _virConnect;  // libvirt's connection, for RegionFiles on another host

namespace amid {

enum class DomainRunState { kRunning, kPaused, kShutoff, kShuttingDown, kCrashed, kOther };

struct DomainStatus {
  std::string name;
  std::string uuid;
  DomainRunState state = DomainRunState::kOther;
  bool persistent = false;
};

class Hypervisor {
 public:
  // Opens `uri` (qemu:///embed?root=..., qemu:///system, test:///default, ...).
  explicit Hypervisor(const std::string& uri);
  ~Hypervisor();
  Hypervisor(const Hypervisor&) = delete;
  Hypervisor& operator=(const Hypervisor&) = delete;

  const std::string& uri() const { return uri_; }
  // The connection itself, for the storage calls of a region on another host
  // (region_files): libvirt connections are thread-safe.
  _virConnect* connection() const;
  std::string hostname() const;
  std::string capabilities_xml() const;
  // True when the hypervisor offers domain type `type` ("kvm", "qemu") for arch.
  bool supports_domain_type(const std::string& arch, const std::string& type) const;

  // Defines a persistent domain from XML and returns its name.
  std::string define_domain(const std::string& xml);
  // Starts a defined domain; `paused`: QEMU is up but the vCPUs wait for resume_domain.
  void start_domain(const std::string& name, bool paused = false);
  void resume_domain(const std::string& name);
  // Hard stop; no error when the domain is already off.
  void destroy_domain(const std::string& name);
  // ACPI power button, or (through_agent) the guest agent's shutdown command,
  // which a guest obeys even where it ignores the button.
  void shutdown_domain(const std::string& name, bool through_agent = false);
  // True when the running domain's guest agent is connected (see
  // guest_agent_connected_in); false for a domain that is off or has no agent.
  bool guest_agent_connected(const std::string& name) const;
  // Freezes every mounted file system of the guest through its agent (guest
  // writes wait, caches are flushed) and returns how many were frozen; throws
  // when the agent cannot. thaw_filesystems undoes it; thawing a guest that is
  // not frozen is harmless.
  int freeze_filesystems(const std::string& name);
  void thaw_filesystems(const std::string& name);
  // Removes the definition; no error when it does not exist. The domain's UEFI
  // variables (NVRAM) go with it unless `keep_nvram` (a definition that is only
  // parked, to be defined again from its XML).
  void undefine_domain(const std::string& name, bool keep_nvram = false);
  std::optional<DomainStatus> domain_status(const std::string& name) const;
  std::optional<std::string> domain_xml(const std::string& name) const;
  std::vector<DomainStatus> list_domains() const;
  // Reboot through the guest (ACPI; libvirt resets the guest when it powers off).
  void reboot_domain(const std::string& name);

  // Each disk target and the file behind it: of the running domain (live) or of
  // the definition its next start uses.
  std::vector<std::pair<std::string, std::string>> disk_files(const std::string& name, bool live) const;
  // Disk-only external snapshot, atomic across disks, without libvirt snapshot
  // metadata: each (target, file) continues on a new qcow2 overlay at file whose
  // backing is the disk's image until now, which is from then on frozen. Other
  // disks are untouched. The guest keeps running; its vCPUs are not stopped.
  void snapshot_to_overlays(const std::string& name, const std::vector<std::pair<std::string, std::string>>& overlays);
  // Active block commit of disk `target`'s top overlay into `base` (its backing
  // file), then a pivot back onto `base`; blocks until done. A commit already
  // running on the disk (amid restarted mid-way) is waited for and pivoted.
  void commit_overlay(const std::string& name, const std::string& target, const std::string& base);
  // Points disk `target` of the domain's persistent definition at `file`.
  void set_disk_file(const std::string& name, const std::string& target, const std::string& file);

  // Warm images (docs/WARM_IMAGES.md). save_domain writes the running domain's
  // memory and device state to `path` (libvirt's save image) and stops it.
  // restore_domain starts a domain from a save image, the domain the image's
  // own XML names (a defined domain of that name and UUID becomes the running
  // one); `paused`: its vCPUs wait for resume_domain.
  void save_domain(const std::string& name, const std::string& path);
  void restore_domain(const std::string& path, bool paused = false);
  // Sets the link of the running domain's NIC with MAC `mac` up or down (the
  // guest sees its carrier come or go; nothing is sent or received while down).
  void set_link(const std::string& name, const std::string& mac, bool up);
  // The host socket behind the running domain's virtio-serial channel named
  // `channel` (libvirt's path when amid gave none); "" when it has none.
  std::string channel_socket(const std::string& name, const std::string& channel) const;
  // The hypervisor's version as libvirt gives it (QEMU 7.2.0: "7002000").
  std::string version() const;

  // Calls `fn(domain_name)` whenever a domain stops (shutdown, destroy, crash).
  // fn runs on libvirt's event-loop thread: it must only hand work off, never block.
  // One watcher per Hypervisor; registered for the life of the connection.
  void watch_stops(std::function<void(const std::string&)> fn);

 private:
  struct Conn;
  std::string uri_;
  std::unique_ptr<Conn> conn_;
  std::function<void(const std::string&)> on_stop_;
  int stop_callback_id_ = -1;
};

const char* to_string(DomainRunState s);

}  // namespace amid
