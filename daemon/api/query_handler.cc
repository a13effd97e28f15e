#include "daemon/api/query_handler.h"

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "daemon/api/query_protocol.h"
#include "daemon/api/sigv4_text.h"

namespace amid {
namespace {

using Form = std::vector<std::pair<std::string, std::string>>;

// EC2's XML answers, by the model: the door's AnswerWriter. An answer the model
// cannot carry is amid's bug: InternalError, through the dispatcher.
class XmlAnswers final : public AnswerWriter {
 public:
  explicit XmlAnswers(const query::Ec2Model& model) : model_(model) {}
  std::string answer(const std::string& action, const std::string& request_id,
                     const protocol::Json& body) const override {
    return model_.response_xml(action, body, request_id);
  }
  std::string listing(const std::string& action, const std::string& request_id, const std::string& field,
                      const protocol::RowSource& rows) const override {
    return model_.listing_xml(action, request_id, field, rows);
  }

 private:
  const query::Ec2Model& model_;
};

// application/x-www-form-urlencoded decoding: %XX and '+' for a space.
std::optional<std::string> form_decode(std::string_view s) { return sigv4::text::percent_decode(s, true); }

// Appends the pairs of one urlencoded text (a query or a body) to `form`.
std::optional<Problem> add_pairs(std::string_view text, const char* where, Form& form, std::set<std::string>& seen) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) {
      if (end == text.size()) break;
      continue;
    }
    std::size_t eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) {
      return Problem{codes::kMalformedRequest, std::string("the ") + where + " holds a malformed %-escape near '" +
                                                   std::string(pair.substr(0, 64)) + "'"};
    }
    if (!query::valid_utf8(*name) || !query::valid_utf8(*value)) {
      return Problem{codes::kMalformedRequest, std::string("the ") + where + "'s parameter '" +
                                                   (query::valid_utf8(*name) ? *name : std::string("(not UTF-8)")) +
                                                   "' is not UTF-8 text"};
    }
    if (name->empty()) return Problem{codes::kMalformedRequest, std::string("the ") + where + " holds a parameter without a name"};
    if (!seen.insert(*name).second) {
      return Problem{codes::kMalformedRequest,
                     *name + ": given twice (a parameter may come once, in the query or in the body)"};
    }
    form.emplace_back(std::move(*name), std::move(*value));
    if (end == text.size()) break;
  }
  return std::nullopt;
}

std::string header_of(const sigv4::HttpRequest& request, std::string_view name) {
  for (const auto& [n, v] : request.headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "";
}

HttpAnswer error_answer(const std::string& code, const std::string& message, const std::string& request_id) {
  return {QueryHandler::status_of(code), query::error_xml(code, message, request_id)};
}

}  // namespace

Result<Form> query_form(const sigv4::HttpRequest& request) {
  std::string_view target = request.target;
  std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path != "/") {
    return Problem{codes::kMalformedRequest, "the path '" + std::string(path.substr(0, 128)) +
                                                 "': EC2's endpoint answers at / only"};
  }
  Form form;
  std::set<std::string> seen;
  if (q != std::string_view::npos) {
    if (auto bad = add_pairs(target.substr(q + 1), "query", form, seen)) return *bad;
  }
  if (request.method == "POST" && !request.body.empty()) {
    std::string type = header_of(request, "content-type");
    std::string bare = type.substr(0, type.find(';'));
    while (!bare.empty() && bare.back() == ' ') bare.pop_back();
    for (auto& ch : bare) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (bare != "application/x-www-form-urlencoded") {
      return Problem{codes::kMalformedRequest, "Content-Type: '" + type.substr(0, 128) +
                                                   "': EC2's endpoint reads application/x-www-form-urlencoded bodies"};
    }
    if (auto bad = add_pairs(request.body, "body", form, seen)) return *bad;
  }
  return form;
}

