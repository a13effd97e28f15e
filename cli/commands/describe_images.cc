#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_images(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-images",
                                 "List the images you may launch (yours, shared with you, public), or the ones named");
  struct Opts {
    std::vector<std::string> ids, owners, executable_users;
    ListingOptions listing;
    bool include_deprecated = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--image-ids", o->ids, "ami-... ids (all you may launch when absent)");
  cmd->add_option("--owners", o->owners, "only images of these owners: self and/or 12-digit account ids");
  cmd->add_option("--executable-users", o->executable_users,
                  "only images these may launch explicitly: self (yours and those shared with you), all "
                  "(public ones), or account ids (your images shared with them)");
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
    if (!o->owners.empty()) params["Owners"] = o->owners;
    if (!o->executable_users.empty()) params["ExecutableUsers"] = o->executable_users;
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
                {"WARM", [](auto& j) { return field(j, "/WarmState/State"); }},
                {"SIZE GIB", [](auto& j) { return field(j, "/BlockDeviceMappings/0/Ebs/VolumeSize"); }},
                {"OWNER", [](auto& j) { return field(j, "/OwnerId"); }},
                {"PUBLIC", [](auto& j) { return j.value("Public", false) ? std::string("yes") : std::string("no"); }},
                {"CREATED", [](auto& j) { return field(j, "/CreationDate"); }},
                {"PROTECTION", [](auto& j) { return field(j, "/DeregistrationProtection"); }},
                {"DEPRECATED AT", [](auto& j) { return field(j, "/DeprecationTime"); }}});
  });
}

}  // namespace amid::cli
