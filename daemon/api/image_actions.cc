// The image actions: RegisterImage, DescribeImages, DeregisterImage, their
// protection, deprecation and launch permissions, CreateImage and CopyImage,
// and amid's own WarmImage (services/warm_images.h; not in EC2's model, so the
// socket's only).
#include "daemon/api/actions.h"

#include "daemon/api/listing.h"
#include "daemon/services/capture_service.h"
#include "daemon/services/copy_service.h"
#include "daemon/services/render.h"
#include "daemon/services/warm_images.h"

namespace amid {
namespace {

using Json = protocol::Json;

// TagSpecifications for a new image ("image") and its snapshots ("snapshot").
void read_image_tag_specifications(ParamReader& p, Tags& image_tags, Tags& snapshot_tags) {
  if (const Json* specs = p.optional_json("TagSpecifications")) {
    for (auto& spec : parse_tag_specifications(*specs, {"image", "snapshot"}).value_or_throw()) {
      (spec.resource_type == "image" ? image_tags : snapshot_tags) = std::move(spec.tags);
    }
  }
}

Json register_image(Services& services, const Caller& caller, ParamReader& p) {
  ImageService& images = services.images;
  RegisterImageRequest req;
  req.name = p.required_string("Name", 128);
  // The disk: DiskPath, or EC2's ImageLocation (where EC2 reads a manifest;
  // here a file on this machine), so that `aws ec2 register-image` can name it.
  auto location = p.optional_string("ImageLocation", 4096);
  auto disk = p.optional_string("DiskPath", 4096);
  if (location && disk) {
    throw AmidError(codes::kInvalidParameterCombination, "DiskPath, ImageLocation: give one of them, not both");
  }
  if (!location && !disk) {
    throw AmidError(codes::kMissingParameter, "DiskPath: required (or ImageLocation): the qcow2 or raw file to register");
  }
  req.disk_path = disk ? *disk : *location;
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
  // handed to the door's writer in turn, never a tree of the whole answer
  // (10,000 images make a tree of some hundred MiB). The same answer as
  // rendering every image, then Listing's wants and take_page.
  ImageQuery narrow;
  narrow.globs = listing.column_globs();
  if (listing.paged()) {
    narrow.by_id = true;
    if (listing.after()) narrow.after_id = listing.after()->front();
    // One more than a page: whether a NextToken is due shows without a second read.
    const auto& max_results = listing.max_results();
    narrow.limit = max_results ? static_cast<std::size_t>(*max_results) + 1 : 0;
  }
  return ActionAnswer::listing("Images", [services, caller, include_deprecated, scope = std::move(scope),
                                          narrow = std::move(narrow),
                                          listing = std::move(listing)](const protocol::RowSink& sink) {
    const std::vector<std::string> fields = listing.filter_fields();
    const auto& max_results = listing.max_results();
    std::size_t count = 0;
    std::string last_id;
    bool more = false;
    services.images.each_described_image(caller, include_deprecated, scope, narrow, [&](ImageRecord& rec) {
      if (listing.filtered() && !listing.wants(render_image_fields(rec, fields))) return true;
      if (max_results && count == static_cast<std::size_t>(*max_results)) {
        more = true;
        return false;
      }
      ++count;
      sink(render_image(rec));
      last_id = rec.id;
      return true;
    });
    return more ? listing.next_token({last_id}) : std::string();
  });
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

Json create_image(Services& services, const Caller& caller, ParamReader& p) {
  CreateImageRequest req;
  req.instance_id = p.required_string("InstanceId");
  req.name = p.required_string("Name", 128);
  req.description = p.optional_string("Description", 255).value_or("");
  req.no_reboot = p.optional_bool("NoReboot").value_or(false);
  req.warm = p.optional_bool("Warm").value_or(false);  // amid's extension (docs/WARM_IMAGES.md)
  read_image_tag_specifications(p, req.image_tags, req.snapshot_tags);
  if (const Json* bdm = p.optional_json("BlockDeviceMappings")) {
    req.block_device_mappings = from_ec2_json(*bdm).value_or_throw();
  }
  req.client_token = read_client_token(p);
  p.finish();
  ImageRecord image = services.capture.create_image(caller, req);
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
  if (!services.regions) throw AmidError(codes::kUnsupportedOperation, "copy-image is not available");
  auto source = services.regions->find(req.source_region);
  if (source == services.regions->end()) {
    std::string names;
    for (const auto& [name, s] : *services.regions) names += (names.empty() ? "" : ", ") + name;
    throw AmidError(codes::kInvalidParameterValue,
                    "SourceRegion: '" + req.source_region + "' is not a region of this amid (it serves " + names + ")");
  }
  ImageRecord image = services.copy.copy_image(caller, req, source->second.images);
  return {{"ImageId", image.id}};
}

// Makes an available image warm in the background: its WarmState is pending
// until a guest booted from it has been saved (describe-images shows it).
Json warm_image(Services& services, const Caller& caller, ParamReader& p) {
  std::string image_id = p.required_string("ImageId");
  std::string instance_type = p.optional_string("InstanceType").value_or("");
  p.finish();
  WarmStateRecord warm = services.warm_images.warm_image(caller, image_id, instance_type);
  return {{"ImageId", warm.image_id}, {"WarmState", render_warm_state(warm)}};
}

}  // namespace

const ActionTable& image_actions() {
  static const ActionTable table = {
      {"RegisterImage", register_image},
      {"DescribeImages", describe_images},
      {"DeregisterImage", deregister_image},
      {"EnableImageDeregistrationProtection", enable_image_deregistration_protection},
      {"DisableImageDeregistrationProtection", disable_image_deregistration_protection},
      {"EnableImageDeprecation", enable_image_deprecation},
      {"DisableImageDeprecation", disable_image_deprecation},
      {"ModifyImageAttribute", modify_image_attribute},
      {"DescribeImageAttribute", describe_image_attribute},
      {"ResetImageAttribute", reset_image_attribute},
      {"CreateImage", create_image},
      {"CopyImage", copy_image},
      {"WarmImage", warm_image},
  };
  return table;
}

}  // namespace amid
