#include "cli/commands/commands.h"
#include "cli/commands/image_wait.h"

namespace amid::cli {

void add_warm_image(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "warm-image",
      "Make an image warm (amid's own, docs/WARM_IMAGES.md): boot it once in the background and keep its "
      "memory, so that later launches of the same instance type restore in about a second instead of booting");
  struct Opts {
    std::string image_id, instance_type;
    bool wait = false;
    int timeout = 600;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->image_id, "ami-... of yours, available, with no volume beside its root")
      ->required();
  cmd->add_option("--instance-type", o->instance_type,
                  "the instance type launches must have to restore (default: the image's default type)");
  cmd->add_flag("--wait", o->wait, "wait until the image is warm");
  cmd->add_option("--timeout", o->timeout, "seconds --wait waits at most")->default_str("600");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"ImageId", o->image_id}};
    if (!o->instance_type.empty()) params["InstanceType"] = o->instance_type;
    protocol::Json body;
    if (!call(ctx, "WarmImage", params, body)) return;
    if (o->wait && !wait_images_warm(ctx, {o->image_id}, o->timeout)) return;
    if (ctx.format == Format::kJson) {
      ctx.out << body.dump(4) << "\n";
    } else {
      ctx.out << o->image_id << " " << (o->wait ? "warm" : field(body, "/WarmState/State")) << "\n";
    }
  });
}

}  // namespace amid::cli
