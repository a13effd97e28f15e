#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_create_security_group(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("create-security-group",
                                 "Make a security group in your default VPC (no inbound rules until you authorize some)");
  struct Opts {
    std::string name, description, vpc_id, tag_specs;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--group-name", o->name, "up to 255 characters, unique among yours (not starting with sg-)")
      ->required();
  cmd->add_option("--description", o->description, "up to 255 characters")->required();
  cmd->add_option("--vpc-id", o->vpc_id, "your default VPC's id (the only one amid has)");
  cmd->add_option("--tag-specifications", o->tag_specs,
                  "EC2's TagSpecifications as JSON (or file://PATH), ResourceType security-group");
  cmd->callback([o, make_ctx, cmd] {
    protocol::Json params = {{"GroupName", o->name}, {"Description", o->description}};
    if (cmd->count("--vpc-id")) params["VpcId"] = o->vpc_id;
    if (!o->tag_specs.empty()) {
      params["TagSpecifications"] = parse_tag_specifications_argument(o->tag_specs, {"security-group"});
    }
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "CreateSecurityGroup", params, body)) return;
    print_rows(ctx, body, protocol::Json::array({body}), {{"GROUP ID", [](auto& j) { return field(j, "/GroupId"); }}});
  });
}

}  // namespace amid::cli
