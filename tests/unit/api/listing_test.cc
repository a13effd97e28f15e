// api/listing.h: MaxResults, NextToken and Filters as the Describe actions
// read them; pages that neither repeat nor skip a row.
#include "daemon/api/listing.h"

#include <gtest/gtest.h>

#include <set>

#include "common/base64.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

const ListingSpec kSpec{"DescribeImages", &kImageFilters, 5, 1000, {"/ImageId"}};

std::string id(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ami-%017x", n);
  return buf;
}

// Rows in no particular order: ids 0..count-1, shuffled by a fixed stride.
std::vector<Json> rows(int count) {
  std::vector<Json> out;
  for (int i = 0; i < count; ++i) {
    int n = (i * 37) % count;
    out.push_back({{"ImageId", id(n)}, {"State", n % 3 == 0 ? "pending" : "available"}});
  }
  return out;
}

// Runs one request's Listing over `all`; returns the page and its NextToken.
std::pair<std::vector<Json>, std::string> page(const Json& params, std::vector<Json> all,
                                               const ListingSpec& spec = kSpec) {
  ParamReader p(params);
  Listing listing(spec, p);
  p.finish();
  std::vector<Json> kept;
  for (auto& r : all) {
    if (listing.wants(r)) kept.push_back(r);
  }
  std::string next = listing.take_page(kept);
  return {kept, next};
}

AmidError refusal(const Json& params, bool ids_given = false) {
  try {
    ParamReader p(params);
    Listing listing(kSpec, p, ids_given, "ImageIds");
  } catch (const AmidError& e) {
    return e;
  }
  ADD_FAILURE() << params.dump() << " was accepted";
  return AmidError("", "");
}

TEST(NextToken, RoundTrips) {
  std::string t = encode_next_token("DescribeTags", {"vol-0123456789abcdef0", "Name"});
  auto r = decode_next_token(t, "DescribeTags", 2);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value(), (std::vector<std::string>{"vol-0123456789abcdef0", "Name"}));
  EXPECT_EQ(t.find_first_of(" \n\""), std::string::npos) << "opaque and easy to pass on a command line";
}

TEST(NextToken, RefusesTokensItDidNotIssue) {
  const std::vector<std::string> bad = {
      "",
      "garbage!",
      "0",
      base64_encode("not json"),
      base64_encode("[]"),
      base64_encode(R"({"Action":"DescribeImages"})"),
      base64_encode(R"({"Action":"DescribeImages","After":"ami-0"})"),
      base64_encode(R"({"Action":"DescribeImages","After":[1]})"),
      base64_encode(R"({"Action":"DescribeImages","After":["a","b"]})"),
      base64_encode(R"({"Action":"DescribeImages","After":["a"],"Extra":1})"),
      encode_next_token("DescribeImages", {"ami-1"}).substr(1),
  };
  for (const auto& t : bad) {
    auto r = decode_next_token(t, "DescribeImages", 1);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.problem().code, codes::kInvalidNextToken) << t;
    EXPECT_TRUE(has_substr(r.problem().message, "NextToken"));
  }
}

TEST(NextToken, ATokenOfAnotherActionIsRefused) {
  auto r = decode_next_token(encode_next_token("DescribeVolumes", {"vol-0123456789abcdef0"}), "DescribeImages", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, codes::kInvalidNextToken);
  EXPECT_TRUE(has_substr(r.problem().message, "DescribeVolumes")) << r.problem().message;

  auto e = refusal({{"NextToken", encode_next_token("DescribeInstances", {"i-0123456789abcdef0"})}});
  EXPECT_EQ(e.code(), codes::kInvalidNextToken);
}

TEST(Listing, MaxResultsMustBeInRange) {
  for (Json v : {Json(4), Json(0), Json(-1), Json(1001), Json("10"), Json(5.5)}) {
    auto e = refusal({{"MaxResults", v}});
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue) << v.dump();
    EXPECT_TRUE(has_substr(e.what(), "MaxResults")) << v.dump();
  }
  for (int v : {5, 1000}) {
    const Json params = {{"MaxResults", v}};
    ParamReader p(params);
    EXPECT_NO_THROW(Listing(kSpec, p)) << v;
  }
}

TEST(Listing, MaxResultsOrNextTokenWithIdsIsAnInvalidCombination) {
  auto e = refusal({{"MaxResults", 5}}, true);
  EXPECT_EQ(e.code(), codes::kInvalidParameterCombination);
  EXPECT_TRUE(has_substr(e.what(), "ImageIds"));
  e = refusal({{"NextToken", encode_next_token("DescribeImages", {id(1)})}}, true);
  EXPECT_EQ(e.code(), codes::kInvalidParameterCombination);
  const Json params = {{"Filters", Json::array()}};
  ParamReader filters_and_ids(params);
  EXPECT_NO_THROW(Listing(kSpec, filters_and_ids, true, "ImageIds")) << "filters go with ids";
}

