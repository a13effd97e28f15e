// api/filters.h: the Filters parameter, and every filter name
// of DescribeImages, DescribeInstances, DescribeVolumes and DescribeTags matched
// against rows rendered as amid answers them.
#include "daemon/api/filters.h"

#include <gtest/gtest.h>

#include "common/block_device_mapping.h"
#include "daemon/services/render.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

Filters parse_ok(const Json& j, const FilterSchema& schema) {
  auto r = parse_filters(j, schema);
  EXPECT_TRUE(r.ok()) << j.dump() << ": " << (r.ok() ? "" : r.problem().message);
  return r.ok() ? r.value() : Filters{};
}

Json filter(const std::string& name, std::vector<std::string> values) {
  return Json::array({{{"Name", name}, {"Values", values}}});
}

TEST(ParseFilters, ReadsNamesAndValues) {
  auto f = parse_ok(Json::parse(R"([{"Name":"state","Values":["available","pending"]},
                                    {"Name":"tag:Name","Values":["web*"]},{"Name":"tag-key","Values":["env"]}])"),
                    kImageFilters);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "state");
  EXPECT_EQ(f[0].values, (std::vector<std::string>{"available", "pending"}));
  EXPECT_EQ(f[1].name, "tag:Name");
  EXPECT_TRUE(parse_ok(Json::array(), kImageFilters).empty());
}

TEST(ParseFilters, AnUnknownNameIsRefusedByName) {
  for (const auto* schema : {&kImageFilters, &kInstanceFilters, &kVolumeFilters, &kTagFilters}) {
    auto r = parse_filters(filter("foo", {"x"}), *schema);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.problem().code, codes::kInvalidParameterValue);
    EXPECT_TRUE(has_substr(r.problem().message, "Filters: unknown filter name 'foo'"));
  }
  // Names belong to their action.
  EXPECT_FALSE(parse_filters(filter("instance-state-name", {"running"}), kImageFilters).ok());
  EXPECT_FALSE(parse_filters(filter("state", {"available"}), kInstanceFilters).ok());
  EXPECT_FALSE(parse_filters(filter("tag:Name", {"x"}), kTagFilters).ok()) << "DescribeTags has key/value";
  EXPECT_FALSE(parse_filters(filter("tag:", {"x"}), kImageFilters).ok()) << "tag: needs a key";
  auto r = parse_filters(filter("Name", {"x"}), kImageFilters);
  EXPECT_TRUE(has_substr(r.problem().message, "'Name'")) << "names are case-sensitive";
  EXPECT_TRUE(has_substr(r.problem().message, "known: architecture")) << "lists the names it knows";
}

TEST(ParseFilters, RefusesBadShapesNamingTheField) {
  struct Case {
    Json json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {Json::object(), "Filters:"},
      {Json::array({"state"}), "Filters[0]"},
      {Json::array({{{"Values", {"x"}}}}), "Filters[0].Name"},
      {Json::array({{{"Name", 3}, {"Values", {"x"}}}}), "Filters[0].Name"},
      {Json::array({{{"Name", "state"}}}), "Filters[0].Values"},
      {Json::array({{{"Name", "state"}, {"Values", Json::array()}}}), "Filters[0].Values"},
      {Json::array({{{"Name", "state"}, {"Values", "available"}}}), "Filters[0].Values"},
      {Json::array({{{"Name", "state"}, {"Values", {1}}}}), "Filters[0].Values"},
      {Json::array({{{"Name", "state"}, {"Values", {"a\nb"}}}}), "Filters[0].Values"},
      {Json::array({{{"Name", "state"}, {"Values", {"x"}}, {"Value", "x"}}}), "Filters[0].Value"},
      {Json::array({{{"Name", "state"}, {"Values", {"x"}}}, {{"Name", "name"}}}), "Filters[1].Values"},
  };
  for (const auto& c : cases) {
    auto r = parse_filters(c.json, kImageFilters);
    ASSERT_FALSE(r.ok()) << c.json.dump();
    EXPECT_EQ(r.problem().code, codes::kInvalidParameterValue);
    EXPECT_TRUE(has_substr(r.problem().message, c.field)) << c.json.dump();
  }
  Json many = Json::array();
  for (size_t i = 0; i <= kMaxFilters; ++i) many.push_back({{"Name", "state"}, {"Values", {"x"}}});
  EXPECT_FALSE(parse_filters(many, kImageFilters).ok());
  std::vector<std::string> values(kMaxFilterValues + 1, "x");
  EXPECT_FALSE(parse_filters(filter("state", values), kImageFilters).ok());
}

