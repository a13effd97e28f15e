// Times as EC2 writes them (ISO 8601, UTC): 2026-11-27T03:20:27.000Z.
//
// Pure functions; any thread. The parser never throws: a Result names the field.
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include "common/error.h"

namespace amid {

// t as EC2 prints times, to the second: 2026-11-27T03:20:27.000Z.
std::string iso_time(std::time_t t);

// The current time as EC2 prints it, to the millisecond: 2026-11-27T03:20:27.318Z
std::string iso_now();

// A time a caller gives: YYYY-MM-DDTHH:MM[:SS[.fraction]] followed by Z or +00:00
// (UTC only), from 1970 on. Errors name `field`.
struct ParsedTime {
  std::time_t seconds = 0;   // whole seconds since the epoch, fraction dropped
  bool past_the_minute = false;  // seconds or a fraction other than zero (for rounding up)
};
Result<ParsedTime> parse_iso_utc(const std::string& text, const std::string& field);

// A time amid stored itself (iso_now()/iso_time() output); nullopt when empty or unreadable.
std::optional<std::time_t> read_stored_time(const std::string& iso);

// t plus `years` calendar years (Feb 29 becomes Mar 1 in a common year).
std::time_t add_years(std::time_t t, int years);

}  // namespace amid
