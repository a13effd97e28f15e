#include "daemon/services/tag_service.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "common/ids.h"
#include "daemon/host/log.h"

namespace amid {
namespace {

// What amid calls each kind of taggable resource, and how EC2 refuses its ids.
struct ResourceKind {
  const char* prefix;  // "ami"
  const char* type;    // "image": DescribeTags' ResourceType
  const char* malformed;
  const char* not_found;
  const char* noun;  // "image id": as EC2's messages name it
};

constexpr ResourceKind kKinds[] = {
    {"ami", "image", codes::kInvalidAmiIdMalformed, codes::kInvalidAmiIdNotFound, "image id"},
    {"snap", "snapshot", codes::kInvalidSnapshotIdMalformed, codes::kInvalidSnapshotNotFound, "snapshot"},
    {"vol", "volume", codes::kInvalidVolumeIdMalformed, codes::kInvalidVolumeNotFound, "volume"},
    {"i", "instance", codes::kInvalidInstanceIdMalformed, codes::kInvalidInstanceIdNotFound, "instance id"},
};

const ResourceKind* kind_of(const std::string& id) {
  for (const auto& k : kKinds) {
    std::string prefix = std::string(k.prefix) + "-";
    if (id.rfind(prefix, 0) == 0) return &k;
  }
  return nullptr;
}

[[noreturn]] void not_found(const ResourceKind& kind, const std::string& id) {
  throw AmidError(kind.not_found, std::string("The ") + kind.noun + " '" + id + "' does not exist");
}

}  // namespace

std::string TagService::visible_resource_type(const Caller& caller, const std::string& id) {
  const ResourceKind* kind = kind_of(id);
  if (!kind) {
    throw AmidError(codes::kInvalidId, "Resources: '" + id +
                                           "' is not the id of an image (ami-), snapshot (snap-), "
                                           "volume (vol-) or instance (i-)");
  }
  if (!is_valid_id(id, kind->prefix)) {
    throw AmidError(kind->malformed, "Resources: '" + id + "' is not a valid " + kind->type + " id (" +
                                         kind->prefix + "- and 17 hex digits)");
  }
  const std::string& region = rt_.settings.region;
  bool visible = false;
  std::string type = kind->type;
  if (type == "image") {
    auto r = rt_.catalog.find_image(id);
    visible = r && r->state != ImageState::kDeregistered && r->region == region && caller.may_manage(r->owner);
  } else if (type == "snapshot") {
    auto r = rt_.catalog.find_snapshot(id);
    visible = r && r->region == region && caller.may_manage(r->owner);
  } else if (type == "volume") {
    auto r = rt_.catalog.find_volume(id);
    visible = r && r->region == region && caller.may_manage(r->owner);
  } else {
    auto r = rt_.catalog.find_instance(id);
    visible = r && r->region == region && caller.may_manage(r->owner);
  }
  if (!visible) not_found(*kind, id);
  return type;
}

std::vector<std::string> TagService::checked_ids(const Caller& caller, const std::vector<std::string>& ids) {
  if (ids.empty()) throw AmidError(codes::kMissingParameter, "Resources: required, a list of resource ids");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& id : ids) {
    visible_resource_type(caller, id);
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

void TagService::apply(const std::vector<TagEdit>& edits) {
  TagEditRefusal refused = rt_.catalog.edit_tags(edits, kMaxTags);
  if (!refused.missing.empty()) not_found(*kind_of(refused.missing), refused.missing);
  if (!refused.over_limit.empty()) {
    throw AmidError(codes::kTagLimitExceeded,
                    "Tags: " + refused.over_limit + " would have " + std::to_string(refused.count) +
                        " tags; a resource has at most " + std::to_string(kMaxTags));
  }
}

void TagService::create_tags(const Caller& caller, const std::vector<std::string>& ids, const Tags& tags) {
  if (tags.empty()) throw AmidError(codes::kMissingParameter, "Tags: required, a list of {Key, Value}");
  std::vector<TagEdit> edits;
  for (const auto& id : checked_ids(caller, ids)) edits.push_back({id, tags, {}, false});
  apply(edits);
  log_info("tags " + std::to_string(tags.size()) + " set on " + std::to_string(edits.size()) +
           " resource(s) by " + caller.account + " (first " + edits.front().resource_id + ")");
}

void TagService::delete_tags(const Caller& caller, const std::vector<std::string>& ids,
                             const std::vector<TagEntry>& tags) {
  std::vector<TagEdit> edits;
  for (const auto& id : checked_ids(caller, ids)) edits.push_back({id, {}, tags, tags.empty()});
  apply(edits);
  log_info("tags deleted from " + std::to_string(edits.size()) + " resource(s) by " + caller.account +
           " (first " + edits.front().resource_id + ")");
}

std::vector<TagDescription> TagService::describe_tags(const Caller& caller) {
  const std::string& region = rt_.settings.region;
  std::vector<TagDescription> out;
  auto add = [&](const std::string& id, const char* type, const Tags& tags) {
    for (const auto& [k, v] : tags) out.push_back({id, type, k, v});
  };
  for (const auto& r : rt_.catalog.list_images()) {
    if (r.state != ImageState::kDeregistered && r.region == region && caller.may_manage(r.owner)) add(r.id, "image", r.tags);
  }
  for (const auto& r : rt_.catalog.list_snapshots()) {
    if (r.region == region && caller.may_manage(r.owner)) add(r.id, "snapshot", r.tags);
  }
  for (const auto& r : rt_.catalog.list_volumes()) {
    if (r.region == region && caller.may_manage(r.owner)) add(r.id, "volume", r.tags);
  }
  for (const auto& r : rt_.catalog.list_instances()) {
    if (r.region == region && caller.may_manage(r.owner)) add(r.id, "instance", r.tags);
  }
  std::sort(out.begin(), out.end(), [](const TagDescription& a, const TagDescription& b) {
    return std::tie(a.resource_id, a.key) < std::tie(b.resource_id, b.key);
  });
  return out;
}

}  // namespace amid
