#include "daemon/api/sigv4_text.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"

namespace amid::sigv4::text {

// --- text ---

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A header value as the canonical headers hold it: trimmed, each run of
// whitespace one space (botocore's ' '.join(value.split())).
std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool pending_space = false;
  for (char c : trim(s)) {
    if (is_space(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `s` (digits only, checked by the caller) as a number; short fields only.
static int number(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// --- percent-encoding (RFC 3986, as AWS's canonical forms use it) ---

static bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_digit(s[i + 1]);
    int lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// The parameters of a query, decoded, in order; empty pieces ("a&&b") skipped.
Params parse_query(std::string_view query) {
  Params params;
  for (std::string_view piece : split(query, '&')) {
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string_view raw_name = piece.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    std::optional<std::string> name = percent_decode(raw_name);
    std::optional<std::string> value = percent_decode(raw_value);
    if (!name || !value) {
      throw AmidError(codes::kMalformedRequest,
                      "the query parameter '" + std::string(piece) + "' has a '%' not followed by two hex digits");
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

// The path and the query of a request-target ("/a?b=c" -> "/a", "b=c").
std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

// --- time ---

static std::optional<Clock::time_point> civil_time(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return Clock::time_point(sys_days{ymd} + hours{h} + minutes{mi} + seconds{s});
}

// YYYYMMDD'T'HHMMSS'Z', strictly.
std::optional<Clock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  if (!all_digits(s.substr(0, 8)) || !all_digits(s.substr(9, 6))) return std::nullopt;
  return civil_time(number(s.substr(0, 4)), number(s.substr(4, 2)), number(s.substr(6, 2)), number(s.substr(9, 2)),
                    number(s.substr(11, 2)), number(s.substr(13, 2)));
}

bool valid_scope_date(std::string_view s) {
  return s.size() == 8 && all_digits(s) &&
         civil_time(number(s.substr(0, 4)), number(s.substr(4, 2)), number(s.substr(6, 2)), 0, 0, 0);
}

// An HTTP Date (RFC 7231's IMF-fixdate, or RFC 5322's with a -0000/+0000 zone,
// which is what botocore writes): "Thu, 15 Jan 2026 10:20:30 GMT".
std::optional<Clock::time_point> parse_http_date(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  s = trim(s);
  if (s.size() > 4 && s[3] == ',') s = trim(s.substr(4));  // the weekday says nothing more
  std::vector<std::string_view> f = split(s, ' ');
  if (f.size() != 5) return std::nullopt;
  if (f[4] != "GMT" && f[4] != "UTC" && f[4] != "+0000" && f[4] != "-0000") return std::nullopt;
  auto month = std::find(std::begin(kMonths), std::end(kMonths), f[1]);
  std::vector<std::string_view> hms = split(f[3], ':');
  if (month == std::end(kMonths) || !all_digits(f[0]) || f[0].size() > 2 || f[2].size() != 4 || !all_digits(f[2]) ||
      hms.size() != 3) {
    return std::nullopt;
  }
  for (std::string_view part : hms) {
    if (part.size() != 2 || !all_digits(part)) return std::nullopt;
  }
  return civil_time(number(f[2]), static_cast<int>(month - std::begin(kMonths)) + 1, number(f[0]), number(hms[0]),
                    number(hms[1]), number(hms[2]));
}

// `t` as "20260115T102030Z" (amz = true) or, for messages, "2026-01-15T10:20:30Z".
std::string format_time(Clock::time_point t, bool amz) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto day_start = floor<days>(secs);
  year_month_day ymd{day_start};
  hh_mm_ss hms{secs - day_start};
  char buf[40];
  std::snprintf(buf, sizeof buf, amz ? "%04d%02u%02uT%02d%02d%02dZ" : "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace amid::sigv4::text
