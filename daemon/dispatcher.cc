#include "daemon/dispatcher.h"

#include <malloc.h>

#include <functional>
#include <map>

#include "common/base64.h"
#include "common/block_device_mapping.h"
#include "common/ids.h"
#include "common/tags.h"
#include "daemon/client_token.h"
#include "daemon/listing.h"
#include "daemon/log.h"
#include "daemon/params.h"
#include "daemon/render.h"

namespace amid {

// An action's answer: a JSON body, or (for a large listing built a row at a
// time) the body's text as protocol::dump_answer writes it.
struct ActionAnswer {
  ActionAnswer(protocol::Json body) : json(std::move(body)) {}  // NOLINT: every handler returns Json
  static ActionAnswer text(std::string body_text) {
    ActionAnswer a{protocol::Json()};
    a.raw = std::move(body_text);
    a.is_raw = true;
    return a;
  }
  protocol::Json json;
  std::string raw;
  bool is_raw = false;
};
namespace {

using Json = protocol::Json;

using Handler = std::function<ActionAnswer(Services&, const Caller&, ParamReader&)>;

Json state_changes(const std::vector<StateChange>& changes);

// ClientToken, checked, with the request's other parameters in canonical form.
std::optional<ClientToken> read_client_token(ParamReader& p) {
  auto token = p.optional_string("ClientToken", kMaxClientTokenLength);
  if (!token) return std::nullopt;
  return ClientToken{validate_client_token(*token).value_or_throw(), canonical_parameters(p.parameters())};
}

// TagSpecifications for a new image ("image") and its snapshots ("snapshot").
void read_image_tag_specifications(ParamReader& p, Tags& image_tags, Tags& snapshot_tags) {
  if (const Json* specs = p.optional_json("TagSpecifications")) {
    for (auto& spec : parse_tag_specifications(*specs, {"image", "snapshot"}).value_or_throw()) {
      (spec.resource_type == "image" ? image_tags : snapshot_tags) = std::move(spec.tags);
    }
  }
}

// A Describe answer: the rows under `field`, and NextToken when there are more.
Json listed(const char* field, std::vector<Json> rows, const std::string& next_token) {
  Json out = {{field, Json(std::move(rows))}};
  if (!next_token.empty()) out["NextToken"] = next_token;
  return out;
}

Json register_image(Services& services, const Caller& caller, ParamReader& p) {
  ImageService& images = services.images;
  RegisterImageRequest req;
  req.name = p.required_string("Name", 128);
  req.disk_path = p.required_string("DiskPath", 4096);
  req.description = p.optional_string("Description", 255).value_or("");
  req.architecture = p.optional_string("Architecture").value_or("x86_64");
  req.virtualization_type = p.optional_string("VirtualizationType").value_or("hvm");
  req.root_device_type = p.optional_string("RootDeviceType").value_or("ebs");
  req.kernel_path = p.optional_string("KernelPath", 4096).value_or("");
  req.ramdisk_path = p.optional_string("RamdiskPath", 4096).value_or("");
  req.kernel_cmdline = p.optional_string("KernelCommandLine", 2048).value_or("");
  if (const Json* bdm = p.optional_json("BlockDeviceMappings")) {
    req.block_device_mappings = from_ec2_json(*bdm).value_or_throw();
  }
  p.finish();
  ImageRecord rec = images.register_image(caller, req);
  return {{"ImageId", rec.id}};
}

ActionAnswer describe_images(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("ImageIds");
  bool include_deprecated = p.optional_bool("IncludeDeprecated").value_or(false);
  ImageScope scope{p.string_list("Owners"), p.string_list("ExecutableUsers")};
  Listing listing({"DescribeImages", &kImageFilters, 5, 1000, {"/ImageId"}}, p, !ids.empty(), "ImageIds");
  p.finish();
  if (!ids.empty()) {  // a few named images (no paging with ImageIds)
    std::vector<Json> rows;
    for (const auto& rec : services.images.describe_images(caller, ids, include_deprecated, scope)) {
      Json row = render_image(rec);
      if (listing.wants(row)) rows.push_back(std::move(row));
    }
    std::string next = listing.take_page(rows);
    return listed("Images", std::move(rows), next);
  }
  // Over the whole catalog, only the images of the answer are rendered: the
  // catalog leaves out rows that a filter on one of its columns cannot match,
  // the other filters read only the fields they need, and a page is read in id
  // order, a chunk at a time, until it is full. Each image is rendered and
  // written out in turn, never a tree of the whole answer (10,000 images make a
  // tree of some hundred MiB). The same answer, byte for byte, as rendering every
  // image, then Listing's wants and take_page, and dumping {"Images", "NextToken"}.
  ImageQuery narrow;
  narrow.globs = listing.column_globs();
  const auto& max_results = listing.max_results();
  if (listing.paged()) {
    narrow.by_id = true;
    if (listing.after()) narrow.after_id = listing.after()->front();
    // One more than a page: whether a NextToken is due shows without a second read.
    narrow.limit = max_results ? static_cast<std::size_t>(*max_results) + 1 : 0;
  }
  const std::vector<std::string> fields = listing.filter_fields();
  std::string text = "{\"Images\":[";
  std::size_t count = 0;
  std::string last_id;
  bool more = false;
  services.images.each_described_image(caller, include_deprecated, scope, std::move(narrow), [&](ImageRecord& rec) {
    if (listing.filtered() && !listing.wants(render_image_fields(rec, fields))) return true;
    if (max_results && count == static_cast<std::size_t>(*max_results)) {
      more = true;
      return false;
    }
    if (count++) text += ',';
    text += protocol::dump_answer(render_image(rec));
    last_id = rec.id;
    return true;
  });
  text += ']';
  if (more) {
    text += ",\"NextToken\":";
    text += protocol::dump_answer(Json(listing.next_token({last_id})));
  }
  text += '}';
  return ActionAnswer::text(std::move(text));
}

Json deregister_image(Services& services, const Caller& caller, ParamReader& p) {
  ImageService& images = services.images;
  std::string id = p.required_string("ImageId");
  p.finish();
  images.deregister_image(caller, id);
  return {{"Return", true}};
}

Json enable_image_deregistration_protection(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  bool with_cooldown = p.optional_bool("WithCooldown").value_or(false);
  p.finish();
  return {{"Return", services.images.enable_deregistration_protection(caller, id, with_cooldown)}};
}

Json disable_image_deregistration_protection(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  p.finish();
  return {{"Return", services.images.disable_deregistration_protection(caller, id)}};
}

Json enable_image_deprecation(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  std::string at = p.required_string("DeprecateAt", 64);
  p.finish();
  services.images.enable_deprecation(caller, id, at);
  return {{"Return", true}};
}

Json disable_image_deprecation(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  p.finish();
  services.images.disable_deprecation(caller, id);
  return {{"Return", true}};
}

// The only image attribute amid keeps besides those of their own actions.
constexpr const char* kLaunchPermission = "launchPermission";

void check_attribute(const std::string& attribute) {
  if (attribute == kLaunchPermission) return;
  throw AmidError(codes::kInvalidParameterValue,
                  "Attribute: '" + attribute + "' is not an image attribute amid keeps; the only one is launchPermission");
}

// One launch permission of EC2's LaunchPermission.Add/Remove lists: {"UserId": ...} or {"Group": "all"}.
LaunchPermission read_permission(const ImageService& images, const Json& item, const std::string& field) {
  if (!item.is_object()) {
    throw AmidError(codes::kInvalidParameterValue, field + ": must be an object, {\"UserId\": ...} or {\"Group\": \"all\"}");
  }
  for (auto& [key, value] : item.items()) {
    if (key == "UserId" || key == "Group") {
      if (!value.is_string()) throw AmidError(codes::kInvalidParameterValue, field + "." + key + ": must be a string");
      continue;
    }
    if (key == "OrganizationArn" || key == "OrganizationalUnitArn") {
      throw AmidError(codes::kInvalidParameterValue, field + "." + key + ": amid has no organizations; share with UserId or Group");
    }
    throw AmidError(codes::kUnknownParameter, field + "." + key + ": unknown; a launch permission is UserId or Group");
  }
  const bool user = item.contains("UserId"), group = item.contains("Group");
  if (user == group) {
    throw AmidError(codes::kInvalidParameterValue, field + ": give exactly one of UserId and Group");
  }
  if (user) return {"user", images.check_account(field + ".UserId", item["UserId"].get<std::string>())};
  std::string g = item["Group"];
  if (g != "all") {
    throw AmidError(codes::kInvalidAmiAttributeItemValue,
                    field + ".Group: invalid attribute item value \"" + g + "\" for UserGroup item type (the only group is all)");
  }
  return {"group", "all"};
}

LaunchPermissionEdit read_launch_permission_edit(const ImageService& images, ParamReader& p) {
  LaunchPermissionEdit edit;
  const Json* lp = p.optional_json("LaunchPermission");
  auto operation = p.optional_string("OperationType", 16);
  const Json* user_ids = p.optional_json("UserIds");
  const Json* user_groups = p.optional_json("UserGroups");
  auto ids = p.string_list("UserIds", kMaxLaunchPermissions);
  auto groups = p.string_list("UserGroups", kMaxLaunchPermissions);
  if (lp && (operation || user_ids || user_groups)) {
    throw AmidError(codes::kInvalidParameterCombination,
                    "LaunchPermission: give either LaunchPermission or OperationType with UserIds/UserGroups, not both");
  }
  if (lp) {
    if (!lp->is_object()) {
      throw AmidError(codes::kInvalidParameterValue, "LaunchPermission: must be an object, {\"Add\": [...], \"Remove\": [...]}");
    }
    for (auto& [key, value] : lp->items()) {
      if (key != "Add" && key != "Remove") {
        throw AmidError(codes::kUnknownParameter, "LaunchPermission." + key + ": unknown; use Add and Remove");
      }
      const std::string field = "LaunchPermission." + key;
      if (!value.is_array()) throw AmidError(codes::kInvalidParameterValue, field + ": must be a list");
      if (value.size() > kMaxLaunchPermissions) {
        throw AmidError(codes::kInvalidParameterValue,
                        field + ": more than " + std::to_string(kMaxLaunchPermissions) + " items");
      }
      auto& into = key == "Add" ? edit.add : edit.remove;
      for (std::size_t i = 0; i < value.size(); ++i) {
        into.push_back(read_permission(images, value[i], field + "[" + std::to_string(i) + "]"));
      }
    }
  } else if (operation || user_ids || user_groups) {
    if (!operation) throw AmidError(codes::kMissingParameter, "OperationType: required with UserIds or UserGroups (add or remove)");
    if (*operation != "add" && *operation != "remove") {
      throw AmidError(codes::kInvalidParameterValue, "OperationType: '" + *operation + "' is neither add nor remove");
    }
    auto& into = *operation == "add" ? edit.add : edit.remove;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      into.push_back({"user", images.check_account("UserIds[" + std::to_string(i) + "]", ids[i])});
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
      if (groups[i] != "all") {
        throw AmidError(codes::kInvalidAmiAttributeItemValue, "UserGroups[" + std::to_string(i) +
                                                                 "]: invalid attribute item value \"" + groups[i] +
                                                                 "\" for UserGroup item type (the only group is all)");
      }
      into.push_back({"group", "all"});
    }
  }
  if (edit.add.empty() && edit.remove.empty()) {
    throw AmidError(codes::kMissingParameter,
                    "LaunchPermission: nothing to add or remove (e.g. {\"Add\": [{\"UserId\": \"000000001000\"}]})");
  }
  for (const auto& a : edit.add) {
    for (const auto& r : edit.remove) {
      if (a == r) {
        throw AmidError(codes::kInvalidParameterValue, "LaunchPermission: " + std::string(a.kind == "user" ? "UserId " : "Group ") +
                                                           a.value + " is both added and removed");
      }
    }
  }
  return edit;
}

Json render_launch_permissions(const LaunchPermissions& permissions) {
  Json out = Json::array();
  for (const auto& lp : permissions) {
    out.push_back(lp.kind == "group" ? Json{{"Group", lp.value}} : Json{{"UserId", lp.value}});
  }
  return out;
}

Json modify_image_attribute(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  if (auto attribute = p.optional_string("Attribute", 64)) check_attribute(*attribute);
  // EC2's other attributes (Description, ImdsSupport...) are refused by name.
  for (const char* other : {"Description", "ImdsSupport", "ProductCodes", "OrganizationArns", "OrganizationalUnitArns", "Value"}) {
    if (p.optional_json(other)) {
      throw AmidError(codes::kInvalidParameterValue,
                      std::string(other) + ": amid keeps only the launchPermission attribute of an image");
    }
  }
  check_image_id(id);
  LaunchPermissionEdit edit = read_launch_permission_edit(services.images, p);
  p.finish();
  services.images.modify_launch_permissions(caller, id, edit);
  return {{"Return", true}};
}

Json describe_image_attribute(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  check_attribute(p.required_string("Attribute", 64));
  p.finish();
  return {{"ImageId", id}, {"LaunchPermissions", render_launch_permissions(services.images.launch_permissions(caller, id))}};
}

Json reset_image_attribute(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("ImageId");
  check_attribute(p.required_string("Attribute", 64));
  p.finish();
  services.images.reset_launch_permissions(caller, id);
  return {{"Return", true}};
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
  p.finish();
  Reservation reservation = instances.run_instances(caller, req);
  Json out = Json::array();
  for (const auto& rec : reservation.instances) {
    Json j = render_instance(rec);
    // As EC2 answers RunInstances; a replay shows the instances as they are now.
    if (!reservation.replayed) j["State"] = render_instance_state("pending");
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

Json state_changes(const std::vector<StateChange>& changes) {
  Json out = Json::array();
  for (const auto& c : changes) {
    out.push_back({{"InstanceId", c.instance_id},
                   {"PreviousState", render_instance_state(c.previous)},
                   {"CurrentState", render_instance_state(c.current)}});
  }
  return out;
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

Json create_image(Services& services, const Caller& caller, ParamReader& p) {
  CreateImageRequest req;
  req.instance_id = p.required_string("InstanceId");
  req.name = p.required_string("Name", 128);
  req.description = p.optional_string("Description", 255).value_or("");
  req.no_reboot = p.optional_bool("NoReboot").value_or(false);
  read_image_tag_specifications(p, req.image_tags, req.snapshot_tags);
  if (const Json* bdm = p.optional_json("BlockDeviceMappings")) {
    req.block_device_mappings = from_ec2_json(*bdm).value_or_throw();
  }
  req.client_token = read_client_token(p);
  p.finish();
  if (!services.capture) throw AmidError(codes::kUnsupportedOperation, "create-image is not available");
  ImageRecord image = services.capture->create_image(caller, req);
  return {{"ImageId", image.id}};
}

Json copy_image(Services& services, const Caller& caller, ParamReader& p) {
  CopyImageRequest req;
  req.source_region = p.required_string("SourceRegion", 64);
  req.source_image_id = p.required_string("SourceImageId");
  req.name = p.required_string("Name", 128);
  req.description = p.optional_string("Description", 255);
  req.copy_image_tags = p.optional_bool("CopyImageTags").value_or(false);
  req.client_token = read_client_token(p);
  read_image_tag_specifications(p, req.image_tags, req.snapshot_tags);
  p.finish();
  if (!services.capture || !services.regions) throw AmidError(codes::kUnsupportedOperation, "copy-image is not available");
  auto source = services.regions->find(req.source_region);
  if (source == services.regions->end()) {
    std::string names;
    for (const auto& [name, s] : *services.regions) names += (names.empty() ? "" : ", ") + name;
    throw AmidError(codes::kInvalidParameterValue,
                    "SourceRegion: '" + req.source_region + "' is not a region of this amid (it serves " + names + ")");
  }
  ImageRecord image = services.capture->copy_image(caller, req, source->second.images);
  return {{"ImageId", image.id}};
}

Json describe_volumes(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("VolumeIds");
  Listing listing({"DescribeVolumes", &kVolumeFilters, 5, 500, {"/VolumeId"}}, p, !ids.empty(), "VolumeIds");
  p.finish();
  std::vector<Json> rows;
  for (const auto& vol : services.instances.describe_volumes(caller, ids)) {
    Json row = render_volume(vol);
    if (listing.wants(row)) rows.push_back(std::move(row));
  }
  std::string next = listing.take_page(rows);
  return listed("Volumes", std::move(rows), next);
}

Json create_tags(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("Resources");
  const Json* tags = p.optional_json("Tags");
  if (!tags) throw AmidError(codes::kMissingParameter, "Tags: required, a list of {Key, Value}");
  auto entries = parse_tag_list(*tags, "Tags").value_or_throw();
  p.finish();
  services.tags.create_tags(caller, ids, to_tag_map(entries));
  return {{"Return", true}};
}

Json delete_tags(Services& services, const Caller& caller, ParamReader& p) {
  auto ids = p.string_list("Resources");
  std::vector<TagEntry> entries;
  if (const Json* tags = p.optional_json("Tags")) {
    entries = parse_tag_list(*tags, "Tags").value_or_throw();
    // An empty list is more likely a mistake than "delete everything" (which is Tags left out).
    if (entries.empty()) {
      throw AmidError(codes::kInvalidParameterValue, "Tags: empty; leave Tags out to delete every tag");
    }
  }
  p.finish();
  services.tags.delete_tags(caller, ids, entries);
  return {{"Return", true}};
}

Json describe_tags(Services& services, const Caller& caller, ParamReader& p) {
  Listing listing({"DescribeTags", &kTagFilters, 5, 1000, {"/ResourceId", "/Key"}}, p);
  p.finish();
  std::vector<Json> rows;
  for (const auto& t : services.tags.describe_tags(caller)) {
    Json row = {{"Key", t.key}, {"Value", t.value}, {"ResourceId", t.resource_id}, {"ResourceType", t.resource_type}};
    if (listing.wants(row)) rows.push_back(std::move(row));
  }
  std::string next = listing.take_page(rows);
  return listed("Tags", std::move(rows), next);
}

const std::map<std::string, Handler>& actions() {
  static const std::map<std::string, Handler> table = {
      {"RegisterImage", register_image},
      {"DescribeImages", describe_images},
      {"DeregisterImage", deregister_image},
      {"RunInstances", run_instances},
      {"DescribeInstances", describe_instances},
      {"TerminateInstances", terminate_instances},
      {"GetConsoleOutput", get_console_output},
      {"StartInstances", start_instances},
      {"StopInstances", stop_instances},
      {"RebootInstances", reboot_instances},
      {"CreateImage", create_image},
      {"CopyImage", copy_image},
      {"DescribeVolumes", describe_volumes},
      {"EnableImageDeregistrationProtection", enable_image_deregistration_protection},
      {"DisableImageDeregistrationProtection", disable_image_deregistration_protection},
      {"EnableImageDeprecation", enable_image_deprecation},
      {"DisableImageDeprecation", disable_image_deprecation},
      {"CreateTags", create_tags},
      {"DeleteTags", delete_tags},
      {"DescribeTags", describe_tags},
      {"ModifyImageAttribute", modify_image_attribute},
      {"DescribeImageAttribute", describe_image_attribute},
      {"ResetImageAttribute", reset_image_attribute},
  };
  return table;
}

}  // namespace

std::vector<std::string> Dispatcher::action_names() {
  std::vector<std::string> out;
  for (auto& [name, h] : actions()) out.push_back(name);
  return out;
}

ActionAnswer Dispatcher::dispatch(const Caller& caller, const protocol::Request& request) {
  auto it = actions().find(request.action);
  if (it == actions().end()) {
    throw AmidError(codes::kInvalidAction, "Action: '" + request.action + "' is not an action amid knows");
  }
  ParamReader reader(request.parameters);
  Services* services = &services_;
  if (auto region = reader.optional_string("Region", 64)) {
    auto r = regions_.find(*region);
    if (r == regions_.end()) {
      std::string names;
      for (const auto& [name, s] : regions_) names += (names.empty() ? "" : ", ") + name;
      throw AmidError(codes::kInvalidParameterValue,
                      "Region: '" + *region + "' is not a region of this amid (it serves " + names + ")");
    }
    services = &r->second;
  }
  Services with_regions = *services;
  with_regions.regions = &regions_;
  return it->second(with_regions, caller, reader);
}

bool Dispatcher::reads_only(const std::string& line) {
  auto parsed = protocol::parse_request(line);
  if (!parsed) return false;
  const std::string& action = parsed.value().action;
  return action.rfind("Describe", 0) == 0 || action == "GetConsoleOutput";
}

std::string Dispatcher::handle(const Caller& caller, const std::string& line) {
  std::string request_id = new_uuid();
  auto parsed = protocol::parse_request(line);
  if (!parsed) {
    return protocol::encode_error(request_id, parsed.problem().code, parsed.problem().message);
  }
  const protocol::Request& request = parsed.value();
  try {
    std::string text;
    {
      ActionAnswer answer = dispatch(caller, request);
      text = answer.is_raw ? protocol::encode_ok_text(request_id, answer.raw)
                           : protocol::encode_ok(request_id, answer.json);
    }
    // A large answer was built of many small blocks: hand their pages back.
    if (text.size() > (64u << 10)) malloc_trim(0);
    return text;
  } catch (const AmidError& e) {
    if (e.code() == codes::kInternalError) {
      log_error(request.action + " by " + caller.account + " failed: " + e.what());
    }
    return protocol::encode_error(request_id, e.code(), e.what());
  } catch (const std::exception& e) {
    log_error(request.action + " by " + caller.account + " failed unexpectedly: " + e.what());
    return protocol::encode_error(request_id, codes::kInternalError, e.what());
  }
}

}  // namespace amid
