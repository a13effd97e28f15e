#include <chrono>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/image_wait.h"
#include "cli/exit_codes.h"

namespace amid::cli {
namespace {

// `wait instance-STATE`: polls DescribeInstances until every instance is in STATE.
void add_instance_waiter(CLI::App& wait, ContextFactory make_ctx, const std::string& state) {
  auto* cmd = wait.add_subcommand("instance-" + state, "Wait until the instances are " + state);
  auto ids = std::make_shared<std::vector<std::string>>();
  auto timeout = std::make_shared<int>(600);
  cmd->add_option("--instance-ids", *ids, "i-... ids")->required();
  cmd->add_option("--timeout", *timeout, "seconds to wait at most")->default_str("600");
  cmd->callback([=] {
    Context& ctx = make_ctx();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*timeout);
    for (;;) {
      protocol::Json body;
      if (!call(ctx, "DescribeInstances", {{"InstanceIds", *ids}}, body)) return;
      bool all = true;
      for (auto& r : body["Reservations"])
        for (auto& i : r["Instances"]) all = all && field(i, "/State/Name") == state;
      if (all) return;
      if (std::chrono::steady_clock::now() >= deadline) {
        ctx.err << "amictl: timed out after " << *timeout << " s waiting for instance-" << state << "\n";
        ctx.exit_code = kTimedOut;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
}

}  // namespace

void add_wait(CLI::App& app, ContextFactory make_ctx) {
  auto* wait = app.add_subcommand("wait", "Wait until images or instances reach a state");
  wait->require_subcommand(1);
  auto* img = wait->add_subcommand("image-available", "Wait until the images are available");
  auto ids = std::make_shared<std::vector<std::string>>();
  auto timeout = std::make_shared<int>(1800);
  img->add_option("--image-ids", *ids, "ami-... ids")->required();
  img->add_option("--timeout", *timeout, "seconds to wait at most")->default_str("1800");
  img->callback([=] {
    Context& ctx = make_ctx();
    wait_images_available(ctx, *ids, *timeout);
  });
  auto* warm = wait->add_subcommand("image-warm", "Wait until the images are warm (amictl warm-image)");
  auto warm_ids = std::make_shared<std::vector<std::string>>();
  auto warm_timeout = std::make_shared<int>(600);
  warm->add_option("--image-ids", *warm_ids, "ami-... ids")->required();
  warm->add_option("--timeout", *warm_timeout, "seconds to wait at most")->default_str("600");
  warm->callback([=] {
    Context& ctx = make_ctx();
    wait_images_warm(ctx, *warm_ids, *warm_timeout);
  });
  for (const char* state : {"running", "stopped", "terminated"}) add_instance_waiter(*wait, make_ctx, state);
}

}  // namespace amid::cli
