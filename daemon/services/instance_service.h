// Instances: launch from an image, describe, start, stop, reboot, terminate,
// console output, and create-image's lease on an instance.
//
// Called from worker threads. An instance is a libvirt domain named after its
// id, whose root disk is a qcow2 overlay (explicit backing format) on the
// image's read-only template; while it is stopped its definition waits in the
// catalog, not in libvirt. Rights are checked and every parameter is validated
// before anything is created; a launch that fails part way removes what it made.
//
// Its work is spread over: instance_launch.cc (run-instances), instance_power.cc
// (start, stop, reboot, the stop deadline), instance_lease.cc (create-image's
// hold), instance_service.cc (describe, terminate, state kept in line with libvirt).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/block_device_mapping.h"
#include "daemon/host/domain_xml.h"
#include "daemon/services/caller.h"
#include "daemon/services/client_token.h"
#include "daemon/services/image_service.h"
#include "daemon/services/instance_lease.h"
#include "daemon/services/runtime.h"
#include "daemon/services/scheduler.h"

namespace amid {

struct RunInstancesRequest {
  std::string image_id;
  std::string instance_type;  // "" = t3.micro, or t4g.micro for an arm64 image
  // EC2's MinCount/MaxCount: MaxCount instances when they fit the host's
  // capacity, else as many as fit if that is at least MinCount, else none.
  int min_count = 1;
  int max_count = 1;
  std::optional<std::string> user_data;  // decoded bytes
  BlockDeviceMappings block_device_mappings;  // merged over the image's, as on EC2
  Tags instance_tags;  // TagSpecifications, ResourceType "instance"
  Tags volume_tags;    // TagSpecifications, ResourceType "volume": every volume made
  std::optional<ClientToken> client_token;  // makes the request idempotent (services/client_token.h)
  std::optional<KeyPairRecord> key_pair;     // KeyName, the caller's (KeyPairService::key_for_launch)
  // Its security groups, in order (SecurityGroupService::groups_for_launch).
  std::vector<GroupRef> security_groups;
};

// What RunInstances answers with.
struct Reservation {
  std::string reservation_id;
  std::vector<InstanceRecord> instances;
  // The answer of an earlier request with the same ClientToken: its instances as
  // they are now (launched-but-undone ones left out), not a new launch.
  bool replayed = false;
};

struct StateChange {
  std::string instance_id;
  InstanceState previous, current;
};

class InstanceService {
 public:
  InstanceService(Runtime& rt, ImageService& images) : rt_(rt), images_(images) {}

  // With a ClientToken already used by this caller: the first request's
  // reservation (IdempotentParameterMismatch if the parameters differ); the token
  // is recorded with the instance rows in one transaction, and dropped again when
  // the whole launch is undone (so the request can be sent again).
  Reservation run_instances(const Caller& caller, const RunInstancesRequest& req);
  std::vector<InstanceRecord> describe_instances(const Caller& caller,
                                                 const std::vector<std::string>& ids);
  std::vector<StateChange> terminate_instances(const Caller& caller,
                                               const std::vector<std::string>& ids);
  // Volumes the caller may see, or exactly `ids` (InvalidVolume.NotFound).
  std::vector<VolumeRecord> describe_volumes(const Caller& caller, const std::vector<std::string>& ids);
  // EC2's rules: starting a running instance or stopping a stopped one changes
  // nothing; a terminated instance cannot start, stop or reboot
  // (IncorrectInstanceState); an instance-store-backed instance cannot stop
  // (UnsupportedOperation). Every id is checked before any instance changes.
  std::vector<StateChange> start_instances(const Caller& caller, const std::vector<std::string>& ids);
  // Clean shutdown (ACPI, pressed again while the guest still runs), forced off
  // after the stop timeout; force: at once.
  std::vector<StateChange> stop_instances(const Caller& caller, const std::vector<std::string>& ids,
                                          bool force);
  void reboot_instances(const Caller& caller, const std::vector<std::string>& ids);
  // The serial console's last 64 KiB, as EC2's GetConsoleOutput gives it.
  std::string console_output(const Caller& caller, const std::string& id);

