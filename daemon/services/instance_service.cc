// Instances as they are: describe-instances and describe-volumes, terminate,
// console output, and the catalog kept in line with libvirt (a guest that
// powered off, a stopped instance's definition parked in the catalog).
#include <ctime>
#include <future>
#include <set>

#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/instance_service.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

// Seconds since an ISO 8601 UTC time as iso_now() writes it (0 when unreadable).
long long seconds_since(const std::string& iso) {
  std::tm tm{};
  if (iso.empty() || !strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<long long>(std::time(nullptr) - timegm(&tm));
}

}  // namespace

void check_instance_id(const std::string& id) {
  if (!is_valid_id(id, "i")) {
    throw AmidError(codes::kInvalidInstanceIdMalformed,
                    "InstanceId: '" + id + "' is not an instance id (i- and 17 hex digits)");
  }
}

void wrong_state(const InstanceRecord& rec, const std::string& action) {
  throw AmidError(codes::kIncorrectInstanceState,
                  "The instance '" + rec.id + "' is not in a state from which it can be " + action +
                      " (it is " + to_string(rec.state) + ")");
}

void InstanceService::release_volumes(const InstanceRecord& rec) {
  for (auto vol : rt_.catalog.volumes_of_instance(rec.id)) {
    if (vol.delete_on_termination) {
      if (vol.file.rfind(rt_.store.volumes_dir() + "/", 0) == 0) rt_.files->remove(vol.file);
      rt_.catalog.delete_volume(vol.id);
      continue;
    }
    if (vol.file.rfind(rec.dir + "/", 0) == 0) {
      // A kept root volume leaves the instance's folder before it goes.
      std::string kept = rt_.store.volumes_dir() + "/" + vol.id + ".qcow2";
      // A termination cut short may have moved it already.
      if (rt_.files->exists(vol.file) || !rt_.files->exists(kept)) rt_.files->move(vol.file, kept);
      vol.file = kept;
    }
    vol.state = "available";
    vol.instance_id.clear();
    vol.device.clear();
    rt_.catalog.update_volume(vol);
    log_info("volume " + vol.id + " kept (delete_on_termination = false): available");
  }
  rt_.files->sync(rt_.store.volumes_dir());
}

std::vector<VolumeRecord> InstanceService::describe_volumes(const Caller& caller,
                                                            const std::vector<std::string>& ids) {
  std::vector<VolumeRecord> out;
  if (!ids.empty()) {
    for (const auto& id : ids) {
      if (!is_valid_id(id, "vol")) {
        throw AmidError("InvalidVolumeID.Malformed", "VolumeIds: '" + id + "' is not a volume id");
      }
      auto vol = rt_.catalog.find_volume(id);
      if (!vol || vol->region != rt_.settings.region || !caller.may_manage(vol->owner)) {
        throw AmidError("InvalidVolume.NotFound", "The volume '" + id + "' does not exist");
      }
      out.push_back(*vol);
    }
    return out;
  }
  for (auto& vol : rt_.catalog.list_volumes()) {
    if (vol.region == rt_.settings.region && caller.may_manage(vol.owner)) out.push_back(std::move(vol));
  }
  return out;
}

void InstanceService::remove_instance_files(const std::string& id) {
  rt_.files->remove_dir(rt_.store.instance_dir(id));
}

void InstanceService::remove_instance_disks(const std::string& id) {
  // The console log stays, so get-console-output still answers after termination.
  rt_.files->empty_dir_but(rt_.store.instance_dir(id), "console.log");
}

void InstanceService::refresh(InstanceRecord& rec) {
  std::lock_guard lock(state_mu_);
  refresh_locked(rec);
}

