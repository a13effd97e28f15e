// The volume actions: DescribeVolumes (volumes are made and kept by the
// instance actions, as EC2's block device mappings make them).
#include "daemon/api/actions.h"

#include "daemon/api/listing.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/render.h"

namespace amid {
namespace {

using Json = protocol::Json;

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

}  // namespace

const ActionTable& volume_actions() {
  static const ActionTable table = {
      {"DescribeVolumes", describe_volumes},
  };
  return table;
}

}  // namespace amid
