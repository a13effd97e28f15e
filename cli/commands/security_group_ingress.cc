// authorize-security-group-ingress and revoke-security-group-ingress: the same
// options, the same rules, opposite actions.
#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {
namespace {

void add_ingress_command(CLI::App& app, ContextFactory make_ctx, const char* name, const char* action,
                         const char* help, const char* answer_field) {
  auto* cmd = app.add_subcommand(name, help);
  struct Opts {
    std::string id, name, protocol, port, cidr, json;
  };
  auto o = std::make_shared<Opts>();
  auto* id = cmd->add_option("--group-id", o->id, "the group's sg-... id");
  auto* group_name = cmd->add_option("--group-name", o->name, "or its name");
  id->excludes(group_name);
  cmd->add_option("--protocol", o->protocol, "tcp, udp, icmp or all (-1)");
  cmd->add_option("--port", o->port, "PORT or FROM-TO (tcp, udp); TYPE-CODE for icmp; -1 for all");
  cmd->add_option("--cidr", o->cidr, "IPv4 CIDR the traffic comes from, such as 203.0.113.0/24 or 0.0.0.0/0");
  cmd->add_option("--ip-permissions", o->json,
                  "instead of the three above: EC2's IpPermissions JSON (or file://PATH), several rules at once");
  cmd->callback([o, make_ctx, cmd, action, answer_field] {
    if (!cmd->count("--group-id") && !cmd->count("--group-name")) {
      throw std::invalid_argument("give --group-id or --group-name");
    }
    protocol::Json params = {{"IpPermissions", ip_permissions_argument(o->json, o->protocol, o->port, o->cidr)}};
    if (cmd->count("--group-id")) params["GroupId"] = o->id;
    if (cmd->count("--group-name")) params["GroupName"] = o->name;
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, action, params, body)) return;
    print_rows(ctx, body, body.value(answer_field, protocol::Json::array()),
               {{"RULE ID", [](auto& j) { return field(j, "/SecurityGroupRuleId"); }},
                {"GROUP ID", [](auto& j) { return field(j, "/GroupId"); }},
                {"PROTOCOL", [](auto& j) { return field(j, "/IpProtocol"); }},
                {"FROM", [](auto& j) { return field(j, "/FromPort"); }},
                {"TO", [](auto& j) { return field(j, "/ToPort"); }},
                {"CIDR", [](auto& j) { return field(j, "/CidrIpv4"); }}});
  });
}

}  // namespace

void add_authorize_security_group_ingress(CLI::App& app, ContextFactory make_ctx) {
  add_ingress_command(app, make_ctx, "authorize-security-group-ingress", "AuthorizeSecurityGroupIngress",
                      "Add inbound rules to a security group, all or none: they act on its running instances at once\n"
                      "(a tcp port open to 127.0.0.1 gets a forward from 127.0.0.1:HOSTPORT; see describe-instances)",
                      "SecurityGroupRules");
}

void add_revoke_security_group_ingress(CLI::App& app, ContextFactory make_ctx) {
  add_ingress_command(app, make_ctx, "revoke-security-group-ingress", "RevokeSecurityGroupIngress",
                      "Remove inbound rules from a security group (all of them or none)", "RevokedSecurityGroupRules");
}

}  // namespace amid::cli
