// The shape shared by terminate-, start- and stop-instances: one line per
// instance with its previous and current state.
#pragma once

#include <string>
#include <vector>

#include "cli/commands/commands.h"

namespace amid::cli {

// Registers a command NAME that sends ACTION with --instance-ids and prints the
// list under ANSWER_KEY. `extra` may add options and parameters.
inline CLI::App* add_state_change_command(
    CLI::App& app, ContextFactory make_ctx, const std::string& name, const std::string& help,
    const std::string& action, const std::string& answer_key,
    std::function<void(protocol::Json&)> extra_params = nullptr) {
  auto* cmd = app.add_subcommand(name, help);
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--instance-ids", *ids, "i-... ids")->required();
  cmd->callback([=] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"InstanceIds", *ids}};
    if (extra_params) extra_params(params);
    protocol::Json body;
    if (!call(ctx, action, params, body)) return;
    print_rows(ctx, body, body[answer_key],
               {{"INSTANCE ID", [](auto& j) { return field(j, "/InstanceId"); }},
                {"PREVIOUS", [](auto& j) { return field(j, "/PreviousState/Name"); }},
                {"CURRENT", [](auto& j) { return field(j, "/CurrentState/Name"); }}});
  });
  return cmd;
}

}  // namespace amid::cli
