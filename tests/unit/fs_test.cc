// daemon/fs.h: atomic writes leave either the old or the new file (never a
// temp file), with the mode asked for; tails and trees behave at their edges.
#include "daemon/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::list_dir;
using ::amid::testing::read_text;

unsigned mode_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FsTest : public ::amid::testing::TempDirTest {};

TEST_F(FsTest, WriteFileAtomicWritesWithTheModeAndLeavesNoTempFile) {
  std::string path = tmp_.file("manifest.json");
  fs::write_file_atomic(path, "{\"a\":1}\n", 0644);
  EXPECT_EQ(read_text(path), "{\"a\":1}\n");
  EXPECT_EQ(mode_of(path), 0644u);
  EXPECT_EQ(list_dir(tmp_.path()), std::vector<std::string>{"manifest.json"});

  fs::write_file_atomic(path, std::string("\0binary\xff", 8));  // replaces, default mode
  EXPECT_EQ(read_text(path), std::string("\0binary\xff", 8));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(list_dir(tmp_.path()), std::vector<std::string>{"manifest.json"});
}

TEST_F(FsTest, WriteFileAtomicIntoAMissingFolderThrowsNamingIt) {
  std::string path = tmp_.file("missing/manifest.json");
  try {
    fs::write_file_atomic(path, "x");
    FAIL() << "no error";
  } catch (const AmidError& e) {
    EXPECT_EQ(e.code(), codes::kInternalError);
    EXPECT_TRUE(::amid::testing::has_substr(e.what(), tmp_.file("missing/")));
  }
}

TEST_F(FsTest, ReadTailGivesTheLastBytes) {
  std::string path = tmp_.file("console.log");
  ::amid::testing::write_text(path, "0123456789");
  EXPECT_EQ(fs::read_tail(path, 4), "6789");
  EXPECT_EQ(fs::read_tail(path, 10), "0123456789");
  EXPECT_EQ(fs::read_tail(path, 1000), "0123456789");
  EXPECT_EQ(fs::read_tail(path, 0), "");
  EXPECT_EQ(fs::read_tail(tmp_.file("absent.log"), 10), "");
}

TEST_F(FsTest, MakeDirsAndRemoveTree) {
  std::string dir = tmp_.file("a/b/c");
  fs::make_dirs(dir, 0711);
  EXPECT_TRUE(fs::exists(dir));
  EXPECT_EQ(mode_of(dir), 0711u);
  ::amid::testing::write_text(dir + "/f", "x");
  ::chmod((dir + "/f").c_str(), 0444);
  fs::remove_tree(tmp_.file("a"));
  EXPECT_FALSE(fs::exists(tmp_.file("a")));
  EXPECT_NO_THROW(fs::remove_tree(tmp_.file("a"))) << "removing what is not there is no error";
}

TEST_F(FsTest, RenameDurableMovesAndReadFileReads) {
  ::amid::testing::write_text(tmp_.file("from"), "payload");
  fs::rename_durable(tmp_.file("from"), tmp_.file("to"));
  EXPECT_FALSE(fs::exists(tmp_.file("from")));
  EXPECT_EQ(fs::read_file(tmp_.file("to")), "payload");
  EXPECT_THROW(fs::rename_durable(tmp_.file("from"), tmp_.file("to2")), AmidError);
  EXPECT_THROW(fs::read_file(tmp_.file("from")), AmidError);
}

}  // namespace
}  // namespace amid
