// common/launch_template.h: RunInstances' parameters from a TOML file, every bad
// input refused with FILE:LINE:COLUMN and the key's name.
#include "common/launch_template.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

::testing::AssertionResult located_in_template(const Problem& p, const std::string& location,
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

Problem lt_error(const std::string& text) {
  auto r = parse_launch_template(text, "lt.toml", {});
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  return r.ok() ? Problem{"", ""} : r.problem();
}

LaunchTemplate parsed_template(const std::string& text) {
  auto r = parse_launch_template(text, "lt.toml", {});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.problem().message);
  return r.ok() ? r.value() : LaunchTemplate{};
}

const char* const kIssueTemplate = R"(image_id = "ami-0123456789abcdef0"
instance_type = "t3.small"
count = 2
user_data = """#!/bin/sh
echo hello
"""
[tags]
Name = "web"
team = "blue"
[[block_device_mappings]]
device_name = "/dev/vdb"
ebs = { volume_size = 2 }
)";

void expect_issue_example(const LaunchTemplate& lt) {
  EXPECT_EQ(lt.image_id, "ami-0123456789abcdef0");
  EXPECT_EQ(lt.instance_type, "t3.small");
  EXPECT_EQ(lt.count, 2);
  EXPECT_EQ(lt.user_data, "#!/bin/sh\necho hello\n");
  EXPECT_EQ(lt.tags, (std::map<std::string, std::string>{{"Name", "web"}, {"team", "blue"}}));
  ASSERT_EQ(lt.block_device_mappings.size(), 1u);
  EXPECT_EQ(lt.block_device_mappings[0].device_name, "/dev/vdb");
  ASSERT_TRUE(lt.block_device_mappings[0].ebs);
  EXPECT_EQ(lt.block_device_mappings[0].ebs->volume_size_gib, 2u);
}

TEST(LaunchTemplateParse, ReadsTheIssueExample) { expect_issue_example(parsed_template(kIssueTemplate)); }

TEST(LaunchTemplateParse, ExampleConfigParses) {
  const std::string path = std::string(AMID_SOURCE_DIR) + "/configs/launch-template.example.toml";
  auto r = parse_launch_template(amid::testing::read_text(path), path, {});
  ASSERT_TRUE(r.ok()) << r.problem().message;
  expect_issue_example(r.value());
}

TEST(LaunchTemplateParse, EveryKeyIsOptional) {
  LaunchTemplate lt = parsed_template("# nothing\n");
  EXPECT_FALSE(lt.image_id);
  EXPECT_FALSE(lt.instance_type);
  EXPECT_FALSE(lt.user_data);
  EXPECT_FALSE(lt.count);
  EXPECT_TRUE(lt.tags.empty());
  EXPECT_TRUE(lt.block_device_mappings.empty());
}

TEST(LaunchTemplateParse, ReadsAKeyName) {
  EXPECT_EQ(parsed_template("key_name = \"web key\"\n").key_name, "web key");
  EXPECT_FALSE(parsed_template("count = 1\n").key_name);
  EXPECT_TRUE(located_in_template(lt_error("key_name = \"\"\n"), "lt.toml:1:12", "key_name"));
  EXPECT_TRUE(located_in_template(lt_error("key_name = \"" + std::string(256, 'k') + "\"\n"), "lt.toml:1:12", "key_name"));
  EXPECT_TRUE(located_in_template(lt_error("key_name = 7\n"), "lt.toml:1:12", "key_name"));
}

TEST(LaunchTemplateParse, ReadsSecurityGroupIds) {
  EXPECT_EQ(parsed_template("security_group_ids = [\"sg-0123456789abcdef0\", \"sg-0123456789abcdef1\"]\n").security_group_ids,
            (std::vector<std::string>{"sg-0123456789abcdef0", "sg-0123456789abcdef1"}));
  EXPECT_TRUE(parsed_template("count = 1\n").security_group_ids.empty());
  EXPECT_TRUE(located_in_template(lt_error("security_group_ids = []\n"), "lt.toml:1:22", "security_group_ids"));
  EXPECT_TRUE(located_in_template(lt_error("security_group_ids = \"sg-0123456789abcdef0\"\n"), "lt.toml:1:22", "security_group_ids"));
  Problem p = lt_error("security_group_ids = [\"web\"]\n");
  EXPECT_EQ(p.code, "InvalidGroupId.Malformed");
  EXPECT_TRUE(located_in_template(p, "lt.toml:1:23", "security_group_ids"));
}

