// services/instance_types.h: the compiled-in table is configs/instance-types.toml,
// with EC2's figures; a bad table file is refused with file:line:column.
#include "daemon/services/instance_types.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

// True when `rest` starts with a column number and ": " (not std::regex: g++ 12
// warns -Wmaybe-uninitialized inside <regex> under -fsanitize=address,undefined).
bool starts_with_column(const std::string& rest) {
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  return digits > 0 && rest.compare(digits, 2, ": ") == 0;
}

::testing::AssertionResult located(const std::string& message, const std::string& file, int line) {
  const std::string prefix = file + ":" + std::to_string(line) + ":";
  if (message.rfind(prefix, 0) == 0 &&
      starts_with_column(message.substr(prefix.size()))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "\"" << message << "\" does not start with " << prefix
                                       << "COLUMN: ";
}

Problem parse_error(const std::string& text) {
  auto r = parse_instance_types(text, "types.toml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Problem{} : r.problem();
}

TEST(BuiltinInstanceTypes, HaveEc2sFiguresForT3) {
  const InstanceTypes& types = builtin_instance_types();
  auto micro = types.find("t3.micro");
  ASSERT_NE(micro, types.end());
  EXPECT_EQ(micro->second.name, "t3.micro");
  EXPECT_EQ(micro->second.vcpus, 2);
  EXPECT_EQ(micro->second.memory_mib, 1024u);
  EXPECT_EQ(micro->second.instance_store_gib, 0u);

  auto nano = types.find("t3.nano");
  ASSERT_NE(nano, types.end());
  EXPECT_EQ(nano->second.vcpus, 2);
  EXPECT_EQ(nano->second.memory_mib, 512u);
}

TEST(BuiltinInstanceTypes, OfferTheDefaultType) {
  EXPECT_EQ(builtin_instance_types().count(kDefaultInstanceType), 1u);
}

TEST(BuiltinInstanceTypes, AreExactlyConfigsInstanceTypesToml) {
  const std::string path = std::string(AMID_SOURCE_DIR) + "/configs/instance-types.toml";
  auto parsed = parse_instance_types(amid::testing::read_text(path), path);
  ASSERT_TRUE(parsed.ok()) << parsed.problem().message;
  const InstanceTypes& builtin = builtin_instance_types();
  ASSERT_EQ(builtin.size(), parsed.value().size());
  for (const auto& [name, want] : parsed.value()) {
    auto got = builtin.find(name);
    ASSERT_NE(got, builtin.end()) << name;
    EXPECT_EQ(got->second.name, want.name);
    EXPECT_EQ(got->second.vcpus, want.vcpus) << name;
    EXPECT_EQ(got->second.memory_mib, want.memory_mib) << name;
    EXPECT_EQ(got->second.instance_store_gib, want.instance_store_gib) << name;
    EXPECT_EQ(got->second.architecture, want.architecture) << name;
  }
  EXPECT_EQ(builtin.at("t3.micro").architecture, "x86_64");
  EXPECT_EQ(builtin.at("t4g.micro").architecture, "arm64");
}

TEST(ParseInstanceTypes, ReadsAndChecksArchitecture) {
  auto r = parse_instance_types("[instance_types]\n\"a1.x\" = { vcpus = 1, memory_mib = 64, architecture = \"arm64\" }\n",
                                "types.toml");
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().at("a1.x").architecture, "arm64");
  for (const char* bad : {"\"riscv64\"", "64", "\"aarch64\""}) {
    auto b = parse_instance_types(std::string("[instance_types]\n\"a1.x\" = { vcpus = 1, memory_mib = 64, architecture = ") +
                                      bad + " }\n",
                                  "types.toml");
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.problem().message.find("types.toml:2:"), std::string::npos) << b.problem().message;
    EXPECT_NE(b.problem().message.find("a1.x.architecture"), std::string::npos) << b.problem().message;
  }
}

TEST(ParseInstanceTypes, ReadsInlineAndStandardTables) {
  auto r = parse_instance_types(R"(
[instance_types]
"x1.small" = { vcpus = 1, memory_mib = 64 }
"x1.disk"  = { vcpus = 3, memory_mib = 3072, instance_store_gib = 20 }

[instance_types."x1.big"]
vcpus = 8
memory_mib = 32768
)",
                                "types.toml");
  ASSERT_TRUE(r.ok()) << r.problem().message;
  const InstanceTypes& t = r.value();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t.at("x1.small").vcpus, 1);
  EXPECT_EQ(t.at("x1.small").memory_mib, 64u);
  EXPECT_EQ(t.at("x1.disk").instance_store_gib, 20u);
  EXPECT_EQ(t.at("x1.big").name, "x1.big");
  EXPECT_EQ(t.at("x1.big").vcpus, 8);
  EXPECT_EQ(t.at("x1.big").memory_mib, 32768u);
}

