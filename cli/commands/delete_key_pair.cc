#include "cli/commands/commands.h"

namespace amid::cli {

void add_delete_key_pair(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "delete-key-pair", "Forget a key pair's public key (instances launched with it keep it)");
  struct Opts {
    std::string name, id;
  };
  auto o = std::make_shared<Opts>();
  auto* name = cmd->add_option("--key-name", o->name, "the key pair's name (no error when none has it, as on EC2)");
  auto* id = cmd->add_option("--key-pair-id", o->id, "or its key-... id");
  name->excludes(id);
  cmd->callback([o, make_ctx, cmd] {
    if (!cmd->count("--key-name") && !cmd->count("--key-pair-id")) {
      throw std::invalid_argument("give --key-name or --key-pair-id");
    }
    protocol::Json params = protocol::Json::object();
    if (cmd->count("--key-name")) params["KeyName"] = o->name;
    if (cmd->count("--key-pair-id")) params["KeyPairId"] = o->id;
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DeleteKeyPair", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
