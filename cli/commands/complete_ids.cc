// amictl __complete-ids KIND: the ids the shell completion offers, one a line,
// from the same Describe* requests the describe-* commands send. Hidden (group
// ""): help and the man page leave it out. Quiet by contract: when amid cannot
// be reached or refuses, it prints nothing at all and exits non-zero, so a Tab
// press never spills an error into the command line being typed.
#include <ostream>
#include <sstream>

#include "cli/client.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"

namespace amid::cli {
namespace {

struct IdKind {
  const char* name;
  const char* action;
  const char* list;     // the answer's list of resources
  const char* id;       // each resource's id field
  const char* nested;   // DescribeInstances: the list inside each reservation
};
constexpr IdKind kIdKinds[] = {
    {"instance", "DescribeInstances", "Reservations", "InstanceId", "Instances"},
    {"image", "DescribeImages", "Images", "ImageId", nullptr},
    {"key-pair", "DescribeKeyPairs", "KeyPairs", "KeyName", nullptr},
    {"security-group", "DescribeSecurityGroups", "SecurityGroups", "GroupId", nullptr},
    {"volume", "DescribeVolumes", "Volumes", "VolumeId", nullptr},
};
constexpr int kMaxPages = 20;  // a Tab press is no place to page through thousands

void print_ids(const IdKind& kind, const protocol::Json& items, std::ostream& out) {
  if (!items.is_array()) return;
  for (const auto& item : items) {
    if (kind.nested) {
      print_ids({kind.name, kind.action, kind.list, kind.id, nullptr}, item.value(kind.nested, protocol::Json()), out);
    } else if (item.contains(kind.id) && item[kind.id].is_string()) {
      out << item[kind.id].get<std::string>() << "\n";
    }
  }
}

}  // namespace

void add_complete_ids(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("__complete-ids", "ids for shell completion, one a line (internal)");
  cmd->group("");  // hidden from --help and from the man page
  auto kind_name = std::make_shared<std::string>();
  std::vector<std::string> names;
  for (const auto& k : kIdKinds) names.push_back(k.name);
  cmd->add_option("kind", *kind_name, "instance | image | key-pair | security-group | volume")
      ->required()
      ->check(CLI::IsMember(names));
  cmd->callback([kind_name, make_ctx] {
    const IdKind* kind = nullptr;
    for (const auto& k : kIdKinds)
      if (*kind_name == k.name) kind = &k;
    Context& ctx = make_ctx();
    std::ostream quiet(nullptr);  // swallows call()'s error line
    Context q{ctx.client, Format::kText, ctx.out, quiet};
    std::string ids;
    try {
      protocol::Json params = protocol::Json::object();
      for (int page = 0; page < kMaxPages; ++page) {
        protocol::Json body;
        if (!call(q, kind->action, params, body)) {
          ctx.exit_code = q.exit_code;
          return;
        }
        std::ostringstream out;
        print_ids(*kind, body.value(kind->list, protocol::Json()), out);
        ids += out.str();
        if (!body.contains("NextToken") || !body["NextToken"].is_string()) break;
        params["NextToken"] = body["NextToken"];
      }
    } catch (const UnreachableError&) {
      ctx.exit_code = kUnreachable;
      return;
    } catch (const std::exception&) {
      ctx.exit_code = kFailed;
      return;
    }
    ctx.out << ids;  // all or nothing: no half list from a failed page
  });
}

}  // namespace amid::cli
