// state/catalog.h, schema 4: a schema-3 catalog is upgraded in place and keeps
// its rows; images carry deregistration protection and deprecation; ClientTokens
// are written with what their request made, all or nothing, and outlive a reopen.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "daemon/state/catalog.h"
#include "tests/unit/old_catalogs.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::kSchemaThreeCatalog;
using ::amid::testing::sqlite_exec;
using ::amid::testing::user_version;

InstanceRecord v4_instance(const std::string& id, const std::string& reservation) {
  InstanceRecord r;
  r.id = id;
  r.reservation_id = reservation;
  r.image_id = "ami-0000000000000000a";
  r.owner = "000000001000";
  r.region = "local-1";
  r.instance_type = "t3.micro";
  r.launch_time = "2026-01-02T03:04:05.006Z";
  r.dir = "/s/instances/" + id;
  return r;
}

ImageRecord v4_image(const std::string& id, const std::string& name) {
  ImageRecord r;
  r.id = id;
  r.name = name;
  r.owner = "000000001000";
  r.region = "local-1";
  r.creation_date = "2026-01-02T03:04:05.006Z";
  return r;
}

ClientTokenRecord token(const std::string& value, const std::string& resource,
                        const std::string& action = "RunInstances") {
  return ClientTokenRecord{"000000001000", action, value, R"({"ImageId":"ami-0000000000000000a"})", resource,
                           R"({"InstanceIds":["i-0000000000000000b"]})", "2026-01-02T03:04:05.006Z"};
}

class CatalogV4Test : public ::amid::testing::TempDirTest {
 protected:
  std::string db_path() const { return tmp_.file("catalog.db"); }
};

TEST_F(CatalogV4Test, UpgradesASchemaThreeCatalogAndKeepsItsRows) {
  sqlite_exec(db_path(), kSchemaThreeCatalog);
  {
    Catalog c(db_path());
    auto img = c.find_image("ami-0000000000000000a");
    ASSERT_TRUE(img.has_value());
    EXPECT_EQ(img->name, "old");
    EXPECT_EQ(img->deregistration_protection, "disabled") << "old images are unprotected";
    EXPECT_EQ(img->protected_until, "");
    EXPECT_EQ(img->deprecation_time, "");
    EXPECT_EQ(img->tags.at("team"), "infra");
    EXPECT_EQ(c.snapshots_of_image("ami-0000000000000000a").size(), 1u);
    EXPECT_EQ(c.count_instances_using("ami-0000000000000000a"), 1);

    // The new columns and the token table work on the upgraded file.
    c.set_image_protection("ami-0000000000000000a", "enabled-with-cooldown", "");
    c.set_image_deprecation("ami-0000000000000000a", "2030-01-01T00:00:00.000Z");
    EXPECT_TRUE(c.insert_instances_with_token({v4_instance("i-0000000000000000b", "r-0000000000000000b")},
                                              token("t", "r-0000000000000000b")));
  }
  EXPECT_EQ(user_version(db_path()), 16) << "upgraded on to the current schema";
  // Opening it again neither fails nor migrates twice.
  Catalog again(db_path());
  auto img = again.find_image("ami-0000000000000000a");
  ASSERT_TRUE(img.has_value());
  EXPECT_EQ(img->deregistration_protection, "enabled-with-cooldown");
  EXPECT_EQ(img->deprecation_time, "2030-01-01T00:00:00.000Z");
  EXPECT_TRUE(again.find_client_token("000000001000", "RunInstances", "t").has_value());
  EXPECT_EQ(again.list_instances().size(), 2u);
}

TEST_F(CatalogV4Test, ProtectionAndDeprecationRoundTrip) {
  Catalog c(db_path());
  ImageRecord r = v4_image("ami-0000000000000000a", "alpha");
  r.deregistration_protection = "disabled";
  r.protected_until = "2026-05-06T07:08:09.000Z";
  r.deprecation_time = "2027-01-01T00:00:00.000Z";
  c.insert_image(r);
  auto found = c.find_image(r.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->protected_until, r.protected_until);
  EXPECT_EQ(found->deprecation_time, r.deprecation_time);
  c.set_image_protection(r.id, "enabled-without-cooldown", "");
  c.set_image_deprecation(r.id, "");
  auto listed = c.list_images();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].deregistration_protection, "enabled-without-cooldown");
  EXPECT_EQ(listed[0].protected_until, "");
  EXPECT_EQ(listed[0].deprecation_time, "");
}

