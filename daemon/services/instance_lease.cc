// create-image's lease on an instance (services/instance_lease.h), and the
// instance service's side of it.
#include <algorithm>
#include <thread>

#include "daemon/host/domain_xml.h"
#include "daemon/host/log.h"
#include "daemon/services/guest_network.h"
#include "daemon/services/instance_service.h"

namespace amid {

InstanceLease::~InstanceLease() { owner_.end_lease(instance_.id); }
void InstanceLease::settling() { owner_.lease_settling(instance_.id); }
void InstanceLease::shut_down(std::chrono::seconds timeout) { owner_.shut_down_leased(instance_.id, timeout); }
void InstanceLease::start_again() { owner_.start_leased(instance_.id); }
void InstanceLease::save_memory(const std::string& path) { owner_.save_leased(instance_.id, path); }
void InstanceLease::resume_saved(const std::string& path) { owner_.resume_leased(instance_.id, path); }
std::string InstanceLease::next_start_disk(const std::string& target) {
  return owner_.next_start_disk(instance_.id, target);
}
void InstanceLease::point_next_start_disk(const std::string& target, const std::string& file) {
  owner_.point_next_start_disk(instance_.id, target, file);
}

std::shared_ptr<InstanceLease> InstanceService::lease_for_capture(const Caller& caller, const std::string& id) {
  InstanceRecord rec = visible_instance(caller, id);
  auto lock = lock_settled({id});
  refresh_locked(rec);
  if (rec.root_device_type != "ebs") {
    throw AmidError(codes::kUnsupportedOperation,
                    "The instance '" + id + "' is instance-store backed; create-image captures "
                    "EBS-backed instances only, as on EC2");
  }
  if (rec.state != InstanceState::kRunning && rec.state != InstanceState::kStopped) {
    throw AmidError(codes::kIncorrectInstanceState, "The instance '" + id + "' is " + to_string(rec.state) +
                                                        "; create-image needs it running or stopped");
  }
  if (!leased_.insert(id).second) {
    throw AmidError(codes::kIncorrectInstanceState,
                    "create-image is already capturing instance '" + id + "'; one capture at a time");
  }
  return std::shared_ptr<InstanceLease>(new InstanceLease(*this, rec));
}

std::shared_ptr<InstanceLease> InstanceService::lease_for_recovery(const InstanceRecord& rec) {
  std::lock_guard lock(state_mu_);
  leased_.insert(rec.id);
  return std::shared_ptr<InstanceLease>(new InstanceLease(*this, rec));
}

void InstanceService::end_lease(const std::string& id) {
  {
    std::lock_guard lock(state_mu_);
    leased_.erase(id);
    settling_.erase(id);
  }
  lease_ended_.notify_all();
}

void InstanceService::lease_settling(const std::string& id) {
  std::lock_guard lock(state_mu_);
  if (leased_.count(id)) settling_.insert(id);
}

void InstanceService::refuse_if_leased(const InstanceRecord& rec, const std::string& action) {
  if (leased_.count(rec.id)) {
    throw AmidError(codes::kIncorrectInstanceState,
                    "The instance '" + rec.id + "' cannot be " + action +
                        " while create-image is capturing it; wait until the image is available");
  }
}

std::unique_lock<std::mutex> InstanceService::lock_settled(const std::vector<std::string>& ids) {
  std::unique_lock lock(state_mu_);
  lease_ended_.wait_for(lock, std::chrono::seconds(60), [&] {
    return std::none_of(ids.begin(), ids.end(), [&](const std::string& id) { return settling_.count(id) > 0; });
  });
  return lock;
}

void InstanceService::shut_down_through_agent_or_button(const std::string& id) {
  // A guest agent shuts the guest down even where the guest ignores the ACPI
  // button (no acpid, a login prompt that holds it); without one, or when the
  // agent refuses, the button as before.
  if (rt_.hypervisor.guest_agent_connected(id)) {
    try {
      rt_.hypervisor.shutdown_domain(id, /*through_agent=*/true);
      log_info("instance " + id + ": shutting down through its guest agent");
      return;
    } catch (const AmidError& e) {
      log_warn("instance " + id + ": the guest agent's shutdown failed (" + e.what() + "); pressing the power button");
    }
  }
  rt_.hypervisor.shutdown_domain(id);
}

void InstanceService::shut_down_leased(const std::string& id, std::chrono::seconds timeout) {
  {
    std::lock_guard lock(state_mu_);
    rt_.catalog.set_instance_state(id, InstanceState::kStopping, "Client.UserInitiatedShutdown: create-image");
    try {
      shut_down_through_agent_or_button(id);
    } catch (const AmidError&) {
      auto st = rt_.hypervisor.domain_status(id);
      if (!st || st->state != DomainRunState::kShutoff) throw;
    }
  }
  const auto first_press = std::chrono::steady_clock::now();
  const auto deadline = first_press + timeout;
  std::size_t presses = 1;
  for (;;) {
    auto st = rt_.hypervisor.domain_status(id);
    if (!st) throw AmidError(codes::kInternalError, "instance " + id + " vanished during create-image");
    if (st->state == DomainRunState::kShutoff) break;
    if (presses <= std::size(kPowerButtonRepeats) &&
        std::chrono::steady_clock::now() - first_press >= kPowerButtonRepeats[presses - 1]) {
      std::lock_guard lock(state_mu_);
      try {
        press_power_button_again(id, presses, kPowerButtonRepeats[presses - 1]);
      } catch (const AmidError& e) {
        log_warn("instance " + id + ": pressing its power button again failed: " + e.what());
      }
      ++presses;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      log_warn("instance " + id + " did not shut down in " + std::to_string(timeout.count()) +
               " s for create-image; forcing it off");
      rt_.hypervisor.destroy_domain(id);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::lock_guard lock(state_mu_);
  rt_.catalog.set_instance_state(id, InstanceState::kStopped, "Client.UserInitiatedShutdown: create-image");
  update_forwards(rt_, id);
}

void InstanceService::start_leased(const std::string& id) {
  std::lock_guard lock(state_mu_);
  rt_.catalog.set_instance_state(id, InstanceState::kPending, kStartingReason);
  unpark_locked(id);  // parked by an amid start between the capture's stop and now
  auto rec = rt_.catalog.find_instance(id);
  if (!rec) throw AmidError(codes::kInternalError, "instance " + id + " vanished during create-image");
  start_guest(rt_, *rec);
  rt_.catalog.set_instance_state(id, InstanceState::kRunning);
  log_info("instance " + id + " started again after create-image");
}

void InstanceService::save_leased(const std::string& id, const std::string& path) {
  std::lock_guard lock(state_mu_);
  auto rec = rt_.catalog.find_instance(id);
  if (!rec) throw AmidError(codes::kInternalError, "instance " + id + " vanished during create-image");
  // Pending, as during a start: an amid that stops now finds it off and the
  // capture's recovery starts it again (restart_source).
  rt_.catalog.set_instance_state(id, InstanceState::kPending, kStartingReason);
  const bool nic = rt_.network && !rec->private_ip.empty();
  try {
    if (nic) rt_.hypervisor.set_link(id, mac_for_instance(id), false);
    rt_.hypervisor.save_domain(id, path);
  } catch (...) {
    try {
      if (nic) rt_.hypervisor.set_link(id, mac_for_instance(id), true);
    } catch (const std::exception& e) {
      log_warn("instance " + id + ": cannot set its link up again: " + e.what());
    }
    rt_.catalog.set_instance_state(id, InstanceState::kRunning);
    throw;
  }
  log_info("instance " + id + " saved for create-image --warm");
}

void InstanceService::resume_leased(const std::string& id, const std::string& path) {
  std::lock_guard lock(state_mu_);
  auto rec = rt_.catalog.find_instance(id);
  if (!rec) throw AmidError(codes::kInternalError, "instance " + id + " vanished during create-image");
  const bool nic = rt_.network && !rec->private_ip.empty();
  // The saved QEMU's tap went with it: a new one, as for a start.
  release_guest_network(rt_, id);
  try {
    start_guest(rt_, *rec, [&](bool paused) { rt_.hypervisor.restore_domain(path, paused); });
    if (nic) rt_.hypervisor.set_link(id, mac_for_instance(id), true);
    log_info("instance " + id + " resumed after create-image --warm");
  } catch (const std::exception& e) {
    log_warn("instance " + id + ": cannot resume from its save (" + e.what() + "); it boots again");
    try {
      rt_.hypervisor.destroy_domain(id);
    } catch (const std::exception& again) {
      log_warn("instance " + id + ": " + again.what());
    }
    release_guest_network(rt_, id);
    start_guest(rt_, *rec);
  }
  rt_.catalog.set_instance_state(id, InstanceState::kRunning);
}

std::string InstanceService::next_start_disk(const std::string& id, const std::string& target) {
  std::lock_guard lock(state_mu_);
  std::vector<std::pair<std::string, std::string>> disks;
  if (rt_.hypervisor.domain_status(id)) {
    disks = rt_.hypervisor.disk_files(id, false);
  } else if (std::string xml = rt_.catalog.instance_definition(id); !xml.empty()) {
    disks = disk_files_of(xml);
  }
  for (const auto& [t, file] : disks) {
    if (t == target) return file;
  }
  return {};
}

void InstanceService::point_next_start_disk(const std::string& id, const std::string& target,
                                            const std::string& file) {
  std::lock_guard lock(state_mu_);
  if (rt_.hypervisor.domain_status(id)) {
    rt_.hypervisor.set_disk_file(id, target, file);
  } else if (std::string xml = rt_.catalog.instance_definition(id); !xml.empty()) {
    rt_.catalog.set_instance_definition(id, with_disk_file(xml, target, file));
  }
}

}  // namespace amid