TEST(LaunchTemplateParse, RefusesUnknownKeys) {
  Problem p = lt_error("image_id = \"ami-0123456789abcdef0\"\nebs_optimized = true\n");
  EXPECT_TRUE(located_in_template(p, "lt.toml:2:1", "'ebs_optimized'"));
  EXPECT_EQ(p.code, codes::kUnknownParameter);

  Problem table = lt_error("[placement]\nzone = \"a\"\n");
  EXPECT_TRUE(located_in_template(table, "lt.toml:1:2", "'placement'"));
}

TEST(LaunchTemplateParse, RefusesMalformedImageIds) {
  for (const char* id : {"ami-123", "ami-0123456789ABCDEF0", "../ami-0123456789abcdef0",
                         "snap-0123456789abcdef0", "ami-0123456789abcdef01", ""}) {
    SCOPED_TRACE(id);
    Problem p = lt_error("count = 1\nimage_id = \"" + std::string(id) + "\"\n");
    EXPECT_TRUE(located_in_template(p, "lt.toml:2:12", "image_id"));
    EXPECT_TRUE(has_substr(p.message, "not an image id"));
    EXPECT_EQ(p.code, codes::kInvalidAmiIdMalformed);
  }
  EXPECT_TRUE(located_in_template(lt_error("image_id = 5\n"), "lt.toml:1:12", "image_id: must be a string"));
}

TEST(LaunchTemplateParse, ChecksInstanceTypeForm) {
  EXPECT_EQ(parsed_template("instance_type = \"" + std::string(64, 'm') + "\"\n").instance_type,
            std::string(64, 'm'));
  EXPECT_EQ(parsed_template("instance_type = \"m5d.2xlarge\"\n").instance_type, "m5d.2xlarge");
  for (const std::string& type :
       {std::string(), std::string(65, 'm'), std::string("T3.small"), std::string("t3_small"),
        std::string("t3.small "), std::string("../t3")}) {
    SCOPED_TRACE(type);
    Problem p = lt_error("instance_type = \"" + type + "\"\n");
    EXPECT_TRUE(located_in_template(p, "lt.toml:1:17", "instance_type"));
    EXPECT_TRUE(has_substr(p.message, "1 to 64 of a-z, 0-9 and '.'"));
  }
  EXPECT_TRUE(located_in_template(lt_error("instance_type = [\"t3.small\"]\n"), "lt.toml:1:17",
                      "instance_type: must be a string"));
}

