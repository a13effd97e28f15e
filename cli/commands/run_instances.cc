#include "cli/commands/commands.h"
#include "cli/commands/instance_columns.h"
#include "common/base64.h"

namespace amid::cli {

void add_run_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("run-instances", "Launch instances from an image");
  struct Opts {
    std::string image, type = "t3.micro", user_data;
    int count = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->image, "ami-... to launch")->required();
  cmd->add_option("--instance-type", o->type, "a type from configs/instance-types.toml")->default_str("t3.micro");
  cmd->add_option("--count", o->count, "how many identical instances (1-16)")->default_str("1");
  cmd->add_option("--user-data", o->user_data, "script for the guest: file://PATH or the text itself");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = {{"ImageId", o->image}, {"InstanceType", o->type},
                             {"MinCount", o->count}, {"MaxCount", o->count}};
    if (!o->user_data.empty()) {
      params["UserData"] = base64_encode(read_blob_argument(o->user_data, "--user-data"));
    }
    protocol::Json body;
    if (!call(ctx, "RunInstances", params, body)) return;
    print_rows(ctx, body, body["Instances"], instance_columns());
  });
}

}  // namespace amid::cli
