// host/store.h: where amid keeps its files, and the folder modes that let
// QEMU (its own user) reach disks without letting others list them.
#include "daemon/host/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

unsigned mode_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Store, PathsLiveUnderTheStateDir) {
  Store s("/var/lib/amid");
  EXPECT_EQ(s.catalog_path(), "/var/lib/amid/catalog.db");
  EXPECT_EQ(s.image_disk("ami-0123456789abcdef0"), "/var/lib/amid/images/ami-0123456789abcdef0/disk.qcow2");
  EXPECT_EQ(s.instance_dir("i-0123456789abcdef0"), "/var/lib/amid/instances/i-0123456789abcdef0");
  EXPECT_EQ(s.libvirt_root(), "/var/lib/amid/libvirt");
}

TEST(Store, PrepareCreatesTraversableButUnlistableFolders) {
  ::amid::testing::TempDir tmp;
  Store s(tmp.file("state"));
  s.prepare();
  EXPECT_EQ(mode_of(s.root()), 0711u);
  EXPECT_EQ(mode_of(s.images_dir()), 0711u);
  EXPECT_EQ(mode_of(s.instances_dir()), 0711u);
  EXPECT_EQ(mode_of(s.tmp_dir()), 0700u);
  EXPECT_NO_THROW(s.prepare()) << "preparing twice is harmless";
}

}  // namespace
}  // namespace amid
