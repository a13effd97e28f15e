#include "cli/arguments.h"
#include "cli/commands/commands.h"
#include "cli/commands/instance_columns.h"
#include "common/base64.h"
#include "common/launch_template.h"

namespace amid::cli {
namespace {
// --count N or MIN:MAX (the AWS CLI's form).
std::pair<int, int> parse_count(const std::string& text) {
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("--count: '" + text + "' is not N or MIN:MAX (whole numbers, 1-16)");
    }
    return std::stoi(s);
  };
  auto colon = text.find(':');
  int min = number(text.substr(0, colon));
  int max = colon == std::string::npos ? min : number(text.substr(colon + 1));
  if (min < 1 || max > 16 || min > max) {
    throw std::invalid_argument("--count: '" + text + "' needs 1 <= MIN <= MAX <= 16");
  }
  return {min, max};
}
}  // namespace

void add_run_instances(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("run-instances", "Launch instances from an image");
  struct Opts {
    std::string image, type = "t3.micro", key_name, user_data, bdm, launch_template, count = "1", tag_specs, client_token;
    std::vector<std::string> tags, group_ids, group_names;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-id", o->image, "ami-... to launch");
  cmd->add_option("--instance-type", o->type,
                  "a type from configs/instance-types.toml, of the image's architecture")
      ->default_str("t3.micro, or t4g.micro for arm64 images");
  cmd->add_option("--count", o->count,
                  "how many identical instances: N, or MIN:MAX to launch as many as fit (1-16)")
      ->default_str("1");
  cmd->add_option("--tag", o->tags, "KEY=VALUE tag for the instances (repeatable)");
  cmd->add_option("--tag-specifications", o->tag_specs,
                  "EC2's TagSpecifications as JSON (or file://PATH): instance and volume tags");
  cmd->add_option("--key-name", o->key_name,
                  "your key pair (create-key-pair, import-key-pair) whose public key the guest's user "
                  "(admin on the Debian template) accepts for SSH");
  cmd->add_option("--security-group-ids", o->group_ids,
                  "sg-... ids of your security groups (1-5; your `default` group when none is named)")
      ->delimiter(',');
  cmd->add_option("--security-groups", o->group_names, "or your security groups' names")->delimiter(',');
  cmd->add_option("--user-data", o->user_data, "script for the guest: file://PATH or the text itself");
  cmd->add_option("--block-device-mappings", o->bdm,
                  "file://bdm.toml (see configs/bdm.example.toml) or EC2's JSON; merged over the image's");
  cmd->add_option("--client-token", o->client_token,
                  "1-64 printable ASCII characters making the request idempotent: sent again with the "
                  "same options, it answers with the first launch's reservation instead of launching again");
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
      if (!t.tags.empty()) {
        params["TagSpecifications"] = protocol::Json::array({to_json(TagSpecification{"instance", t.tags})});
      }
      if (t.key_name) params["KeyName"] = *t.key_name;
      if (!t.security_group_ids.empty()) params["SecurityGroupIds"] = t.security_group_ids;
      if (t.user_data) params["UserData"] = base64_encode(*t.user_data);
      if (!t.block_device_mappings.empty()) params["BlockDeviceMappings"] = to_ec2_json(t.block_device_mappings);
    }
    if (cmd->count("--image-id")) params["ImageId"] = o->image;
    if (cmd->count("--instance-type")) params["InstanceType"] = o->type;
    if (cmd->count("--count") || !params.contains("MaxCount")) {
      auto [min, max] = parse_count(o->count);
      params["MinCount"] = min;
      params["MaxCount"] = max;
    }
    if (!o->tag_specs.empty()) {
      params["TagSpecifications"] = parse_tag_specifications_argument(o->tag_specs, {"instance", "volume"});
    }
    if (!o->tags.empty()) {
      TagSpecification spec{"instance", {}};
      for (const auto& kv : o->tags) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--tag: '" + kv + "' is not KEY=VALUE");
        spec.tags[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      // --tag adds to (and overrides) the instance tags from elsewhere.
      protocol::Json specs = params.value("TagSpecifications", protocol::Json::array());
      bool merged = false;
      for (auto& s : specs) {
        if (s["ResourceType"] == "instance") {
          for (const auto& [k, v] : spec.tags) {
            protocol::Json kept = protocol::Json::array();
            for (const auto& t : s["Tags"]) if (t["Key"] != k) kept.push_back(t);
            kept.push_back({{"Key", k}, {"Value", v}});
            s["Tags"] = kept;
          }
          merged = true;
        }
      }
      if (!merged) specs.push_back(to_json(spec));
      params["TagSpecifications"] = specs;
    }
    if (!o->user_data.empty()) {
      params["UserData"] = base64_encode(read_blob_argument(o->user_data, "--user-data"));
    }
    if (cmd->count("--key-name")) params["KeyName"] = o->key_name;
    if (!o->group_ids.empty()) params["SecurityGroupIds"] = o->group_ids;
    if (!o->group_names.empty()) params["SecurityGroups"] = o->group_names;
    if (!o->bdm.empty()) params["BlockDeviceMappings"] = read_block_device_mappings(o->bdm);
    if (cmd->count("--client-token")) params["ClientToken"] = o->client_token;
    if (!params.contains("ImageId")) {
      throw std::invalid_argument("--image-id is required (or image_id in the launch template)");
    }
    protocol::Json body;
    if (!call(ctx, "RunInstances", params, body)) return;
    print_rows(ctx, body, body["Instances"], instance_columns());
  });
}

}  // namespace amid::cli
