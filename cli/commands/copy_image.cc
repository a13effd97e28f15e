#include "cli/arguments.h"
#include "cli/commands/commands.h"
#include "cli/commands/image_wait.h"

namespace amid::cli {

void add_copy_image(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "copy-image",
      "Copy an image (all its snapshots) from a region into the region given by --region (or the default)");
  struct Opts {
    std::string source_region, source_image, name, description, tag_specs, client_token;
    bool copy_tags = false, wait = false;
    int timeout = 1800;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--source-region", o->source_region, "the region the image is in now")->required();
  cmd->add_option("--source-image-id", o->source_image, "ami-... in the source region")->required();
  cmd->add_option("--name", o->name, "the copy's name: 3-128 letters, digits, spaces, ( ) [ ] . / - ' @ _")
      ->required();
  cmd->add_option("--description", o->description,
                  "up to 255 characters (default, as EC2: \"[Copied ami-... from REGION] ...\")");
  cmd->add_flag("--copy-image-tags", o->copy_tags, "copy the image's tags too (launch permissions never are)");
  cmd->add_option("--tag-specifications", o->tag_specs,
                  "EC2's TagSpecifications as JSON (or file://PATH): tags for the copy and its snapshots "
                  "(ResourceType image, snapshot)");
  cmd->add_option("--client-token", o->client_token,
                  "1-64 printable ASCII characters making the request idempotent: sent again with the same "
                  "options (to the same region), it answers with the first request's image");
  cmd->add_flag("--wait", o->wait, "wait until the copy is available, with a progress bar");
  cmd->add_option("--timeout", o->timeout, "seconds --wait waits at most")->default_str("1800");
  cmd->callback([o, make_ctx, cmd] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"SourceRegion", o->source_region},
                             {"SourceImageId", o->source_image},
                             {"Name", o->name},
                             {"CopyImageTags", o->copy_tags}};
    if (cmd->count("--description")) params["Description"] = o->description;
    if (cmd->count("--client-token")) params["ClientToken"] = o->client_token;
    if (!o->tag_specs.empty()) {
      params["TagSpecifications"] = parse_tag_specifications_argument(o->tag_specs, {"image", "snapshot"});
    }
    protocol::Json body;
    if (!call(ctx, "CopyImage", params, body)) return;
    print_new_image(ctx, body, o->wait, o->timeout);
  });
}

}  // namespace amid::cli
