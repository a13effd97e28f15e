// common/ids.h: ids look like EC2's, never collide in practice, and the check
// that guards every id taken from a request lets nothing else through.
#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace amid {
namespace {

// True when `s` has the shape of `pattern`, character by character: 'x' is a
// lower-case hex digit, '9' a decimal digit, 'V' one of 8, 9, a, b (a UUID's
// variant), anything else itself. (Not std::regex: g++ 12 warns
// -Wmaybe-uninitialized inside <regex> under -fsanitize=address,undefined.)
bool has_shape(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool digit = c >= '0' && c <= '9';
    bool ok = false;
    switch (pattern[i]) {
      case 'x': ok = digit || (c >= 'a' && c <= 'f'); break;
      case '9': ok = digit; break;
      case 'V': ok = c == '8' || c == '9' || c == 'a' || c == 'b'; break;
      default: ok = c == pattern[i]; break;
    }
    if (!ok) return false;
  }
  return true;
}

const std::string kHex17(17, 'x');

TEST(NewId, IsThePrefixAndSeventeenLowerCaseHexDigits) {
  for (int i = 0; i < 100; ++i) {
    std::string id = new_id("ami");
    EXPECT_TRUE(has_shape(id, "ami-" + kHex17)) << id;
  }
  EXPECT_TRUE(has_shape(new_id("i"), "i-" + kHex17));
  EXPECT_TRUE(has_shape(new_id("r"), "r-" + kHex17));
  EXPECT_FALSE(has_shape("ami-0123456789ABCDEF0", "ami-" + kHex17));
  EXPECT_FALSE(has_shape("ami-0123456789abcdef", "ami-" + kHex17));
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
  for (unsigned uid : {1u, 65534u, 123456789u}) {
    std::string a = account_id(uid);
    EXPECT_TRUE(has_shape(a, "999999999999")) << a;
    EXPECT_EQ(std::stoul(a), uid);
  }
}

TEST(NewUuid, IsALowerCaseVersion4Uuid) {
  const std::string shape = "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx";
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string u = new_uuid();
    EXPECT_TRUE(has_shape(u, shape)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace amid
