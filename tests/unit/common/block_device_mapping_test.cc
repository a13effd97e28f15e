// common/block_device_mapping.h: EC2's block device mappings read from TOML and
// JSON, every bad input refused with FILE:LINE:COLUMN (or the JSON field path) and
// the field's name, merged with an image's mappings as EC2 merges them.
#include "common/block_device_mapping.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

const char* const kSnap = "snap-0123456789abcdef0";

// The message starts with "LOCATION: " and names the field.
::testing::AssertionResult located(const Problem& p, const std::string& location,
                                   const std::string& field) {
  if (p.message.rfind(location + ": ", 0) != 0) {
    return ::testing::AssertionFailure()
           << "\"" << p.message << "\" does not start with \"" << location << ": \"";
  }
  if (p.message.find(field) == std::string::npos) {
    return ::testing::AssertionFailure() << "\"" << p.message << "\" does not name " << field;
  }
  return ::testing::AssertionSuccess();
}

Problem toml_error(const std::string& text, const BdmLimits& limits = {}) {
  auto r = parse_block_device_mappings(text, "bdm.toml", limits);
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  return r.ok() ? Problem{"", ""} : r.problem();
}

BlockDeviceMappings parsed(const std::string& text, const BdmLimits& limits = {}) {
  auto r = parse_block_device_mappings(text, "bdm.toml", limits);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.problem().message);
  return r.ok() ? r.value() : BlockDeviceMappings{};
}

// One mapping on /dev/vdb whose third line is `body`.
std::string on_vdb(const std::string& body) {
  return "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\n" + body + "\n";
}

Problem json_error(const nlohmann::json& j, const BdmLimits& limits = {}) {
  auto r = from_ec2_json(j, limits);
  EXPECT_FALSE(r.ok()) << "accepted: " << j.dump();
  return r.ok() ? Problem{"", ""} : r.problem();
}

const char* const kIssueExample = R"([[block_device_mappings]]
device_name = "/dev/vda"            # root: may grow the template's root disk
ebs = { volume_size = 4 }

[[block_device_mappings]]
device_name = "/dev/vdb"
ebs = { volume_size = 2, volume_type = "gp3", delete_on_termination = false }

[[block_device_mappings]]
device_name = "/dev/vdc"
virtual_name = "ephemeral0"         # instance store, sized by the instance type

[[block_device_mappings]]
device_name = "/dev/vdd"
no_device = true                    # drop a mapping the template has
)";

// ---- reading TOML ----

TEST(BlockDeviceMappingParse, ReadsTheIssueExampleInOrder) {
  BlockDeviceMappings m = parsed(kIssueExample);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].device_name, "/dev/vda");
  ASSERT_TRUE(m[0].ebs);
  EXPECT_EQ(m[0].ebs->volume_size_gib, 4u);
  EXPECT_EQ(m[0].ebs->volume_type, "gp3");
  EXPECT_FALSE(m[0].ebs->volume_type_set);
  EXPECT_TRUE(m[0].ebs->delete_on_termination);
  EXPECT_FALSE(m[0].ebs->delete_on_termination_set);
  EXPECT_FALSE(m[0].ebs->snapshot_id);

  EXPECT_EQ(m[1].device_name, "/dev/vdb");
  ASSERT_TRUE(m[1].ebs);
  EXPECT_EQ(m[1].ebs->volume_size_gib, 2u);
  EXPECT_EQ(m[1].ebs->volume_type, "gp3");
  EXPECT_TRUE(m[1].ebs->volume_type_set);
  EXPECT_FALSE(m[1].ebs->delete_on_termination);
  EXPECT_TRUE(m[1].ebs->delete_on_termination_set);

  EXPECT_EQ(m[2].device_name, "/dev/vdc");
  EXPECT_FALSE(m[2].ebs);
  EXPECT_EQ(m[2].virtual_name, "ephemeral0");
  EXPECT_FALSE(m[2].no_device);

  EXPECT_EQ(m[3].device_name, "/dev/vdd");
  EXPECT_TRUE(m[3].no_device);
  EXPECT_FALSE(m[3].ebs);
  EXPECT_FALSE(m[3].virtual_name);
}

TEST(BlockDeviceMappingParse, ExampleConfigParses) {
  const std::string path = std::string(AMID_SOURCE_DIR) + "/configs/bdm.example.toml";
  auto r = parse_block_device_mappings(amid::testing::read_text(path), path, {});
  ASSERT_TRUE(r.ok()) << r.problem().message;
  const BlockDeviceMappings& m = r.value();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].device_name, "/dev/vda");
  EXPECT_EQ(m[0].ebs->volume_size_gib, 4u);
  EXPECT_EQ(m[1].ebs->volume_size_gib, 2u);
  EXPECT_FALSE(m[1].ebs->delete_on_termination);
  EXPECT_EQ(m[2].virtual_name, "ephemeral0");
  EXPECT_TRUE(m[3].no_device);
}

