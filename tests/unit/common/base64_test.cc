// common/base64.h: RFC 4648 base64 with padding, as EC2 uses for UserData and
// console output; anything that is not strictly that is refused.
#include "common/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>

namespace amid {
namespace {

// RFC 4648, section 10.
const std::pair<const char*, const char*> kRfcVectors[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesTheRfc4648Vectors) {
  for (const auto& [plain, encoded] : kRfcVectors) EXPECT_EQ(base64_encode(plain), encoded) << plain;
}

TEST(Base64, DecodesTheRfc4648Vectors) {
  for (const auto& [plain, encoded] : kRfcVectors) {
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain) << encoded;
  }
}

TEST(Base64, UsesPlusAndSlashForTheLastTwoDigits) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  auto decoded = base64_decode("+/+/");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, bytes);
}

TEST(Base64, RoundTripsEveryByteValueAndEveryLengthRemainder) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::mt19937 rng(42);
  for (size_t len = 0; len < 300; ++len) {
    std::string data;
    for (size_t i = 0; i < len; ++i) data += static_cast<char>(rng() & 0xff);
    auto back = base64_decode(base64_encode(data));
    ASSERT_TRUE(back.has_value()) << "length " << len;
    EXPECT_EQ(*back, data) << "length " << len;
  }
  auto back = base64_decode(base64_encode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Base64, EncodedLengthIsPaddedToFour) {
  for (size_t len = 0; len < 20; ++len) {
    EXPECT_EQ(base64_encode(std::string(len, 'x')).size(), (len + 2) / 3 * 4) << len;
  }
}

TEST(Base64, RefusesInvalidText) {
  const char* bad[] = {
      "Zg",         // padding missing
      "Zg=",        // length not a multiple of 4
      "Zm9vY",      // length not a multiple of 4
      "Z===",       // too much padding
      "====",       // padding only
      "=Zg=",       // padding first
      "Zm=v",       // data after padding
      "Zg==Zg==",   // padding in the middle
      "Zm9v=Zg=",   // padding at the start of a later group
      "Zm9-",       // URL-safe alphabet
      "Zm9_",       // URL-safe alphabet
      "Zm 9",       // space
      "Zm9v\n",     // newline
      "Zm9v\r\n",   // CRLF
      "Zm9\x80",    // non-ASCII byte
      "Zm.v",       // punctuation
  };
  for (const char* text : bad) EXPECT_FALSE(base64_decode(text).has_value()) << "'" << text << "'";
  EXPECT_FALSE(base64_decode(std::string("Zm9\0", 4)).has_value()) << "NUL byte";
}

}  // namespace
}  // namespace amid
