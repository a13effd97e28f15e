#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_describe_key_pairs(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("describe-key-pairs", "List your key pairs in this region, or the ones named");
  struct Opts {
    std::vector<std::string> names, ids, filters;
    bool public_key = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--key-names", o->names, "key pair names (all of yours when absent)");
  cmd->add_option("--key-pair-ids", o->ids, "key-... ids");
  keep_json_lists(cmd->add_option("--filters", o->filters,
                                  "Name=NAME,Values=V1,V2 or EC2's JSON; names: key-name, key-pair-id, "
                                  "key-type, fingerprint"));
  cmd->add_flag("--include-public-key", o->public_key, "also show each public key");
  cmd->callback([o, make_ctx] {
    protocol::Json params = protocol::Json::object();
    if (!o->names.empty()) params["KeyNames"] = o->names;
    if (!o->ids.empty()) params["KeyPairIds"] = o->ids;
    if (!o->filters.empty()) params["Filters"] = parse_filters_argument(o->filters);
    if (o->public_key) params["IncludePublicKey"] = true;
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DescribeKeyPairs", params, body)) return;
    std::vector<Column> columns = {{"KEY NAME", [](auto& j) { return field(j, "/KeyName"); }},
                                   {"KEY PAIR ID", [](auto& j) { return field(j, "/KeyPairId"); }},
                                   {"TYPE", [](auto& j) { return field(j, "/KeyType"); }},
                                   {"FINGERPRINT", [](auto& j) { return field(j, "/KeyFingerprint"); }},
                                   {"CREATED", [](auto& j) { return field(j, "/CreateTime"); }}};
    if (o->public_key) columns.push_back({"PUBLIC KEY", [](auto& j) { return field(j, "/PublicKey"); }});
    print_rows(ctx, body, body["KeyPairs"], columns);
  });
}

}  // namespace amid::cli
