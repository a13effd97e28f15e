// The instance actions: RunInstances, DescribeInstances, TerminateInstances,
// StartInstances, StopInstances, RebootInstances, GetConsoleOutput,
// ModifyInstanceAttribute (its Groups).
#include "daemon/api/actions.h"

#include "common/base64.h"
#include "daemon/api/listing.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/key_pair_service.h"
#include "daemon/services/render.h"
#include "daemon/services/security_group_service.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

using Json = protocol::Json;

// EC2's InstanceStateChange list (TerminatingInstances, StartingInstances, ...).
Json state_changes(const std::vector<StateChange>& changes) {
  Json out = Json::array();
  for (const auto& c : changes) {
    out.push_back({{"InstanceId", c.instance_id},
                   {"PreviousState", render_instance_state(c.previous)},
                   {"CurrentState", render_instance_state(c.current)}});
  }
  return out;
}

Json run_instances(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  RunInstancesRequest req;
  req.image_id = p.required_string("ImageId");
  req.instance_type = p.optional_string("InstanceType").value_or("");
  auto min_count = p.optional_int("MinCount", 1, kMaxCount);
  auto max_count = p.optional_int("MaxCount", 1, kMaxCount);
  if (min_count && max_count && *min_count > *max_count) {
    throw AmidError(codes::kInvalidParameterValue, "MinCount: larger than MaxCount");
  }
  // EC2 requires both; amid lets either alone mean "exactly this many".
  req.min_count = static_cast<int>(min_count.value_or(max_count.value_or(1)));
  req.max_count = static_cast<int>(max_count.value_or(min_count.value_or(1)));
  if (const Json* specs = p.optional_json("TagSpecifications")) {
    for (auto& spec : parse_tag_specifications(*specs, {"instance", "volume"}).value_or_throw()) {
      (spec.resource_type == "instance" ? req.instance_tags : req.volume_tags) = std::move(spec.tags);
    }
  }
  if (const Json* bdm = p.optional_json("BlockDeviceMappings")) {
    req.block_device_mappings = from_ec2_json(*bdm).value_or_throw();
  }
  if (auto ud = p.optional_string("UserData", kMaxUserDataBytes * 4 / 3 + 4)) {
    auto decoded = base64_decode(*ud);
    if (!decoded) throw AmidError(codes::kInvalidParameterValue, "UserData: not valid base64");
    req.user_data = *decoded;
  }
  req.client_token = read_client_token(p);
  auto key_name = p.optional_string("KeyName", 1024);
  auto group_ids = p.string_list("SecurityGroupIds", 5);
  auto group_names = p.string_list("SecurityGroups", 5);
  p.finish();
  if (key_name) req.key_pair = services.key_pairs.key_for_launch(caller, *key_name);
  // Checked before anything is made; none named: the default group.
  req.security_groups = services.security_groups.groups_for_launch(caller, group_ids, group_names);
  Reservation reservation = instances.run_instances(caller, req);
  Json out = Json::array();
  for (const auto& rec : reservation.instances) {
    Json j = render_instance(rec);
    // As EC2 answers RunInstances; a replay shows the instances as they are now.
    if (!reservation.replayed) j["State"] = render_instance_state(InstanceState::kPending);
    out.push_back(j);
  }
  return {{"ReservationId", reservation.reservation_id},
          {"OwnerId", caller.account},
          {"Instances", out}};
}

Json describe_instances(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("InstanceIds");
  Listing listing({"DescribeInstances", &kInstanceFilters, 5, 1000, {"/InstanceId"}}, p, !ids.empty(),
                  "InstanceIds");
  p.finish();
  // Filters and pages count instances (as EC2's do); the rows carry their
  // reservation's fields until they are grouped.
  std::vector<Json> rows;
  for (const auto& rec : services.instances.describe_instances(caller, ids)) {
    Json row = render_instance(rec);
    row["ReservationId"] = rec.reservation_id;
    row["OwnerId"] = rec.owner;
    if (listing.wants(row)) rows.push_back(std::move(row));
  }
  std::string next = listing.take_page(rows);
  Json reservations = Json::array();
  std::map<std::string, size_t> index;
  for (auto& row : rows) {
    std::string reservation = row["ReservationId"];
    auto it = index.find(reservation);
    if (it == index.end()) {
      it = index.emplace(reservation, reservations.size()).first;
      reservations.push_back({{"ReservationId", reservation},
                              {"OwnerId", row["OwnerId"]},
                              {"Instances", Json::array()}});
    }
    row.erase("ReservationId");
    row.erase("OwnerId");
    reservations[it->second]["Instances"].push_back(std::move(row));
  }
  Json out = {{"Reservations", reservations}};
  if (!next.empty()) out["NextToken"] = next;
  return out;
}

Json terminate_instances(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  auto ids = p.string_list("InstanceIds");
  p.finish();
  return {{"TerminatingInstances", state_changes(instances.terminate_instances(caller, ids))}};
}

Json start_instances(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  auto ids = p.string_list("InstanceIds");
  p.finish();
  return {{"StartingInstances", state_changes(instances.start_instances(caller, ids))}};
}

Json stop_instances(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  auto ids = p.string_list("InstanceIds");
  bool force = p.optional_bool("Force").value_or(false);
  p.finish();
  return {{"StoppingInstances", state_changes(instances.stop_instances(caller, ids, force))}};
}

Json reboot_instances(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  auto ids = p.string_list("InstanceIds");
  p.finish();
  instances.reboot_instances(caller, ids);
  return {{"Return", true}};
}

Json get_console_output(Services& services, const Caller& caller, ParamReader& p) {
  InstanceService& instances = services.instances;
  std::string id = p.required_string("InstanceId");
  p.optional_bool("Latest");
  p.finish();
  std::string text = instances.console_output(caller, id);
  return {{"InstanceId", id}, {"Timestamp", iso_now()}, {"Output", base64_encode(text)}};
}

// EC2's attributes amid does not change (yet): named, so that asking for one
// says so instead of calling the field unknown.
constexpr const char* kUnchangedAttributes[] = {
    "Attribute", "Value", "InstanceType", "UserData", "Kernel", "Ramdisk", "SourceDestCheck",
    "DisableApiTermination", "DisableApiStop", "InstanceInitiatedShutdownBehavior", "BlockDeviceMappings",
    "EbsOptimized", "SriovNetSupport", "EnaSupport"};

Json modify_instance_attribute(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("InstanceId", 64);
  auto groups = p.string_list("Groups", 5);
  for (const char* name : kUnchangedAttributes) {
    if (p.optional_json(name)) {
      throw AmidError(codes::kUnsupportedOperation,
                      std::string(name) + ": amid's ModifyInstanceAttribute changes Groups only (the instance's "
                                          "security groups)");
    }
  }
  p.finish();
  services.security_groups.set_instance_groups(caller, id, groups);
  return {{"Return", true}};
}

}  // namespace

const ActionTable& instance_actions() {
  static const ActionTable table = {
      {"RunInstances", run_instances},
      {"DescribeInstances", describe_instances},
      {"TerminateInstances", terminate_instances},
      {"StartInstances", start_instances},
      {"StopInstances", stop_instances},
      {"RebootInstances", reboot_instances},
      {"GetConsoleOutput", get_console_output},
      {"ModifyInstanceAttribute", modify_instance_attribute},
  };
  return table;
}

}  // namespace amid
