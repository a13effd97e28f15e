#include "cli/commands/commands.h"
#include "cli/commands/instance_columns.h"

namespace amid::cli {

void add_describe_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-instances", "List your instances, or the ones named");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--instance-ids", *ids, "i-... ids (all of yours when absent)");
  cmd->callback([ids, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!ids->empty()) params["InstanceIds"] = *ids;
    protocol::Json body;
    if (!call(ctx, "DescribeInstances", params, body)) return;
    protocol::Json rows = protocol::Json::array();
    for (auto& r : body["Reservations"])
      for (auto& i : r["Instances"]) rows.push_back(i);
    print_rows(ctx, body, rows, instance_columns());
  });
}

}  // namespace amid::cli
