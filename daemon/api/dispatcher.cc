#include "daemon/api/dispatcher.h"

#include <malloc.h>

#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/services/image_service.h"

namespace amid {
namespace {

// Every action amid serves, by name: the tables of api/actions.h together.
const ActionTable& actions() {
  static const ActionTable all = [] {
    ActionTable table;
    for (const ActionTable* part : {&image_actions(), &instance_actions(), &volume_actions(), &tag_actions(), &key_pair_actions(),
                                     &security_group_actions(), &access_key_actions()}) {
      table.insert(part->begin(), part->end());
    }
    return table;
  }();
  return all;
}

// The socket's answers: one JSON line each.
class JsonAnswers final : public AnswerWriter {
 public:
  std::string answer(const std::string&, const std::string& request_id, const protocol::Json& body) const override {
    return protocol::encode_ok(request_id, body);
  }
  std::string listing(const std::string&, const std::string& request_id, const std::string& field,
                      const protocol::RowSource& rows) const override {
    return protocol::encode_ok_listing(request_id, field, rows);
  }
};

}  // namespace

const AnswerWriter& Dispatcher::json_answers() {
  static const JsonAnswers writer;
  return writer;
}

std::optional<ClientToken> read_client_token(ParamReader& p) {
  auto token = p.optional_string("ClientToken", kMaxClientTokenLength);
  if (!token) return std::nullopt;
  return ClientToken{validate_client_token(*token).value_or_throw(), canonical_parameters(p.parameters())};
}

protocol::Json listed(const char* field, std::vector<protocol::Json> rows, const std::string& next_token) {
  protocol::Json out = {{field, protocol::Json(std::move(rows))}};
  if (!next_token.empty()) out["NextToken"] = next_token;
  return out;
}

Dispatcher::Dispatcher(Services home) : home_(home.images.region()) { regions_.emplace(home_, home); }

void Dispatcher::add_region(Services services) { regions_.emplace(services.images.region(), services); }

std::vector<std::string> Dispatcher::action_names() {
  std::vector<std::string> out;
  for (auto& [name, h] : actions()) out.push_back(name);
  return out;
}

ActionAnswer Dispatcher::dispatch(const Caller& caller, const protocol::Request& request) {
  auto it = actions().find(request.action);
  if (it == actions().end()) {
    throw AmidError(codes::kInvalidAction, "Action: '" + request.action + "' is not an action amid knows");
  }
  ParamReader reader(request.parameters);
  auto region = regions_.find(home_);
  if (auto named = reader.optional_string("Region", 64)) {
    region = regions_.find(*named);
    if (region == regions_.end()) {
      std::string names;
      for (const auto& [name, s] : regions_) names += (names.empty() ? "" : ", ") + name;
      throw AmidError(codes::kInvalidParameterValue,
                      "Region: '" + *named + "' is not a region of this amid (it serves " + names + ")");
    }
  }
  // EC2's DryRun: whether the request would be allowed, without doing it. amid
  // has no per-action permissions (every caller may ask every action; what a
  // resource lets them do is checked when it runs), so a dry run is allowed.
  if (reader.optional_bool("DryRun").value_or(false)) {
    throw AmidError(codes::kDryRunOperation, "Request would have succeeded, but DryRun flag is set.");
  }
  Services services = region->second;
  services.regions = &regions_;
  return it->second(services, caller, reader);
}

bool Dispatcher::reads_only_action(const std::string& action) {
  return action.rfind("Describe", 0) == 0 || action.rfind("List", 0) == 0 || action == "GetConsoleOutput";
}

bool Dispatcher::reads_only(const std::string& line) {
  auto parsed = protocol::parse_request(line);
  return parsed && reads_only_action(parsed.value().action);
}

Dispatcher::Outcome Dispatcher::run(const Caller& caller, const protocol::Request& request,
                                    const AnswerWriter& writer) {
  Outcome out;
  out.request_id = new_uuid();
  try {
    ActionAnswer answer = dispatch(caller, request);
    out.text = answer.rows ? writer.listing(request.action, out.request_id, answer.field, answer.rows)
                           : writer.answer(request.action, out.request_id, answer.json);
    out.ok = true;
  } catch (const AmidError& e) {
    if (e.code() == codes::kInternalError) {
      log_error(request.action + " by " + caller.account + " failed: " + e.what());
    }
    out.error_code = e.code();
    out.error_message = e.what();
  } catch (const std::exception& e) {
    log_error(request.action + " by " + caller.account + " failed unexpectedly: " + e.what());
    out.error_code = codes::kInternalError;
    out.error_message = e.what();
  }
  return out;
}

std::string Dispatcher::handle(const Caller& caller, const std::string& line) {
  auto parsed = protocol::parse_request(line);
  if (!parsed) {
    return protocol::encode_error(new_uuid(), parsed.problem().code, parsed.problem().message);
  }
  Outcome out = run(caller, parsed.value(), json_answers());
  if (!out.ok) return protocol::encode_error(out.request_id, out.error_code, out.error_message);
  // A large answer was built of many small blocks: hand their pages back.
  if (out.text.size() > (64u << 10)) malloc_trim(0);
  return std::move(out.text);
}

}  // namespace amid