void InstanceService::refresh_locked(InstanceRecord& rec) {
  if (auto fresh = rt_.catalog.find_instance(rec.id)) rec = *fresh;
  if (rec.state == InstanceState::kTerminated || rec.state == InstanceState::kPending) return;
  std::optional<DomainStatus> st = rt_.hypervisor.domain_status(rec.id);
  if (!st && rec.state == InstanceState::kStopped && rt_.catalog.has_instance_definition(rec.id)) return;  // parked
  if (!st) {
    // The definition is gone (removed behind amid's back): the instance cannot come back.
    // Terminated as terminate-instances would: its volumes follow their
    // delete_on_termination, and the image it pinned may be reclaimed.
    log_warn("instance " + rec.id + ": its libvirt domain is gone; marking it terminated");
    release_guest_network(rt_, rec.id);
    release_volumes(rec);
    remove_instance_disks(rec.id);
    rt_.catalog.mark_terminated(rec.id, iso_now());
    rt_.catalog.set_instance_state(rec.id, InstanceState::kTerminated, "Server.InternalError: domain disappeared");
    images_.reclaim_unused();
    rec = *rt_.catalog.find_instance(rec.id);
    return;
  }
  bool off = st->state == DomainRunState::kShutoff || st->state == DomainRunState::kCrashed;
  bool on = st->state == DomainRunState::kRunning || st->state == DomainRunState::kPaused ||
            st->state == DomainRunState::kShuttingDown;
  if (off && (rec.state == InstanceState::kRunning || rec.state == InstanceState::kStopping)) {
    bool asked = rec.state == InstanceState::kStopping;
    const char* reason = asked ? "Client.UserInitiatedShutdown: User initiated shutdown"
                               : "Client.InstanceInitiatedShutdown: Instance initiated shutdown";
    if (rec.root_device_type == "instance-store") {
      // EC2: an instance-store-backed instance that shuts down is terminated.
      log_info("instance " + rec.id + " powered off; instance-store backed, so terminated");
      rt_.hypervisor.undefine_domain(rec.id);
      release_guest_network(rt_, rec.id);
      release_volumes(rec);
      remove_instance_disks(rec.id);
      rt_.catalog.mark_terminated(rec.id, iso_now());
      rt_.catalog.set_instance_state(rec.id, InstanceState::kTerminated, reason);
      // It may have been the last user of a deregistered image.
      images_.reclaim_unused();
    } else {
      log_info("instance " + rec.id + " is stopped (was " + to_string(rec.state) + ")");
      rt_.catalog.set_instance_state(rec.id, InstanceState::kStopped, reason);
      park_locked(rec);
    }
  } else if (on && rec.state == InstanceState::kStopped) {
    log_warn("instance " + rec.id + " runs although amid had it stopped; showing it running");
    rt_.catalog.set_instance_state(rec.id, InstanceState::kRunning);
  } else if (off && rec.state == InstanceState::kStopped) {
    // Still defined: a stop cut short, a capture's stop, or an amid that kept definitions.
    if (!leased_.count(rec.id)) {
      log_info("instance " + rec.id + " is stopped; its libvirt definition moves to amid's catalog until it starts");
    }
    park_locked(rec);
    return;
  } else {
    return;
  }
  apply_security_groups(rt_, rec.id);
  rec = *rt_.catalog.find_instance(rec.id);
}

void InstanceService::park_locked(const InstanceRecord& rec) {
  if (leased_.count(rec.id)) return;
  auto xml = rt_.hypervisor.domain_xml(rec.id);
  if (!xml) return;
  // The XML first: an amid stopped between the two steps finds a stopped
  // instance still defined, and parks it again.
  rt_.catalog.set_instance_definition(rec.id, *xml);
  try {
    rt_.hypervisor.undefine_domain(rec.id, /*keep_nvram=*/true);
  } catch (const AmidError& e) {
    log_warn("instance " + rec.id + ": its definition stays in libvirt for now: " + e.what());
  }
}

void InstanceService::unpark_locked(const std::string& id) {
  if (rt_.hypervisor.domain_status(id)) return;
  std::string xml = rt_.catalog.instance_definition(id);
  if (xml.empty()) {
    throw AmidError(codes::kInternalError, "instance " + id +
                                               " has no libvirt definition, neither in libvirt nor in amid's "
                                               "catalog; it cannot start. Terminate it");
  }
  rt_.hypervisor.define_domain(xml);
}

void InstanceService::on_domain_stopped(const std::string& name) {
  if (!scheduler_ || !is_valid_id(name, "i")) return;
  scheduler_->post([this, name] {
    try {
      if (auto rec = rt_.catalog.find_instance(name); rec && rec->region == rt_.settings.region) refresh(*rec);
    } catch (const std::exception& e) {
      log_error("instance " + name + ": cannot record that it stopped: " + e.what());
    }
  });
}

std::vector<InstanceRecord> InstanceService::visible_instances(const Caller& caller,
                                                               const std::vector<std::string>& ids) {
  if (ids.empty()) throw AmidError(codes::kMissingParameter, "InstanceIds: required");
  std::vector<InstanceRecord> out;
  std::set<std::string> seen;
  for (const auto& id : ids) {
    if (seen.insert(id).second) out.push_back(visible_instance(caller, id));
  }
  return out;
}

InstanceRecord InstanceService::visible_instance(const Caller& caller, const std::string& id) {
  check_instance_id(id);
  auto rec = rt_.catalog.find_instance(id);
  if (!rec || rec->region != rt_.settings.region || !caller.may_manage(rec->owner)) {
    throw AmidError(codes::kInvalidInstanceIdNotFound, "The instance id '" + id + "' does not exist");
  }
  return *rec;
}