  // create-image's lease on an instance the caller may manage: EBS-backed,
  // running or stopped, and not leased already (services/instance_lease.h).
  std::shared_ptr<InstanceLease> lease_for_capture(const Caller& caller, const std::string& id);
  // The same at amid's start, for a capture cut short: no rights or state checked.
  std::shared_ptr<InstanceLease> lease_for_recovery(const InstanceRecord& rec);

  // A libvirt domain stopped (event loop thread): hands the update to the scheduler.
  void on_domain_stopped(const std::string& name);
  // Until set, domain events and stop deadlines are not acted on (describe still refreshes).
  void set_scheduler(Scheduler* scheduler) { scheduler_ = scheduler; }
  // Resumes what a previous amid left half done (an instance still 'stopping').
  void resume_pending_work();
  // At start, before anything else: an instance a killed amid left mid-change.
  // shutting-down: the termination is finished. pending after a start: running or
  // stopped, as libvirt has it. pending after a launch: adopted when its guest
  // runs, else the launch is undone (domain, volumes, files, row).
  void finish_interrupted(InstanceRecord& rec);

  // Brings catalog states in line with libvirt (a guest that powered itself
  // off, a domain that vanished). Used by describe and at start.
  void refresh(InstanceRecord& rec);

 private:
  friend class InstanceLease;

  // ---- instance_launch.cc
  // run_instances without the ClientToken lookup: launches, or throws.
  std::vector<InstanceRecord> launch(const Caller& caller, const RunInstancesRequest& req);
  Reservation replay_reservation(const Caller& caller, const ClientTokenRecord& prior);
  InstanceRecord launch_one(const InstanceRecord& proto, const ImageRecord& image,
                            const RunInstancesRequest& req,
                            const BlockDeviceMappings& mappings, std::uint64_t instance_store_gib);
  // The type to launch `image` on (default by architecture), checked against the
  // image's architecture and what this host can run.
  InstanceType instance_type_for(const ImageRecord& image, const std::string& requested) const;
  // Memory (MiB) not yet taken by live instances (pending, running, stopping),
  // out of limits.capacity_memory_mib or the host's RAM.
  std::uint64_t free_capacity_mib() const;
  // Undoes a launch: domain, volumes, files, catalog row.
  void roll_back_launch(const InstanceRecord& rec);
  // Starts the defined domain of `rec` from `warm` (its save image, with this
  // instance's XML) and tells the guest who it is; true when it came up so.
  // Anything failing on the way: the restored domain is stopped and the
  // instance boots cold (false), with one log line saying why.
  bool restore_guest(const InstanceRecord& rec, const DomainSpec& spec, const WarmStateRecord& warm,
                     const std::optional<std::string>& user_data);
  // Where a new instance's channel sockets go: the guest agent's, amid's resume port.
  void place_channel_sockets(const InstanceRecord& rec, DomainSpec& spec) const;
  static constexpr std::size_t kMaxUnixSocketPath = 107;  // sun_path's 108 bytes, with the NUL
  // The mappings an instance gets (image's merged with the launch's), checked:
  // snapshots exist and are visible. Throws before anything is created.
  BlockDeviceMappings plan_mappings(const Caller& caller, const ImageRecord& image,
                                    const BlockDeviceMappings& launch);
  // Blank instance-store disks, made at launch and again at every start (EC2).
  void make_ephemeral_disks(const InstanceRecord& rec, std::uint64_t size_gib);

  // ---- instance_power.cc
  void arm_stop_deadline(const std::string& id);
  // Presses the power button again, kPowerButtonRepeats after the first press,
  // while the instance is stopping and its guest still runs. `press` counts the
  // presses so far (1 = the stop's own).
  void repeat_power_button(const std::string& id, std::size_t press);
  // One more press of the power button of a guest that still runs, logged. state_mu_ held.
  void press_power_button_again(const std::string& id, std::size_t press, std::chrono::seconds since_first);

