#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {
namespace {

// "tcp 22 0.0.0.0/0, icmp 8/-1 10.0.0.0/8, all 192.0.2.0/24" ("-" for none).
std::string rules_summary(const protocol::Json& group) {
  std::string out;
  for (const auto& p : group.value("IpPermissions", protocol::Json::array())) {
    std::string protocol = p.value("IpProtocol", "");
    std::string ports;
    if (protocol == "-1") {
      protocol = "all";
    } else {
      int from = p.value("FromPort", -1), to = p.value("ToPort", -1);
      const char* sep = protocol == "icmp" ? "/" : "-";
      ports = " " + (from == to && protocol != "icmp" ? std::to_string(from)
                                                      : std::to_string(from) + sep + std::to_string(to));
    }
    for (const auto& r : p.value("IpRanges", protocol::Json::array())) {
      if (!out.empty()) out += ", ";
      out += protocol + ports + " " + r.value("CidrIp", "");
    }
  }
  return out.empty() ? "-" : out;
}

}  // namespace

void add_describe_security_groups(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-security-groups",
                                 "List your security groups in this region (and their inbound rules), or the ones named");
  struct Opts {
    std::vector<std::string> ids, names;
    ListingOptions listing;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--group-ids", o->ids, "sg-... ids (all of yours when absent)")->delimiter(',');
  cmd->add_option("--group-names", o->names, "or names")->delimiter(',');
  o->listing.add_to(cmd,
                    "group-id, group-name, description, vpc-id, owner-id, ip-permission.protocol, "
                    "ip-permission.from-port, ip-permission.to-port, ip-permission.cidr, tag:KEY, tag-key",
                    "5-1000");
  cmd->callback([o, make_ctx] {
    protocol::Json params = protocol::Json::object();
    if (!o->ids.empty()) params["GroupIds"] = o->ids;
    if (!o->names.empty()) params["GroupNames"] = o->names;
    o->listing.apply(params);
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DescribeSecurityGroups", params, body)) return;
    print_rows(ctx, body, body["SecurityGroups"],
               {{"GROUP ID", [](auto& j) { return field(j, "/GroupId"); }},
                {"NAME", [](auto& j) { return field(j, "/GroupName"); }},
                {"VPC", [](auto& j) { return field(j, "/VpcId"); }},
                {"INBOUND", [](auto& j) { return rules_summary(j); }},
                {"DESCRIPTION", [](auto& j) { return field(j, "/Description"); }}});
  });
}

}  // namespace amid::cli
