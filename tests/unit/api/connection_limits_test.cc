// api/connection_limits.h: who gets a connection when amid is busy.
#include "daemon/api/connection_limits.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/ids.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

Caller caller(uid_t uid, bool admin = false) {
  Caller c;
  c.uid = uid;
  c.gid = uid;
  c.admin = admin || uid == 0;
  c.account = account_id(uid);
  return c;
}

ConnectionPolicy policy(int total, int per_user, int reserved) {
  ConnectionPolicy p;
  p.max_connections = total;
  p.max_per_user = per_user;
  p.admin_reserved = reserved;
  return p;
}

TEST(ConnectionLimits, OneUserNeverTakesMoreThanItsShare) {
  ConnectionLimits limits(policy(64, 4, 8));
  std::vector<ConnectionLimits::Slot> held;
  std::string why;
  for (int i = 0; i < 4; ++i) {
    auto slot = limits.admit(caller(1000), why);
    ASSERT_TRUE(slot) << why;
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(limits.admit(caller(1000), why));
  EXPECT_TRUE(has_substr(why, "uid 1000")) << why;
  EXPECT_TRUE(has_substr(why, "daemon.max_connections_per_user")) << why;
  EXPECT_TRUE(has_substr(why, "retry")) << why;
  EXPECT_EQ(limits.open_connections_of(1000), 4);
  // Everyone else is served at once.
  EXPECT_TRUE(limits.admit(caller(2000), why)) << why;
  EXPECT_TRUE(limits.admit(caller(0), why)) << why;
}

TEST(ConnectionLimits, AClosedConnectionGivesItsPlaceBack) {
  ConnectionLimits limits(policy(64, 2, 8));
  std::string why;
  auto a = limits.admit(caller(1000), why);
  auto b = limits.admit(caller(1000), why);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(limits.admit(caller(1000), why));
  a.reset();
  EXPECT_EQ(limits.open_connections(), 1);
  auto c = limits.admit(caller(1000), why);
  EXPECT_TRUE(c) << why;
  // A moved slot is given back once, by its last owner.
  ConnectionLimits::Slot moved = std::move(*c);
  c.reset();
  EXPECT_EQ(limits.open_connections_of(1000), 2);
}

TEST(ConnectionLimits, AdministratorsKeepTheirReservedShare) {
  ConnectionLimits limits(policy(10, 3, 4));
  std::vector<ConnectionLimits::Slot> held;
  std::string why;
  // Ordinary users take 6, all that is not reserved.
  for (uid_t uid : {1000, 1000, 1000, 2000, 2000, 2000}) {
    auto slot = limits.admit(caller(uid), why);
    ASSERT_TRUE(slot) << why;
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(limits.admit(caller(3000), why)) << "a third user finds the shared part full";
  EXPECT_TRUE(has_substr(why, "kept for administrators")) << why;
  // An admin of the admin group and root get the reserved 4.
  for (int i = 0; i < 2; ++i) {
    auto slot = limits.admit(caller(4000, true), why);
    ASSERT_TRUE(slot) << why;
    held.push_back(std::move(*slot));
  }
  for (int i = 0; i < 2; ++i) {
    auto slot = limits.admit(caller(0), why);
    ASSERT_TRUE(slot) << why;
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(limits.admit(caller(0), why)) << "the total holds for root too";
  EXPECT_TRUE(has_substr(why, "maximum of 10")) << why;
}

TEST(ConnectionLimits, RootIsHeldToTheTotalOnly) {
  ConnectionLimits limits(policy(20, 2, 4));
  std::vector<ConnectionLimits::Slot> held;
  std::string why;
  for (int i = 0; i < 20; ++i) {
    auto slot = limits.admit(caller(0), why);
    ASSERT_TRUE(slot) << i << ": " << why;
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(limits.admit(caller(0), why));
}

TEST(ConnectionLimits, AnAdministratorOtherThanRootHasAShareLikeAnyone) {
  ConnectionLimits limits(policy(20, 2, 4));
  std::string why;
  auto a = limits.admit(caller(4000, true), why);
  auto b = limits.admit(caller(4000, true), why);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(limits.admit(caller(4000, true), why)) << "one admin cannot lock root out either";
}

TEST(ConnectionLimits, RefusalsAreLoggedOnceInAWhilePerUser) {
  ConnectionLimits limits(policy(4, 1, 1));
  int unlogged = -1;
  EXPECT_TRUE(limits.should_log_refusal(1000, unlogged));
  EXPECT_EQ(unlogged, 0);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limits.should_log_refusal(1000, unlogged));
  EXPECT_TRUE(limits.should_log_refusal(2000, unlogged)) << "another user's first refusal is logged";
}

TEST(ConnectionLimits, SlotsOutliveTheLimitsThatGaveThem) {
  std::optional<ConnectionLimits::Slot> slot;
  {
    ConnectionLimits limits(policy(4, 2, 1));
    std::string why;
    slot = limits.admit(caller(1000), why);
    ASSERT_TRUE(slot);
  }
  slot.reset();  // no use after free (ASan)
}

}  // namespace
}  // namespace amid
