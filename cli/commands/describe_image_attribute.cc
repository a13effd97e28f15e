#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_image_attribute(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-image-attribute", "Show whom an image you own is shared with");
  struct Opts {
    std::string id, attribute;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->id, "ami-...")->required();
  cmd->add_option("--attribute", o->attribute, "launchPermission")->required();
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DescribeImageAttribute", {{"ImageId", o->id}, {"Attribute", o->attribute}}, body)) return;
    print_rows(ctx, body, body["LaunchPermissions"],
               {{"KIND", [](auto& j) { return std::string(j.contains("Group") ? "group" : "user"); }},
                {"VALUE", [](auto& j) { return j.contains("Group") ? field(j, "/Group") : field(j, "/UserId"); }}});
  });
}

}  // namespace amid::cli
