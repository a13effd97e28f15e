#include "daemon/services/warm_images.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "common/block_device_mapping.h"
#include "common/ids.h"
#include "daemon/host/fs.h"
#include "daemon/host/guest_resume.h"
#include "daemon/host/hypervisor.h"
#include "daemon/host/log.h"
#include "daemon/state/iso_time.h"
#include "daemon/services/guest_network.h"

namespace amid {
namespace {

using namespace std::chrono_literals;

// How long a restored guest may take to take its identity.
constexpr auto kResumeTimeout = 30s;

// The resume port's host socket: amid's own path on the embedded driver,
// libvirt's otherwise (read from the running domain).
std::string resume_socket_of(Runtime& rt, const std::string& instance_id) {
  std::string path = rt.hypervisor.channel_socket(instance_id, kResumeChannel);
  if (path.empty()) {
    throw AmidError(codes::kInternalError, "instance " + instance_id + " has no resume port (" + kResumeChannel + ")");
  }
  return path;
}

void remove_quietly(RegionFiles& files, const std::string& path) {
  try {
    files.remove(path);
  } catch (const std::exception& e) {
    log_warn("cannot remove " + path + ": " + e.what());
  }
}

}  // namespace

std::string warm_memory_file(const Store& store, const std::string& image_id) {
  return store.image_dir(image_id) + "/warm-memory.save";
}
std::string warm_root_layer(const Store& store, const std::string& image_id) {
  return store.image_dir(image_id) + "/warm-root.qcow2";
}

void write_root_layer(const std::string& to, const std::function<void(const std::string& part)>& make) {
  const std::string part = to + ".part";
  try {
    make(part);
    if (::chmod(part.c_str(), 0444) != 0) throw AmidError(codes::kInternalError, "cannot chmod " + part);
    fs::rename_durable(part, to);
  } catch (...) {
    ::unlink(part.c_str());
    throw;
  }
}

WarmStateRecord WarmImageService::warm_image(const Caller& caller, const std::string& image_id,
                                             const std::string& instance_type) {
  ImageRecord image = images_.owned_image(caller, image_id, "make it warm");
  if (image.state != ImageState::kAvailable) {
    throw AmidError(codes::kIncorrectState, "ImageId: " + image.id + " is " + to_string(image.state) +
                                                "; only an available image can be made warm");
  }
  if (image.warm && image.warm->state != "failed") {
    throw AmidError(codes::kIncorrectState, "ImageId: " + image.id + " is already " +
                                                (image.warm->state == "pending" ? "being made warm" : "warm"));
  }
  if (image.block_device_mappings) {
    for (const auto& m : *image.block_device_mappings) {
      if (!m.no_device && guest_device(m.device_name) != "vda") {
        throw AmidError(codes::kUnsupportedOperation,
                        "ImageId: " + image.id + " maps " + m.device_name +
                            " beside its root; amid keeps the warm state of an image's root disk only");
      }
    }
  }
  if (!rt_.files->on_this_host()) {
    throw AmidError(codes::kUnsupportedOperation, "region " + rt_.settings.region +
                                                      ": warm images need the region's store on this machine");
  }
  if (!scheduler_) throw AmidError(codes::kUnsupportedOperation, "warm-image is not available (amid runs no jobs yet)");
  if (!instance_type.empty() && rt_.instance_types.count(instance_type) == 0) {
    throw AmidError(codes::kInvalidParameterValue, "InstanceType: '" + instance_type + "' is not an instance type amid knows");
  }

  WarmStateRecord warm;
  warm.image_id = image.id;
  warm.state = "pending";
  warm.instance_type = instance_type;
  warm.create_time = iso_now();
  rt_.catalog.put_warm_state(warm);
  log_info("image " + image.id + ": being made warm");
  scheduler_->post([this, caller, warm]() { run(caller, warm); });
  return warm;
}

void WarmImageService::run(const Caller& caller, WarmStateRecord warm) {
  const std::string memory_file = warm_memory_file(rt_.store, warm.image_id);
  const std::string root_layer = warm_root_layer(rt_.store, warm.image_id);
  std::string instance_id;
  try {
    RunInstancesRequest req;
    req.image_id = warm.image_id;
    req.instance_type = warm.instance_type;
    Reservation reservation = instances_.run_instances(caller, req);
    const InstanceRecord rec = reservation.instances.at(0);
    instance_id = rec.id;
    log_info("image " + warm.image_id + ": instance " + rec.id + " boots to be saved");
    if (!wait_for_resume_listener(resume_socket_of(rt_, rec.id), boot_timeout_)) {
      throw AmidError(codes::kInternalError,
                      "its guest did not greet amid on the resume port (" + std::string(kResumeChannel) + ") within " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(boot_timeout_).count()) +
                          " s of its launch: the image has no resume listener (images/README.md, Warm images)");
    }
    record_saved_machine(rt_, rec, warm);
    // A clone of this guest must send nothing before it took its own MAC.
    if (warm.nic) rt_.hypervisor.set_link(rec.id, mac_for_instance(rec.id), false);
    rt_.hypervisor.save_domain(rec.id, memory_file + ".tmp");
    fs::rename_durable(memory_file + ".tmp", memory_file);
    // The root disk as the saved guest left it: an overlay of the image's.
    fs::copy_sparse_durable(rec.dir + "/root.qcow2", root_layer, 0444);
    warm.memory_file = memory_file;
    warm.root_layer = root_layer;
    warm.memory_bytes = rt_.files->file_size(memory_file);
    warm.state = "available";
    rt_.catalog.put_warm_state(warm);
    log_info("image " + warm.image_id + " is warm: " + std::to_string(warm.memory_bytes) + " bytes of memory state for " +
             warm.instance_type + " (" + warm.accelerator + ", " + warm.machine + ")");
  } catch (const std::exception& e) {
    log_warn("image " + warm.image_id + ": cannot be made warm: " + e.what());
    warm.state = "failed";
    warm.state_reason = e.what();
    rt_.catalog.put_warm_state(warm);
    for (const auto& path : {memory_file + ".tmp", memory_file, root_layer}) remove_quietly(*rt_.files, path);
  }
  if (!instance_id.empty()) {
    try {
      instances_.terminate_instances(caller, {instance_id});
    } catch (const std::exception& e) {
      log_warn("image " + warm.image_id + ": cannot terminate instance " + instance_id + ", which it booted: " + e.what());
    }
  }
}

