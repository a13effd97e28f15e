#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_images(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-images", "List images you own, or the ones named");
  auto ids = std::make_shared<std::vector<std::string>>();
  auto include_deprecated = std::make_shared<bool>(false);
  cmd->add_option("--image-ids", *ids, "ami-... ids (all of yours when absent)");
  cmd->add_flag("--include-deprecated", *include_deprecated,
                "also list deprecated images of others (yours are always listed)");
  cmd->callback([ids, include_deprecated, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!ids->empty()) params["ImageIds"] = *ids;
    if (*include_deprecated) params["IncludeDeprecated"] = true;
    protocol::Json body;
    if (!call(ctx, "DescribeImages", params, body)) return;
    print_rows(ctx, body, body["Images"],
               {{"IMAGE ID", [](auto& j) { return field(j, "/ImageId"); }},
                {"NAME", [](auto& j) { return field(j, "/Name"); }},
                {"STATE", [](auto& j) { return field(j, "/State"); }},
                {"ARCH", [](auto& j) { return field(j, "/Architecture"); }},
                {"VIRT", [](auto& j) { return field(j, "/VirtualizationType"); }},
                {"ROOT", [](auto& j) { return field(j, "/RootDeviceType"); }},
                {"SIZE GIB", [](auto& j) { return field(j, "/BlockDeviceMappings/0/Ebs/VolumeSize"); }},
                {"OWNER", [](auto& j) { return field(j, "/OwnerId"); }},
                {"CREATED", [](auto& j) { return field(j, "/CreationDate"); }},
                {"PROTECTION", [](auto& j) { return field(j, "/DeregistrationProtection"); }},
                {"DEPRECATED AT", [](auto& j) { return field(j, "/DeprecationTime"); }}});
  });
}

}  // namespace amid::cli
