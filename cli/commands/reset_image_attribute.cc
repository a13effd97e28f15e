#include "cli/commands/commands.h"

namespace amid::cli {

void add_reset_image_attribute(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("reset-image-attribute", "Stop sharing an image you own with anyone");
  struct Opts {
    std::string id, attribute;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->id, "ami-...")->required();
  cmd->add_option("--attribute", o->attribute, "launchPermission")->required();
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "ResetImageAttribute", {{"ImageId", o->id}, {"Attribute", o->attribute}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
