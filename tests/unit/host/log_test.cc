// host/log.h: the journal fields a log line carries, so that
// `journalctl AMID_INSTANCE_ID=i-...` finds every line that names the instance
// and no line that merely resembles an id. (tests/systemd_test.sh reads them
// back from a real journald.)
#include "daemon/host/log.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace amid {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST(LogFields, InstanceAndImageIdsBecomeFieldsInOrder) {
  EXPECT_EQ(log_fields("instance i-0123456789abcdef0 launched from ami-fedcba98765432100 (t3.nano)"),
            (Fields{{"AMID_INSTANCE_ID", "i-0123456789abcdef0"}, {"AMID_IMAGE_ID", "ami-fedcba98765432100"}}));
}

TEST(LogFields, EveryIdOnceEvenWhenNamedTwice) {
  EXPECT_EQ(log_fields("i-0123456789abcdef0: copy of i-0123456789abcdef0, then i-00000000000000001"),
            (Fields{{"AMID_INSTANCE_ID", "i-0123456789abcdef0"}, {"AMID_INSTANCE_ID", "i-00000000000000001"}}));
}

TEST(LogFields, IdsAtTheEdgesAndInPunctuation) {
  EXPECT_EQ(log_fields("ami-0123456789abcdef0"), (Fields{{"AMID_IMAGE_ID", "ami-0123456789abcdef0"}}));
  EXPECT_EQ(log_fields("(i-0123456789abcdef0)."), (Fields{{"AMID_INSTANCE_ID", "i-0123456789abcdef0"}}));
  EXPECT_EQ(log_fields("'ami-0123456789abcdef0',"), (Fields{{"AMID_IMAGE_ID", "ami-0123456789abcdef0"}}));
}

TEST(LogFields, LookAlikesAreNotIds) {
  EXPECT_TRUE(log_fields("").empty());
  EXPECT_TRUE(log_fields("no ids here, just amid-local-1 and vol-0123456789abcdef0").empty());
  EXPECT_TRUE(log_fields("i-0123456789abcdef").empty()) << "16 digits";
  EXPECT_TRUE(log_fields("i-0123456789abcdef01").empty()) << "18 digits";
  EXPECT_TRUE(log_fields("i-0123456789ABCDEF0").empty()) << "upper case";
  EXPECT_TRUE(log_fields("xi-0123456789abcdef0 ami-0123456789abcdef0x").empty()) << "inside a word";
  EXPECT_TRUE(log_fields("tap-i-0123456789abcdef0").empty()) << "part of a longer name";
}

}  // namespace
}  // namespace amid
