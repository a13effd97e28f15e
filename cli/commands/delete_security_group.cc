#include "cli/commands/commands.h"

namespace amid::cli {

void add_delete_security_group(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "delete-security-group", "Delete a security group no instance is in (terminated ones aside; not `default`)");
  struct Opts {
    std::string id, name;
  };
  auto o = std::make_shared<Opts>();
  auto* id = cmd->add_option("--group-id", o->id, "the group's sg-... id");
  auto* name = cmd->add_option("--group-name", o->name, "or its name");
  id->excludes(name);
  cmd->callback([o, make_ctx, cmd] {
    if (!cmd->count("--group-id") && !cmd->count("--group-name")) {
      throw std::invalid_argument("give --group-id or --group-name");
    }
    protocol::Json params = protocol::Json::object();
    if (cmd->count("--group-id")) params["GroupId"] = o->id;
    if (cmd->count("--group-name")) params["GroupName"] = o->name;
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DeleteSecurityGroup", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