// Whether `row` passes the one filter NAME=VALUES.
bool passes(const Json& row, const FilterSchema& schema, const std::string& name, std::vector<std::string> values) {
  return matches(parse_ok(filter(name, std::move(values)), schema), schema, row);
}

ImageRecord sample_image() {
  ImageRecord r;
  r.id = "ami-0123456789abcdef0";
  r.name = "web server (v2)";
  r.description = "nginx on debian";
  r.owner = "000000001000";
  r.region = "local-1";
  r.state = ImageState::kAvailable;
  r.architecture = "arm64";
  r.virtualization_type = "paravirtual";
  r.root_device_type = "ebs";
  r.creation_date = "2026-11-27T03:49:17.248Z";
  r.size_bytes = 3ull << 30;
  BlockDeviceMapping root{"/dev/vda", EbsSpec{}, std::nullopt, false};
  root.ebs->volume_size_gib = 3;
  root.ebs->snapshot_id = "snap-0123456789abcdef0";
  BlockDeviceMapping data{"/dev/vdb", EbsSpec{}, std::nullopt, false};
  data.ebs->volume_size_gib = 20;
  BlockDeviceMapping scratch{"/dev/vdc", std::nullopt, "ephemeral0", false};
  r.block_device_mappings = BlockDeviceMappings{root, data, scratch};
  r.tags = {{"Name", "web"}, {"env", "prod"}, {"empty", ""}};
  return r;
}

TEST(ImageFilters, EveryName) {
  const Json row = render_image(sample_image());
  ASSERT_EQ(row["BlockDeviceMappings"].size(), 3u) << row.dump();
  const auto& s = kImageFilters;
  struct Case {
    std::string name;
    std::vector<std::string> hit, miss;
  };
  const std::vector<Case> cases = {
      {"name", {"web server (v2)", "web*", "*(v?)"}, {"web", "Web*"}},
      {"state", {"available", "avail*"}, {"pending"}},
      {"architecture", {"arm64"}, {"x86_64"}},
      {"root-device-type", {"ebs"}, {"instance-store"}},
      {"virtualization-type", {"paravirtual"}, {"hvm"}},
      {"owner-id", {"000000001000", "*1000"}, {"000000002000"}},
      {"is-public", {"false"}, {"true"}},
      {"image-id", {"ami-0123456789abcdef0", "ami-0123*"}, {"ami-0123456789abcdef1"}},
      {"description", {"nginx*"}, {"apache*"}},
      {"creation-date", {"2026-11-27T*", "2026-11-27T03:49:17.248Z"}, {"2026-11-28*"}},
      // Every EBS mapping counts; numbers compare exactly.
      {"block-device-mapping.volume-size", {"3", "20"}, {"2", "2*", "8"}},
      {"tag:Name", {"web", "w?b"}, {"db"}},
      {"tag:env", {"prod"}, {"dev"}},
      {"tag:empty", {""}, {"x"}},
      {"tag:absent", {}, {"*", ""}},
      {"tag-key", {"Name", "env", "e*"}, {"name", "owner"}},
  };
  for (const auto& c : cases) {
    for (const auto& v : c.hit) EXPECT_TRUE(passes(row, s, c.name, {v})) << c.name << "=" << v;
    for (const auto& v : c.miss) EXPECT_FALSE(passes(row, s, c.name, {v})) << c.name << "=" << v;
  }
}

TEST(ImageFilters, ValuesAreOredAndFiltersAnded) {
  const Json row = render_image(sample_image());
  const auto& s = kImageFilters;
  EXPECT_TRUE(passes(row, s, "state", {"pending", "available"}));
  EXPECT_FALSE(passes(row, s, "state", {"pending", "failed"}));
  auto both = parse_ok(Json::parse(R"([{"Name":"state","Values":["available"]},
                                       {"Name":"architecture","Values":["arm64"]}])"),
                       s);
  EXPECT_TRUE(matches(both, s, row));
  auto one_fails = parse_ok(Json::parse(R"([{"Name":"state","Values":["available"]},
                                            {"Name":"architecture","Values":["x86_64"]}])"),
                            s);
  EXPECT_FALSE(matches(one_fails, s, row));
  EXPECT_TRUE(matches({}, s, row)) << "no filters: everything";
}

TEST(ImageFilters, AnInstanceStoreImageHasNoVolumeSize) {
  ImageRecord r = sample_image();
  r.root_device_type = "instance-store";
  r.block_device_mappings.reset();
  const Json row = render_image(r);
  EXPECT_FALSE(passes(row, kImageFilters, "block-device-mapping.volume-size", {"3"}));
  EXPECT_TRUE(passes(row, kImageFilters, "root-device-type", {"instance-store"}));
}

