// api/params.h: an action reads only the fields it declares; everything
// else, and every wrong type or out-of-range value, is refused naming the field.
#include "daemon/api/params.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;
using ::amid::testing::starts_with;

using ::amid::testing::thrown;

TEST(ParamReader, ReadsStrings) {
  Json params = {{"Name", "web"}, {"Empty", ""}, {"Null", nullptr}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_string("Name"), "web");
  EXPECT_EQ(p.optional_string("Empty"), "");
  EXPECT_EQ(p.optional_string("Null"), std::nullopt);
  EXPECT_EQ(p.optional_string("Absent"), std::nullopt);
  EXPECT_NO_THROW(p.finish());
}

TEST(ParamReader, RequiredStringMustBePresentAndNotEmpty) {
  for (const Json& params : {Json::object(), Json{{"Name", ""}}, Json{{"Name", nullptr}}}) {
    ParamReader p(params);
    AmidError e = thrown([&] { p.required_string("Name"); });
    EXPECT_EQ(e.code(), codes::kMissingParameter) << params.dump();
    EXPECT_TRUE(starts_with(e.what(), "Name:"));
  }
  Json params = {{"Name", "web"}};
  ParamReader p(params);
  EXPECT_EQ(p.required_string("Name"), "web");
}

TEST(ParamReader, RefusesAStringOfTheWrongType) {
  for (const Json& value : {Json(5), Json(true), Json::array({"a"}), Json::object(), Json(1.5)}) {
    Json params = {{"Name", value}};
    ParamReader p(params);
    AmidError e = thrown([&] { p.optional_string("Name"); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << value.dump();
    EXPECT_EQ(std::string(e.what()), "Name: must be a string");
  }
}

TEST(ParamReader, RefusesAStringLongerThanItsLimit) {
  Json params = {{"Name", std::string(11, 'x')}, {"Fits", std::string(10, 'x')}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_string("Fits", 10)->size(), 10u);
  AmidError e = thrown([&] { p.optional_string("Name", 10); });
  EXPECT_EQ(e.code(), codes::kInvalidParameterValue);
  EXPECT_TRUE(starts_with(e.what(), "Name: longer than 10"));
}

TEST(ParamReader, RefusesControlCharacters) {
  for (const std::string& s : {std::string("a\nb"), std::string("a\rb"), std::string("tab\t"),
                               std::string("esc\x1b[0m"), std::string("del\x7f"),
                               std::string("nul\0", 4)}) {
    Json params = {{"Description", s}};
    ParamReader p(params);
    AmidError e = thrown([&] { p.optional_string("Description"); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue);
    EXPECT_TRUE(starts_with(e.what(), "Description:"));
  }
}

TEST(ParamReader, AcceptsNonAsciiText) {
  Json params = {{"Description", "caf\xc3\xa9 \xe2\x9c\x93"}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_string("Description"), "caf\xc3\xa9 \xe2\x9c\x93");
}

TEST(ParamReader, FinishRefusesParametersNobodyAskedFor) {
  Json params = {{"ImageId", "ami-0123456789abcdef0"}, {"DryRun", true}};
  ParamReader p(params);
  p.optional_string("ImageId");
  AmidError e = thrown([&] { p.finish(); });
  EXPECT_EQ(e.code(), codes::kUnknownParameter);
  EXPECT_TRUE(has_substr(e.what(), "'DryRun'"));
}

TEST(ParamReader, FinishAcceptsAFieldThatWasAskedForEvenIfNull) {
  Json params = {{"Latest", nullptr}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_bool("Latest"), std::nullopt);
  EXPECT_NO_THROW(p.finish());
}

TEST(ParamReader, FinishIsCaseSensitive) {
  Json params = {{"imageid", "ami-0123456789abcdef0"}};
  ParamReader p(params);
  p.optional_string("ImageId");
  AmidError e = thrown([&] { p.finish(); });
  EXPECT_EQ(e.code(), codes::kUnknownParameter);
  EXPECT_TRUE(has_substr(e.what(), "'imageid'"));
}

TEST(ParamReader, ReadsStringLists) {
  Json params = {{"Ids", {"a", "b"}}, {"None", Json::array()}};
  ParamReader p(params);
  EXPECT_EQ(p.string_list("Ids"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p.string_list("None").empty());
  EXPECT_TRUE(p.string_list("Absent").empty());
  EXPECT_NO_THROW(p.finish());
}

TEST(ParamReader, RefusesBadStringLists) {
  for (const Json& value : {Json("a"), Json(1), Json::object(), Json::array({"a", 1}),
                            Json::array({Json::array({"a"})}), Json::array({nullptr}),
                            Json::array({"ok", "bad\n"}), Json::array({std::string(1025, 'x')})}) {
    Json params = {{"Ids", value}};
    ParamReader p(params);
    AmidError e = thrown([&] { p.string_list("Ids"); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << value.dump();
    EXPECT_TRUE(starts_with(e.what(), "Ids:")) << value.dump();
  }
}

TEST(ParamReader, EnforcesTheListLimit) {
  Json three = {{"Ids", {"a", "b", "c"}}};
  ParamReader ok(three);
  EXPECT_EQ(ok.string_list("Ids", 3).size(), 3u);
  ParamReader over(three);
  AmidError e = thrown([&] { over.string_list("Ids", 2); });
  EXPECT_EQ(e.code(), codes::kInvalidParameterValue);
  EXPECT_TRUE(starts_with(e.what(), "Ids: more than 2"));

  Json many = {{"Ids", Json::array()}};
  for (int i = 0; i < 1001; ++i) many["Ids"].push_back("x");
  ParamReader dflt(many);
  EXPECT_THROW(dflt.string_list("Ids"), AmidError) << "default limit is 1000 items";
}

TEST(ParamReader, ReadsIntegersWithinRange) {
  Json params = {{"Min", 1}, {"Max", 16}, {"Neg", -3}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_int("Min", 1, 16), 1);
  EXPECT_EQ(p.optional_int("Max", 1, 16), 16);
  EXPECT_EQ(p.optional_int("Neg", -5, 5), -3);
  EXPECT_EQ(p.optional_int("Absent", 1, 16), std::nullopt);
}

TEST(ParamReader, RefusesIntegersOutOfRange) {
  const Json values[] = {Json(0), Json(17), Json(-1),
                         Json(std::numeric_limits<std::int64_t>::min()),
                         Json(std::numeric_limits<std::int64_t>::max()),
                         // Would wrap to -1 or to INT64_MIN if read as signed.
                         Json(std::numeric_limits<std::uint64_t>::max()),
                         Json(std::uint64_t{1} << 63),
                         Json(std::uint64_t{1} << 32 | 1)};
  for (const Json& value : values) {
    Json params = {{"MaxCount", value}};
    ParamReader p(params);
    AmidError e = thrown([&] { p.optional_int("MaxCount", 1, 16); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << value.dump();
    EXPECT_EQ(std::string(e.what()), "MaxCount: must be between 1 and 16") << value.dump();
  }
}

TEST(ParamReader, RefusesIntegersOfTheWrongType) {
  for (const Json& value : {Json("3"), Json(3.0), Json(2.5), Json(true), Json::array({3})}) {
    Json params = {{"MaxCount", value}};
    ParamReader p(params);
    AmidError e = thrown([&] { p.optional_int("MaxCount", 1, 16); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << value.dump();
    EXPECT_EQ(std::string(e.what()), "MaxCount: must be an integer") << value.dump();
  }
}

TEST(ParamReader, HugeUnsignedIntegersParsedFromTheWireAreRefused) {
  Json params = Json::parse(R"({"MaxCount": 18446744073709551615, "MinCount": 9223372036854775808})");
  ParamReader p(params);
  EXPECT_THROW(p.optional_int("MaxCount", 1, 16), AmidError);
  EXPECT_THROW(p.optional_int("MinCount", 1, 16), AmidError);
}

TEST(ParamReader, ReadsBooleans) {
  Json params = {{"T", true}, {"F", false}};
  ParamReader p(params);
  EXPECT_EQ(p.optional_bool("T"), true);
  EXPECT_EQ(p.optional_bool("F"), false);
  EXPECT_EQ(p.optional_bool("Absent"), std::nullopt);
  for (const Json& value : {Json("true"), Json(1), Json(0), Json::object()}) {
    Json bad = {{"Latest", value}};
    ParamReader q(bad);
    AmidError e = thrown([&] { q.optional_bool("Latest"); });
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << value.dump();
    EXPECT_TRUE(starts_with(e.what(), "Latest:"));
  }
}

}  // namespace
}  // namespace amid