TEST(ParseInstanceTypes, RefusesAnUnknownFieldAndNamesIt) {
  Problem p = parse_error("[instance_types]\n\"a.b\" = { vcpus = 1, memory_mib = 512, gpus = 1 }\n");
  EXPECT_TRUE(located(p.message, "types.toml", 2));
  EXPECT_TRUE(has_substr(p.message, "unknown key 'gpus'"));
}

// Fails today: a non-integer unknown field is reported as a bad number
// ("a.b.color: must be a whole number ...") instead of as an unknown key,
// because instance_types.cc checks the value before the field's name.
TEST(ParseInstanceTypes, RefusesAnUnknownFieldOfAnyTypeAsUnknown) {
  Problem p = parse_error("[instance_types]\n\"a.b\" = { vcpus = 1, memory_mib = 512, color = \"red\" }\n");
  EXPECT_TRUE(located(p.message, "types.toml", 2));
  EXPECT_TRUE(has_substr(p.message, "unknown key 'color'"));
}

TEST(ParseInstanceTypes, RefusesAnUnknownTopLevelKey) {
  Problem p = parse_error("[instance_types]\n\"a\" = { vcpus = 1, memory_mib = 512 }\n\n[sizes]\n");
  EXPECT_TRUE(located(p.message, "types.toml", 4));
  EXPECT_TRUE(has_substr(p.message, "unknown key 'sizes'"));
}

TEST(ParseInstanceTypes, RefusesNegativeAndNonIntegerNumbers) {
  struct Case {
    const char* text;
    const char* field;
  };
  for (const Case& c : {Case{"[instance_types]\n\"a\" = { vcpus = -1, memory_mib = 512 }\n", "a.vcpus"},
                        Case{"[instance_types]\n\"a\" = { vcpus = 1, memory_mib = -512 }\n", "a.memory_mib"},
                        Case{"[instance_types]\n\"a\" = { vcpus = 1.5, memory_mib = 512 }\n", "a.vcpus"},
                        Case{"[instance_types]\n\"a\" = { vcpus = \"2\", memory_mib = 512 }\n", "a.vcpus"},
                        Case{"[instance_types]\n\"a\" = { vcpus = 1, memory_mib = 99999999999 }\n",
                             "a.memory_mib"}}) {
    Problem p = parse_error(c.text);
    EXPECT_TRUE(located(p.message, "types.toml", 2));
    EXPECT_TRUE(has_substr(p.message, std::string(c.field) + ": must be a whole number"));
  }
}

TEST(ParseInstanceTypes, RefusesATypeWithoutVcpusOrMemory) {
  for (const char* text : {"[instance_types]\n\"a\" = { memory_mib = 512 }\n",
                           "[instance_types]\n\"a\" = { vcpus = 2 }\n",
                           "[instance_types]\n\"a\" = { vcpus = 0, memory_mib = 512 }\n",
                           "[instance_types]\n\"a\" = { vcpus = 1, memory_mib = 63 }\n"}) {
    Problem p = parse_error(text);
    EXPECT_TRUE(located(p.message, "types.toml", 2));
    EXPECT_TRUE(has_substr(p.message, "a: needs vcpus"));
  }
}

TEST(ParseInstanceTypes, RefusesATypeThatIsNotATable) {
  Problem p = parse_error("[instance_types]\n\"a\" = { vcpus = 1, memory_mib = 512 }\n\"b\" = 5\n");
  EXPECT_TRUE(located(p.message, "types.toml", 3));
  EXPECT_TRUE(has_substr(p.message, "b: must be a table"));
}

// Fails today: `instance_types = 5` is reported as "[instance_types] table
// missing", with no line or column, though it is present and of the wrong type.
TEST(ParseInstanceTypes, RefusesInstanceTypesThatIsNotATableWithItsLocation) {
  Problem p = parse_error("# types\ninstance_types = 5\n");
  EXPECT_TRUE(located(p.message, "types.toml", 2));
  EXPECT_TRUE(has_substr(p.message, "instance_types"));
}

TEST(ParseInstanceTypes, RefusesAnEmptyOrMissingTable) {
  EXPECT_TRUE(has_substr(parse_error("[instance_types]\n").message, "no instance types"));
  EXPECT_TRUE(has_substr(parse_error("").message, "[instance_types]"));
}

TEST(ParseInstanceTypes, ReportsSyntaxErrorsWithTheirLocation) {
  Problem p = parse_error("[instance_types]\n\"a\" = { vcpus = 1, memory_mib = }\n");
  EXPECT_TRUE(located(p.message, "types.toml", 2));
}

}  // namespace
}  // namespace amid
