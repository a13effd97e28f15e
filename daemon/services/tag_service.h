// EC2's tag actions (CreateTags, DeleteTags, DescribeTags) over every kind of
// resource amid has: images (ami-), snapshots (snap-), volumes (vol-) and
// instances (i-).
//
// Called from worker threads. A caller tags only what they may manage
// (Caller::may_manage); anything else is `...NotFound`, as if it did not exist.
// Every id of a request is checked before anything changes, and the whole
// request is one catalog transaction: a request refused for one id changes
// nothing for the others. Errors are AmidErrors with EC2 codes.
#pragma once

#include <string>
#include <vector>

#include "common/tags.h"
#include "daemon/services/caller.h"
#include "daemon/services/runtime.h"

namespace amid {

// One row of DescribeTags.
struct TagDescription {
  std::string resource_id;
  std::string resource_type;  // image | snapshot | volume | instance
  std::string key, value;
};

class TagService {
 public:
  explicit TagService(Runtime& rt) : rt_(rt) {}

  // Adds `tags` to every resource, overwriting keys it has. A resource may hold
  // at most kMaxTags tags (TagLimitExceeded).
  void create_tags(const Caller& caller, const std::vector<std::string>& ids, const Tags& tags);
  // Removes the keys listed from every resource: an entry with a value only
  // where the resource's value equals it. No entries: every tag of the resources.
  void delete_tags(const Caller& caller, const std::vector<std::string>& ids,
                   const std::vector<TagEntry>& tags);
  // Every tag of every resource the caller may see, ordered by resource id, then key.
  std::vector<TagDescription> describe_tags(const Caller& caller);

 private:
  // Checks that the caller may see `id`; returns its type. Throws the type's
  // `...Malformed`/`...NotFound`, or InvalidID for an id of no known type.
  std::string visible_resource_type(const Caller& caller, const std::string& id);
  // The ids, each checked and given once, in the caller's order.
  std::vector<std::string> checked_ids(const Caller& caller, const std::vector<std::string>& ids);
  void apply(const std::vector<TagEdit>& edits);
  Runtime& rt_;
};

}  // namespace amid