TEST(Listing, AnUnknownFilterNameIsRefused) {
  auto e = refusal({{"Filters", {{{"Name", "foo"}, {"Values", {"x"}}}}}});
  EXPECT_EQ(e.code(), codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(e.what(), "Filters: unknown filter name 'foo'"));
}

TEST(Listing, WithoutPagingEveryRowKeepsItsOrder) {
  auto all = rows(12);
  auto [kept, next] = page(Json::object(), all);
  EXPECT_EQ(kept, all);
  EXPECT_EQ(next, "");
}

TEST(Listing, PagesCoverEveryRowOnceInIdOrder) {
  for (int count : {0, 1, 5, 6, 23, 25}) {
    for (int max : {5, 7, 25, 1000}) {
      std::vector<std::string> seen;
      Json params = {{"MaxResults", max}};
      for (int guard = 0; guard < 100; ++guard) {
        auto [kept, next] = page(params, rows(count));
        EXPECT_LE(kept.size(), static_cast<size_t>(max));
        for (const auto& r : kept) seen.push_back(r["ImageId"]);
        if (next.empty()) break;
        EXPECT_EQ(kept.size(), static_cast<size_t>(max)) << "only a full page has a next one";
        params["NextToken"] = next;
      }
      std::vector<std::string> want;
      for (int i = 0; i < count; ++i) want.push_back(id(i));
      EXPECT_EQ(seen, want) << count << " rows, pages of " << max;
    }
  }
}

TEST(Listing, PagesFilterFirst) {
  std::vector<std::string> seen;
  Json params = {{"MaxResults", 5}, {"Filters", {{{"Name", "state"}, {"Values", {"pending"}}}}}};
  for (;;) {
    auto [kept, next] = page(params, rows(40));
    for (const auto& r : kept) {
      EXPECT_EQ(r["State"], "pending");
      seen.push_back(r["ImageId"]);
    }
    if (next.empty()) break;
    params["NextToken"] = next;
  }
  std::vector<std::string> want;
  for (int i = 0; i < 40; i += 3) want.push_back(id(i));
  EXPECT_EQ(seen, want);
}

TEST(Listing, RowsAddedOrRemovedBetweenPagesShiftNothing) {
  auto all = rows(20);
  auto [first, next] = page({{"MaxResults", 5}}, all);
  ASSERT_EQ(first.back()["ImageId"], id(4));
  // Before the next page: a row of the first page goes, one is added before the
  // cut and one just after it.
  std::erase_if(all, [](const Json& r) { return r["ImageId"] == id(2); });
  all.push_back({{"ImageId", "ami-0"}, {"State", "available"}});
  all.push_back({{"ImageId", id(4) + "5"}, {"State", "available"}});
  auto [second, again] = page({{"MaxResults", 5}, {"NextToken", next}}, all);
  ASSERT_EQ(second.size(), 5u);
  EXPECT_EQ(second[0]["ImageId"], id(4) + "5");
  EXPECT_EQ(second[1]["ImageId"], id(5)) << "the rows after the cut, as they were";
  EXPECT_EQ(second[4]["ImageId"], id(8));
}

TEST(Listing, NextTokenWithoutMaxResultsReturnsTheRest) {
  auto [kept, next] = page({{"NextToken", encode_next_token("DescribeImages", {id(9)})}}, rows(12));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["ImageId"], id(10));
  EXPECT_EQ(kept[1]["ImageId"], id(11));
  EXPECT_EQ(next, "");
}

TEST(Listing, ACompositeKeyOrdersByEachPart) {
  const ListingSpec spec{"DescribeTags", &kTagFilters, 5, 1000, {"/ResourceId", "/Key"}};
  std::vector<Json> all;
  for (const char* res : {"vol-b", "ami-a", "i-c"}) {
    for (const char* key : {"z", "a", "m", "b"}) all.push_back({{"ResourceId", res}, {"Key", key}});
  }
  std::vector<std::pair<std::string, std::string>> seen;
  Json params = {{"MaxResults", 5}};
  for (;;) {
    auto [kept, next] = page(params, all, spec);
    for (const auto& r : kept) seen.emplace_back(r["ResourceId"], r["Key"]);
    if (next.empty()) break;
    params["NextToken"] = next;
  }
  ASSERT_EQ(seen.size(), 12u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set(seen.begin(), seen.end()).size(), 12u);
}

}  // namespace
}  // namespace amid
