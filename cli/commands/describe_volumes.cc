#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_volumes(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-volumes", "List your EBS volumes, or the ones named");
  struct Opts {
    std::vector<std::string> ids;
    ListingOptions listing;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--volume-ids", o->ids, "vol-... ids (all of yours when absent)");
  o->listing.add_to(cmd,
                    "volume-id, status, size, create-time, attachment.instance-id, attachment.device, "
                    "attachment.delete-on-termination, tag:KEY, tag-key",
                    "5-500");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!o->ids.empty()) params["VolumeIds"] = o->ids;
    o->listing.apply(params);
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
