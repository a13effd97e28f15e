// The tag actions over every kind of resource: CreateTags, DeleteTags, DescribeTags.
#include "daemon/api/actions.h"

#include "common/tags.h"
#include "daemon/api/listing.h"
#include "daemon/services/tag_service.h"

namespace amid {
namespace {

using Json = protocol::Json;

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

}  // namespace

const ActionTable& tag_actions() {
  static const ActionTable table = {
      {"CreateTags", create_tags},
      {"DeleteTags", delete_tags},
      {"DescribeTags", describe_tags},
  };
  return table;
}

}  // namespace amid
