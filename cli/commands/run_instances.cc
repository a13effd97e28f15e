#include "cli/commands/commands.h"
#include "cli/commands/instance_columns.h"
#include "common/base64.h"
#include "common/launch_template.h"

namespace amid::cli {

void add_run_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("run-instances", "Launch instances from an image");
  struct Opts {
    std::string image, type = "t3.micro", user_data, bdm, launch_template;
    int count = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->image, "ami-... to launch");
  cmd->add_option("--instance-type", o->type, "a type from configs/instance-types.toml")->default_str("t3.micro");
  cmd->add_option("--count", o->count, "how many identical instances (1-16)")->default_str("1");
  cmd->add_option("--user-data", o->user_data, "script for the guest: file://PATH or the text itself");
  cmd->add_option("--block-device-mappings", o->bdm,
                  "file://bdm.toml (see configs/bdm.example.toml) or EC2's JSON; merged over the image's");
  cmd->add_option("--launch-template", o->launch_template,
                  "file://lt.toml with RunInstances' fields (see configs/launch-template.example.toml); "
                  "options given here override it");
  cmd->callback([o, make_ctx, cmd] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!o->launch_template.empty()) {
      std::string path = o->launch_template.rfind("file://", 0) == 0 ? o->launch_template.substr(7) : "--launch-template";
      auto lt = parse_launch_template(read_blob_argument(o->launch_template, "--launch-template"), path);
      if (!lt) throw std::invalid_argument(lt.problem().message);
      const LaunchTemplate& t = lt.value();
      if (t.image_id) params["ImageId"] = *t.image_id;
      if (t.instance_type) params["InstanceType"] = *t.instance_type;
      if (t.count) params["MinCount"] = params["MaxCount"] = *t.count;
      if (t.user_data) params["UserData"] = base64_encode(*t.user_data);
      if (!t.block_device_mappings.empty()) params["BlockDeviceMappings"] = to_ec2_json(t.block_device_mappings);
    }
    if (cmd->count("--image-id")) params["ImageId"] = o->image;
    if (cmd->count("--instance-type") || !params.contains("InstanceType")) params["InstanceType"] = o->type;
    if (cmd->count("--count") || !params.contains("MaxCount")) params["MinCount"] = params["MaxCount"] = o->count;
    if (!o->user_data.empty()) {
      params["UserData"] = base64_encode(read_blob_argument(o->user_data, "--user-data"));
    }
    if (!o->bdm.empty()) params["BlockDeviceMappings"] = read_block_device_mappings(o->bdm);
    if (!params.contains("ImageId")) {
      throw std::invalid_argument("--image-id is required (or image_id in the launch template)");
    }
    protocol::Json body;
    if (!call(ctx, "RunInstances", params, body)) return;
    print_rows(ctx, body, body["Instances"], instance_columns());
  });
}

}  // namespace amid::cli