std::vector<InstanceRecord> InstanceService::describe_instances(const Caller& caller,
                                                                const std::vector<std::string>& ids) {
  std::vector<InstanceRecord> out;
  std::lock_guard lock(state_mu_);
  if (!ids.empty()) {
    std::set<std::string> seen;
    for (const auto& id : ids) {
      if (!seen.insert(id).second) continue;
      InstanceRecord rec = visible_instance(caller, id);
      refresh_locked(rec);
      out.push_back(rec);
    }
    return out;
  }
  for (auto& rec : rt_.catalog.list_instances()) {
    if (rec.region != rt_.settings.region || !caller.may_manage(rec.owner)) continue;
    if (rec.state == InstanceState::kTerminated && seconds_since(rec.terminated_time) > kTerminatedVisible.count()) {
      // EC2 shows terminated instances for about an hour; then they are gone for good.
      rt_.files->remove_dir(rec.dir);
      rt_.catalog.delete_instance(rec.id);
      continue;
    }
    refresh_locked(rec);
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<StateChange> InstanceService::terminate_instances(const Caller& caller,
                                                              const std::vector<std::string>& ids) {
  std::vector<InstanceRecord> targets = visible_instances(caller, ids);  // all checked first
  std::vector<StateChange> changes;
  {
    auto lock = lock_settled(ids);
    for (auto& rec : targets) refuse_if_leased(rec, "terminated");
    std::vector<InstanceRecord*> ending;
    for (auto& rec : targets) {
      rec = *rt_.catalog.find_instance(rec.id);
      if (rec.state == InstanceState::kTerminated) {
        changes.push_back({rec.id, InstanceState::kTerminated, InstanceState::kTerminated});
        continue;
      }
      changes.push_back({rec.id, rec.state, InstanceState::kShuttingDown});
      rt_.catalog.set_instance_state(rec.id, InstanceState::kShuttingDown);
      ending.push_back(&rec);
    }
    // The guests go down side by side: libvirt waits (polling every 200 ms) for
    // each QEMU to vanish, and 16 of them one after another took 3.8 s.
    if (ending.size() > 1) {
      std::vector<std::future<void>> destroyed;
      for (InstanceRecord* rec : ending) {
        destroyed.push_back(std::async(std::launch::async, [this, id = rec->id] { rt_.hypervisor.destroy_domain(id); }));
      }
      for (auto& d : destroyed) d.get();
    }
    for (InstanceRecord* rec : ending) terminate_locked(*rec);
  }
  images_.reclaim_unused();
  return changes;
}

void InstanceService::terminate_locked(const InstanceRecord& rec) {
  // Each step may be repeated: a termination cut short is finished by the next amid.
  rt_.hypervisor.destroy_domain(rec.id);
  if (rt_.catalog.has_instance_definition(rec.id)) {
    // A parked definition is defined again for a moment, so that undefining it
    // removes its UEFI variables (NVRAM) with it.
    try {
      unpark_locked(rec.id);
    } catch (const AmidError& e) {
      log_warn("instance " + rec.id + ": its parked definition could not be defined to remove it: " + e.what());
    }
  }
  rt_.hypervisor.undefine_domain(rec.id);
  release_guest_network(rt_, rec.id);
  release_volumes(rec);
  remove_instance_disks(rec.id);
  rt_.catalog.mark_terminated(rec.id, iso_now());
  log_info("instance " + rec.id + " terminated");
}

void InstanceService::finish_interrupted(InstanceRecord& rec) {
  std::lock_guard lock(state_mu_);
  if (rec.state == InstanceState::kShuttingDown) {
    log_warn("instance " + rec.id + " was being terminated when amid stopped; finishing it");
    terminate_locked(rec);
  } else if (rec.state == InstanceState::kPending && rec.state_reason == kStartingReason) {
    auto st = rt_.hypervisor.domain_status(rec.id);
    if (st && st->state == DomainRunState::kPaused) {
      // Stopped between QEMU's paused start and the resume (services/guest_network.h):
      // its NIC may not be on the region network, so it starts again from off.
      rt_.hypervisor.destroy_domain(rec.id);
      st = rt_.hypervisor.domain_status(rec.id);
    }
    bool on = st && st->state == DomainRunState::kRunning;
    log_warn("instance " + rec.id + " was starting when amid stopped; it is " + (on ? "running" : "stopped"));
    rt_.catalog.set_instance_state(rec.id, on ? InstanceState::kRunning : InstanceState::kStopped,
                                   on ? "" : "Server.InternalError: amid stopped while starting it; start it again");
  } else if (rec.state == InstanceState::kPending) {
    // A launch cut short: if libvirt runs it, adopt it; otherwise undo all of it.
    auto st = rt_.hypervisor.domain_status(rec.id);
    if (st && st->state == DomainRunState::kRunning) {
      rt_.catalog.set_instance_state(rec.id, InstanceState::kRunning);
      log_info("instance " + rec.id + " was pending; it runs, so it is running");
    } else {
      log_warn("instance " + rec.id + " was pending when amid stopped; undoing its launch");
      roll_back_launch(rec);
    }
  } else {
    return;
  }
  if (auto fresh = rt_.catalog.find_instance(rec.id)) rec = *fresh;
}

std::string InstanceService::console_output(const Caller& caller, const std::string& id) {
  InstanceRecord rec = visible_instance(caller, id);
  return rt_.files->read_tail(rec.dir + "/console.log", 64 * 1024);
}

}  // namespace amid
