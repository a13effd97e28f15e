// amictl's whole command line in one place: the global options (--socket,
// --region, --output, --version), every sub-command of kCommands and the hidden
// ones (group ""), which neither help nor the man page lists. amictl's main
// parses with it; amictl_docs walks it to write the man page and the shell
// completion, so the two can never disagree.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/commands/commands.h"

namespace amid::cli {

// Where the global options land. Starts at their defaults: socket from
// default_socket_path() (AMID_SOCKET), region from AMID_REGION, output "table".
struct GlobalOptions {
  std::string socket;
  std::string region;
  std::string output = "table";
};

// Builds amictl's app. `globals` must outlive it (the options write there);
// a command's callback calls make_ctx() when it first talks to amid.
std::unique_ptr<CLI::App> make_app(GlobalOptions& globals, ContextFactory make_ctx);

}  // namespace amid::cli
