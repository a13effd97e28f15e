// amictl's command line as plain data, read off the CLI::App that amictl itself
// parses with (cli/app.h), and the three things amictl_docs writes from it: the
// man page amictl(1) and the bash and zsh completions. Build-time only; nothing
// here is installed or linked into amictl.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace amid::cli::docs {

struct OptionDoc {
  std::string name;                  // "--instance-ids"
  std::string value_name;            // "TEXT", "INT"; "" for a flag
  bool many = false;                 // takes several values (--instance-ids i-1 i-2)
  bool required = false;
  std::string description;
  std::string default_value;         // "" when none worth printing
  std::vector<std::string> choices;  // from an IsMember check: json, table, text
  std::string live_ids;              // what amictl __complete-ids offers: "instance", ...; "" none
};

struct CommandDoc {
  std::string name;                      // "run-instances"; a nested one "wait instance-running"
  std::vector<std::string> subcommands;  // "wait": instance-running, ... (each its own CommandDoc)
  std::string description;
  std::vector<OptionDoc> options;     // without --help
  std::vector<OptionDoc> positionals;
};

struct AppDoc {
  std::string description;
  std::vector<OptionDoc> global_options;  // with --help and --version
  std::vector<CommandDoc> commands;       // in kCommands' order, a command's own sub-commands
                                          // right after it; hidden ones left out
};

struct ExitCodeDoc {
  int code;
  std::string name;     // "kBadArguments"
  std::string meaning;  // the header's comment
};

// Reads `app`: every sub-command not hidden (group ""), its options and positionals.
AppDoc describe_app(const CLI::App& app);

// The live-id kind an option completes from, decided by its name:
// --instance-id(s) instance, --image-id(s) image, --key-name(s) key-pair,
// --group-id(s) and --security-group-ids security-group, --volume-id(s) volume.
std::string live_ids_for(const std::string& option_name);

// The exit codes with their comments, read from cli/exit_codes.h's enum.
std::vector<ExitCodeDoc> read_exit_codes(const std::string& header_path);

void write_man_page(const AppDoc& app, const std::vector<ExitCodeDoc>& exit_codes,
                    const std::string& version, std::ostream& out);
void write_bash_completion(const AppDoc& app, std::ostream& out);
void write_zsh_completion(const AppDoc& app, std::ostream& out);

}  // namespace amid::cli::docs
