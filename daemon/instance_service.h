// Instances: launch from an image, describe, console output, terminate.
//
// Called from worker threads. An instance is a persistent libvirt domain named
// after its id, whose root disk is a qcow2 overlay (explicit backing format) on
// the image's read-only template. Rights are checked and every parameter is
// validated before anything is created; a launch that fails part way removes
// what it made.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/caller.h"
#include "daemon/image_service.h"
#include "daemon/runtime.h"

namespace amid {

struct RunInstancesRequest {
  std::string image_id;
  std::string instance_type = kDefaultInstanceType;
  int count = 1;
  std::optional<std::string> user_data;  // decoded bytes
};

struct StateChange {
  std::string instance_id, previous, current;
};

class InstanceService {
 public:
  InstanceService(Runtime& rt, ImageService& images) : rt_(rt), images_(images) {}

  std::vector<InstanceRecord> run_instances(const Caller& caller, const RunInstancesRequest& req);
  std::vector<InstanceRecord> describe_instances(const Caller& caller,
                                                 const std::vector<std::string>& ids);
  std::vector<StateChange> terminate_instances(const Caller& caller,
                                               const std::vector<std::string>& ids);
  // The serial console's last 64 KiB, as EC2's GetConsoleOutput gives it.
  std::string console_output(const Caller& caller, const std::string& id);

  // Brings catalog states in line with libvirt (a guest that powered itself
  // off, a domain that vanished). Used by describe and at start.
  void refresh(InstanceRecord& rec);

 private:
  InstanceRecord visible_instance(const Caller& caller, const std::string& id);
  InstanceRecord launch_one(const InstanceRecord& proto, const ImageRecord& image,
                            const std::optional<std::string>& user_data);
  void remove_instance_files(const std::string& id);
  void remove_instance_disks(const std::string& id);

  Runtime& rt_;
  ImageService& images_;
  std::mutex state_mu_;  // serialises state transitions of instances
};

void check_instance_id(const std::string& id);  // InvalidInstanceID.Malformed

inline constexpr std::size_t kMaxUserDataBytes = 16 * 1024;
inline constexpr int kMaxCount = 16;

}  // namespace amid