TEST(BlockDeviceMappingParse, ReadsEbsAsASubTableAndWithASnapshot) {
  BlockDeviceMappings m = parsed(
      "[[block_device_mappings]]\ndevice_name = \"/dev/xvdf\"\n[block_device_mappings.ebs]\n"
      "snapshot_id = \"snap-0123456789abcdef0\"\nvolume_type = \"io2\"\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].device_name, "/dev/xvdf");
  ASSERT_TRUE(m[0].ebs);
  EXPECT_EQ(m[0].ebs->snapshot_id, kSnap);
  EXPECT_EQ(m[0].ebs->volume_type, "io2");
  EXPECT_FALSE(m[0].ebs->volume_size_gib);
}

TEST(BlockDeviceMappingParse, AcceptsAnEmptyArrayButNotAMissingKey) {
  EXPECT_TRUE(parsed("block_device_mappings = []\n").empty());
  Problem p = toml_error("# nothing here\n");
  EXPECT_TRUE(located(p, "bdm.toml:1:1", "block_device_mappings"));
  EXPECT_EQ(p.code, codes::kMissingParameter);
}

TEST(BlockDeviceMappingParse, AcceptsNoDeviceFalseBesideEbs) {
  BlockDeviceMappings m = parsed(on_vdb("ebs = { volume_size = 1 }\nno_device = false"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_FALSE(m[0].no_device);
  EXPECT_EQ(m[0].ebs->volume_size_gib, 1u);
}

TEST(BlockDeviceMappingParse, AcceptsEveryVolumeType) {
  for (const char* type : {"standard", "gp2", "gp3", "io1", "io2", "st1", "sc1"}) {
    BlockDeviceMappings m =
        parsed(on_vdb(std::string("ebs = { volume_size = 1, volume_type = \"") + type + "\" }"));
    ASSERT_EQ(m.size(), 1u) << type;
    EXPECT_EQ(m[0].ebs->volume_type, type);
  }
}

TEST(BlockDeviceMappingParse, AcceptsEphemeral0To23) {
  for (const char* name :
       {"ephemeral0", "ephemeral9", "ephemeral10", "ephemeral19", "ephemeral23"}) {
    BlockDeviceMappings m = parsed(on_vdb(std::string("virtual_name = \"") + name + "\""));
    ASSERT_EQ(m.size(), 1u) << name;
    EXPECT_EQ(m[0].virtual_name, name);
  }
}

TEST(BlockDeviceMappingParse, VolumeSizeRangeFollowsTheLimit) {
  EXPECT_EQ(parsed(on_vdb("ebs = { volume_size = 1 }"))[0].ebs->volume_size_gib, 1u);
  EXPECT_EQ(parsed(on_vdb("ebs = { volume_size = 1024 }"))[0].ebs->volume_size_gib, 1024u);
  BdmLimits small{8};
  EXPECT_EQ(parsed(on_vdb("ebs = { volume_size = 8 }"), small)[0].ebs->volume_size_gib, 8u);
  Problem p = toml_error(on_vdb("ebs = { volume_size = 9 }"), small);
  EXPECT_TRUE(located(p, "bdm.toml:3:23", "block_device_mappings[0].ebs.volume_size"));
  EXPECT_TRUE(has_substr(p.message, "between 1 and 8 GiB, got 9"));
}

// ---- refusing bad TOML, each with FILE:LINE:COLUMN and the field ----

TEST(BlockDeviceMappingParse, RefusesUnknownKeysAtEveryLevel) {
  Problem top = toml_error("disks = 1\nblock_device_mappings = []\n");
  EXPECT_TRUE(located(top, "bdm.toml:1:1", "'disks'"));
  EXPECT_EQ(top.code, codes::kUnknownParameter);

  Problem mapping = toml_error(on_vdb("size = 4"));
  EXPECT_TRUE(located(mapping, "bdm.toml:3:1", "block_device_mappings[0]"));
  EXPECT_TRUE(has_substr(mapping.message, "'size'"));
  EXPECT_EQ(mapping.code, codes::kUnknownParameter);

  Problem ebs = toml_error(on_vdb("ebs = { volume_size = 4, iops = 3000 }"));
  EXPECT_TRUE(located(ebs, "bdm.toml:3:26", "block_device_mappings[0].ebs"));
  EXPECT_TRUE(has_substr(ebs.message, "'iops'"));
  EXPECT_EQ(ebs.code, codes::kUnknownParameter);
}

TEST(BlockDeviceMappingParse, RefusesWrongShapes) {
  Problem not_array = toml_error("block_device_mappings = \"/dev/vdb\"\n");
  EXPECT_TRUE(located(not_array, "bdm.toml:1:25", "block_device_mappings"));
  EXPECT_TRUE(has_substr(not_array.message, "array of tables"));

  Problem not_table = toml_error("block_device_mappings = [ 1 ]\n");
  EXPECT_TRUE(located(not_table, "bdm.toml:1:27", "block_device_mappings[0]"));
  EXPECT_TRUE(has_substr(not_table.message, "not an integer"));

  Problem ebs_not_table = toml_error(on_vdb("ebs = 4"));
  EXPECT_TRUE(located(ebs_not_table, "bdm.toml:3:7", "block_device_mappings[0].ebs"));
}

TEST(BlockDeviceMappingParse, RefusesWrongTypes) {
  struct Case {
    std::string body, location, field;
  };
  const std::vector<Case> cases = {
      {"ebs = { volume_size = \"2\" }", "bdm.toml:3:23",
       "block_device_mappings[0].ebs.volume_size"},
      {"ebs = { volume_size = 1, volume_type = 3 }", "bdm.toml:3:40",
       "block_device_mappings[0].ebs.volume_type"},
      {"ebs = { delete_on_termination = \"false\" }", "bdm.toml:3:33",
       "block_device_mappings[0].ebs.delete_on_termination"},
      {"ebs = { snapshot_id = 17 }", "bdm.toml:3:23", "block_device_mappings[0].ebs.snapshot_id"},
      {"virtual_name = 0", "bdm.toml:3:16", "block_device_mappings[0].virtual_name"},
      {"no_device = \"true\"", "bdm.toml:3:13", "block_device_mappings[0].no_device"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    EXPECT_TRUE(located(toml_error(on_vdb(c.body)), c.location, c.field));
  }
  Problem name = toml_error("[[block_device_mappings]]\ndevice_name = 2\nno_device = true\n");
  EXPECT_TRUE(located(name, "bdm.toml:2:15", "block_device_mappings[0].device_name"));
}

TEST(BlockDeviceMappingParse, RequiresDeviceName) {
  Problem p = toml_error("[[block_device_mappings]]\nno_device = true\n");
  EXPECT_TRUE(located(p, "bdm.toml:1:1", "block_device_mappings[0].device_name"));
  EXPECT_EQ(p.code, codes::kMissingParameter);
}

TEST(BlockDeviceMappingParse, RefusesDeviceNamesOutsideVdSdXvd) {
  for (const char* name :
       {"/dev/vd", "/dev/vdA", "/dev/vdaa", "/dev/sda1", "/dev/hda", "/dev/../vda", "/dev/vd..",
        "vdb", "/dev/vdb ", " /dev/vdb", "/dev/nvme0n1", "/dev/xvd1", "/dev//vdb", "/dev/vdb/", "",
        "/dev/xvdb\n"}) {
    SCOPED_TRACE(name);
    Problem p = toml_error("[[block_device_mappings]]\ndevice_name = \"" + std::string(name) +
                           "\"\nno_device = true\n");
    // "\n" is written raw above only where TOML accepts it; that case is a parse error.
    if (std::string(name).find('\n') != std::string::npos) {
      EXPECT_TRUE(has_substr(p.message, "bdm.toml:2:"));
      continue;
    }
    EXPECT_TRUE(located(p, "bdm.toml:2:15", "block_device_mappings[0].device_name"));
    EXPECT_TRUE(has_substr(p.message, "/dev/vdX, /dev/sdX or /dev/xvdX"));
  }
}

TEST(BlockDeviceMappingParse, EscapesControlCharactersInMessages) {
  Problem p =
      toml_error("[[block_device_mappings]]\ndevice_name = \"/dev/vd\\u0007\"\nno_device = true\n");
  EXPECT_TRUE(located(p, "bdm.toml:2:15", "device_name"));
  EXPECT_EQ(p.message.find('\x07'), std::string::npos) << p.message;
  EXPECT_TRUE(has_substr(p.message, "\\x07"));
}

TEST(BlockDeviceMappingParse, NeedsExactlyOneOfEbsVirtualNameNoDevice) {
  Problem none = toml_error("[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\n");
  EXPECT_TRUE(located(none, "bdm.toml:1:1", "block_device_mappings[0]"));
  EXPECT_TRUE(has_substr(none.message, "needs one of ebs, virtual_name or no_device = true"));

  Problem no_device_false = toml_error(on_vdb("no_device = false"));
  EXPECT_TRUE(located(no_device_false, "bdm.toml:3:13", "block_device_mappings[0].no_device"));
  EXPECT_TRUE(has_substr(no_device_false.message, "maps nothing"));

  for (const char* body : {"ebs = { volume_size = 1 }\nvirtual_name = \"ephemeral0\"",
                           "ebs = { volume_size = 1 }\nno_device = true",
                           "virtual_name = \"ephemeral0\"\nno_device = true"}) {
    SCOPED_TRACE(body);
    Problem two = toml_error(on_vdb(body));
    EXPECT_TRUE(located(two, "bdm.toml:1:1", "block_device_mappings[0]"));
    EXPECT_TRUE(has_substr(two.message, "only one of ebs, virtual_name and no_device = true"));
  }
}

TEST(BlockDeviceMappingParse, RefusesVirtualNamesOutsideEphemeral0To23) {
  for (const char* name : {"ephemeral24", "ephemeral", "ephemeral01", "ephemeral-1", "Ephemeral0",
                           "ephemeral0x", "ephemeral100", "ephemeral99", "eph0", ""}) {
    SCOPED_TRACE(name);
    Problem p = toml_error(on_vdb(std::string("virtual_name = \"") + name + "\""));
    EXPECT_TRUE(located(p, "bdm.toml:3:16", "block_device_mappings[0].virtual_name"));
    EXPECT_TRUE(has_substr(p.message, "ephemeral0 .. ephemeral23"));
  }
}

TEST(BlockDeviceMappingParse, RefusesVolumeSizesOutsideTheRange) {
  struct Case {
    std::string value, says;
  };
  const std::vector<Case> cases = {
      {"0", "between 1 and 1024 GiB, got 0"},
      {"-1", "between 1 and 1024 GiB, got -1"},
      {"1025", "between 1 and 1024 GiB, got 1025"},
      {"9223372036854775807", "between 1 and 1024 GiB, got 9223372036854775807"},
      {"-9223372036854775808", "got -9223372036854775808"},
      {"2.5", "whole number of GiB, not a float"},
      {"2.0", "whole number of GiB, not a float"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    Problem p = toml_error(on_vdb("ebs = { volume_size = " + c.value + " }"));
    EXPECT_TRUE(located(p, "bdm.toml:3:23", "block_device_mappings[0].ebs.volume_size"));
    EXPECT_TRUE(has_substr(p.message, c.says));
    EXPECT_EQ(p.code, codes::kInvalidParameterValue);
  }
}

TEST(BlockDeviceMappingParse, RefusesNumbersPast64BitsClearly) {
  // toml++ refuses these while parsing; the message still says where and why.
  Problem p = toml_error(on_vdb("ebs = { volume_size = 9223372036854775808 }"));
  EXPECT_TRUE(has_substr(p.message, "bdm.toml:3:"));
  EXPECT_TRUE(has_substr(p.message, "'9223372036854775808' is not representable in 64 bits"));
  EXPECT_TRUE(has_substr(p.message, "far too large"));
}

TEST(BlockDeviceMappingParse, RefusesUnknownVolumeTypes) {
  for (const char* type : {"gp4", "GP3", "", "io1 "}) {
    SCOPED_TRACE(type);
    Problem p = toml_error(
        on_vdb(std::string("ebs = { volume_size = 1, volume_type = \"") + type + "\" }"));
    EXPECT_TRUE(located(p, "bdm.toml:3:40", "block_device_mappings[0].ebs.volume_type"));
    EXPECT_TRUE(has_substr(p.message, "standard, gp2, gp3, io1, io2, st1 or sc1"));
  }
}

TEST(BlockDeviceMappingParse, RefusesAnythingButASnapshotIdWhereOneBelongs) {
  for (const char* id :
       {"snap-123", "../../etc/passwd", "/var/lib/amid/snap.qcow2", "snap-0123456789ABCDEF0",
        "vol-0123456789abcdef0", "snap-0123456789abcdef0/..", "snap-0123456789abcdef",
        "snap-0123456789abcdef01", ""}) {
    SCOPED_TRACE(id);
    Problem p = toml_error(on_vdb(std::string("ebs = { snapshot_id = \"") + id + "\" }"));
    EXPECT_TRUE(located(p, "bdm.toml:3:23", "block_device_mappings[0].ebs.snapshot_id"));
    EXPECT_TRUE(has_substr(p.message, "not a snapshot id"));
  }
}

TEST(BlockDeviceMappingParse, RefusesTheSameDeviceTwiceNamingBothLines) {
  Problem p = toml_error(
      "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nno_device = true\n"
      "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nvirtual_name = \"ephemeral1\"\n");
  EXPECT_TRUE(located(p, "bdm.toml:5:15", "block_device_mappings[1].device_name"));
  EXPECT_TRUE(has_substr(p.message, "mapped twice (first at bdm.toml:2:15)"));
}

TEST(BlockDeviceMappingParse, JudgesCollisionsOnTheGuestDevice) {
  Problem p = toml_error(
      "[[block_device_mappings]]\ndevice_name = \"/dev/sdb\"\nno_device = true\n"
      "[[block_device_mappings]]\ndevice_name = \"/dev/vdc\"\nno_device = true\n"
      "[[block_device_mappings]]\ndevice_name = \"/dev/xvdb\"\nno_device = true\n");
  EXPECT_TRUE(located(p, "bdm.toml:8:15", "block_device_mappings[2].device_name"));
  EXPECT_TRUE(has_substr(
      p.message, "/dev/xvdb is the same disk as /dev/sdb at bdm.toml:2:15 (both attach as vdb)"));
}

TEST(BlockDeviceMappingParse, RefusesInvalidUtf8Clearly) {
  std::string text = on_vdb("no_device = true # caf\xe9");
  Problem p = toml_error(text);
  EXPECT_TRUE(has_substr(p.message, "bdm.toml:3:"));
  EXPECT_TRUE(has_substr(p.message, "not valid UTF-8"));

  Problem in_string = toml_error("[[block_device_mappings]]\ndevice_name = \"/dev/vd\xff\"\n");
  EXPECT_TRUE(has_substr(in_string.message, "bdm.toml:2:"));
  EXPECT_TRUE(has_substr(in_string.message, "not valid UTF-8"));
}

TEST(BlockDeviceMappingParse, RefusesDocumentsOver64KiB) {
  std::string text = on_vdb("no_device = true");
  std::string at_limit = text + std::string(kMaxBdmDocumentBytes - text.size() - 1, '#') + "\n";
  ASSERT_EQ(at_limit.size(), 65536u);
  EXPECT_EQ(parsed(at_limit).size(), 1u);
  Problem p = toml_error(at_limit + "\n");
  EXPECT_TRUE(amid::testing::starts_with(p.message, "bdm.toml: "));
  EXPECT_TRUE(has_substr(p.message, "65537 bytes; at most 65536 (64 KiB)"));
}

// ---- device names ----

TEST(BlockDeviceMappingGuestDevice, MapsSdAndXvdToTheSameVirtioDisk) {
  EXPECT_EQ(guest_device("/dev/sdb"), "vdb");
  EXPECT_EQ(guest_device("/dev/xvdb"), "vdb");
  EXPECT_EQ(guest_device("/dev/vdb"), "vdb");
  EXPECT_EQ(guest_device("/dev/sda"), "vda");
  EXPECT_EQ(guest_device("/dev/xvdz"), "vdz");
  EXPECT_EQ(guest_device("/dev/sda1"), "");
  EXPECT_EQ(guest_device("/dev/hdb"), "");
  EXPECT_TRUE(is_valid_device_name("/dev/xvda"));
  EXPECT_FALSE(is_valid_device_name("/dev/xvd"));
}

// ---- merging ----

BlockDeviceMapping ebs_mapping(const std::string& device, std::optional<std::uint64_t> gib) {
  BlockDeviceMapping m;
  m.device_name = device;
  m.ebs = EbsSpec{};
  m.ebs->volume_size_gib = gib;
  return m;
}

BlockDeviceMapping ephemeral(const std::string& device, const std::string& name) {
  BlockDeviceMapping m;
  m.device_name = device;
  m.virtual_name = name;
  return m;
}

BlockDeviceMapping no_device(const std::string& device) {
  BlockDeviceMapping m;
  m.device_name = device;
  m.no_device = true;
  return m;
}

// An image with a 4 GiB root, a 2 GiB io1 data volume from a snapshot kept after
// termination, and an instance store.
BlockDeviceMappings image_mappings() {
  BlockDeviceMapping data = ebs_mapping("/dev/vdb", 2);
  data.ebs->snapshot_id = kSnap;
  data.ebs->delete_on_termination = false;
  data.ebs->delete_on_termination_set = true;
  data.ebs->volume_type = "io1";
  data.ebs->volume_type_set = true;
  return {ebs_mapping("/dev/vda", 4), data, ephemeral("/dev/vdc", "ephemeral0")};
}

MergeContext root4() {
  MergeContext ctx;
  ctx.root_image_size_gib = 4;
  return ctx;
}

BlockDeviceMappings merged(const BlockDeviceMappings& image, const BlockDeviceMappings& launch,
                           const MergeContext& ctx = root4()) {
  auto r = merge_block_device_mappings(image, launch, ctx);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.problem().message);
  return r.ok() ? r.value() : BlockDeviceMappings{};
}

Problem merge_error(const BlockDeviceMappings& image, const BlockDeviceMappings& launch,
                    const MergeContext& ctx = root4()) {
  auto r = merge_block_device_mappings(image, launch, ctx);
  EXPECT_FALSE(r.ok());
  return r.ok() ? Problem{"", ""} : r.problem();
}

const BlockDeviceMapping* find(const BlockDeviceMappings& list, const std::string& disk) {
  for (const auto& m : list) {
    if (guest_device(m.device_name) == disk) return &m;
  }
  return nullptr;
}

TEST(BlockDeviceMappingMerge, WithoutALaunchListGivesTheImagesSorted) {
  BlockDeviceMappings image = image_mappings();
  std::swap(image[0], image[2]);
  BlockDeviceMappings out = merged(image, {});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].device_name, "/dev/vda");
  EXPECT_EQ(out[1].device_name, "/dev/vdb");
  EXPECT_EQ(out[2].device_name, "/dev/vdc");
  EXPECT_EQ(out[1].ebs->snapshot_id, kSnap);
  EXPECT_EQ(out[2].virtual_name, "ephemeral0");
}

TEST(BlockDeviceMappingMerge, EbsOverrideKeepsTheFieldsItDoesNotSet) {
  BlockDeviceMappings out = merged(image_mappings(), {ebs_mapping("/dev/vdb", 5)});
  const BlockDeviceMapping* vdb = find(out, "vdb");
  ASSERT_NE(vdb, nullptr);
  ASSERT_TRUE(vdb->ebs);
  EXPECT_EQ(vdb->ebs->volume_size_gib, 5u);
  EXPECT_EQ(vdb->ebs->snapshot_id, kSnap);
  EXPECT_FALSE(vdb->ebs->delete_on_termination);
  EXPECT_EQ(vdb->ebs->volume_type, "io1");
}

TEST(BlockDeviceMappingMerge, EbsOverrideReplacesWhatItSpellsOutEvenDefaults) {
  BlockDeviceMappings launch =
      parsed(on_vdb("ebs = { volume_type = \"gp3\", delete_on_termination = true }"));
  BlockDeviceMappings out = merged(image_mappings(), launch);
  const BlockDeviceMapping* vdb = find(out, "vdb");
  ASSERT_NE(vdb, nullptr);
  EXPECT_EQ(vdb->ebs->volume_type, "gp3");
  EXPECT_TRUE(vdb->ebs->delete_on_termination);
  EXPECT_EQ(vdb->ebs->volume_size_gib, 2u);
  EXPECT_EQ(vdb->ebs->snapshot_id, kSnap);
}

TEST(BlockDeviceMappingMerge, NoDeviceRemovesTheImagesMapping) {
  BlockDeviceMappings out =
      merged(image_mappings(), {no_device("/dev/vdc"), no_device("/dev/vdf")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(find(out, "vdc"), nullptr);
  EXPECT_EQ(find(out, "vdf"), nullptr);
  for (const auto& m : out) EXPECT_FALSE(m.no_device);
}

TEST(BlockDeviceMappingMerge, NoDeviceEntriesOfTheImageNeverAppear) {
  BlockDeviceMappings image = image_mappings();
  image.push_back(no_device("/dev/vde"));
  BlockDeviceMappings out = merged(image, {});
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(find(out, "vde"), nullptr);
}

TEST(BlockDeviceMappingMerge, RootMayGrow) {
  BlockDeviceMappings out = merged(image_mappings(), {ebs_mapping("/dev/vda", 10)});
  ASSERT_NE(find(out, "vda"), nullptr);
  EXPECT_EQ(find(out, "vda")->ebs->volume_size_gib, 10u);
  EXPECT_EQ(merged(image_mappings(), {ebs_mapping("/dev/vda", 4)})[0].ebs->volume_size_gib, 4u);
}

TEST(BlockDeviceMappingMerge, RootMayNotShrink) {
  Problem p = merge_error(image_mappings(), {ebs_mapping("/dev/vda", 3)});
  EXPECT_TRUE(has_substr(p.message, "/dev/vda"));
  EXPECT_TRUE(has_substr(p.message, "cannot shrink the root volume below the image's 4 GiB"));
}

TEST(BlockDeviceMappingMerge, RootWithoutASizeGetsTheImagesSize) {
  BlockDeviceMappings out = merged({}, {ebs_mapping("/dev/sda", std::nullopt)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].device_name, "/dev/sda");
  EXPECT_EQ(out[0].ebs->volume_size_gib, 4u);
}

TEST(BlockDeviceMappingMerge, RootMayNotBeRemoved) {
  for (const char* root : {"/dev/vda", "/dev/sda", "/dev/xvda"}) {
    SCOPED_TRACE(root);
    Problem p = merge_error(image_mappings(), {no_device(root)});
    EXPECT_TRUE(has_substr(p.message, root));
    EXPECT_TRUE(has_substr(p.message, "cannot remove the root device"));
  }
}

TEST(BlockDeviceMappingMerge, RootMayNotBeAnInstanceStore) {
  Problem p = merge_error(image_mappings(), {ephemeral("/dev/xvda", "ephemeral1")});
  EXPECT_TRUE(has_substr(p.message, "/dev/xvda"));
  EXPECT_TRUE(has_substr(p.message, "root device cannot be an instance store"));
}

TEST(BlockDeviceMappingMerge, HonoursAnotherRootDevice) {
  MergeContext ctx;
  ctx.root_device = "/dev/sdb";
  ctx.root_image_size_gib = 2;
  Problem p = merge_error(image_mappings(), {no_device("/dev/vdb")}, ctx);
  EXPECT_TRUE(has_substr(p.message, "cannot remove the root device"));
  // vda is an ordinary disk now: removable.
  EXPECT_EQ(find(merged(image_mappings(), {no_device("/dev/vda")}, ctx), "vda"), nullptr);
}

TEST(BlockDeviceMappingMerge, NewVolumeNeedsASize) {
  Problem p = merge_error(image_mappings(), {ebs_mapping("/dev/vde", std::nullopt)});
  EXPECT_TRUE(has_substr(p.message, "/dev/vde"));
  EXPECT_TRUE(has_substr(p.message, "volume_size is required for a new volume"));

  BlockDeviceMapping from_snapshot = ebs_mapping("/dev/vde", std::nullopt);
  from_snapshot.ebs->snapshot_id = kSnap;
  BlockDeviceMappings out = merged(image_mappings(), {from_snapshot});
  ASSERT_NE(find(out, "vde"), nullptr);
  EXPECT_EQ(find(out, "vde")->ebs->snapshot_id, kSnap);
}

TEST(BlockDeviceMappingMerge, SdAndXvdOverrideTheSameVirtioDisk) {
  BlockDeviceMappings out =
      merged(image_mappings(), {ebs_mapping("/dev/sdb", 7), no_device("/dev/xvdc")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].device_name, "/dev/vda");
  EXPECT_EQ(out[1].device_name, "/dev/sdb");
  EXPECT_EQ(out[1].ebs->volume_size_gib, 7u);
  EXPECT_EQ(out[1].ebs->snapshot_id, kSnap);
}

TEST(BlockDeviceMappingMerge, RefusesTwoLaunchMappingsOnOneDisk) {
  Problem p =
      merge_error(image_mappings(), {ebs_mapping("/dev/sdf", 1), ebs_mapping("/dev/xvdf", 1)});
  EXPECT_TRUE(has_substr(p.message, "/dev/sdf"));
  EXPECT_TRUE(has_substr(p.message, "/dev/xvdf"));
  EXPECT_TRUE(has_substr(p.message, "vdf"));
}

TEST(BlockDeviceMappingMerge, OtherKindsReplaceTheImagesMappingWhole) {
  BlockDeviceMappings out =
      merged(image_mappings(), {ephemeral("/dev/vdb", "ephemeral3"), ebs_mapping("/dev/vdc", 3)});
  const BlockDeviceMapping* vdb = find(out, "vdb");
  const BlockDeviceMapping* vdc = find(out, "vdc");
  ASSERT_NE(vdb, nullptr);
  ASSERT_NE(vdc, nullptr);
  EXPECT_FALSE(vdb->ebs);
  EXPECT_EQ(vdb->virtual_name, "ephemeral3");
  EXPECT_FALSE(vdc->virtual_name);
  EXPECT_EQ(vdc->ebs->volume_size_gib, 3u);
  EXPECT_FALSE(vdc->ebs->snapshot_id);
}

TEST(BlockDeviceMappingMerge, SortsByGuestDeviceAndSpellsOutDefaults) {
  BlockDeviceMappings out = merged(
      {}, {ebs_mapping("/dev/vdd", 1), ebs_mapping("/dev/xvdb", 1), ebs_mapping("/dev/sdc", 1)});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].device_name, "/dev/xvdb");
  EXPECT_EQ(out[1].device_name, "/dev/sdc");
  EXPECT_EQ(out[2].device_name, "/dev/vdd");
  for (const auto& m : out) {
    EXPECT_TRUE(m.ebs->volume_type_set);
    EXPECT_TRUE(m.ebs->delete_on_termination_set);
  }
  nlohmann::json j = to_ec2_json(out);
  EXPECT_EQ(j[0]["Ebs"]["VolumeType"], "gp3");
  EXPECT_EQ(j[0]["Ebs"]["DeleteOnTermination"], true);
}

// ---- writing and reading back ----

TEST(BlockDeviceMappingToToml, WritesTheSameShape) {
  BlockDeviceMappings m = parsed(kIssueExample);
  m[1].ebs->snapshot_id = kSnap;
  EXPECT_EQ(to_toml(m),
            "[[block_device_mappings]]\n"
            "device_name = \"/dev/vda\"\n"
            "ebs = { volume_size = 4 }\n"
            "\n"
            "[[block_device_mappings]]\n"
            "device_name = \"/dev/vdb\"\n"
            "ebs = { volume_size = 2, volume_type = \"gp3\", delete_on_termination = false, "
            "snapshot_id = \"snap-0123456789abcdef0\" }\n"
            "\n"
            "[[block_device_mappings]]\n"
            "device_name = \"/dev/vdc\"\n"
            "virtual_name = \"ephemeral0\"\n"
            "\n"
            "[[block_device_mappings]]\n"
            "device_name = \"/dev/vdd\"\n"
            "no_device = true\n");
}

TEST(BlockDeviceMappingToToml, RoundTripsThroughParse) {
  BlockDeviceMappings m = parsed(kIssueExample);
  m[1].ebs->snapshot_id = kSnap;
  auto back = parse_block_device_mappings(to_toml(m), "written.toml", {});
  ASSERT_TRUE(back.ok()) << back.problem().message;
  EXPECT_EQ(back.value(), m);

  auto empty = parse_block_device_mappings(to_toml({}), "written.toml", {});
  ASSERT_TRUE(empty.ok()) << empty.problem().message;
  EXPECT_TRUE(empty.value().empty());

  BlockDeviceMappings all = merged(image_mappings(), {});
  auto merged_back = parse_block_device_mappings(to_toml(all), "written.toml", {});
  ASSERT_TRUE(merged_back.ok()) << merged_back.problem().message;
  EXPECT_EQ(merged_back.value(), all);
}

TEST(BlockDeviceMappingEc2Json, WritesEc2sShape) {
  BlockDeviceMappings m = parsed(kIssueExample);
  m[1].ebs->snapshot_id = kSnap;
  m.erase(m.begin());
  nlohmann::json want = nlohmann::json::parse(R"([
    {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":2,"VolumeType":"gp3","DeleteOnTermination":false,
                                    "SnapshotId":"snap-0123456789abcdef0"}},
    {"DeviceName":"/dev/vdc","VirtualName":"ephemeral0"},
    {"DeviceName":"/dev/vdd","NoDevice":""}])");
  EXPECT_EQ(to_ec2_json(m), want);
}

