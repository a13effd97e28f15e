// CreateTags, DeleteTags and DescribeTags through the dispatcher (services/tag_service.h):
// every kind of resource, EC2's rules for deleting, all or nothing on a list with
// one bad id, the 50-tag limit, and owners only.
#include <gtest/gtest.h>

#include <set>

#include "daemon/api/listing.h"
#include "tests/unit/catalog_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

Json tag_list(const Tags& tags) {
  Json out = Json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out;
}

class TagActionsTest : public ::amid::testing::CatalogFixture {
 protected:
  // alice's resources, one of each kind, with one tag each.
  void SetUp() override {
    CatalogFixture::SetUp();
    image_ = add_image("web", alice_, {{"Name", "image"}});
    snapshot_ = add_snapshot(image_, {{"Name", "snapshot"}});
    volume_ = add_volume(alice_, {{"Name", "volume"}});
    instance_ = add_instance(alice_, new_id("r"), {{"Name", "instance"}});
    ids_ = {image_.id, snapshot_.id, volume_.id, instance_.id};
  }

  // Every resource's tags, to compare before and after a refused request.
  std::map<std::string, Tags> all_tags() const {
    std::map<std::string, Tags> out;
    for (const auto& id : ids_) out[id] = catalog_->tags_of(id);
    return out;
  }

  ImageRecord image_;
  SnapshotRecord snapshot_;
  VolumeRecord volume_;
  InstanceRecord instance_;
  std::vector<std::string> ids_;
};

