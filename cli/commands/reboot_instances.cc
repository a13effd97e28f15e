#include "cli/commands/commands.h"

namespace amid::cli {

void add_reboot_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("reboot-instances", "Reboot running instances through the guest (ACPI)");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--instance-ids", *ids, "i-... ids")->required();
  cmd->callback([ids, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "RebootInstances", {{"InstanceIds", *ids}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
