// host/qemu_img.h against the real qemu-img, on small disks in a temp dir:
// what amid accepts and refuses, and what its copies and overlays look like.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/host/process.h"
#include "daemon/host/qemu_img.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;
using ::amid::testing::qemu_img;

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kCap = 64 * kMiB;

class QemuImgTest : public ::amid::testing::TempDirTest {
 protected:
  void SetUp() override {
    if (!::amid::testing::have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
  }
  std::string path(const std::string& name) const { return tmp_.file(name); }

  // `qemu-img info --output=json` read directly, not through the code under test.
  nlohmann::json raw_info(const std::string& file) {
    ProcessResult r = run_process({"qemu-img", "info", "-U", "--output=json", file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  QemuImg qemu_;
};

TEST_F(QemuImgTest, AcceptsAQcow2) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", path("a.qcow2"), "3M"}));
  DiskInfo info = qemu_.info(path("a.qcow2"));
  EXPECT_EQ(info.format, "qcow2");
  EXPECT_EQ(info.virtual_size, 3 * kMiB);
  auto r = check_importable(info, path("a.qcow2"), kCap);
  EXPECT_TRUE(r.ok()) << r.problem().message;
}

TEST_F(QemuImgTest, AcceptsARawDisk) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "raw", path("a.raw"), "2M"}));
  DiskInfo info = qemu_.info(path("a.raw"));
  EXPECT_EQ(info.format, "raw");
  EXPECT_EQ(info.virtual_size, 2 * kMiB);
  auto r = check_importable(info, path("a.raw"), kCap);
  EXPECT_TRUE(r.ok()) << r.problem().message;
}

TEST_F(QemuImgTest, RefusesAQcow2WithABackingFile) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", path("base.qcow2"), "1M"}));
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", path("base.qcow2"),
                        path("top.qcow2")}));
  DiskInfo info = qemu_.info(path("top.qcow2"));
  EXPECT_EQ(info.backing_file, path("base.qcow2"));
  auto r = check_importable(info, path("top.qcow2"), kCap);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, path("top.qcow2")));
  EXPECT_TRUE(has_substr(r.problem().message, "qemu-img convert"));
}

TEST_F(QemuImgTest, RefusesAQcow2WithAnExternalDataFile) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", "-o", "data_file=" + path("x.raw"),
                        path("d.qcow2"), "1M"}));
  DiskInfo info = qemu_.info(path("d.qcow2"));
  EXPECT_EQ(info.data_file, path("x.raw"));
  auto r = check_importable(info, path("d.qcow2"), kCap);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, path("x.raw")));
}

TEST_F(QemuImgTest, RefusesVmdk) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "vmdk", path("v.vmdk"), "1M"}));
  DiskInfo info = qemu_.info(path("v.vmdk"));
  EXPECT_EQ(info.format, "vmdk");
  auto r = check_importable(info, path("v.vmdk"), kCap);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, "vmdk"));
}

TEST_F(QemuImgTest, RefusesADiskOverTheCap) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", path("big.qcow2"), "65M"}));
  auto r = check_importable(qemu_.info(path("big.qcow2")), path("big.qcow2"), kCap);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, "max_image_gib"));
}

TEST_F(QemuImgTest, InfoOnAPathItCannotReadIsAnInvalidDiskError) {
  for (const std::string& bad : {path("does-not-exist.qcow2"), tmp_.path()}) {
    try {
      qemu_.info(bad);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const AmidError& e) {
      EXPECT_EQ(e.code(), codes::kInvalidDisk) << bad;
      EXPECT_TRUE(has_substr(e.what(), bad));
    }
  }
}

TEST_F(QemuImgTest, ConvertMakesAStandaloneQcow2WithTheSameSizeAndContent) {
  // A backed qcow2 whose data lives partly in the base: the copy must hold all of it.
  std::string pattern;
  for (int i = 0; i < 4 * 1024 * 1024; ++i) pattern += static_cast<char>('A' + i % 23);
  ::amid::testing::write_text(path("base.raw"), pattern);  // a raw disk is just its bytes
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", "-F", "raw", "-b", path("base.raw"),
                        path("top.qcow2")}));

  qemu_.convert_to_qcow2(path("top.qcow2"), "qcow2", path("copy.qcow2"));

  nlohmann::json info = raw_info(path("copy.qcow2"));
  ASSERT_FALSE(info.is_discarded());
  EXPECT_EQ(info["format"], "qcow2");
  EXPECT_FALSE(info.contains("backing-filename")) << info.dump(2);
  EXPECT_EQ(info["virtual-size"], raw_info(path("top.qcow2"))["virtual-size"]);
  ProcessResult same = run_process({"qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2",
                                    path("top.qcow2"), path("copy.qcow2")});
  EXPECT_EQ(same.exit_code, 0) << "the copy differs from its source: " << same.out << same.err;
}

TEST_F(QemuImgTest, ConvertOfARawDiskKeepsItsSize) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "raw", path("a.raw"), "5M"}));
  qemu_.convert_to_qcow2(path("a.raw"), "raw", path("a.qcow2"));
  DiskInfo info = qemu_.info(path("a.qcow2"));
  EXPECT_EQ(info.format, "qcow2");
  EXPECT_EQ(info.virtual_size, 5 * kMiB);
  EXPECT_EQ(info.backing_file, "");
}

TEST_F(QemuImgTest, ConvertFailureIsAnInternalErrorWithQemuImgsMessage) {
  try {
    qemu_.convert_to_qcow2(path("missing.raw"), "raw", path("out.qcow2"));
    FAIL() << "no error";
  } catch (const AmidError& e) {
    EXPECT_EQ(e.code(), codes::kInternalError);
    EXPECT_TRUE(has_substr(e.what(), "qemu-img failed"));
    EXPECT_TRUE(has_substr(e.what(), path("missing.raw")));
  }
  EXPECT_FALSE(::amid::testing::file_exists(path("out.qcow2")));
}

TEST_F(QemuImgTest, OverlayNamesItsBackingFileAndFormat) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", path("template.qcow2"), "7M"}));
  qemu_.create_overlay(path("template.qcow2"), path("root.qcow2"));

  nlohmann::json info = raw_info(path("root.qcow2"));
  ASSERT_FALSE(info.is_discarded());
  EXPECT_EQ(info["format"], "qcow2");
  EXPECT_EQ(info["backing-filename"], path("template.qcow2"));
  EXPECT_EQ(info["backing-filename-format"], "qcow2");
  EXPECT_EQ(info["virtual-size"], 7 * kMiB);
}

TEST_F(QemuImgTest, OverlayCanBeLargerThanItsTemplate) {
  ASSERT_TRUE(qemu_img({"create", "-q", "-f", "qcow2", path("template.qcow2"), "1M"}));
  qemu_.create_overlay(path("template.qcow2"), path("root.qcow2"), 8 * kMiB);
  nlohmann::json info = raw_info(path("root.qcow2"));
  EXPECT_EQ(info["virtual-size"], 8 * kMiB);
  EXPECT_EQ(info["backing-filename"], path("template.qcow2"));
}

TEST_F(QemuImgTest, OverlayOnAMissingTemplateFails) {
  EXPECT_THROW(qemu_.create_overlay(path("nope.qcow2"), path("root.qcow2")), AmidError);
}

}  // namespace
}  // namespace amid
