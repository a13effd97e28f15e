#include "cli/commands/commands.h"

namespace amid::cli {

void add_disable_image_deregistration_protection(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "disable-image-deregistration-protection",
      "Allow an image to be deregistered again (24 hours later if protection had a cooldown)");
  auto id = std::make_shared<std::string>();
  cmd->add_option("--image-id", *id, "ami-...")->required();
  cmd->callback([id, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DisableImageDeregistrationProtection", {{"ImageId", *id}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
    else ctx.out << field(body, "/Return") << "\n";
  });
}

}  // namespace amid::cli
