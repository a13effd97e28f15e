#include "daemon/services/render.h"

#include <algorithm>

#include "common/block_device_mapping.h"
#include "daemon/host/domain_xml.h"
#include "daemon/services/default_vpc.h"
#include "daemon/services/image_visibility.h"

namespace amid {

protocol::Json render_tags(const Tags& tags) {
  protocol::Json out = protocol::Json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out;
}

protocol::Json render_instance_state(InstanceState state) {
  return {{"Code", state_code(state)}, {"Name", to_string(state)}};
}

std::string deregistration_protection_state(const ImageRecord& image) {
  if (image.deregistration_protection == "disabled" && !image.protected_until.empty()) {
    return "disabled-after-" + image.protected_until;
  }
  return image.deregistration_protection.empty() ? "disabled" : image.deregistration_protection;
}

namespace {

// render_image's fields, only those `want` accepts.
template <typename Want>
protocol::Json render_image_if(const ImageRecord& r, Want want) {
  protocol::Json j = protocol::Json::object();
  auto put = [&](const char* key, auto&& make) {
    if (want(key)) j[key] = make();
  };
  put("ImageId", [&] { return r.id; });
  put("Name", [&] { return r.name; });
  put("Description", [&] { return r.description; });
  put("OwnerId", [&] { return r.owner; });
  put("State", [&] { return to_string(r.state); });
  put("Architecture", [&] { return r.architecture; });
  put("VirtualizationType", [&] { return r.virtualization_type; });
  put("RootDeviceType", [&] { return r.root_device_type; });
  put("RootDeviceName", [&] { return kRootDeviceName; });
  put("CreationDate", [&] { return r.creation_date; });
  put("ImageType", [&] { return "machine"; });
  put("Hypervisor", [&] { return "kvm"; });
  put("Public", [&] { return is_public(r); });
  put("ImageLocation", [&] { return r.owner + "/" + r.name; });
  put("DeregistrationProtection", [&] { return deregistration_protection_state(r); });
  if (!r.deprecation_time.empty()) put("DeprecationTime", [&] { return r.deprecation_time; });
  put("BlockDeviceMappings", [&] {
    if (r.block_device_mappings) return to_ec2_json(*r.block_device_mappings);
    protocol::Json root = {{"DeviceName", kRootDeviceName}};
    if (r.root_device_type == "ebs") {
      root["Ebs"] = {{"VolumeSize", gib_ceil(r.size_bytes)},
                     {"DeleteOnTermination", true},
                     {"VolumeType", "gp3"}};
    } else {
      root["VirtualName"] = "ephemeral0";
    }
    return protocol::Json::array({std::move(root)});
  });
  if (!r.source_instance.empty()) {
    // amid's additions (not in EC2's answer): where a captured image came from.
    put("SourceInstanceId", [&] { return r.source_instance; });
    put("Consistency", [&] { return r.consistency; });
    if (r.freeze_ms >= 0) put("FreezeMilliseconds", [&] { return r.freeze_ms; });
  }
  if (r.state == ImageState::kPending && r.progress_total > 0) {
    put("Progress", [&] {
      return protocol::Json{{"BytesDone", r.progress_done},
                            {"BytesTotal", r.progress_total},
                            {"Percent", static_cast<int>(100.0 * static_cast<double>(r.progress_done) /
                                                         static_cast<double>(r.progress_total))}};
    });
  }
  if (r.warm) {
    // amid's additions: whether a launch may restore instead of booting
    // (services/warm_images.h), and what that warm state is valid for.
    put("Warm", [&] { return r.warm->state == "available"; });
    put("WarmState", [&] { return render_warm_state(*r.warm); });
  }
  if (!r.tags.empty()) put("Tags", [&] { return render_tags(r.tags); });
  if (!r.kernel_id.empty()) put("KernelId", [&] { return r.kernel_id; });
  if (!r.ramdisk_id.empty()) put("RamdiskId", [&] { return r.ramdisk_id; });
  if (!r.state_reason.empty()) {
    put("StateReason", [&] { return protocol::Json{{"Code", to_string(r.state)}, {"Message", r.state_reason}}; });
  }
  return j;
}

}  // namespace

protocol::Json render_image(const ImageRecord& r) {
  return render_image_if(r, [](const char*) { return true; });
}

protocol::Json render_image_fields(const ImageRecord& r, const std::vector<std::string>& fields) {
  return render_image_if(r, [&](const char* key) {
    for (const auto& f : fields) {
      if (f == key) return true;
    }
    return false;
  });
}

protocol::Json render_volume(const VolumeRecord& v) {
  protocol::Json j = {{"VolumeId", v.id},
                      {"Size", v.size_gib},
                      {"SnapshotId", v.snapshot_id},
                      {"AvailabilityZone", default_availability_zone(v.region)},
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

namespace {
constexpr const char* kForwardHost = "127.0.0.1";  // where amid's forwards listen (host/port_forwarder.h)
}  // namespace

protocol::Json render_instance(const InstanceRecord& r) {
  protocol::Json groups = protocol::Json::array();
  for (const auto& g : r.security_groups) groups.push_back({{"GroupId", g.id}, {"GroupName", g.name}});
  protocol::Json j = {
      {"InstanceId", r.id},
      {"ImageId", r.image_id},
      {"AmiLaunchIndex", r.launch_index},
      {"InstanceType", r.instance_type},
      {"State", render_instance_state(r.state)},
      {"LaunchTime", r.launch_time},
      {"Placement", {{"AvailabilityZone", default_availability_zone(r.region)}, {"Tenancy", "default"}}},
      {"Architecture", r.architecture},
      {"RootDeviceType", r.root_device_type},
      {"RootDeviceName", kRootDeviceName},
      {"VirtualizationType", r.virtualization_type},
      {"Hypervisor", "kvm"},
      {"CpuOptions", {{"CoreCount", r.vcpus}, {"ThreadsPerCore", 1}}},
      {"StateTransitionReason", r.state_reason},
      {"VpcId", default_vpc_id(r.owner, r.region)},
      {"SubnetId", default_subnet_id(r.owner, r.region)},
      {"SecurityGroups", groups},
      {"NetworkInterfaces",
       protocol::Json::array({{{"MacAddress", mac_for_instance(r.id)},
                               {"VpcId", default_vpc_id(r.owner, r.region)},
                               {"SubnetId", default_subnet_id(r.owner, r.region)},
                               {"Groups", groups},
                               {"Status", "in-use"}}})},
  };
  if (!r.private_ip.empty() && r.state != InstanceState::kTerminated) {
    // Its address on the region network (services/guest_network.h), and EC2's
    // name for it (ip-172-31-0-4.REGION.compute.internal).
    std::string dns = "ip-" + r.private_ip + "." + r.region + ".compute.internal";
    std::replace(dns.begin(), dns.begin() + static_cast<std::ptrdiff_t>(3 + r.private_ip.size()), '.', '-');
    j["PrivateIpAddress"] = r.private_ip;
    j["PrivateDnsName"] = dns;
    j["NetworkInterfaces"][0]["PrivateIpAddress"] = r.private_ip;
    j["NetworkInterfaces"][0]["PrivateDnsName"] = dns;
    if (r.state == InstanceState::kPending || r.state == InstanceState::kRunning) {
      // The host reaches it at 127.0.0.1, on the ports its security groups
      // forward (services/guest_network.h): amid's PortForwards says which.
      j["PublicIpAddress"] = kForwardHost;
      j["PublicDnsName"] = "localhost";
      j["NetworkInterfaces"][0]["Association"] = {{"PublicIp", kForwardHost}, {"PublicDnsName", "localhost"}};
      protocol::Json forwards = protocol::Json::array();
      for (const auto& f : r.port_forwards) {
        forwards.push_back({{"Protocol", "tcp"}, {"GuestPort", f.guest_port}, {"HostIp", kForwardHost},
                            {"HostPort", f.host_port}});
      }
      j["PortForwards"] = forwards;
    }
  }
  if (!r.tags.empty()) j["Tags"] = render_tags(r.tags);
  // amid's: how its launch brought the guest up, booted ("cold") or restored
  // from its image's warm state ("warm"); not known while pending. A later
  // start boots. Not EC2's BootMode, which is the firmware.
  if (r.state != InstanceState::kPending) j["LaunchMode"] = r.launch_mode;
  if (!r.key_name.empty()) j["KeyName"] = r.key_name;
  if (!r.state_reason.empty()) {
    auto colon = r.state_reason.find(':');
    j["StateReason"] = {{"Code", r.state_reason.substr(0, colon)}, {"Message", r.state_reason}};
  }
  return j;
}

namespace {

protocol::Json ip_range(const SecurityGroupRule& rule) {
  protocol::Json range = {{"CidrIp", rule.cidr}};
  if (!rule.description.empty()) range["Description"] = rule.description;
  return range;
}

// EC2 leaves the ports out of a rule for every protocol.
void put_ports(protocol::Json& j, const SecurityGroupRule& rule) {
  if (rule.protocol == "-1") return;
  j["FromPort"] = rule.from_port;
  j["ToPort"] = rule.to_port;
}

}  // namespace

protocol::Json render_security_group(const SecurityGroupRecord& g) {
  protocol::Json permissions = protocol::Json::array();
  std::vector<const SecurityGroupRule*> heads;  // the first rule of each permission, in order
  for (const auto& rule : g.ingress) {
    auto same_ports = [&](const SecurityGroupRule* h) {
      return h->protocol == rule.protocol && h->from_port == rule.from_port && h->to_port == rule.to_port;
    };
    auto it = std::find_if(heads.begin(), heads.end(), same_ports);
    if (it != heads.end()) {
      permissions[static_cast<std::size_t>(it - heads.begin())]["IpRanges"].push_back(ip_range(rule));
      continue;
    }
    protocol::Json p = {{"IpProtocol", rule.protocol},
                        {"IpRanges", protocol::Json::array({ip_range(rule)})},
                        {"Ipv6Ranges", protocol::Json::array()},
                        {"PrefixListIds", protocol::Json::array()},
                        {"UserIdGroupPairs", protocol::Json::array()}};
    put_ports(p, rule);
    permissions.push_back(std::move(p));
    heads.push_back(&rule);
  }
  protocol::Json egress = protocol::Json::array({{{"IpProtocol", "-1"},
                                                  {"IpRanges", protocol::Json::array({{{"CidrIp", "0.0.0.0/0"}}})},
                                                  {"Ipv6Ranges", protocol::Json::array()},
                                                  {"PrefixListIds", protocol::Json::array()},
                                                  {"UserIdGroupPairs", protocol::Json::array()}}});
  protocol::Json j = {{"GroupId", g.id},
                      {"GroupName", g.name},
                      {"Description", g.description},
                      {"OwnerId", g.owner},
                      {"VpcId", g.vpc_id},
                      {"IpPermissions", permissions},
                      {"IpPermissionsEgress", egress}};
  if (!g.tags.empty()) j["Tags"] = render_tags(g.tags);
  return j;
}

protocol::Json render_security_group_rule(const SecurityGroupRecord& g, const SecurityGroupRule& rule) {
  protocol::Json j = {{"SecurityGroupRuleId", rule.id}, {"GroupId", g.id},         {"GroupOwnerId", g.owner},
                      {"IsEgress", false},              {"IpProtocol", rule.protocol}, {"CidrIpv4", rule.cidr}};
  put_ports(j, rule);
  if (!rule.description.empty()) j["Description"] = rule.description;
  return j;
}

protocol::Json render_warm_state(const WarmStateRecord& w) {
  protocol::Json j = {{"State", w.state}, {"CreateTime", w.create_time}};
  if (!w.instance_type.empty()) j["InstanceType"] = w.instance_type;
  if (w.state == "available") {
    j["MemoryBytes"] = w.memory_bytes;
    j["MemoryMiB"] = w.memory_mib;
    j["VCpus"] = w.vcpus;
    j["Machine"] = w.machine;
    j["CpuModel"] = w.cpu;
    j["Accelerator"] = w.accelerator == "kvm" ? "kvm" : "tcg";
    j["QemuVersion"] = w.qemu_version;
    j["NetworkInterface"] = w.nic;
  }
  if (!w.state_reason.empty()) j["StateReason"] = w.state_reason;
  return j;
}

}  // namespace amid
