#include "cli/commands/commands.h"

namespace amid::cli {

void add_enable_image_deregistration_protection(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("enable-image-deregistration-protection",
                                 "Protect an image from deregistration until protection is disabled again");
  auto id = std::make_shared<std::string>();
  auto cooldown = std::make_shared<bool>(false);
  cmd->add_option("--image-id", *id, "ami-...")->required();
  cmd->add_flag("--with-cooldown", *cooldown,
                "keep the image protected for 24 hours after protection is disabled");
  cmd->callback([id, cooldown, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"ImageId", *id}};
    if (*cooldown) params["WithCooldown"] = true;
    protocol::Json body;
    if (!call(ctx, "EnableImageDeregistrationProtection", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
    else ctx.out << field(body, "/Return") << "\n";
  });
}

}  // namespace amid::cli
