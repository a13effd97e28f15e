// The text, percent-encoding and time parts of AWS Signature Version 4
// (sigv4.h): case, spaces and lists as the canonical forms want them, RFC
// 3986 encoding and decoding, query parsing, and the two date formats a
// request may carry. Pure functions, for sigv4.cc and its tests.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amid::sigv4::text {

using Clock = std::chrono::system_clock;
using Params = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string_view s);

bool iequals(std::string_view a, std::string_view b);

std::string_view trim(std::string_view s);

// A header value as the canonical headers hold it: trimmed, each run of
// whitespace one space (botocore's ' '.join(value.split())).
std::string collapse_spaces(std::string_view s);

std::vector<std::string_view> split(std::string_view s, char sep);

bool all_digits(std::string_view s);

std::string join(const std::vector<std::string>& items, std::string_view sep);

std::string uri_encode(std::string_view s, bool keep_slash);

int hex_digit(char c);

// `s` with its %XX escapes decoded; nullopt when one is broken. "+" stays "+"
// for a signature's query (AWS's SDKs send a space as %20, and what a client
// signed is what it sent); a form body (application/x-www-form-urlencoded)
// passes plus_is_space.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// The parameters of a query, decoded, in order; empty pieces ("a&&b") skipped.
Params parse_query(std::string_view query);

// The path and the query of a request-target ("/a?b=c" -> "/a", "b=c").
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

// YYYYMMDD'T'HHMMSS'Z', strictly.
std::optional<Clock::time_point> parse_amz_date(std::string_view s);

bool valid_scope_date(std::string_view s);

// An HTTP Date (RFC 7231's IMF-fixdate, or RFC 5322's with a -0000/+0000 zone,
// which is what botocore writes): "Thu, 15 Jan 2026 10:20:30 GMT".
std::optional<Clock::time_point> parse_http_date(std::string_view s);

// `t` as "20260115T102030Z" (amz = true) or, for messages, "2026-01-15T10:20:30Z".
std::string format_time(Clock::time_point t, bool amz);

}  // namespace amid::sigv4::text
