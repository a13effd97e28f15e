// host/fs.h: atomic writes leave either the old or the new file (never a
// temp file), with the mode asked for; tails and trees behave at their edges.
#include "daemon/host/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>
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

// copy-image's copy: the same bytes, and holes stay holes (fewer blocks than a
// dense copy would take), with progress reaching the file's size.
TEST_F(FsTest, CopySparseKeepsTheBytesAndTheHoles) {
  std::string from = tmp_.file("sparse.img");
  {
    std::ofstream out(from, std::ios::binary);
    out << "head";
    out.seekp(8 << 20);
    out << std::string(1 << 20, 'x');
    out.seekp(32 << 20);
    out << "tail";
  }
  std::vector<std::uint64_t> seen;
  std::string to = tmp_.file("copy.img");
  fs::copy_sparse_durable(from, to, 0440, [&](std::uint64_t done) { seen.push_back(done); });
  EXPECT_EQ(read_text(to), read_text(from));
  EXPECT_EQ(mode_of(to), 0440u);
  struct stat a, b;
  ASSERT_EQ(::stat(from.c_str(), &a), 0);
  ASSERT_EQ(::stat(to.c_str(), &b), 0);
  EXPECT_EQ(b.st_size, a.st_size);
  EXPECT_LE(b.st_blocks, a.st_blocks + 16) << "holes were filled";
  EXPECT_LT(b.st_blocks * 512, 4 << 20) << "a 32 MiB file with ~1 MiB of data";
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), static_cast<std::uint64_t>(a.st_size));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  auto names = list_dir(tmp_.path());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"copy.img", "sparse.img"})) << "no temp file left";

  // An empty file, and a missing source (no temp file left behind).
  std::string empty = tmp_.file("empty");
  { std::ofstream touch(empty); }
  fs::copy_sparse_durable(empty, tmp_.file("empty.copy"), 0440);
  EXPECT_EQ(read_text(tmp_.file("empty.copy")), "");
  EXPECT_THROW(fs::copy_sparse_durable(tmp_.file("nope"), tmp_.file("nope.copy"), 0440), AmidError);
  EXPECT_FALSE(std::filesystem::exists(tmp_.file("nope.copy.tmp")));
}

}  // namespace
}  // namespace amid
