#include "common/ipv4.h"

#include <gtest/gtest.h>

namespace amid {
namespace {

TEST(Ipv4Cidr, ParsesWhatEc2AcceptsAndNothingElse) {
  auto c = Ipv4Cidr::parse("172.31.0.1/20");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->str(), "172.31.0.1/20");
  EXPECT_EQ(ipv4_str(c->network()), "172.31.0.0");
  EXPECT_TRUE(c->contains(0xAC1F0FFE));   // 172.31.15.254
  EXPECT_FALSE(c->contains(0xAC1F1001));  // 172.31.16.1
  EXPECT_EQ(Ipv4Cidr::parse("0.0.0.0/0")->mask(), 0u);
  EXPECT_TRUE(Ipv4Cidr::parse("0.0.0.0/0")->contains(0x7F000001));
  for (const char* bad : {"", "1.2.3.4", "1.2.3/8", "1.2.3.4/33", "256.1.1.1/8", "1.2.3.4/", "01.2.3.4/8",
                          "1.2.3.4/8 ", " 1.2.3.4/8", "1.2.3.4/-1", "a.b.c.d/8", "1.2.3.4.5/8", "1..3.4/8"}) {
    EXPECT_FALSE(Ipv4Cidr::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace amid
