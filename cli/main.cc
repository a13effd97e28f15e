// amictl: the command line for amid, with aws-cli-like sub-commands.
// Errors become one line on stderr and a fixed exit code (cli/exit_codes.h), here only.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace amid::cli;
  CLI::App app{"amictl: drive amid, the local EC2-style image and instance service"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the sub-command, as with aws
  std::string socket = default_socket_path();
  std::string output = "table";
  app.add_option("--socket", socket, "amid's socket (env AMID_SOCKET)")->default_str(socket);
  std::string region;
  if (const char* env = std::getenv("AMID_REGION"); env && *env) region = env;
  app.add_option("--region", region,
                 "the region to act in, as amid.toml's [regions] name them (env AMID_REGION; "
                 "default: amid's default region)");
  app.add_option("--output", output, "json | table | text")
      ->check(CLI::IsMember({"json", "table", "text"}))
      ->default_str("table");
  app.set_version_flag("--version", std::string("amictl ") + amid::kVersion);

  std::unique_ptr<Client> client;
  std::optional<Context> ctx;
  ContextFactory make_ctx = [&]() -> Context& {
    if (!ctx) {
      client = std::make_unique<Client>(socket, region);
      Format f = output == "json" ? Format::kJson : output == "text" ? Format::kText : Format::kTable;
      ctx.emplace(Context{*client, f, std::cout, std::cerr});
    }
    return *ctx;
  };
  for (const auto& entry : kCommands) entry.add(app, make_ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kBadArguments;
  } catch (const UnreachableError& e) {
    std::cerr << "amictl: " << e.what() << "\n";
    return kUnreachable;
  } catch (const std::invalid_argument& e) {
    std::cerr << "amictl: " << e.what() << "\n";
    return kBadArguments;
  } catch (const std::exception& e) {
    std::cerr << "amictl: " << e.what() << "\n";
    return kFailed;
  }
  return ctx ? ctx->exit_code : 0;
}
