// EC2's Query API, one HTTP request at a time: the form's parameters, the
// signature (api/sigv4.h) and the account its access key belongs to, then the
// action through the dispatcher (the very path the socket's requests take),
// and EC2's XML answer or error document (api/query_protocol.h).
//
// No socket here: api/query_server.h is the transport, so tests drive this
// directly. Thread-safe; handle() blocks (the action may) and runs on a worker.
// It never throws: every failure is an EC2 error document with its HTTP status.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/api/access.h"
#include "daemon/api/dispatcher.h"
#include "daemon/api/sigv4.h"
#include "daemon/services/access_key_service.h"

namespace amid {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "text/xml;charset=UTF-8";
};

class QueryHandler {
 public:
  // A caller's place among the connections, asked for once the request's
  // signer is known and before its action runs; false (with `why`) refuses it
  // with RequestLimitExceeded.
  using Admit = std::function<bool(const Caller& caller, std::string& why)>;

  struct Result {
    HttpAnswer answer;
    std::optional<Caller> caller;  // who signed it, when the signature held
    std::string access_key_id;
    std::string action;  // as asked ("" when the request had none)
  };

  QueryHandler(Dispatcher& dispatcher, const AccessKeyService& keys, AccessPolicy policy)
      : dispatcher_(dispatcher), keys_(keys), policy_(policy) {}

  Result handle(const sigv4::HttpRequest& request, std::chrono::system_clock::time_point now,
                const Admit& admit = nullptr) const;

  // The Action a request asks for, from its query or form body without checking
  // anything ("" when none, or unreadable): which pool of threads should run it.
  // Cheap enough for the I/O thread: only the Action pair is decoded.
  static std::string peek_action(const sigv4::HttpRequest& request);

  // EC2's HTTP status for an error code.
  static int status_of(const std::string& code);

 private:
  Dispatcher& dispatcher_;
  const AccessKeyService& keys_;
  AccessPolicy policy_;
};

// The request's parameters: the target's query, then (for POST) the
// x-www-form-urlencoded body, each name and value percent-decoded. Refused
// (MalformedQueryString, naming what): bad escapes, text that is not UTF-8, a
// name given twice (in the query and the body too), a path other than "/",
// a POST body of another content type.
Result<std::vector<std::pair<std::string, std::string>>> query_form(const sigv4::HttpRequest& request);

}  // namespace amid