TEST_F(CatalogV4Test, ATokenIsWrittenWithItsInstancesOrNotAtAll) {
  Catalog c(db_path());
  ASSERT_TRUE(c.insert_instances_with_token({v4_instance("i-0000000000000000a", "r-0000000000000000a")},
                                            token("t1", "r-0000000000000000a")));
  // The same token again: nothing of the second batch is written.
  EXPECT_FALSE(c.insert_instances_with_token({v4_instance("i-0000000000000000b", "r-0000000000000000b")},
                                             token("t1", "r-0000000000000000b")));
  EXPECT_FALSE(c.find_instance("i-0000000000000000b").has_value());
  EXPECT_EQ(c.find_client_token("000000001000", "RunInstances", "t1")->resource_id, "r-0000000000000000a");
  // A batch that fails writes no token.
  EXPECT_THROW(c.insert_instances_with_token({v4_instance("i-0000000000000000c", "r-0000000000000000c"),
                                              v4_instance("i-0000000000000000a", "r-0000000000000000c")},
                                             token("t2", "r-0000000000000000c")),
               AmidError);
  EXPECT_FALSE(c.find_client_token("000000001000", "RunInstances", "t2").has_value());
  EXPECT_FALSE(c.find_instance("i-0000000000000000c").has_value());
  // Tokens are per owner and per action.
  EXPECT_FALSE(c.find_client_token("000000002000", "RunInstances", "t1").has_value());
  EXPECT_FALSE(c.find_client_token("000000001000", "CreateImage", "t1").has_value());
}

TEST_F(CatalogV4Test, UndoingTheLastInstanceOfALaunchDropsItsToken) {
  Catalog c(db_path());
  ASSERT_TRUE(c.insert_instances_with_token({v4_instance("i-0000000000000000a", "r-0000000000000000a"),
                                             v4_instance("i-0000000000000000b", "r-0000000000000000a")},
                                            token("t", "r-0000000000000000a")));
  c.undo_launch_row("i-0000000000000000a");
  EXPECT_TRUE(c.find_client_token("000000001000", "RunInstances", "t").has_value()) << "one instance is left";
  c.undo_launch_row("i-0000000000000000b");
  EXPECT_FALSE(c.find_client_token("000000001000", "RunInstances", "t").has_value());
  EXPECT_TRUE(c.list_instances().empty());
}

TEST_F(CatalogV4Test, ImageInsertChecksNameAndTokenTogether) {
  Catalog c(db_path());
  auto t = token("cap", "ami-0000000000000000a", "CreateImage");
  EXPECT_EQ(c.insert_image_checked(v4_image("ami-0000000000000000a", "web"), &t), ImageInsert::kInserted);
  EXPECT_TRUE(c.find_client_token("000000001000", "CreateImage", "cap").has_value());
  auto t2 = token("cap", "ami-0000000000000000b", "CreateImage");
  EXPECT_EQ(c.insert_image_checked(v4_image("ami-0000000000000000b", "other"), &t2), ImageInsert::kTokenTaken);
  auto t3 = token("cap-2", "ami-0000000000000000c", "CreateImage");
  EXPECT_EQ(c.insert_image_checked(v4_image("ami-0000000000000000c", "web"), &t3), ImageInsert::kNameTaken);
  EXPECT_FALSE(c.find_client_token("000000001000", "CreateImage", "cap-2").has_value()) << "nothing written";
  EXPECT_EQ(c.list_images().size(), 1u);
}

TEST_F(CatalogV4Test, DeletingAnImageTakesItsSnapshotsInOneGo) {
  Catalog c(db_path());
  c.insert_image(v4_image("ami-0000000000000000a", "web"));
  SnapshotRecord s;
  s.id = "snap-0000000000000000a";
  s.image_id = "ami-0000000000000000a";
  s.file = "/s/images/a/disk.qcow2";
  c.insert_snapshot(s);
  c.set_tags(s.id, {{"k", "v"}});
  c.delete_image_and_snapshots("ami-0000000000000000a");
  EXPECT_FALSE(c.find_image("ami-0000000000000000a").has_value());
  EXPECT_FALSE(c.find_snapshot(s.id).has_value());
  EXPECT_TRUE(c.tags_of(s.id).empty());
}

}  // namespace
}  // namespace amid
