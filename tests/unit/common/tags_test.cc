// common/tags.h: EC2's tag rules and TagSpecifications as RunInstances takes them.
#include "common/tags.h"

#include <gtest/gtest.h>

namespace amid {
namespace {

using protocol::Json;

Json spec(const std::string& type, Json tags) {
  return Json::array({{{"ResourceType", type}, {"Tags", tags}}});
}

TEST(TagRules, KeysAndValues) {
  EXPECT_FALSE(tag_key_problem("Name"));
  EXPECT_FALSE(tag_key_problem(std::string(128, 'k')));
  EXPECT_TRUE(tag_key_problem(""));
  EXPECT_TRUE(tag_key_problem(std::string(129, 'k')));
  EXPECT_TRUE(tag_key_problem("aws:cloudformation"));
  EXPECT_TRUE(tag_key_problem("AWS:x"));
  EXPECT_FALSE(tag_key_problem("awsome"));
  EXPECT_TRUE(tag_key_problem("a\nb"));
  EXPECT_FALSE(tag_value_problem(""));
  EXPECT_FALSE(tag_value_problem(std::string(256, 'v')));
  EXPECT_TRUE(tag_value_problem(std::string(257, 'v')));
  // Characters, not bytes: 256 two-byte characters are fine.
  std::string wide;
  for (int i = 0; i < 256; ++i) wide += "\xc3\xa9";
  EXPECT_FALSE(tag_value_problem(wide));
  EXPECT_TRUE(tag_value_problem("tab\there"));
}

TEST(TagSpecifications, ReadsInstanceAndVolumeTags) {
  Json j = Json::array({{{"ResourceType", "instance"},
                         {"Tags", Json::array({{{"Key", "Name"}, {"Value", "web"}}, {{"Key", "empty"}}})}},
                        {{"ResourceType", "volume"}, {"Tags", Json::array({{{"Key", "b"}, {"Value", "1"}}})}}});
  auto r = parse_tag_specifications(j, {"instance", "volume"});
  ASSERT_TRUE(r.ok()) << r.problem().message;
  ASSERT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value()[0].resource_type, "instance");
  EXPECT_EQ(r.value()[0].tags, (TagMap{{"Name", "web"}, {"empty", ""}}));
  EXPECT_EQ(r.value()[1].tags, (TagMap{{"b", "1"}}));
  // to_json writes what parse reads.
  auto again = parse_tag_specifications(Json::array({to_json(r.value()[0])}), {"instance"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()[0].tags, r.value()[0].tags);
}

TEST(TagSpecifications, RefusesBadInputNamingTheField) {
  struct Case {
    Json json;
    std::string field;
  };
  std::vector<Case> cases = {
      {Json::object(), "TagSpecifications:"},
      {spec("image", Json::array()), "TagSpecifications[0].ResourceType"},
      {Json::array({{{"Tags", Json::array()}}}), "TagSpecifications[0].ResourceType"},
      {Json::array({{{"ResourceType", "instance"}}}), "TagSpecifications[0].Tags"},
      {Json::array({{{"ResourceType", "instance"}, {"Tags", Json::array()}, {"Extra", 1}}}),
       "TagSpecifications[0].Extra"},
      {spec("instance", Json::array({{{"Value", "v"}}})), "TagSpecifications[0].Tags[0].Key"},
      {spec("instance", Json::array({{{"Key", "aws:x"}}})), "TagSpecifications[0].Tags[0].Key"},
      {spec("instance", Json::array({{{"Key", "k"}, {"Value", 3}}})), "TagSpecifications[0].Tags[0].Value"},
      {spec("instance", Json::array({{{"Key", "k"}, {"Value", std::string(300, 'v')}}})),
       "TagSpecifications[0].Tags[0].Value"},
      {spec("instance", Json::array({{{"Key", "k"}}, {{"Key", "k"}}})), "TagSpecifications[0].Tags[1].Key"},
      {spec("instance", Json::array({{{"Key", "k"}, {"Colour", "red"}}})), "TagSpecifications[0].Tags[0].Colour"},
      {Json::array({{{"ResourceType", "instance"}, {"Tags", Json::array()}},
                    {{"ResourceType", "instance"}, {"Tags", Json::array()}}}),
       "TagSpecifications[1].ResourceType"},
  };
  Json many = Json::array();
  for (int i = 0; i < 51; ++i) many.push_back({{"Key", "k" + std::to_string(i)}});
  cases.push_back({spec("instance", many), "TagSpecifications[0].Tags"});
  for (const auto& c : cases) {
    auto r = parse_tag_specifications(c.json, {"instance", "volume"});
    ASSERT_FALSE(r.ok()) << c.json.dump();
    EXPECT_EQ(r.problem().code, codes::kInvalidParameterValue);
    EXPECT_NE(r.problem().message.find(c.field), std::string::npos)
        << c.json.dump() << " -> " << r.problem().message;
  }
}

}  // namespace
}  // namespace amid
