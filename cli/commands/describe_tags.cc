#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_tags(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-tags", "List the tags of your images, snapshots, volumes and instances");
  auto listing = std::make_shared<ListingOptions>();
  listing->add_to(cmd, "key, value, resource-id, resource-type (image | snapshot | volume | instance)", "5-1000");
  cmd->callback([listing, make_ctx] {
    protocol::Json params = protocol::Json::object();
    listing->apply(params);
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DescribeTags", params, body)) return;
    print_rows(ctx, body, body["Tags"],
               {{"RESOURCE ID", [](auto& j) { return field(j, "/ResourceId"); }},
                {"TYPE", [](auto& j) { return field(j, "/ResourceType"); }},
                {"KEY", [](auto& j) { return field(j, "/Key"); }},
                {"VALUE", [](auto& j) { return field(j, "/Value"); }}});
  });
}

}  // namespace amid::cli
