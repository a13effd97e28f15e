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
                                     &security_group_actions()}) {
      table.insert(part->begin(), part->end());
    }
    return table;
  }();
  return all;
}

}  // namespace

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
  Services services = region->second;
  services.regions = &regions_;
  return it->second(services, caller, reader);
}

bool Dispatcher::reads_only(const std::string& line) {
  auto parsed = protocol::parse_request(line);
  if (!parsed) return false;
  const std::string& action = parsed.value().action;
  return action.rfind("Describe", 0) == 0 || action == "GetConsoleOutput";
}

std::string Dispatcher::handle(const Caller& caller, const std::string& line) {
  std::string request_id = new_uuid();
  auto parsed = protocol::parse_request(line);
  if (!parsed) {
    return protocol::encode_error(request_id, parsed.problem().code, parsed.problem().message);
  }
  const protocol::Request& request = parsed.value();
  try {
    std::string text;
    {
      ActionAnswer answer = dispatch(caller, request);
      text = answer.is_raw ? protocol::encode_ok_text(request_id, answer.raw)
                           : protocol::encode_ok(request_id, answer.json);
    }
    // A large answer was built of many small blocks: hand their pages back.
    if (text.size() > (64u << 10)) malloc_trim(0);
    return text;
  } catch (const AmidError& e) {
    if (e.code() == codes::kInternalError) {
      log_error(request.action + " by " + caller.account + " failed: " + e.what());
    }
    return protocol::encode_error(request_id, e.code(), e.what());
  } catch (const std::exception& e) {
    log_error(request.action + " by " + caller.account + " failed unexpectedly: " + e.what());
    return protocol::encode_error(request_id, codes::kInternalError, e.what());
  }
}

}  // namespace amid