TEST(BlockDeviceMappingEc2Json, LeavesUnsetFieldsOut) {
  EXPECT_EQ(to_ec2_json(parsed(on_vdb("ebs = { volume_size = 3 }"))),
            nlohmann::json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":3}}])"));
}

TEST(BlockDeviceMappingEc2Json, RoundTrips) {
  BlockDeviceMappings m = parsed(kIssueExample);
  m[1].ebs->snapshot_id = kSnap;
  auto back = from_ec2_json(to_ec2_json(m));
  ASSERT_TRUE(back.ok()) << back.problem().message;
  EXPECT_EQ(back.value(), m);
  // and through text, as on the wire
  auto wire = from_ec2_json(nlohmann::json::parse(to_ec2_json(m).dump()));
  ASSERT_TRUE(wire.ok()) << wire.problem().message;
  EXPECT_EQ(wire.value(), m);
}

TEST(BlockDeviceMappingEc2Json, RefusesBadInputNamingTheField) {
  struct Case {
    std::string json, field, says;
  };
  const std::string ok0 = R"({"DeviceName":"/dev/vda","NoDevice":""})";
  const std::vector<Case> cases = {
      {R"({"DeviceName":"/dev/vdb"})", "BlockDeviceMappings", "must be an array"},
      {"[" + ok0 + ", 5]", "BlockDeviceMappings[1]", "must be an object"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","NoDevice":"","Foo":1}])",
       "BlockDeviceMappings[1]", "unknown field 'Foo'"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1,"Iops":300}}])",
       "BlockDeviceMappings[1].Ebs", "unknown field 'Iops'"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":0}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "got 0"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":-3}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "got -3"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1025}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "between 1 and 1024 GiB, got 1025"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":9223372036854775808}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "got 9223372036854775808"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":18446744073709551615}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "got 18446744073709551615"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1e30}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "whole number"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":2.5}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "whole number"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":"2"}}])",
       "BlockDeviceMappings[1].Ebs.VolumeSize", "not a string"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1,"VolumeType":"fast"}}])",
       "BlockDeviceMappings[1].Ebs.VolumeType", "not a volume type"},
      {"[" + ok0 +
           R"(, {"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":1,"DeleteOnTermination":"no"}}])",
       "BlockDeviceMappings[1].Ebs.DeleteOnTermination", "true or false"},
      {"[" + ok0 +
           R"(, {"DeviceName":"/dev/vdb","Ebs":{"SnapshotId":"../snap-0123456789abcdef0"}}])",
       "BlockDeviceMappings[1].Ebs.SnapshotId", "not a snapshot id"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","Ebs":3}])", "BlockDeviceMappings[1].Ebs",
       "must be an object"},
      {"[" + ok0 + R"(, {"NoDevice":""}])", "BlockDeviceMappings[1].DeviceName", "missing"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/sdb1","NoDevice":""}])",
       "BlockDeviceMappings[1].DeviceName", "/dev/vdX, /dev/sdX or /dev/xvdX"},
      {"[" + ok0 + R"(, {"DeviceName":7,"NoDevice":""}])", "BlockDeviceMappings[1].DeviceName",
       "must be a string"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","NoDevice":"yes"}])",
       "BlockDeviceMappings[1].NoDevice", "must be \"\""},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","NoDevice":true}])",
       "BlockDeviceMappings[1].NoDevice", "must be \"\""},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","VirtualName":"ephemeral24"}])",
       "BlockDeviceMappings[1].VirtualName", "ephemeral0 .. ephemeral23"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb"}])", "BlockDeviceMappings[1]",
       "needs one of Ebs, VirtualName or NoDevice"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/vdb","VirtualName":"ephemeral0","NoDevice":""}])",
       "BlockDeviceMappings[1]", "only one of Ebs, VirtualName and NoDevice"},
      {"[" + ok0 + R"(, {"DeviceName":"/dev/xvda","NoDevice":""}])",
       "BlockDeviceMappings[1].DeviceName",
       "/dev/xvda is the same disk as /dev/vda at BlockDeviceMappings[0].DeviceName (both attach "
       "as vda)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    Problem p = json_error(nlohmann::json::parse(c.json));
    EXPECT_TRUE(located(p, c.field, c.says));
  }
}

TEST(BlockDeviceMappingEc2Json, UsesEc2sCodes) {
  EXPECT_EQ(json_error(nlohmann::json::parse(R"([{"DeviceName":"/dev/vdb","Size":1}])")).code,
            codes::kUnknownParameter);
  EXPECT_EQ(json_error(nlohmann::json::parse(R"([{"NoDevice":""}])")).code,
            codes::kMissingParameter);
  EXPECT_EQ(json_error(nlohmann::json::parse(R"([{"DeviceName":"/dev/vdb","NoDevice":"x"}])")).code,
            codes::kInvalidParameterValue);
}

TEST(BlockDeviceMappingEc2Json, AppliesTheLimit) {
  const auto j = nlohmann::json::parse(R"([{"DeviceName":"/dev/vdb","Ebs":{"VolumeSize":9}}])");
  EXPECT_TRUE(from_ec2_json(j, BdmLimits{16}).ok());
  EXPECT_TRUE(located(json_error(j, BdmLimits{8}), "BlockDeviceMappings[0].Ebs.VolumeSize",
                      "between 1 and 8 GiB, got 9"));
}

}  // namespace
}  // namespace amid
