#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_create_tags(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "create-tags", "Add or overwrite tags on images, snapshots, volumes and instances (all or none)");
  struct Opts {
    std::vector<std::string> resources, tags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--resources", o->resources, "ami-, snap-, vol- and i- ids")->required();
  keep_json_lists(cmd->add_option("--tags", o->tags,
                                  "Key=KEY,Value=VALUE (several, or repeat --tags) or EC2's JSON; keys 1-128 "
                                  "characters, not aws:..., values 0-256; at most 50 tags a resource"))
      ->required();
  cmd->callback([o, make_ctx] {
    protocol::Json params = {{"Resources", o->resources}, {"Tags", parse_tags_argument(o->tags, true)}};
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "CreateTags", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  });
}

}  // namespace amid::cli
