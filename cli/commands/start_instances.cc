#include "cli/commands/instance_state_changes.h"

namespace amid::cli {

void add_start_instances(CLI::App& app, ContextFactory make_ctx) {
  add_state_change_command(app, make_ctx, "start-instances",
                           "Start stopped EBS-backed instances (running ones are left as they are)",
                           "StartInstances", "StartingInstances");
}

}  // namespace amid::cli
