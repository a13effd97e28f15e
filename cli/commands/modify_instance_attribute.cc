#include "cli/commands/commands.h"

namespace amid::cli {

void add_modify_instance_attribute(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("modify-instance-attribute",
                                 "Change a running or stopped instance's security groups (amid changes only these)");
  struct Opts {
    std::string id;
    std::vector<std::string> groups;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--instance-id", o->id, "i-...")->required();
  cmd->add_option("--groups", o->groups, "the sg-... ids it is to be in, 1 to 5 (they replace its groups)")
      ->required()
      ->delimiter(',');
  cmd->callback([o, make_ctx] {
    protocol::Json params = {{"InstanceId", o->id}, {"Groups", o->groups}};
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "ModifyInstanceAttribute", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
