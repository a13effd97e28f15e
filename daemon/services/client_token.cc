#include "daemon/services/client_token.h"
#include "daemon/state/iso_time.h"

namespace amid {

Result<std::string> validate_client_token(const std::string& token) {
  if (token.empty() || token.size() > kMaxClientTokenLength) {
    return problem("ClientToken: must be 1-" + std::to_string(kMaxClientTokenLength) + " characters long");
  }
  for (unsigned char c : token) {
    if (c < 0x20 || c > 0x7e) {
      return problem("ClientToken: must hold printable ASCII characters only");
    }
  }
  return token;
}

std::string canonical_parameters(const protocol::Json& parameters) {
  protocol::Json copy = parameters.is_object() ? parameters : protocol::Json::object();
  copy.erase("ClientToken");
  // nlohmann::json keeps object keys in a std::map: dump() is sorted, hence canonical.
  return copy.dump();
}

std::optional<ClientTokenRecord> find_replay(const Catalog& catalog, const std::string& owner,
                                            const std::string& action, const ClientToken& token) {
  auto found = catalog.find_client_token(owner, action, token.token);
  if (!found) return std::nullopt;
  if (found->parameters != token.parameters) {
    throw AmidError(codes::kIdempotentParameterMismatch,
                    "ClientToken: '" + token.token + "' was already used for " + action + " (" + found->resource_id +
                        ") with other parameters; send the same parameters again, or use a new token");
  }
  return found;
}

ClientTokenRecord make_token_record(const std::string& owner, const std::string& action, const ClientToken& token,
                                    const std::string& resource_id, const protocol::Json& result) {
  return ClientTokenRecord{owner, action, token.token, token.parameters, resource_id, result.dump(), iso_now()};
}

}  // namespace amid
