// start-instances, stop-instances (the power button, pressed again while the
// guest still runs, and the deadline that forces it off) and reboot-instances.
#include "daemon/host/log.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/instance_service.h"

namespace amid {

void InstanceService::arm_stop_deadline(const std::string& id) {
  if (!scheduler_) return;
  scheduler_->post_after(kStopTimeout, [this, id] {
    try {
      std::lock_guard lock(state_mu_);
      auto rec = rt_.catalog.find_instance(id);
      if (!rec || rec->state != InstanceState::kStopping) return;
      log_warn("instance " + id + " did not shut down within " + std::to_string(kStopTimeout.count()) +
               " s; forcing it off");
      rt_.hypervisor.destroy_domain(id);
      refresh_locked(*rec);
    } catch (const std::exception& e) {
      log_error("instance " + id + ": forced stop failed: " + e.what());
    }
  });
}

void InstanceService::repeat_power_button(const std::string& id, std::size_t press) {
  if (!scheduler_ || press > std::size(kPowerButtonRepeats)) return;
  auto since_first = kPowerButtonRepeats[press - 1];
  auto delay = press == 1 ? since_first : since_first - kPowerButtonRepeats[press - 2];
  scheduler_->post_after(delay, [this, id, press, since_first] {
    try {
      std::lock_guard lock(state_mu_);
      auto rec = rt_.catalog.find_instance(id);
      if (!rec || rec->state != InstanceState::kStopping) return;
      auto st = rt_.hypervisor.domain_status(id);
      if (!st || st->state != DomainRunState::kRunning) return;
      press_power_button_again(id, press, since_first);
    } catch (const std::exception& e) {
      log_warn("instance " + id + ": pressing its power button again failed: " + e.what());
    }
    repeat_power_button(id, press + 1);
  });
}

void InstanceService::press_power_button_again(const std::string& id, std::size_t press,
                                               std::chrono::seconds since_first) {
  log_info("instance " + id + " still runs " + std::to_string(since_first.count()) +
           " s after its ACPI power button was pressed (a guest in its firmware or still booting misses it); "
           "pressing it again (" + std::to_string(press + 1) + " of " +
           std::to_string(std::size(kPowerButtonRepeats) + 1) + ")");
  rt_.hypervisor.shutdown_domain(id);
}

void InstanceService::resume_pending_work() {
  for (auto& rec : rt_.catalog.list_instances()) {
    if (rec.state == InstanceState::kStopping && rec.region == rt_.settings.region) {
      arm_stop_deadline(rec.id);
      repeat_power_button(rec.id, 1);
    }
  }
}

std::vector<StateChange> InstanceService::start_instances(const Caller& caller,
                                                          const std::vector<std::string>& ids) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_leased(rec, "started");
    if (rec.state == InstanceState::kTerminated || rec.state == InstanceState::kShuttingDown || rec.state == InstanceState::kStopping) {
      wrong_state(rec, "started");
    }
  }
  std::uint64_t needed = 0;
  for (const auto& rec : targets) {
    if (rec.state == InstanceState::kStopped) needed += rec.memory_mib;
  }
  if (needed > 0 && needed > free_capacity_mib()) {
    throw AmidError(codes::kInsufficientCapacity,
                    "InstanceIds: starting them needs " + std::to_string(needed) + " MiB; this host has " +
                        std::to_string(free_capacity_mib()) +
                        " MiB free (limits.capacity_memory_mib). Stop or terminate other instances first");
  }
  std::vector<StateChange> changes;
  for (auto& rec : targets) {
    if (rec.state != InstanceState::kStopped) {
      changes.push_back({rec.id, rec.state, rec.state});
      continue;
    }
    rt_.catalog.set_instance_state(rec.id, InstanceState::kPending, kStartingReason);
    try {
      // Instance store comes back blank after a stop, as on EC2.
      auto type = rt_.instance_types.find(rec.instance_type);
      make_ephemeral_disks(rec, type == rt_.instance_types.end() ? 0 : type->second.instance_store_gib);
      unpark_locked(rec.id);
      start_guest(rt_, rec);
    } catch (...) {
      rt_.catalog.set_instance_state(rec.id, InstanceState::kStopped, rec.state_reason);
      try {
        park_locked(rec);
      } catch (const std::exception& e) {
        log_warn("instance " + rec.id + ": " + e.what());
      }
      throw;
    }
    rt_.catalog.set_instance_state(rec.id, InstanceState::kRunning);
    log_info("instance " + rec.id + " started");
    changes.push_back({rec.id, InstanceState::kStopped, InstanceState::kPending});
  }
  return changes;
}

std::vector<StateChange> InstanceService::stop_instances(const Caller& caller,
                                                         const std::vector<std::string>& ids,
                                                         bool force) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_leased(rec, "stopped");
    if (rec.root_device_type == "instance-store") {
      throw AmidError(codes::kUnsupportedOperation,
                      "The instance '" + rec.id +
                          "' is instance-store backed and cannot be stopped; terminate it instead");
    }
    if (rec.state == InstanceState::kTerminated || rec.state == InstanceState::kShuttingDown || rec.state == InstanceState::kPending) {
      wrong_state(rec, "stopped");
    }
  }
  std::vector<StateChange> changes;
  for (auto& rec : targets) {
    if (rec.state == InstanceState::kStopped || (rec.state == InstanceState::kStopping && !force)) {
      changes.push_back({rec.id, rec.state, rec.state});
      continue;
    }
    const InstanceState previous = rec.state;
    rt_.catalog.set_instance_state(rec.id, InstanceState::kStopping, "Client.UserInitiatedShutdown: User initiated shutdown");
    if (force) {
      rt_.hypervisor.destroy_domain(rec.id);
    } else {
      try {
        rt_.hypervisor.shutdown_domain(rec.id);
      } catch (const AmidError& e) {
        // A guest that went off meanwhile needs no shutdown.
        auto st = rt_.hypervisor.domain_status(rec.id);
        if (!st || st->state != DomainRunState::kShutoff) throw;
      }
      arm_stop_deadline(rec.id);
      repeat_power_button(rec.id, 1);
    }
    log_info("instance " + rec.id + (force ? " forced off" : " stopping"));
    refresh_locked(rec);
    changes.push_back({rec.id, previous, rec.state});
  }
  return changes;
}

void InstanceService::reboot_instances(const Caller& caller, const std::vector<std::string>& ids) {
  auto targets = visible_instances(caller, ids);
  auto lock = lock_settled(ids);
  for (auto& rec : targets) {
    refresh_locked(rec);
    refuse_if_leased(rec, "rebooted");
    if (rec.state != InstanceState::kRunning) wrong_state(rec, "rebooted");
  }
  for (auto& rec : targets) {
    rt_.hypervisor.reboot_domain(rec.id);
    log_info("instance " + rec.id + " rebooting");
  }
}

}  // namespace amid
