#include "cli/commands/instance_state_changes.h"

namespace amid::cli {

void add_stop_instances(CLI::App& app, ContextFactory make_ctx) {
  auto force = std::make_shared<bool>(false);
  auto* cmd = add_state_change_command(
      app, make_ctx, "stop-instances",
      "Stop EBS-backed instances: clean shutdown (ACPI), forced off after 120 s", "StopInstances",
      "StoppingInstances", [force](protocol::Json& p) {
        if (*force) p["Force"] = true;
      });
  cmd->add_flag("--force", *force, "power off at once, without a clean shutdown");
}

}  // namespace amid::cli
