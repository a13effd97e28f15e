// host/qemu_img.h, the pure half: `qemu-img info --output=json` as qemu-img
// 7.2 prints it, and the rules a user's disk must pass before amid copies it.
#include "daemon/host/qemu_img.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

// Captured from qemu-img 7.2 (Debian 12): `qemu-img info -U --output=json FILE`.
const char* kQcow2 = R"({
    "virtual-size": 1048576,
    "filename": "base.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "corrupt": false,
            "extended-l2": false
        }
    },
    "dirty-flag": false
})";

const char* kRaw = R"({
    "virtual-size": 2097152,
    "filename": "r.raw",
    "format": "raw",
    "actual-size": 4096,
    "dirty-flag": false
})";

const char* kQcow2WithBacking = R"({
    "backing-filename-format": "qcow2",
    "virtual-size": 1048576,
    "filename": "ov.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "corrupt": false,
            "extended-l2": false
        }
    },
    "full-backing-filename": "/var/lib/users/base.qcow2",
    "backing-filename": "/var/lib/users/base.qcow2",
    "dirty-flag": false
})";

const char* kQcow2WithDataFile = R"({
    "virtual-size": 1048576,
    "filename": "d.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "data-file": "x.raw",
            "data-file-raw": false,
            "corrupt": false,
            "extended-l2": false
        }
    },
    "dirty-flag": false
})";

const char* kVmdk = R"({
    "virtual-size": 1048576,
    "filename": "v.vmdk",
    "cluster-size": 65536,
    "format": "vmdk",
    "actual-size": 12288,
    "format-specific": {
        "type": "vmdk",
        "data": {
            "cid": 2120326212,
            "parent-cid": 4294967295,
            "create-type": "monolithicSparse",
            "extents": [
                {
                    "virtual-size": 1048576,
                    "filename": "v.vmdk",
                    "cluster-size": 65536,
                    "format": ""
                }
            ]
        }
    },
    "dirty-flag": false
})";

// LUKS-encrypted qcow2 (slots trimmed to two).
const char* kQcow2Encrypted = R"({
    "virtual-size": 1048576,
    "filename": "e.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 2297856,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "encrypt": {
                "ivgen-alg": "plain64",
                "hash-alg": "sha256",
                "cipher-alg": "aes-256",
                "uuid": "b23f4c79-a404-40a8-a75b-d854a8944b27",
                "format": "luks",
                "cipher-mode": "xts",
                "slots": [
                    {"active": true, "iters": 5434160, "key-offset": 4096, "stripes": 4000},
                    {"active": false, "key-offset": 262144}
                ],
                "payload-offset": 2068480,
                "master-key-iters": 1557414
            },
            "corrupt": false,
            "extended-l2": false
        }
    },
    "encrypted": true,
    "dirty-flag": false
})";

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;
const std::string kPath = "/home/user/disk.img";

DiskInfo parsed(const char* json) {
  auto r = parse_disk_info(json);
  EXPECT_TRUE(r.ok()) << r.problem().message;
  return r.ok() ? r.value() : DiskInfo{};
}

TEST(ParseDiskInfo, ReadsAPlainQcow2) {
  DiskInfo i = parsed(kQcow2);
  EXPECT_EQ(i.format, "qcow2");
  EXPECT_EQ(i.virtual_size, 1048576u);
  EXPECT_EQ(i.actual_size, 200704u);
  EXPECT_EQ(i.backing_file, "");
  EXPECT_EQ(i.data_file, "");
  EXPECT_FALSE(i.encrypted);
}

TEST(ParseDiskInfo, ReadsARawDisk) {
  DiskInfo i = parsed(kRaw);
  EXPECT_EQ(i.format, "raw");
  EXPECT_EQ(i.virtual_size, 2097152u);
  EXPECT_EQ(i.backing_file, "");
}

TEST(ParseDiskInfo, ReadsTheBackingFile) {
  EXPECT_EQ(parsed(kQcow2WithBacking).backing_file, "/var/lib/users/base.qcow2");
}