TEST_F(TagActionsTest, CreateTagsOnEveryKindOfResource) {
  auto r = call("CreateTags", {{"Resources", ids_}, {"Tags", tag_list({{"env", "prod"}, {"Name", "renamed"}})}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  for (const auto& id : ids_) {
    EXPECT_EQ(catalog_->tags_of(id), (Tags{{"Name", "renamed"}, {"env", "prod"}})) << id;
  }
  // Each Describe action shows them.
  auto img = call("DescribeImages", {{"ImageIds", {image_.id}}});
  EXPECT_EQ(img.body["Images"][0]["Tags"], tag_list({{"Name", "renamed"}, {"env", "prod"}}));
  auto vol = call("DescribeVolumes", {{"VolumeIds", {volume_.id}}});
  EXPECT_EQ(vol.body["Volumes"][0]["Tags"], tag_list({{"Name", "renamed"}, {"env", "prod"}}));
  auto inst = call("DescribeInstances", {{"InstanceIds", {instance_.id}}});
  EXPECT_EQ(inst.body["Reservations"][0]["Instances"][0]["Tags"], tag_list({{"Name", "renamed"}, {"env", "prod"}}));
}

TEST_F(TagActionsTest, ATagWithoutValueIsAnEmptyValue) {
  auto r = call("CreateTags", {{"Resources", {volume_.id}}, {"Tags", {{{"Key", "flag"}}}}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(catalog_->tags_of(volume_.id), (Tags{{"Name", "volume"}, {"flag", ""}}));
}

TEST_F(TagActionsTest, DescribeTagsListsEveryTagWithItsResource) {
  auto r = call("DescribeTags", Json::object());
  ASSERT_TRUE(r.ok) << r.error_message;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& t : r.body["Tags"]) {
    EXPECT_EQ(t["Key"], "Name");
    EXPECT_EQ(t["Value"], t["ResourceType"]) << "each resource's Name is its type here";
    seen.emplace(t["ResourceId"], t["ResourceType"]);
  }
  EXPECT_EQ(seen, (std::set<std::pair<std::string, std::string>>{{image_.id, "image"},
                                                                 {snapshot_.id, "snapshot"},
                                                                 {volume_.id, "volume"},
                                                                 {instance_.id, "instance"}}));
  EXPECT_FALSE(r.body.contains("NextToken"));
}

TEST_F(TagActionsTest, DescribeTagsFilters) {
  ASSERT_TRUE(call("CreateTags", {{"Resources", {volume_.id, instance_.id}}, {"Tags", tag_list({{"env", "prod"}})}}).ok);
  auto only = [&](const Json& filters) {
    auto r = call("DescribeTags", {{"Filters", filters}});
    EXPECT_TRUE(r.ok) << r.error_message;
    std::set<std::string> out;
    for (const auto& t : r.body["Tags"]) out.insert(t["ResourceId"].get<std::string>() + "/" + t["Key"].get<std::string>());
    return out;
  };
  EXPECT_EQ(only(Json::parse(R"([{"Name":"key","Values":["env"]}])")),
            (std::set<std::string>{volume_.id + "/env", instance_.id + "/env"}));
  EXPECT_EQ(only(Json::parse(R"([{"Name":"resource-type","Values":["image","snapshot"]}])")),
            (std::set<std::string>{image_.id + "/Name", snapshot_.id + "/Name"}));
  EXPECT_EQ(only(Json::parse(R"([{"Name":"value","Values":["vol*","inst*"]},{"Name":"key","Values":["Name"]}])")),
            (std::set<std::string>{volume_.id + "/Name", instance_.id + "/Name"}));
  EXPECT_EQ(only(Json::array({{{"Name", "resource-id"}, {"Values", {image_.id}}}})),
            (std::set<std::string>{image_.id + "/Name"}));

  auto bad = call("DescribeTags", {{"Filters", Json::parse(R"([{"Name":"tag:Name","Values":["x"]}])")}});
  EXPECT_EQ(bad.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(bad.error_message, "unknown filter name 'tag:Name'"));
}

TEST_F(TagActionsTest, DescribeTagsPages) {
  Tags many;
  for (int i = 0; i < 12; ++i) many["k" + std::to_string(i)] = "v";
  ASSERT_TRUE(call("CreateTags", {{"Resources", ids_}, {"Tags", tag_list(many)}}).ok);
  std::vector<std::pair<std::string, std::string>> seen;
  Json params = {{"MaxResults", 7}};
  int pages = 0;
  for (;; ++pages) {
    auto r = call("DescribeTags", params);
    ASSERT_TRUE(r.ok) << r.error_message;
    for (const auto& t : r.body["Tags"]) seen.emplace_back(t["ResourceId"], t["Key"]);
    if (!r.body.contains("NextToken")) break;
    params["NextToken"] = r.body["NextToken"];
  }
  EXPECT_EQ(pages + 1, 8) << "52 tags, 7 a page";
  EXPECT_EQ(seen.size(), 4u * 13u);
  EXPECT_EQ(std::set(seen.begin(), seen.end()).size(), seen.size()) << "no tag twice";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  auto foreign = call("DescribeTags", {{"NextToken", encode_next_token("DescribeImages", {image_.id})}});
  EXPECT_EQ(foreign.error_code, codes::kInvalidNextToken);
  auto garbage = call("DescribeTags", {{"NextToken", "bm90IGEgdG9rZW4="}});
  EXPECT_EQ(garbage.error_code, codes::kInvalidNextToken);
  auto small = call("DescribeTags", {{"MaxResults", 4}});
  EXPECT_EQ(small.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(small.error_message, "MaxResults"));
}

TEST_F(TagActionsTest, DeleteTagsByKeyByValueAndAll) {
  Tags start = {{"Name", "web"}, {"env", "prod"}, {"team", "blue"}, {"empty", ""}};
  ASSERT_TRUE(call("CreateTags", {{"Resources", {volume_.id}}, {"Tags", tag_list(start)}}).ok);

  // A value that does not match leaves the tag; a key alone removes it whatever its value.
  auto r = call("DeleteTags", {{"Resources", {volume_.id}},
                               {"Tags", Json::parse(R"([{"Key":"env","Value":"dev"},{"Key":"team"}])")}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  EXPECT_EQ(catalog_->tags_of(volume_.id), (Tags{{"Name", "web"}, {"env", "prod"}, {"empty", ""}}));

  // An empty Value removes only a tag whose value is empty; keys it lacks are fine.
  ASSERT_TRUE(call("DeleteTags", {{"Resources", {volume_.id}},
                                  {"Tags", Json::parse(R"([{"Key":"Name","Value":""},{"Key":"empty","Value":""},
                                                           {"Key":"absent"}])")}})
                  .ok);
  EXPECT_EQ(catalog_->tags_of(volume_.id), (Tags{{"Name", "web"}, {"env", "prod"}}));
  ASSERT_TRUE(call("DeleteTags", {{"Resources", {volume_.id}}, {"Tags", Json::parse(R"([{"Key":"env","Value":"prod"}])")}}).ok);
  EXPECT_EQ(catalog_->tags_of(volume_.id), (Tags{{"Name", "web"}}));

  // No Tags: every tag of every resource named.
  ASSERT_TRUE(call("DeleteTags", {{"Resources", {volume_.id, image_.id}}}).ok);
  EXPECT_TRUE(catalog_->tags_of(volume_.id).empty());
  EXPECT_TRUE(catalog_->tags_of(image_.id).empty());
  EXPECT_EQ(catalog_->tags_of(instance_.id), (Tags{{"Name", "instance"}})) << "others keep theirs";
}

// A list with one bad id changes nothing, for either action, whatever is wrong with the id.
TEST_F(TagActionsTest, OneBadIdChangesNothing) {
  struct Case {
    std::string id, code;
  };
  const std::vector<Case> cases = {
      {"ami-0123456789abcdef0", codes::kInvalidAmiIdNotFound},
      {"snap-0123456789abcdef0", codes::kInvalidSnapshotNotFound},
      {"vol-0123456789abcdef0", codes::kInvalidVolumeNotFound},
      {"i-0123456789abcdef0", codes::kInvalidInstanceIdNotFound},
      {"ami-123", codes::kInvalidAmiIdMalformed},
      {"snap-XYZ", codes::kInvalidSnapshotIdMalformed},
      {"vol-0123456789ABCDEF0", codes::kInvalidVolumeIdMalformed},
      {"i-", codes::kInvalidInstanceIdMalformed},
      {"sg-0123456789abcdef0", codes::kInvalidId},
      {"web", codes::kInvalidId},
  };
  const auto before = all_tags();
  for (const auto& c : cases) {
    for (size_t at : {size_t{0}, ids_.size()}) {  // the bad id first, and last
      std::vector<std::string> resources = ids_;
      resources.insert(resources.begin() + static_cast<std::ptrdiff_t>(at), c.id);
      auto create = call("CreateTags", {{"Resources", resources}, {"Tags", tag_list({{"env", "prod"}})}});
      EXPECT_EQ(create.error_code, c.code) << c.id;
      EXPECT_TRUE(has_substr(create.error_message, "'" + c.id + "'")) << create.error_message;
      auto remove = call("DeleteTags", {{"Resources", resources}});
      EXPECT_EQ(remove.error_code, c.code) << c.id;
      EXPECT_EQ(all_tags(), before) << c.id;
    }
  }
}

TEST_F(TagActionsTest, ADeregisteredImageCannotBeTagged) {
  ImageRecord gone = add_image("old", alice_, {}, "deregistered");
  auto r = call("CreateTags", {{"Resources", {gone.id}}, {"Tags", tag_list({{"a", "b"}})}});
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_TRUE(catalog_->tags_of(gone.id).empty());
}

TEST_F(TagActionsTest, BadTagsAreRefusedByField) {
  struct Case {
    Json tags;
    std::string field;
  };
  const std::vector<Case> cases = {
      {Json::parse(R"([{"Key":"aws:name","Value":"x"}])"), "Tags[0].Key"},
      {Json::array({{{"Key", std::string(129, 'k')}}}), "Tags[0].Key"},
      {Json::array({{{"Key", "ok"}}, {{"Key", "v"}, {"Value", std::string(257, 'v')}}}), "Tags[1].Value"},
      {Json::parse(R"([{"Key":"a"},{"Key":"a"}])"), "Tags[1].Key"},
      {Json::parse(R"([{"Key":"a","Colour":"red"}])"), "Tags[0].Colour"},
      {Json::parse(R"({"Key":"a"})"), "Tags:"},
  };
  const auto before = all_tags();
  for (const auto& c : cases) {
    auto r = call("CreateTags", {{"Resources", ids_}, {"Tags", c.tags}});
    EXPECT_EQ(r.error_code, codes::kInvalidParameterValue) << c.tags.dump();
    EXPECT_TRUE(has_substr(r.error_message, c.field)) << r.error_message;
    auto d = call("DeleteTags", {{"Resources", ids_}, {"Tags", c.tags}});
    EXPECT_EQ(d.error_code, codes::kInvalidParameterValue) << c.tags.dump();
  }
  EXPECT_EQ(all_tags(), before);

  EXPECT_EQ(call("CreateTags", {{"Resources", ids_}}).error_code, codes::kMissingParameter);
  EXPECT_EQ(call("CreateTags", {{"Resources", ids_}, {"Tags", Json::array()}}).error_code, codes::kMissingParameter);
  auto no_ids = call("CreateTags", {{"Tags", tag_list({{"a", "b"}})}});
  EXPECT_EQ(no_ids.error_code, codes::kMissingParameter);
  EXPECT_TRUE(has_substr(no_ids.error_message, "Resources"));
  EXPECT_EQ(call("DeleteTags", Json::object()).error_code, codes::kMissingParameter);
  auto empty = call("DeleteTags", {{"Resources", ids_}, {"Tags", Json::array()}});
  EXPECT_EQ(empty.error_code, codes::kInvalidParameterValue) << "an empty list is not \"every tag\"";
  EXPECT_EQ(all_tags(), before);
  // EC2's DryRun is taken (the dispatcher's, for every action): allowed, and nothing is tagged.
  EXPECT_EQ(call("CreateTags", {{"Resources", ids_}, {"Tags", tag_list({{"a", "b"}})}, {"DryRun", true}}).error_code,
            codes::kDryRunOperation);
  EXPECT_EQ(all_tags(), before);
  EXPECT_EQ(call("CreateTags", {{"Resources", ids_}, {"Tags", tag_list({{"a", "b"}})}, {"DryRun", "yes"}}).error_code,
            codes::kInvalidParameterValue);
}

TEST_F(TagActionsTest, AResourceHoldsAtMostFiftyTags) {
  Tags full;
  for (int i = 0; i < 49; ++i) full["k" + std::to_string(i)] = "v";  // plus its Name: 50
  ASSERT_TRUE(call("CreateTags", {{"Resources", {volume_.id}}, {"Tags", tag_list(full)}}).ok);
  ASSERT_EQ(catalog_->tags_of(volume_.id).size(), 50u);

  // Overwriting keys it has is fine at the limit.
  auto same = call("CreateTags", {{"Resources", {volume_.id}}, {"Tags", tag_list({{"k0", "new"}, {"Name", "v2"}})}});
  EXPECT_TRUE(same.ok) << same.error_message;

  // One more key is refused, and the other resource in the list is not tagged either.
  const auto before = all_tags();
  auto over = call("CreateTags", {{"Resources", {instance_.id, volume_.id}}, {"Tags", tag_list({{"one-more", "x"}})}});
  EXPECT_EQ(over.error_code, codes::kTagLimitExceeded);
  EXPECT_TRUE(has_substr(over.error_message, volume_.id));
  EXPECT_EQ(all_tags(), before);
}

TEST_F(TagActionsTest, OnlyOwnersTagAndSee) {
  const auto before = all_tags();
  for (const auto& id : ids_) {
    auto create = call("CreateTags", {{"Resources", {id}}, {"Tags", tag_list({{"owner", "bob"}})}}, bob_);
    EXPECT_FALSE(create.ok) << id;
    EXPECT_TRUE(has_substr(create.error_code, ".NotFound")) << id << ": " << create.error_code;
    auto remove = call("DeleteTags", {{"Resources", {id}}}, bob_);
    EXPECT_TRUE(has_substr(remove.error_code, ".NotFound")) << id << ": " << remove.error_code;
  }
  EXPECT_EQ(all_tags(), before);

  // bob's own volume with alice's in the list: nothing changes for either.
  VolumeRecord bobs = add_volume(bob_);
  auto mixed = call("CreateTags", {{"Resources", {bobs.id, volume_.id}}, {"Tags", tag_list({{"x", "y"}})}}, bob_);
  EXPECT_EQ(mixed.error_code, codes::kInvalidVolumeNotFound);
  EXPECT_TRUE(has_substr(mixed.error_message, volume_.id));
  EXPECT_TRUE(catalog_->tags_of(bobs.id).empty());

  // bob sees none of alice's tags or resources, even through filters.
  auto tags = call("DescribeTags", Json::object(), bob_);
  ASSERT_TRUE(tags.ok);
  EXPECT_TRUE(tags.body["Tags"].empty()) << tags.body.dump();
  auto images = call("DescribeImages", {{"Filters", Json::parse(R"([{"Name":"tag-key","Values":["*"]}])")}}, bob_);
  EXPECT_TRUE(images.body["Images"].empty());
  auto by_owner = call("DescribeImages", {{"Filters", Json::array({{{"Name", "owner-id"}, {"Values", {alice_.account}}}})}},
                       bob_);
  EXPECT_TRUE(by_owner.body["Images"].empty());

  // root manages everything.
  auto admin = call("CreateTags", {{"Resources", ids_}, {"Tags", tag_list({{"audited", "yes"}})}}, root_);
  ASSERT_TRUE(admin.ok) << admin.error_message;
  EXPECT_EQ(catalog_->tags_of(image_.id).at("audited"), "yes");
  EXPECT_EQ(call("DescribeTags", Json::object(), root_).body["Tags"].size(), 4u * 2u);
}

TEST_F(TagActionsTest, ARepeatedIdIsTaggedOnce) {
  auto r = call("CreateTags", {{"Resources", {volume_.id, volume_.id}}, {"Tags", tag_list({{"a", "1"}})}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(catalog_->tags_of(volume_.id), (Tags{{"Name", "volume"}, {"a", "1"}}));
}

TEST_F(TagActionsTest, DeletingAResourceDeletesItsTags) {
  catalog_->delete_volume(volume_.id);
  auto r = call("DescribeTags", {{"Filters", Json::array({{{"Name", "resource-id"}, {"Values", {volume_.id}}}})}});
  EXPECT_TRUE(r.body["Tags"].empty());
  EXPECT_EQ(call("CreateTags", {{"Resources", {volume_.id}}, {"Tags", tag_list({{"a", "1"}})}}).error_code,
            codes::kInvalidVolumeNotFound);
}

// The catalog checks again inside its transaction: a resource deleted after the
// service looked (or any edit past the limit) leaves every resource as it was.
TEST_F(TagActionsTest, CatalogEditTagsIsAllOrNothing) {
  const auto before = all_tags();
  TagEditRefusal gone = catalog_->edit_tags({{image_.id, {{"a", "1"}}, {}, false},
                                             {"vol-0123456789abcdef0", {{"a", "1"}}, {}, false}},
                                            kMaxTags);
  EXPECT_EQ(gone.missing, "vol-0123456789abcdef0");
  EXPECT_EQ(all_tags(), before);

  Tags big;
  for (int i = 0; i < 50; ++i) big["k" + std::to_string(i)] = "v";
  TagEditRefusal over = catalog_->edit_tags({{image_.id, {{"a", "1"}}, {}, false},
                                             {volume_.id, big, {}, false}},
                                            kMaxTags);
  EXPECT_EQ(over.over_limit, volume_.id);
  EXPECT_EQ(over.count, 51u);
  EXPECT_EQ(all_tags(), before);

  // Removing first makes room: edits apply removals, then additions.
  TagEditRefusal ok = catalog_->edit_tags({{volume_.id, big, {}, true}}, kMaxTags);
  EXPECT_FALSE(ok);
  EXPECT_EQ(catalog_->tags_of(volume_.id), big);
}

}  // namespace
}  // namespace amid
