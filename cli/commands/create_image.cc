#include "cli/arguments.h"
#include "cli/commands/commands.h"
#include "cli/commands/image_wait.h"
#include "common/tags.h"

namespace amid::cli {

void add_create_image(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "create-image", "Capture an EBS-backed instance (running or stopped) as a new image");
  struct Opts {
    std::string instance, name, description, bdm, client_token, tag_specs;
    bool no_reboot = false, warm = false, wait = false;
    int timeout = 1800;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--instance-id", o->instance, "i-... to capture")->required();
  cmd->add_option("--name", o->name, "image name: 3-128 letters, digits, spaces, ( ) [ ] . / - ' @ _")->required();
  cmd->add_option("--description", o->description, "up to 255 characters");
  cmd->add_flag("--no-reboot", o->no_reboot,
                "capture while the guest runs (crash-consistent); default: clean shutdown, capture, start");
  cmd->add_flag("--warm", o->warm,
                "amid's extension: also save the running guest's memory with the image, so that its launches "
                "restore instead of booting (docs/WARM_IMAGES.md); the guest is paused for the save and the copy "
                "of its disks, then goes on (no reboot)");
  cmd->add_flag("--wait", o->wait, "wait until the image is available, with a progress bar");
  cmd->add_option("--timeout", o->timeout, "seconds --wait waits at most")->default_str("1800");
  cmd->add_option("--block-device-mappings", o->bdm,
                  "file://bdm.toml (see configs/bdm.example.toml) or EC2's JSON");
  cmd->add_option("--client-token", o->client_token,
                  "1-64 printable ASCII characters making the request idempotent: sent again with the "
                  "same options, it answers with the first request's image instead of capturing again");
  cmd->add_option("--tag-specifications", o->tag_specs,
                  "EC2's TagSpecifications as JSON (or file://PATH): tags for the image and its snapshots "
                  "(ResourceType image, snapshot)");
  cmd->callback([o, make_ctx, cmd] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"InstanceId", o->instance}, {"Name", o->name}, {"NoReboot", o->no_reboot}};
    if (o->warm) params["Warm"] = true;
    if (!o->description.empty()) params["Description"] = o->description;
    if (!o->bdm.empty()) params["BlockDeviceMappings"] = read_block_device_mappings(o->bdm);
    if (cmd->count("--client-token")) params["ClientToken"] = o->client_token;
    if (!o->tag_specs.empty()) {
      params["TagSpecifications"] = parse_tag_specifications_argument(o->tag_specs, {"image", "snapshot"});
    }
    protocol::Json body;
    if (!call(ctx, "CreateImage", params, body)) return;
    print_new_image(ctx, body, o->wait, o->timeout);
  });
}

}  // namespace amid::cli
