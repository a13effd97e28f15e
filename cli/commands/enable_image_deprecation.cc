#include "cli/commands/commands.h"

namespace amid::cli {

void add_enable_image_deprecation(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "enable-image-deprecation",
      "Deprecate an image from a given time: others no longer list it unless they ask; launching still works");
  auto id = std::make_shared<std::string>();
  auto at = std::make_shared<std::string>();
  cmd->add_option("--image-id", *id, "ami-...")->required();
  cmd->add_option("--deprecate-at", *at,
                  "UTC time, e.g. 2027-06-15T13:17:00Z: in the future, at most 10 years ahead; "
                  "rounded up to the minute")
      ->required();
  cmd->callback([id, at, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "EnableImageDeprecation", {{"ImageId", *id}, {"DeprecateAt", *at}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
