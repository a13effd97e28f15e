#include "cli/commands/commands.h"

namespace amid::cli {

void add_delete_access_key(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "delete-access-key", "Delete one of your access keys: requests signed with it are refused from now on");
  auto id = std::make_shared<std::string>();
  cmd->add_option("--access-key-id", *id, "the key's AKIA... id (list-access-keys)")->required();
  cmd->callback([id, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DeleteAccessKey", {{"AccessKeyId", *id}}, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