TEST(LaunchTemplateParse, CountIsFrom1To16) {
  EXPECT_EQ(parsed_template("count = 1\n").count, 1);
  EXPECT_EQ(parsed_template("count = 16\n").count, 16);
  struct Case {
    std::string value, says;
  };
  const std::vector<Case> cases = {
      {"0", "got 0"},          {"17", "got 17"},
      {"-1", "got -1"},        {"9223372036854775807", "got 9223372036854775807"},
      {"2.0", "whole number"}, {"\"2\"", "whole number"},
      {"true", "whole number"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    Problem p = lt_error("\ncount = " + c.value + "\n");
    EXPECT_TRUE(located_in_template(p, "lt.toml:2:9", "count"));
    EXPECT_TRUE(has_substr(p.message, c.says));
  }
}

TEST(LaunchTemplateParse, UserDataIsAtMost16KiB) {
  const std::string at_limit(kMaxUserDataBytes, 'x');
  EXPECT_EQ(parsed_template("user_data = \"" + at_limit + "\"\n").user_data->size(), 16384u);
  Problem p = lt_error("user_data = \"" + at_limit + "y\"\n");
  EXPECT_TRUE(located_in_template(p, "lt.toml:1:13", "user_data"));
  EXPECT_TRUE(has_substr(p.message, "16385 bytes; at most 16384"));
  // Bytes, not characters: 8193 two-byte characters are too many.
  std::string wide;
  for (int i = 0; i < 8193; ++i) wide += "\xc3\xa9";
  EXPECT_TRUE(located_in_template(lt_error("user_data = \"" + wide + "\"\n"), "lt.toml:1:13", "user_data"));
  EXPECT_TRUE(located_in_template(lt_error("user_data = 1\n"), "lt.toml:1:13", "user_data: must be a string"));
}

std::string tags_doc(const std::string& lines) { return "count = 1\n[tags]\n" + lines; }

TEST(LaunchTemplateParse, TagsAreAtMost50) {
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "k" + std::to_string(i) + " = \"v\"\n";
  LaunchTemplate lt = parsed_template(tags_doc(fifty));
  EXPECT_EQ(lt.tags.size(), 50u);
  EXPECT_EQ(lt.tags.at("k49"), "v");
  Problem p = lt_error(tags_doc(fifty + "k50 = \"v\"\n"));
  EXPECT_TRUE(located_in_template(p, "lt.toml:2:1", "tags"));
  EXPECT_TRUE(has_substr(p.message, "has 51 tags; at most 50"));
}

TEST(LaunchTemplateParse, TagKeysAre1To128Characters) {
  std::string accented;  // 128 characters, 256 bytes
  for (int i = 0; i < 128; ++i) accented += "\xc3\xa9";
  EXPECT_EQ(parsed_template(tags_doc("\"" + accented + "\" = \"x\"\n")).tags.count(accented), 1u);
  EXPECT_EQ(parsed_template(tags_doc(std::string(128, 'k') + " = \"x\"\n")).tags.size(), 1u);

  Problem long_key = lt_error(tags_doc(std::string(129, 'k') + " = \"x\"\n"));
  EXPECT_TRUE(located_in_template(long_key, "lt.toml:3:1", "tags.kkk"));
  EXPECT_TRUE(has_substr(long_key.message, "1 to 128 characters, this one has 129"));

  Problem empty = lt_error(tags_doc("\"\" = \"x\"\n"));
  EXPECT_TRUE(located_in_template(empty, "lt.toml:3:1", "tags."));
  EXPECT_TRUE(has_substr(empty.message, "this one has 0"));
}

TEST(LaunchTemplateParse, TagValuesAreAtMost256Characters) {
  EXPECT_EQ(parsed_template(tags_doc("k = \"\"\n")).tags.at("k"), "");
  EXPECT_EQ(parsed_template(tags_doc("k = \"" + std::string(256, 'v') + "\"\n")).tags.at("k").size(), 256u);
  Problem p = lt_error(tags_doc("k = \"" + std::string(257, 'v') + "\"\n"));
  EXPECT_TRUE(located_in_template(p, "lt.toml:3:5", "tags.k"));
  EXPECT_TRUE(has_substr(p.message, "at most 256 characters, this one has 257"));
}

TEST(LaunchTemplateParse, TagKeysMayNotStartWithAws) {
  for (const char* key : {"aws:name", "AWS:name", "Aws:x", "aws:"}) {
    SCOPED_TRACE(key);
    Problem p = lt_error(tags_doc("\"" + std::string(key) + "\" = \"x\"\n"));
    EXPECT_TRUE(located_in_template(p, "lt.toml:3:1", std::string("tags.") + key));
    EXPECT_TRUE(has_substr(p.message, "reserved"));
  }
  EXPECT_EQ(parsed_template(tags_doc("awsome = \"x\"\n\"my:aws:\" = \"y\"\n")).tags.size(), 2u);
}

TEST(LaunchTemplateParse, TagsHoldNoControlCharacters) {
  Problem key = lt_error(tags_doc("\"a\\u0001b\" = \"x\"\n"));
  EXPECT_TRUE(located_in_template(key, "lt.toml:3:1", "tags."));
  EXPECT_TRUE(has_substr(key.message, "control characters"));
  for (const char* value : {"a\\tb", "a\\nb", "\\u007f", "\\u0085"}) {
    SCOPED_TRACE(value);
    Problem p = lt_error(tags_doc("k = \"" + std::string(value) + "\"\n"));
    EXPECT_TRUE(located_in_template(p, "lt.toml:3:5", "tags.k"));
    EXPECT_TRUE(has_substr(p.message, "control characters"));
  }
  EXPECT_EQ(parsed_template(tags_doc("k = \"caf\\u00e9 \\u00a0ok\"\n")).tags.at("k"),
            "caf\xc3\xa9 \xc2\xa0ok");
}

TEST(LaunchTemplateParse, TagsMustBeATableOfStrings) {
  EXPECT_TRUE(located_in_template(lt_error("tags = \"Name=web\"\n"), "lt.toml:1:8", "tags"));
  EXPECT_TRUE(located_in_template(lt_error(tags_doc("k = 1\n")), "lt.toml:3:5", "tags.k: must be a string"));
  Problem nested = lt_error(tags_doc("k = { a = \"b\" }\n"));
  EXPECT_TRUE(located_in_template(nested, "lt.toml:3:5", "tags.k: must be a string"));
}

TEST(LaunchTemplateParse, BlockDeviceMappingsFollowTheirOwnRules) {
  Problem p = lt_error(
      "count = 1\n[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\n"
      "ebs = { volume_size = 0 }\n");
  EXPECT_TRUE(located_in_template(p, "lt.toml:4:23", "block_device_mappings[0].ebs.volume_size"));

  Problem dup = lt_error(
      "[[block_device_mappings]]\ndevice_name = \"/dev/sdc\"\nno_device = true\n"
      "[[block_device_mappings]]\ndevice_name = \"/dev/xvdc\"\nno_device = true\n");
  EXPECT_TRUE(located_in_template(dup, "lt.toml:5:15", "block_device_mappings[1].device_name"));
  EXPECT_TRUE(has_substr(dup.message, "same disk as /dev/sdc at lt.toml:2:15"));

  Problem wrong = lt_error("block_device_mappings = { device_name = \"/dev/vdb\" }\n");
  EXPECT_TRUE(located_in_template(wrong, "lt.toml:1:25", "block_device_mappings"));

  auto small = parse_launch_template(
      "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { volume_size = 9 }\n",
      "lt.toml", BdmLimits{8});
  ASSERT_FALSE(small.ok());
  EXPECT_TRUE(located_in_template(small.problem(), "lt.toml:3:23", "between 1 and 8 GiB"));
}

TEST(LaunchTemplateParse, RefusesInvalidUtf8AndHugeDocuments) {
  Problem utf8 = lt_error("count = 1\n[tags]\nName = \"caf\xe9\"\n");
  EXPECT_TRUE(has_substr(utf8.message, "lt.toml:3:"));
  EXPECT_TRUE(has_substr(utf8.message, "not valid UTF-8"));

  Problem big = lt_error("count = 1\n" + std::string(kMaxBdmDocumentBytes, '#') + "\n");
  EXPECT_TRUE(amid::testing::starts_with(big.message, "lt.toml: "));
  EXPECT_TRUE(has_substr(big.message, "at most 65536 (64 KiB)"));
}

TEST(LaunchTemplateParse, ReportsTomlSyntaxErrorsWithTheirPlace) {
  Problem p = lt_error("count = 1\nimage_id = \"ami-0123456789abcdef0\n");
  EXPECT_TRUE(has_substr(p.message, "lt.toml:2:"));
  Problem dup = lt_error("count = 1\ncount = 2\n");
  EXPECT_TRUE(has_substr(dup.message, "lt.toml:2:"));
}

// toml++ overflows its stack on keys of thousands of dotted parts: refused first,
// while dots inside strings (one-line or multi-line) are nobody's business.
TEST(LaunchTemplateParse, RefusesDeepDottedKeysButNotDotsInStrings) {
  std::string deep = "a";
  for (int i = 0; i < 30000; ++i) deep += ".a";
  auto r = parse_launch_template("count = 1\n" + deep + " = 1\n", "lt.toml", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problem().message.find("lt.toml:2:1: a key with more than 32 dotted parts"), std::string::npos)
      << r.problem().message;
  std::string dots(200, '.');
  auto ok = parse_launch_template("user_data = \"" + dots + "\"\n", "lt.toml", {});
  EXPECT_TRUE(ok.ok()) << ok.problem().message;
  auto multi = parse_launch_template("user_data = \"\"\"\n" + dots + " = 1\n\"\"\"\ncount = 2\n", "lt.toml", {});
  ASSERT_TRUE(multi.ok()) << multi.problem().message;
  EXPECT_EQ(multi.value().count, 2);
  auto literal = parse_launch_template("user_data = '''\n" + dots + "\n'''\n", "lt.toml", {});
  EXPECT_TRUE(literal.ok()) << literal.problem().message;
}

}  // namespace
}  // namespace amid
