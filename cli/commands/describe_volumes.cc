#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_volumes(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-volumes", "List your EBS volumes, or the ones named");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--volume-ids", *ids, "vol-... ids (all of yours when absent)");
  cmd->callback([ids, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!ids->empty()) params["VolumeIds"] = *ids;
    protocol::Json body;
    if (!call(ctx, "DescribeVolumes", params, body)) return;
    print_rows(ctx, body, body["Volumes"],
               {{"VOLUME ID", [](auto& j) { return field(j, "/VolumeId"); }},
                {"SIZE GIB", [](auto& j) { return field(j, "/Size"); }},
                {"TYPE", [](auto& j) { return field(j, "/VolumeType"); }},
                {"STATE", [](auto& j) { return field(j, "/State"); }},
                {"INSTANCE", [](auto& j) { return field(j, "/Attachments/0/InstanceId"); }},
                {"DEVICE", [](auto& j) { return field(j, "/Attachments/0/Device"); }},
                {"DELETE ON TERM", [](auto& j) { return field(j, "/Attachments/0/DeleteOnTermination"); }},
                {"SNAPSHOT", [](auto& j) { return field(j, "/SnapshotId"); }}});
  });
}

}  // namespace amid::cli