std::string QueryHandler::peek_action(const sigv4::HttpRequest& request) {
  // Runs on the I/O thread: a scan for the pair named Action, decoding nothing
  // else (the worker reads the whole form, once, in handle()).
  auto find_in = [](std::string_view text) -> std::optional<std::string> {
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = std::min(text.find('&', start), text.size());
      std::string_view pair = text.substr(start, end - start);
      if (pair.rfind("Action=", 0) == 0) return form_decode(pair.substr(7));
      start = end + 1;
    }
    return std::nullopt;
  };
  std::string_view target = request.target;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    if (auto action = find_in(target.substr(q + 1))) return *action;
  }
  if (request.method == "POST") {
    if (auto action = find_in(request.body)) return *action;
  }
  return "";
}

int QueryHandler::status_of(const std::string& code) {
  if (code == codes::kAuthFailure || code == "MissingAuthenticationToken") return 401;
  if (code == "SignatureDoesNotMatch" || code == "UnauthorizedOperation" || code == "IncompleteSignature") return 403;
  if (code == "DryRunOperation") return 412;
  if (code == codes::kRequestLimitExceeded || code == "Unavailable") return 503;
  if (code == codes::kInternalError) return 500;
  if (code == "RequestEntityTooLarge") return 413;
  return 400;
}

QueryHandler::Result QueryHandler::handle(const sigv4::HttpRequest& request, std::chrono::system_clock::time_point now,
                                          const Admit& admit) const {
  Result out;
  const std::string request_id = new_uuid();
  auto fail = [&](const std::string& code, const std::string& message) {
    out.answer = error_answer(code, message, request_id);
    return out;
  };
  if (request.method != "POST" && request.method != "GET") {
    return fail(codes::kMalformedRequest, "method " + request.method.substr(0, 16) + ": EC2's endpoint takes POST and GET");
  }
  auto form = query_form(request);
  if (!form) return fail(form.problem().code, form.problem().message);

  // Who signed it: before anything else is looked at.
  sigv4::Identity who;
  try {
    who = sigv4::verify(request, [this](const std::string& id) -> std::optional<std::string> {
      auto key = keys_.find(id);
      if (!key) return std::nullopt;
      return key->secret;
    }, now);
  } catch (const AmidError& e) {
    return fail(e.code(), e.what());
  }
  // The form body holds the action and its parameters: it is signed, or nothing is.
  if (request.method == "POST" && !request.body.empty() && header_of(request, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD") {
    return fail(codes::kIncompleteSignature,
                "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD would leave the request's parameters (its body) unsigned; "
                "sign the body's SHA-256");
  }
  auto key = keys_.find(who.access_key_id);
  if (!key) return fail(codes::kAuthFailure, "the access key was deleted while the request was checked");
  out.access_key_id = key->id;
  std::string why;
  out.caller = resolve_account(static_cast<uid_t>(std::stoul(key->owner)), policy_, why);
  if (!out.caller) return fail(codes::kAuthFailure, "access key " + key->id + ": " + why);
  if (admit && !admit(*out.caller, why)) return fail(codes::kRequestLimitExceeded, why);

  // The action and its parameters; the signature's own parameters are not the action's.
  protocol::Request call;
  std::vector<std::pair<std::string, std::string>> params;
  std::string version;
  for (auto& [name, value] : form.value()) {
    if (name == "Action") {
      call.action = value;
    } else if (name == "Version") {
      version = value;
    } else if (name.rfind("X-Amz-", 0) != 0) {
      params.emplace_back(name, value);
    }
  }
  out.action = call.action;
  if (call.action.empty()) return fail(codes::kMissingParameter, "Action: required (such as Action=DescribeImages)");
  const query::Ec2Model& model = query::Ec2Model::instance();
  if (!model.has_action(call.action)) {
    return fail(codes::kInvalidAction, "Action: '" + call.action.substr(0, 128) +
                                           "' is not an EC2 action amid serves (docs/EC2_API.md lists them)");
  }
  try {
    call.parameters = model.parameters(call.action, params);
  } catch (const AmidError& e) {
    return fail(e.code(), e.what());
  }
  // EC2 picks the region by endpoint; one endpoint here, so the signature's scope does.
  call.parameters["Region"] = who.region;

  Dispatcher::Outcome done = dispatcher_.run(*out.caller, call, XmlAnswers(model));
  out.answer = done.ok ? HttpAnswer{200, std::move(done.text)}
                       : error_answer(done.error_code, done.error_message, done.request_id);
  return out;
}

}  // namespace amid