  // ---- instance_lease.cc (the lease's work, for InstanceLease; see its header)
  void end_lease(const std::string& id);
  void lease_settling(const std::string& id);
  void shut_down_leased(const std::string& id, std::chrono::seconds timeout);
  // The first shutdown request of a capture: the guest agent's when it answers, else the button.
  void shut_down_through_agent_or_button(const std::string& id);
  void start_leased(const std::string& id);
  void save_leased(const std::string& id, const std::string& path);
  void resume_leased(const std::string& id, const std::string& path);
  std::string next_start_disk(const std::string& id, const std::string& target);
  void point_next_start_disk(const std::string& id, const std::string& target, const std::string& file);
  // Refused (IncorrectInstanceState) while the instance is leased. state_mu_ held.
  void refuse_if_leased(const InstanceRecord& rec, const std::string& action);
  // Locks state_mu_ once none of the instances is settling (waiting up to 60 s).
  std::unique_lock<std::mutex> lock_settled(const std::vector<std::string>& ids);

  // ---- instance_service.cc
  InstanceRecord visible_instance(const Caller& caller, const std::string& id);
  std::vector<InstanceRecord> visible_instances(const Caller& caller, const std::vector<std::string>& ids);
  // Terminate's treatment of EBS volumes: deleted, or kept `available`.
  void release_volumes(const InstanceRecord& rec);
  void remove_instance_files(const std::string& id);
  void remove_instance_disks(const std::string& id);
  // Destroys, undefines, releases volumes, removes disks, marks terminated. state_mu_ held.
  void terminate_locked(const InstanceRecord& rec);
  // Runs with state_mu_ held.
  void refresh_locked(InstanceRecord& rec);
  // A stopped instance's definition leaves libvirt for the catalog: libvirt
  // holds every definition it has in memory (about 15 KB each, in amid's own
  // process with the embedded driver), and a stopped instance needs none until
  // it starts. Not while create-image leases the instance (it reads and may
  // repoint the definition); the next refresh parks it then. state_mu_ held.
  void park_locked(const InstanceRecord& rec);
  // Defines a parked instance again from the catalog, before it starts.
  // Nothing to do when libvirt holds its definition. state_mu_ held.
  void unpark_locked(const std::string& id);

  Runtime& rt_;
  ImageService& images_;
  std::mutex state_mu_;  // serialises state transitions of instances
  Scheduler* scheduler_ = nullptr;
  std::set<std::string> leased_;    // guarded by state_mu_
  std::set<std::string> settling_;  // guarded by state_mu_; a subset of leased_
  std::condition_variable lease_ended_;
};

void check_instance_id(const std::string& id);  // InvalidInstanceID.Malformed
// EC2's IncorrectInstanceState for `action` ("started", "stopped"...) in the record's state.
[[noreturn]] void wrong_state(const InstanceRecord& rec, const std::string& action);

inline constexpr std::size_t kMaxUserDataBytes = 16 * 1024;
// The reason an instance is 'pending' while it starts again (not launching).
inline constexpr const char* kStartingReason = "Client.UserInitiatedStart: User initiated start";
inline constexpr int kMaxCount = 16;
// How long a clean stop may take before amid forces the guest off (EC2 also forces, eventually).
inline constexpr std::chrono::seconds kStopTimeout{120};
// When, after the first ACPI power-button press of a stop, the button is pressed
// again while the guest still runs. A press that reaches a guest still in its
// firmware, or whose OS does not yet handle the button, is lost: without these a
// stop sent right after a launch waited the whole kStopTimeout. Bounded, and all
// well inside kStopTimeout; a guest already shutting down ignores them.
inline constexpr std::chrono::seconds kPowerButtonRepeats[] = {
    std::chrono::seconds(1),  std::chrono::seconds(2),  std::chrono::seconds(4),  std::chrono::seconds(8),
    std::chrono::seconds(15), std::chrono::seconds(30), std::chrono::seconds(45), std::chrono::seconds(60)};
// How long a terminated instance stays in describe-instances (EC2: about an hour).
inline constexpr std::chrono::seconds kTerminatedVisible{3600};

}  // namespace amid
