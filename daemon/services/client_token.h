// EC2's ClientToken: a caller-chosen key that makes RunInstances and CreateImage
// idempotent. The same caller sending the same token to the same action again
// gets the first request's result; with other parameters it gets
// IdempotentParameterMismatch and nothing changes.
//
// Tokens live in the catalog (client_tokens), written in the same transaction as
// the rows of what the request made, so a crash can never leave a launch without
// its token or a token twice. Pure helpers here; any thread.
#pragma once

#include <optional>
#include <string>

#include "common/error.h"
#include "common/protocol.h"
#include "daemon/state/catalog.h"
#include "daemon/state/records.h"

namespace amid {

// A request's token and its parameters (without ClientToken) as canonical JSON.
struct ClientToken {
  std::string token;
  std::string parameters;
};

inline constexpr std::size_t kMaxClientTokenLength = 64;

// 1-64 printable ASCII characters (0x20-0x7e), as EC2 allows.
Result<std::string> validate_client_token(const std::string& token);

// The parameters without ClientToken, as compact JSON with sorted keys: two
// requests with the same fields and values give the same text.
std::string canonical_parameters(const protocol::Json& parameters);

// The record of an earlier request by `owner` to `action` with this token, or
// nullopt when the token is new. Throws IdempotentParameterMismatch when that
// request had other parameters.
std::optional<ClientTokenRecord> find_replay(const Catalog& catalog, const std::string& owner,
                                            const std::string& action, const ClientToken& token);

// The record to write with what a request made.
ClientTokenRecord make_token_record(const std::string& owner, const std::string& action, const ClientToken& token,
                                    const std::string& resource_id, const protocol::Json& result);

// What a start function throws when the same request, sent at once, recorded
// its rows (and the token) first.
inline constexpr const char* kClientTokenTaken = "ClientTokenTaken";

// The one shape of an idempotent request: with a token this caller already used
// for `action`, the earlier request's answer (`replay(record)`); otherwise
// `start()`. When `start` fails because the same request sent at once got its
// rows in first, that request's answer is this one's too.
template <typename Start, typename Replay>
auto once_per_token(const Catalog& catalog, const std::string& owner, const std::string& action,
                    const std::optional<ClientToken>& token, Start start, Replay replay) -> decltype(start()) {
  if (token) {
    if (auto prior = find_replay(catalog, owner, action, *token)) return replay(*prior);
  }
  try {
    return start();
  } catch (const AmidError& e) {
    if (!token) throw;
    if (auto prior = find_replay(catalog, owner, action, *token)) return replay(*prior);
    if (e.code() == kClientTokenTaken) throw AmidError(codes::kInternalError, "ClientToken: recorded, then not found");
    throw;
  }
}

}  // namespace amid
