#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_modify_image_attribute(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("modify-image-attribute",
                                 "Share an image you own (launch permissions), or stop sharing it (all or nothing)");
  struct Opts {
    std::string id, attribute, launch_permission, operation_type;
    std::vector<std::string> user_ids, user_groups;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->id, "ami-...")->required();
  cmd->add_option("--attribute", o->attribute, "launchPermission (the only one amid keeps)");
  cmd->add_option("--launch-permission", o->launch_permission,
                  "Add=[{UserId=000000001000},{Group=all}],Remove=[{UserId=...}] or EC2's JSON "
                  "{\"Add\":[{\"UserId\":\"...\"}],\"Remove\":[...]}; Group=all makes it public");
  cmd->add_option("--operation-type", o->operation_type, "add or remove (with --user-ids / --user-groups)");
  cmd->add_option("--user-ids", o->user_ids, "12-digit account ids (uid as 12 digits)");
  cmd->add_option("--user-groups", o->user_groups, "all");
  cmd->callback([o, make_ctx] {
    protocol::Json params = {{"ImageId", o->id}};
    if (!o->attribute.empty()) params["Attribute"] = o->attribute;
    if (!o->launch_permission.empty()) params["LaunchPermission"] = parse_launch_permission_argument(o->launch_permission);
    if (!o->operation_type.empty()) params["OperationType"] = o->operation_type;
    if (!o->user_ids.empty()) params["UserIds"] = o->user_ids;
    if (!o->user_groups.empty()) params["UserGroups"] = o->user_groups;
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "ModifyImageAttribute", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
