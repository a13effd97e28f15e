#include "cli/arguments.h"
#include "cli/commands/commands.h"
#include "cli/commands/instance_columns.h"

namespace amid::cli {

void add_describe_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-instances", "List your instances, or the ones named");
  struct Opts {
    std::vector<std::string> ids;
    ListingOptions listing;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--instance-ids", o->ids, "i-... ids (all of yours when absent)");
  o->listing.add_to(cmd,
                    "instance-id, instance-state-name, instance-type, image-id, architecture, "
                    "root-device-type, virtualization-type, owner-id, reservation-id, launch-time, "
                    "tag:KEY, tag-key",
                    "5-1000 instances");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!o->ids.empty()) params["InstanceIds"] = o->ids;
    o->listing.apply(params);
    protocol::Json body;
    if (!call(ctx, "DescribeInstances", params, body)) return;
    protocol::Json rows = protocol::Json::array();
    for (auto& r : body["Reservations"])
      for (auto& i : r["Instances"]) rows.push_back(i);
    print_rows(ctx, body, rows, instance_columns());
  });
}

}  // namespace amid::cli
