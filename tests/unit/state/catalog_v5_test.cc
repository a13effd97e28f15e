// state/catalog.h, schema 5: a schema-4 catalog is upgraded in place and keeps
// its rows; images carry launch permissions (sharing), which go with their image.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "daemon/state/catalog.h"
#include "tests/unit/old_catalogs.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::kSchemaFourCatalog;
using ::amid::testing::sqlite_exec;
using ::amid::testing::user_version;

int count_rows(const std::string& path, const std::string& table) {
  return ::amid::testing::sqlite_integer(path, "SELECT count(*) FROM " + table);
}

class CatalogV5Test : public ::amid::testing::TempDirTest {
 protected:
  std::string db_path() const { return tmp_.file("catalog.db"); }
};

TEST_F(CatalogV5Test, UpgradesASchemaFourCatalogAndKeepsItsRows) {
  sqlite_exec(db_path(), kSchemaFourCatalog);
  const std::string id = "ami-0000000000000000a";
  {
    Catalog c(db_path());
    auto img = c.find_image(id);
    ASSERT_TRUE(img.has_value());
    EXPECT_EQ(img->name, "old");
    EXPECT_TRUE(img->launch_permissions.empty()) << "old images stay private";
    EXPECT_EQ(img->tags.at("team"), "infra");
    EXPECT_EQ(c.snapshots_of_image(id).size(), 1u);
    EXPECT_EQ(c.count_instances_using(id), 1);
    c.edit_launch_permissions(id, {{"user", "000000002000"}, {"group", "all"}}, {});
  }
  EXPECT_EQ(user_version(db_path()), 16) << "upgraded through every schema since";
  Catalog again(db_path());
  auto img = again.find_image(id);
  ASSERT_TRUE(img.has_value());
  const LaunchPermissions expected = {{"group", "all"}, {"user", "000000002000"}};
  EXPECT_EQ(img->launch_permissions, expected) << "sorted, and kept across a reopen";
  EXPECT_EQ(again.list_images().at(0).launch_permissions, expected);
}

// Schema 6: snapshots from before stand alone; a thin snapshot keeps its base,
// which counts as a use of the base's image (and not of its own).
TEST_F(CatalogV5Test, SnapshotsKeepTheirBaseFromSchemaSix) {
  sqlite_exec(db_path(), kSchemaFourCatalog);
  const std::string base_image = "ami-0000000000000000a";
  Catalog c(db_path());
  auto old = c.find_snapshot("snap-0000000000000000a");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->base_snapshot_id, "") << "older snapshots are standalone";
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 0);

  ImageRecord child;
  child.id = "ami-0000000000000000b";
  child.name = "child";
  child.owner = "000000001000";
  child.region = "local-1";
  child.creation_date = "2026-01-02T03:04:05.006Z";
  c.insert_image(child);
  SnapshotRecord thin;
  thin.id = "snap-0000000000000000b";
  thin.owner = child.owner;
  thin.region = child.region;
  thin.file = "/s/images/b/disk.qcow2";
  thin.image_id = child.id;
  thin.base_snapshot_id = old->id;
  c.complete_image(child.id, {}, {thin});
  EXPECT_EQ(c.find_snapshot(thin.id)->base_snapshot_id, old->id);
  EXPECT_EQ(c.snapshots_of_image(child.id).at(0).base_snapshot_id, old->id);
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 1);
  EXPECT_EQ(c.count_snapshots_based_on_image(child.id), 0);
  c.delete_image_and_snapshots(child.id);
  EXPECT_EQ(c.count_snapshots_based_on_image(base_image), 0);
}

TEST_F(CatalogV5Test, EditsAreOneTransactionAndIdempotent) {
  sqlite_exec(db_path(), kSchemaFourCatalog);
  const std::string id = "ami-0000000000000000a";
  Catalog c(db_path());
  c.edit_launch_permissions(id, {{"user", "000000002000"}, {"user", "000000003000"}}, {});
  c.edit_launch_permissions(id, {{"user", "000000002000"}}, {{"user", "000000003000"}, {"group", "all"}});
  EXPECT_EQ(c.find_image(id)->launch_permissions, (LaunchPermissions{{"user", "000000002000"}}));
  // A kind that is neither user nor group breaks the CHECK: nothing of the edit is written.
  EXPECT_THROW(c.edit_launch_permissions(id, {{"user", "000000004000"}, {"team", "x"}}, {{"user", "000000002000"}}),
               AmidError);
  EXPECT_EQ(c.find_image(id)->launch_permissions, (LaunchPermissions{{"user", "000000002000"}}));
  c.reset_launch_permissions(id);
  EXPECT_TRUE(c.find_image(id)->launch_permissions.empty());
}

TEST_F(CatalogV5Test, PermissionsAreDeletedWithTheirImage) {
  sqlite_exec(db_path(), kSchemaFourCatalog);
  const std::string id = "ami-0000000000000000a";
  {
    Catalog c(db_path());
    c.edit_launch_permissions(id, {{"user", "000000002000"}}, {});
    c.delete_image_and_snapshots(id);
    EXPECT_FALSE(c.find_image(id).has_value());
  }
  EXPECT_EQ(count_rows(db_path(), "launch_permissions"), 0);
  {
    Catalog c(db_path());
    ImageRecord r;
    r.id = "ami-0000000000000000b";
    r.name = "new";
    r.owner = "000000001000";
    r.region = "local-1";
    r.creation_date = "2026-01-02T03:04:05.006Z";
    c.insert_image(r);
    c.edit_launch_permissions(r.id, {{"group", "all"}}, {});
    c.delete_image(r.id);
  }
  EXPECT_EQ(count_rows(db_path(), "launch_permissions"), 0);
}

}  // namespace
}  // namespace amid
