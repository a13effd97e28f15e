#include "cli/commands/instance_state_changes.h"

namespace amid::cli {

void add_terminate_instances(CLI::App& app, ContextFactory make_ctx) {
  add_state_change_command(app, make_ctx, "terminate-instances",
                           "Terminate instances; their root disks are deleted", "TerminateInstances",
                           "TerminatingInstances");
}

}  // namespace amid::cli
