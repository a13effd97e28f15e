// state/iso_time.h: EC2's time format out, ISO 8601 UTC in, errors naming the field.
#include "daemon/state/iso_time.h"

#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

TEST(IsoTime, PrintsEc2sFormat) {
  EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso_time(1'700'000'000), "2023-11-14T22:13:20.000Z");
}

TEST(IsoTime, ReadsTheFormsEc2Accepts) {
  for (const char* text : {"2023-11-14T22:13:20Z", "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20+00:00",
                           "2023-11-14T22:13:20.0Z"}) {
    auto t = parse_iso_utc(text, "DeprecateAt");
    ASSERT_TRUE(t.ok()) << text << ": " << t.problem().message;
    EXPECT_EQ(t.value().seconds, 1'700'000'000) << text;
    EXPECT_TRUE(t.value().past_the_minute) << text;
  }
  auto minute = parse_iso_utc("2023-11-14T22:13Z", "DeprecateAt");
  ASSERT_TRUE(minute.ok());
  EXPECT_EQ(minute.value().seconds, 1'700'000'000 - 20);
  EXPECT_FALSE(minute.value().past_the_minute);
  auto fraction = parse_iso_utc("2023-11-14T22:13:00.5Z", "DeprecateAt");
  ASSERT_TRUE(fraction.ok());
  EXPECT_TRUE(fraction.value().past_the_minute);
  EXPECT_FALSE(parse_iso_utc("2023-11-14T22:13:00.000Z", "x").value().past_the_minute);
  EXPECT_TRUE(parse_iso_utc("2024-02-29T00:00:00Z", "x").ok()) << "a leap day";
}

TEST(IsoTime, RefusesAnythingElseNamingTheField) {
  for (const char* text : {"", "tomorrow", "2023-11-14", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20",
                           "2023-11-14T22:13:20+01:00", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                           "2023-11-14T24:00:00Z", "2023-11-14T22:60:00Z", "2023-11-14T22:13:61Z",
                           "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20.1234567890Z", "1969-12-31T23:59:59Z",
                           "2023-11-14T22:13:20ZZ", "+2023-11-14T22:13:20Z", "２023-11-14T22:13:20Z"}) {
    auto t = parse_iso_utc(text, "DeprecateAt");
    EXPECT_FALSE(t.ok()) << text;
    if (!t.ok()) {
      EXPECT_TRUE(has_substr(t.problem().message, "DeprecateAt")) << text;
    }
  }
}

TEST(IsoTime, ReadsWhatItWrites) {
  EXPECT_EQ(read_stored_time(iso_time(1'234'567'890)), 1'234'567'890);
  EXPECT_FALSE(read_stored_time("").has_value());
  EXPECT_FALSE(read_stored_time("garbage").has_value());
}

TEST(IsoTime, AddsCalendarYears) {
  EXPECT_EQ(iso_time(add_years(1'700'000'000, 10)), "2033-11-14T22:13:20.000Z");
  EXPECT_EQ(iso_time(add_years(*read_stored_time("2024-02-29T12:00:00.000Z"), 1)), "2025-03-01T12:00:00.000Z");
}

}  // namespace
}  // namespace amid
