#include "cli/commands/commands.h"

namespace amid::cli {

void add_disable_image_deprecation(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("disable-image-deprecation", "Cancel an image's deprecation");
  auto id = std::make_shared<std::string>();
  cmd->add_option("--image-id", *id, "ami-...")->required();
  cmd->callback([id, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DisableImageDeprecation", {{"ImageId", *id}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