void WarmImageService::recover_interrupted() {
  for (WarmStateRecord warm : rt_.catalog.list_warm_states("pending")) {
    auto image = rt_.catalog.find_image(warm.image_id);
    if (!image || image->region != rt_.settings.region) continue;
    warm.state = "failed";
    warm.state_reason = "amid stopped while the image was being made warm; make it warm again";
    rt_.catalog.put_warm_state(warm);
    const std::string memory_file = warm_memory_file(rt_.store, warm.image_id);
    for (const auto& path : {memory_file + ".tmp", memory_file, warm_root_layer(rt_.store, warm.image_id)}) {
      remove_quietly(*rt_.files, path);
    }
    log_warn("image " + warm.image_id + ": " + warm.state_reason);
  }
}

void record_saved_machine(Runtime& rt, const InstanceRecord& rec, WarmStateRecord& warm) {
  const std::optional<std::string> live = rt.hypervisor.domain_xml(rec.id);
  if (!live) throw AmidError(codes::kInternalError, "instance " + rec.id + "'s domain is gone");
  const SavedMachine machine = saved_machine_of(*live);
  warm.instance_type = rec.instance_type;
  warm.memory_mib = rec.memory_mib;
  warm.vcpus = rec.vcpus;
  warm.machine = machine.machine;
  warm.cpu = machine.cpu;
  warm.accelerator = machine.domain_type;
  warm.qemu_version = rt.hypervisor.version();
  warm.nic = has_guest_network(rt, rec);
}

std::string warm_mismatch(const Runtime& rt, const ImageRecord& image, const InstanceRecord& rec,
                          const BlockDeviceMappings& mappings, std::uint64_t instance_store_gib,
                          std::uint64_t root_size) {
  if (!image.warm) return "the image is not warm";
  const WarmStateRecord& warm = *image.warm;
  if (warm.state != "available") return "the image's warm state is " + warm.state;
  if (rec.memory_mib != warm.memory_mib || rec.vcpus != warm.vcpus) {
    return rec.instance_type + " has " + std::to_string(rec.memory_mib) + " MiB and " + std::to_string(rec.vcpus) +
           " vCPUs; the warm state is of " + warm.instance_type + " (" + std::to_string(warm.memory_mib) + " MiB, " +
           std::to_string(warm.vcpus) + " vCPUs)";
  }
  auto type = rt.domain_types.find(rec.architecture);
  if (type == rt.domain_types.end() || type->second != warm.accelerator) {
    return "the warm state was saved under " + warm.accelerator + ", and this host runs " +
           (type == rt.domain_types.end() ? std::string("no such guests") : type->second);
  }
  if (const std::string version = rt.hypervisor.version(); version != warm.qemu_version) {
    return "the warm state was saved by QEMU " + warm.qemu_version + ", and this host has " + version;
  }
  if (has_guest_network(rt, rec) != warm.nic) {
    return warm.nic ? "the warm state has a network interface and this instance none"
                    : "the warm state has no network interface and this instance one";
  }
  for (const auto& m : mappings) {
    if (m.no_device || guest_device(m.device_name) == "vda") continue;
    if (m.ebs || (m.virtual_name && instance_store_gib > 0)) {
      return "the instance maps " + m.device_name + " beside its root; the warm state has the root disk only";
    }
  }
  if (root_size > image.size_bytes) return "the instance's root volume is larger than the warm state's";
  if (!rt.files->on_this_host() || !fs::exists(warm.memory_file) || !fs::exists(warm.root_layer)) {
    return "the warm state's files are missing";
  }
  return "";
}

std::string restore_xml(const WarmStateRecord& warm, DomainSpec spec) {
  spec.user_data_file.reset();
  spec.link_up = false;
  spec.machine = warm.machine;
  return render_domain_xml(spec);
}

void resume_restored(Runtime& rt, const InstanceRecord& rec, const DomainSpec& spec,
                     const std::optional<std::string>& user_data) {
  ResumeMessage message;
  message.instance_id = rec.id;
  message.time = static_cast<std::int64_t>(std::time(nullptr));
  message.seed = random_bytes(64);
  message.hostname = rec.id;  // EC2's resource-based hostname, as the NoCloud seed says
  message.network = spec.fw_cfg_network;
  message.user_data = user_data;
  // The path amid chose, when it chose one: no read of the live XML on the way.
  const std::string socket = spec.resume_socket.empty() ? resume_socket_of(rt, rec.id) : spec.resume_socket;
  resume_guest(socket, message, kResumeTimeout);
}

}  // namespace amid
