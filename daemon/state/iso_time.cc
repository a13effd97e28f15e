#include "daemon/state/iso_time.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace amid {
namespace {

// Reads exactly `width` digits at text[pos...]; false when they are not all digits.
bool read_digits(const std::string& text, std::size_t& pos, int width, int& out) {
  if (pos + static_cast<std::size_t>(width) > text.size()) return false;
  int v = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + static_cast<std::size_t>(i)];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(width);
  out = v;
  return true;
}

bool expect(const std::string& text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::string iso_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // room for any int, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<ParsedTime> parse_iso_utc(const std::string& text, const std::string& field) {
  auto bad = [&] {
    return problem(field + ": '" + text +
                   "' is not a UTC time in ISO 8601 form, like 2027-06-15T13:17:00Z");
  };
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') || !read_digits(text, pos, 2, month) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, day) || !expect(text, pos, 'T') ||
      !read_digits(text, pos, 2, hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, minute)) {
    return bad();
  }
  bool past_the_minute = false;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!read_digits(text, pos, 2, second)) return bad();
    past_the_minute = second != 0;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      std::size_t start = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        if (text[pos] != '0') past_the_minute = true;
        ++pos;
      }
      if (pos == start || pos - start > 9) return bad();
    }
  }
  std::string zone = text.substr(pos);
  if (zone != "Z" && zone != "+00:00") {
    return problem(field + ": '" + text + "' must be in UTC: end it with Z");
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return problem(field + ": '" + text + "' is not a valid date and time");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return ParsedTime{timegm(&tm), past_the_minute};
}

std::optional<std::time_t> read_stored_time(const std::string& iso) {
  auto parsed = parse_iso_utc(iso, "time");
  if (!parsed) return std::nullopt;
  return parsed.value().seconds;
}

std::time_t add_years(std::time_t t, int years) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  tm.tm_year += years;
  return timegm(&tm);  // normalises Feb 29 of a common year to Mar 1
}

std::string iso_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace amid
