#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_delete_tags(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "delete-tags", "Remove tags from images, snapshots, volumes and instances (all or none)");
  struct Opts {
    std::vector<std::string> resources, tags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--resources", o->resources, "ami-, snap-, vol- and i- ids")->required();
  keep_json_lists(cmd->add_option("--tags", o->tags,
                                  "Key=KEY removes the key whatever its value; Key=KEY,Value=VALUE only when "
                                  "the value matches (Value= for an empty one); or EC2's JSON. Absent: every tag "
                                  "of the resources"));
  cmd->callback([o, make_ctx] {
    protocol::Json params = {{"Resources", o->resources}};
    if (!o->tags.empty()) params["Tags"] = parse_tags_argument(o->tags, false);
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DeleteTags", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
