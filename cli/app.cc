#include "cli/app.h"

#include <cstdlib>

#include "cli/client.h"
#include "common/version.h"

namespace amid::cli {

std::unique_ptr<CLI::App> make_app(GlobalOptions& globals, ContextFactory make_ctx) {
  auto app = std::make_unique<CLI::App>("amictl: drive amid, the local EC2-style image and instance service");
  app->require_subcommand(1);
  app->fallthrough();  // global options may follow the sub-command, as with aws
  globals.socket = default_socket_path();
  app->add_option("--socket", globals.socket, "amid's socket (env AMID_SOCKET)")->default_str(globals.socket);
  if (const char* env = std::getenv("AMID_REGION"); env && *env) globals.region = env;
  app->add_option("--region", globals.region,
                  "the region to act in, as amid.toml's [regions] name them (env AMID_REGION; "
                  "default: amid's default region)");
  app->add_option("--output", globals.output, "json | table | text")
      ->check(CLI::IsMember({"json", "table", "text"}))
      ->default_str("table");
  app->set_version_flag("--version", std::string("amictl ") + amid::kVersion);
  for (const auto& entry : kCommands) entry.add(*app, make_ctx);
  add_complete_ids(*app, make_ctx);
  return app;
}

}  // namespace amid::cli
