#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_images(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-images", "List images you own, or the ones named");
  struct Opts {
    std::vector<std::string> ids;
    ListingOptions listing;
    bool include_deprecated = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-ids", o->ids, "ami-... ids (all of yours when absent)");
  cmd->add_flag("--include-deprecated", o->include_deprecated,
                "also list deprecated images of others (yours are always listed)");
  o->listing.add_to(cmd,
                    "name, state, architecture, root-device-type, virtualization-type, owner-id, "
                    "is-public, image-id, description, creation-date, block-device-mapping.volume-size, "
                    "tag:KEY, tag-key",
                    "5-1000");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json params = protocol::Json::object();
    if (!o->ids.empty()) params["ImageIds"] = o->ids;
    if (o->include_deprecated) params["IncludeDeprecated"] = true;
    o->listing.apply(params);
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
