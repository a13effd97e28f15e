// amid's wire protocol: one JSON object a line over a Unix stream socket.
//
//   request:  {"Version":1,"Action":"DescribeImages","Parameters":{...}}\n
//   answer:   {"RequestId":"...","Response":{...}}\n
//        or:  {"RequestId":"...","Error":{"Code":"InvalidAMIID.NotFound","Message":"..."}}\n
//
// Action names, parameter names and error codes are EC2's (docs/PROTOCOL.md).
// Pure functions, thread-safe, never throw on bad input: they return a Problem.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace amid::protocol {

using Json = nlohmann::json;

inline constexpr int kVersion = 1;
inline constexpr std::size_t kDefaultMaxLine = 1024 * 1024;  // bytes, newline excluded
inline constexpr int kMaxDepth = 32;                          // nesting of objects and arrays

struct Request {
  std::string action;
  Json parameters = Json::object();
};

struct Response {
  std::string request_id;
  bool ok = true;
  Json body = Json::object();  // the Response object when ok
  std::string error_code;      // when !ok
  std::string error_message;
};

Result<Request> parse_request(std::string_view line, int max_depth = kMaxDepth);
std::string encode_request(const Request& request);  // with the trailing newline

Result<Response> parse_response(std::string_view line);
std::string encode_ok(const std::string& request_id, const Json& body);

// A listing too large to hold as a tree (DescribeImages over the whole catalog),
// rendered a row at a time: a RowSource is called once with a sink, hands it each
// row in order, and returns the NextToken ("" when this page is the last).
using RowSink = std::function<void(const Json& row)>;
using RowSource = std::function<std::string(const RowSink& sink)>;
// The answer {field: [rows...], "NextToken": token} (no NextToken when "") in that
// order, written as the rows come: no tree of the whole answer is made. The same
// text as encode_ok's, whose keys are sorted, for a field before "NextToken" (Images).
std::string encode_ok_listing(const std::string& request_id, const std::string& field, const RowSource& rows);
// A value serialised as encode_ok serialises the parts of an answer.
std::string dump_answer(const Json& value);
std::string encode_error(const std::string& request_id, const std::string& code,
                         const std::string& message);

// Deepest nesting of arrays and objects in a JSON text, counted without parsing
// (strings are skipped), so that a hostile document is refused before the parser
// recurses into it.
int nesting_depth(std::string_view text);

}  // namespace amid::protocol
