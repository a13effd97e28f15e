#include "daemon/render.h"

#include "daemon/image_visibility.h"

#include "common/block_device_mapping.h"
#include "daemon/domain_xml.h"

namespace amid {

protocol::Json render_tags(const Tags& tags) {
  protocol::Json out = protocol::Json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out;
}

int instance_state_code(const std::string& s) {
  if (s == "pending") return 0;
  if (s == "running") return 16;
  if (s == "shutting-down") return 32;
  if (s == "terminated") return 48;
  if (s == "stopping") return 64;
  if (s == "stopped") return 80;
  return 0;
}

protocol::Json render_instance_state(const std::string& state) {
  return {{"Code", instance_state_code(state)}, {"Name", state}};
}

std::string deregistration_protection_state(const ImageRecord& image) {
  if (image.deregistration_protection == "disabled" && !image.protected_until.empty()) {
    return "disabled-after-" + image.protected_until;
  }
  return image.deregistration_protection.empty() ? "disabled" : image.deregistration_protection;
}

protocol::Json render_image(const ImageRecord& r) {
  protocol::Json j = {
      {"ImageId", r.id},
      {"Name", r.name},
      {"Description", r.description},
      {"OwnerId", r.owner},
      {"State", r.state},
      {"Architecture", r.architecture},
      {"VirtualizationType", r.virtualization_type},
      {"RootDeviceType", r.root_device_type},
      {"RootDeviceName", kRootDeviceName},
      {"CreationDate", r.creation_date},
      {"ImageType", "machine"},
      {"Hypervisor", "kvm"},
      {"Public", is_public(r)},
      {"ImageLocation", r.owner + "/" + r.name},
      {"DeregistrationProtection", deregistration_protection_state(r)},
  };
  if (!r.deprecation_time.empty()) j["DeprecationTime"] = r.deprecation_time;
  protocol::Json root = {{"DeviceName", kRootDeviceName}};
  if (r.root_device_type == "ebs") {
    root["Ebs"] = {{"VolumeSize", gib_ceil(r.size_bytes)},
                   {"DeleteOnTermination", true},
                   {"VolumeType", "gp3"}};
  } else {
    root["VirtualName"] = "ephemeral0";
  }
  j["BlockDeviceMappings"] = protocol::Json::array({root});
  if (!r.block_device_mappings.empty()) j["BlockDeviceMappings"] = to_ec2_json(parse_stored_mappings(r.block_device_mappings));
  if (!r.source_instance.empty()) {
    // amid's additions (not in EC2's answer): where a captured image came from.
    j["SourceInstanceId"] = r.source_instance;
    j["Consistency"] = r.consistency;
  }
  if (r.state == "pending" && r.progress_total > 0) {
    j["Progress"] = {{"BytesDone", r.progress_done},
                     {"BytesTotal", r.progress_total},
                     {"Percent", static_cast<int>(100.0 * static_cast<double>(r.progress_done) /
                                                  static_cast<double>(r.progress_total))}};
  }
  if (!r.tags.empty()) j["Tags"] = render_tags(r.tags);
  if (!r.kernel_id.empty()) j["KernelId"] = r.kernel_id;
  if (!r.ramdisk_id.empty()) j["RamdiskId"] = r.ramdisk_id;
  if (!r.state_reason.empty()) {
    j["StateReason"] = {{"Code", r.state}, {"Message", r.state_reason}};
  }
  return j;
}

protocol::Json render_volume(const VolumeRecord& v) {
  protocol::Json j = {{"VolumeId", v.id},
                      {"Size", v.size_gib},
                      {"SnapshotId", v.snapshot_id},
                      {"AvailabilityZone", v.region + "a"},
                      {"State", v.state},
                      {"CreateTime", v.create_time},
                      {"VolumeType", v.volume_type},
                      {"Encrypted", false},
                      {"Attachments", protocol::Json::array()}};
  if (!v.tags.empty()) j["Tags"] = render_tags(v.tags);
  if (!v.instance_id.empty()) {
    j["Attachments"].push_back({{"InstanceId", v.instance_id},
                                {"Device", v.device},
                                {"State", "attached"},
                                {"VolumeId", v.id},
                                {"DeleteOnTermination", v.delete_on_termination}});
  }
  return j;
}

protocol::Json render_instance(const InstanceRecord& r) {
  protocol::Json j = {
      {"InstanceId", r.id},
      {"ImageId", r.image_id},
      {"InstanceType", r.instance_type},
      {"State", render_instance_state(r.state)},
      {"LaunchTime", r.launch_time},
      {"Placement", {{"AvailabilityZone", r.region + "a"}, {"Tenancy", "default"}}},
      {"Architecture", r.architecture},
      {"RootDeviceType", r.root_device_type},
      {"RootDeviceName", kRootDeviceName},
      {"VirtualizationType", r.virtualization_type},
      {"Hypervisor", "kvm"},
      {"CpuOptions", {{"CoreCount", r.vcpus}, {"ThreadsPerCore", 1}}},
      {"StateTransitionReason", r.state_reason},
      {"PrivateIpAddress", "10.0.2.15"},
      {"NetworkInterfaces",
       protocol::Json::array({{{"MacAddress", mac_for_instance(r.id)},
                               {"PrivateIpAddress", "10.0.2.15"},
                               {"Status", "in-use"}}})},
  };
  if (!r.tags.empty()) j["Tags"] = render_tags(r.tags);
  if (!r.state_reason.empty()) {
    auto colon = r.state_reason.find(':');
    j["StateReason"] = {{"Code", r.state_reason.substr(0, colon)}, {"Message", r.state_reason}};
  }
  return j;
}

}  // namespace amid
