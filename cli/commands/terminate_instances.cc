#include "cli/commands/commands.h"

namespace amid::cli {

void add_terminate_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("terminate-instances", "Terminate instances; their root disks are deleted");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--instance-ids", *ids, "i-... ids")->required();
  cmd->callback([ids, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "TerminateInstances", {{"InstanceIds", *ids}}, body)) return;
    print_rows(ctx, body, body["TerminatingInstances"],
               {{"INSTANCE ID", [](auto& j) { return field(j, "/InstanceId"); }},
                {"PREVIOUS", [](auto& j) { return field(j, "/PreviousState/Name"); }},
                {"CURRENT", [](auto& j) { return field(j, "/CurrentState/Name"); }}});
  });
}

}  // namespace amid::cli
