// common/ids.h: ids look like EC2's, never collide in practice, and the check
// that guards every id taken from a request lets nothing else through.
#include "common/ids.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

namespace amid {
namespace {

TEST(NewId, IsThePrefixAndSeventeenLowerCaseHexDigits) {
  const std::regex shape("^ami-[0-9a-f]{17}$");
  for (int i = 0; i < 100; ++i) {
    std::string id = new_id("ami");
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
  }
  EXPECT_TRUE(std::regex_match(new_id("i"), std::regex("^i-[0-9a-f]{17}$")));
  EXPECT_TRUE(std::regex_match(new_id("r"), std::regex("^r-[0-9a-f]{17}$")));
}

TEST(NewId, PassesItsOwnValidityCheck) {
  for (const char* prefix : {"ami", "i", "r", "vol", "snap"}) {
    std::string id = new_id(prefix);
    EXPECT_TRUE(is_valid_id(id, prefix)) << id;
  }
}

TEST(NewId, TenThousandIdsAreAllDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(new_id("ami"));
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(NewId, EveryDigitVaries) {
  // A digit stuck at one value would mean fewer random bits than the format promises.
  std::vector<std::set<char>> values(17);
  for (int i = 0; i < 2000; ++i) {
    std::string id = new_id("i");
    for (size_t d = 0; d < 17; ++d) values[d].insert(id[2 + d]);
  }
  for (size_t d = 0; d < 17; ++d) EXPECT_GT(values[d].size(), 1u) << "digit " << d;
}

TEST(IsValidId, AcceptsWellFormedIds) {
  EXPECT_TRUE(is_valid_id("ami-0123456789abcdef0", "ami"));
  EXPECT_TRUE(is_valid_id("i-00000000000000000", "i"));
  EXPECT_TRUE(is_valid_id("i-fffffffffffffffff", "i"));
}

TEST(IsValidId, RefusesEverythingElse) {
  const char* bad[] = {
      "",
      "ami-",
      "ami-0123456789ABCDEF0",   // upper case
      "ami-0123456789abcDef0",   // one upper-case digit
      "ami-12345678",            // the old 8-digit form
      "ami-0123456789abcdef",    // 16 digits
      "ami-0123456789abcdef01",  // 18 digits
      "ami-0123456789abcdefg",   // not hex
      "ami_0123456789abcdef0",   // wrong separator
      "AMI-0123456789abcdef0",   // upper-case prefix
      "i-0123456789abcdef0",     // another resource's prefix
      "xami-0123456789abcdef",   // prefix not at the start
      "ami-../../../../../..",   // a path, of the right length
      "ami-0123456789abcde/0",   // a slash
      "ami-0123456789abcdef ",   // trailing space
      " ami-0123456789abcdef",   // leading space
  };
  for (const char* id : bad) EXPECT_FALSE(is_valid_id(id, "ami")) << "'" << id << "'";
  EXPECT_FALSE(is_valid_id(std::string("ami-0123456789abcdef\0", 21), "ami")) << "embedded NUL";
  EXPECT_FALSE(is_valid_id("ami-0123456789abcdef0", "am")) << "prefix must be followed by '-'";
  EXPECT_FALSE(is_valid_id("ami-0123456789abcdef0", "i"));
}

TEST(AccountId, IsTwelveDecimalDigits) {
  EXPECT_EQ(account_id(0), "000000000000");
  EXPECT_EQ(account_id(1000), "000000001000");
  EXPECT_EQ(account_id(4294967295u), "004294967295");  // the largest uid_t
  const std::regex shape("^[0-9]{12}$");
  for (unsigned uid : {1u, 65534u, 123456789u}) {
    std::string a = account_id(uid);
    EXPECT_TRUE(std::regex_match(a, shape)) << a;
    EXPECT_EQ(std::stoul(a), uid);
  }
}

TEST(NewUuid, IsALowerCaseVersion4Uuid) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string u = new_uuid();
    EXPECT_TRUE(std::regex_match(u, shape)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace amid
