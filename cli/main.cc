// amictl: the command line for amid, with aws-cli-like sub-commands (cli/app.h).
// Errors become one line on stderr and a fixed exit code (cli/exit_codes.h), here only.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/app.h"
#include "cli/client.h"
#include "cli/exit_codes.h"

int main(int argc, char** argv) {
  using namespace amid::cli;
  GlobalOptions globals;
  std::unique_ptr<Client> client;
  std::optional<Context> ctx;
  ContextFactory make_ctx = [&]() -> Context& {
    if (!ctx) {
      client = std::make_unique<Client>(globals.socket, globals.region);
      Format f = globals.output == "json" ? Format::kJson
                 : globals.output == "text" ? Format::kText
                                            : Format::kTable;
      ctx.emplace(Context{*client, f, std::cout, std::cerr});
    }
    return *ctx;
  };
  std::unique_ptr<CLI::App> app = make_app(globals, make_ctx);

  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app->exit(e);
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
