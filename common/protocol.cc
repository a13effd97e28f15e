#include "common/protocol.h"

namespace amid::protocol {

int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{': case '[':
        if (++depth > deepest) deepest = depth;
        break;
      case '}': case ']': --depth; break;
      default: break;
    }
  }
  return deepest;
}

Result<Request> parse_request(std::string_view line, int max_depth) {
  if (nesting_depth(line) > max_depth) {
    return problem("request nests deeper than " + std::to_string(max_depth) + " levels",
                   codes::kMalformedRequest);
  }
  Json doc = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return problem("request is not valid JSON (one JSON object per line expected)",
                   codes::kMalformedRequest);
  }
  if (!doc.is_object()) return problem("request must be a JSON object", codes::kMalformedRequest);
  Request req;
  if (!doc.contains("Version")) {
    return problem("Version: missing (this amid speaks protocol version " + std::to_string(kVersion) + ")",
                   codes::kMissingParameter);
  }
  for (auto& [key, value] : doc.items()) {
    if (key == "Version") {
      if (!value.is_number_integer() || value.get<long long>() != kVersion) {
        return problem("Version: this amid speaks protocol version " + std::to_string(kVersion),
                       codes::kMalformedRequest);
      }
    } else if (key == "Action") {
      if (!value.is_string()) return problem("Action: must be a string", codes::kMalformedRequest);
      req.action = value.get<std::string>();
    } else if (key == "Parameters") {
      if (!value.is_object()) {
        return problem("Parameters: must be a JSON object", codes::kMalformedRequest);
      }
      req.parameters = value;
    } else {
      return problem("unknown request field '" + key + "' (expected Version, Action, Parameters)",
                     codes::kUnknownParameter);
    }
  }
  if (req.action.empty()) return problem("Action: missing", codes::kMissingParameter);
  return req;
}

std::string encode_request(const Request& request) {
  Json doc = {{"Version", kVersion}, {"Action", request.action}, {"Parameters", request.parameters}};
  return doc.dump() + "\n";
}

Result<Response> parse_response(std::string_view line) {
  Json doc = Json::parse(line, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return problem("amid answered something that is not a JSON object", codes::kInternalError);
  }
  Response r;
  if (auto it = doc.find("RequestId"); it != doc.end() && it->is_string()) r.request_id = *it;
  if (auto it = doc.find("Error"); it != doc.end() && it->is_object()) {
    r.ok = false;
    // Not it->value(key, default): that throws when the member is there but not a string.
    auto text = [&](const char* key, const char* fallback) {
      auto field = it->find(key);
      return field != it->end() && field->is_string() ? field->get<std::string>()
                                                      : std::string(fallback);
    };
    r.error_code = text("Code", codes::kInternalError);
    r.error_message = text("Message", "");
    return r;
  }
  if (auto it = doc.find("Response"); it != doc.end() && it->is_object()) {
    r.body = *it;
    return r;
  }
  return problem("amid's answer has neither Response nor Error", codes::kInternalError);
}

std::string dump_answer(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string encode_ok(const std::string& request_id, const Json& body) {
  // The same text as dumping {"RequestId": ..., "Response": body} (keys in that
  // order), without first copying the whole answer into a new document: for a
  // DescribeImages over 10,000 images that copy and its destruction cost as much
  // as the dump itself.
  std::string out = "{\"RequestId\":";
  out += dump_answer(Json(request_id));
  out += ",\"Response\":";
  out += dump_answer(body);
  out += "}\n";
  return out;
}

std::string encode_ok_listing(const std::string& request_id, const std::string& field, const RowSource& rows) {
  std::string out = "{\"RequestId\":";
  out += dump_answer(Json(request_id));
  out += ",\"Response\":{";
  out += dump_answer(Json(field));
  out += ":[";
  bool first = true;
  const std::string next_token = rows([&](const Json& row) {
    if (!first) out += ',';
    first = false;
    out += dump_answer(row);
  });
  out += ']';
  if (!next_token.empty()) {
    out += ",\"NextToken\":";
    out += dump_answer(Json(next_token));
  }
  out += "}}\n";
  return out;
}

std::string encode_error(const std::string& request_id, const std::string& code,
                         const std::string& message) {
  Json doc = {{"RequestId", request_id}, {"Error", {{"Code", code}, {"Message", message}}}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace amid::protocol