TEST(InstanceFilters, EveryName) {
  InstanceRecord r;
  r.id = "i-0123456789abcdef0";
  r.reservation_id = "r-0123456789abcdef0";
  r.image_id = "ami-0123456789abcdef0";
  r.owner = "000000001000";
  r.region = "local-1";
  r.instance_type = "t3.nano";
  r.state = InstanceState::kStopped;
  r.launch_time = "2026-11-27T03:49:17.248Z";
  r.architecture = "x86_64";
  r.root_device_type = "ebs";
  r.virtualization_type = "hvm";
  r.tags = {{"Name", "web-1"}};
  Json row = render_instance(r);
  row["ReservationId"] = r.reservation_id;  // as the dispatcher adds them
  row["OwnerId"] = r.owner;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"instance-id", "i-0123456789abcdef0", "i-0123456789abcdef1"},
      {"instance-state-name", "stopped", "running"},
      {"instance-type", "t3.*", "m5.*"},
      {"image-id", "ami-0123456789abcdef0", "ami-1*"},
      {"architecture", "x86_64", "arm64"},
      {"root-device-type", "ebs", "instance-store"},
      {"virtualization-type", "hvm", "paravirtual"},
      {"owner-id", "000000001000", "000000000000"},
      {"reservation-id", "r-0123456789abcdef0", "r-1*"},
      {"launch-time", "2026-11-27T03:4?:*", "2025-*"},
      {"tag:Name", "web-?", "db"},
      {"tag-key", "Name", "Owner"},
  };
  for (const auto& [name, hit, miss] : cases) {
    EXPECT_TRUE(passes(row, kInstanceFilters, name, {hit})) << name << "=" << hit;
    EXPECT_FALSE(passes(row, kInstanceFilters, name, {miss})) << name << "=" << miss;
  }
}

TEST(VolumeFilters, EveryName) {
  VolumeRecord v;
  v.id = "vol-0123456789abcdef0";
  v.owner = "000000001000";
  v.region = "local-1";
  v.size_gib = 20;
  v.state = "in-use";
  v.create_time = "2026-11-27T03:49:17.248Z";
  v.instance_id = "i-0123456789abcdef0";
  v.device = "/dev/vdb";
  v.delete_on_termination = false;
  v.tags = {{"backup", "daily"}};
  const Json row = render_volume(v);
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"volume-id", "vol-0123456789abcdef0", "vol-0*1"},
      {"status", "in-use", "available"},
      {"size", "20", "2"},
      {"attachment.instance-id", "i-0123456789abcdef0", "i-1*"},
      {"attachment.device", "/dev/vd?", "/dev/sdb"},
      {"attachment.delete-on-termination", "false", "true"},
      {"create-time", "2026-*", "2027-*"},
      {"tag:backup", "daily", "weekly"},
      {"tag-key", "backup", "Name"},
  };
  for (const auto& [name, hit, miss] : cases) {
    EXPECT_TRUE(passes(row, kVolumeFilters, name, {hit})) << name << "=" << hit;
    EXPECT_FALSE(passes(row, kVolumeFilters, name, {miss})) << name << "=" << miss;
  }
  // An available volume has no attachment: attachment filters match nothing.
  v.instance_id.clear();
  v.device.clear();
  v.state = "available";
  const Json free_row = render_volume(v);
  EXPECT_FALSE(passes(free_row, kVolumeFilters, "attachment.instance-id", {"*"}));
  EXPECT_FALSE(passes(free_row, kVolumeFilters, "attachment.delete-on-termination", {"false", "true"}));
  EXPECT_TRUE(passes(free_row, kVolumeFilters, "status", {"available"}));
}

TEST(TagFilters, EveryName) {
  const Json row = {{"Key", "Name"}, {"Value", "web"}, {"ResourceId", "vol-0123456789abcdef0"},
                    {"ResourceType", "volume"}};
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"key", "Name", "name"},
      {"value", "w*", "db"},
      {"resource-id", "vol-*", "i-*"},
      {"resource-type", "volume", "image"},
  };
  for (const auto& [name, hit, miss] : cases) {
    EXPECT_TRUE(passes(row, kTagFilters, name, {hit})) << name << "=" << hit;
    EXPECT_FALSE(passes(row, kTagFilters, name, {miss})) << name << "=" << miss;
  }
}

}  // namespace
}  // namespace amid