TEST(ParseDiskInfo, FallsBackToTheFullBackingFilename) {
  auto r = parse_disk_info(
      R"({"format":"qcow2","virtual-size":1048576,"full-backing-filename":"/srv/base.qcow2"})");
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().backing_file, "/srv/base.qcow2");
}

TEST(ParseDiskInfo, ReadsTheExternalDataFile) { EXPECT_EQ(parsed(kQcow2WithDataFile).data_file, "x.raw"); }

TEST(ParseDiskInfo, ReadsEncryption) {
  EXPECT_TRUE(parsed(kQcow2Encrypted).encrypted);
  // Either sign is enough: the top-level flag, or an encrypt block in format-specific data.
  auto only_block = parse_disk_info(
      R"({"format":"qcow2","virtual-size":1,"format-specific":{"type":"qcow2","data":{"encrypt":{"format":"aes"}}}})");
  ASSERT_TRUE(only_block.ok());
  EXPECT_TRUE(only_block.value().encrypted);
}

TEST(ParseDiskInfo, ReadsVmdkAsVmdk) { EXPECT_EQ(parsed(kVmdk).format, "vmdk"); }

TEST(ParseDiskInfo, RefusesOutputItCannotUse) {
  for (const char* json : {"", "qemu-img: Could not open 'x'", "[]", R"({"virtual-size":1})",
                           R"({"format":7,"virtual-size":1})", R"({"format":"raw"})",
                           R"({"format":"raw","virtual-size":-1})", R"({"format":"raw","virtual-size":"1"})",
                           R"({"format":"raw","virtual-size":1.5})"}) {
    EXPECT_FALSE(parse_disk_info(json).ok()) << json;
  }
}

TEST(CheckImportable, AcceptsQcow2AndRaw) {
  for (const char* json : {kQcow2, kRaw}) {
    DiskInfo info = parsed(json);
    auto r = check_importable(info, kPath, 64 * kGiB);
    ASSERT_TRUE(r.ok()) << r.problem().message;
    EXPECT_EQ(r.value().format, info.format);
    EXPECT_EQ(r.value().virtual_size, info.virtual_size);
  }
}

TEST(CheckImportable, RefusesOtherFormats) {
  auto r = check_importable(parsed(kVmdk), kPath, 64 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
  EXPECT_TRUE(has_substr(r.problem().message, "vmdk"));
  EXPECT_TRUE(has_substr(r.problem().message, "qcow2 or raw"));
}

TEST(CheckImportable, RefusesABackingFileAndSaysHowToFlatten) {
  auto r = check_importable(parsed(kQcow2WithBacking), kPath, 64 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
  EXPECT_TRUE(has_substr(r.problem().message, "/var/lib/users/base.qcow2"));
  EXPECT_TRUE(has_substr(r.problem().message, "qemu-img convert -O qcow2 " + kPath));
}

TEST(CheckImportable, RefusesAnExternalDataFile) {
  auto r = check_importable(parsed(kQcow2WithDataFile), kPath, 64 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
  EXPECT_TRUE(has_substr(r.problem().message, "x.raw"));
}

TEST(CheckImportable, RefusesAnEncryptedDisk) {
  auto r = check_importable(parsed(kQcow2Encrypted), kPath, 64 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
  EXPECT_TRUE(has_substr(r.problem().message, "encrypted"));
}

TEST(CheckImportable, RefusesADiskLargerThanTheCap) {
  DiskInfo info = parsed(kQcow2);
  info.virtual_size = 2 * kGiB;
  EXPECT_TRUE(check_importable(info, kPath, 2 * kGiB).ok()) << "exactly the cap is allowed";
  info.virtual_size = 2 * kGiB + 1;
  auto r = check_importable(info, kPath, 2 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
  EXPECT_TRUE(has_substr(r.problem().message, std::to_string(2 * kGiB + 1)));
  EXPECT_TRUE(has_substr(r.problem().message, "limits.max_image_gib"));
}

TEST(CheckImportable, RefusesAnEmptyDisk) {
  DiskInfo info = parsed(kRaw);
  info.virtual_size = 0;
  auto r = check_importable(info, kPath, 64 * kGiB);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, kPath));
}

}  // namespace
}  // namespace amid
