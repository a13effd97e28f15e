#include "cli/commands/commands.h"

namespace amid::cli {

void add_list_access_keys(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("list-access-keys", "List your access keys for amid's EC2 endpoint (no secrets)");
  cmd->callback([make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "ListAccessKeys", protocol::Json::object(), body)) return;
    print_rows(ctx, body, body["AccessKeyMetadata"],
               {{"ACCESS KEY ID", [](auto& j) { return field(j, "/AccessKeyId"); }},
                {"USER", [](auto& j) { return field(j, "/UserName"); }},
                {"STATUS", [](auto& j) { return field(j, "/Status"); }},
                {"CREATED", [](auto& j) { return field(j, "/CreateDate"); }}});
  });
}

}  // namespace amid::cli
