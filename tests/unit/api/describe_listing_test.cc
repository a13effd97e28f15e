// Filters, MaxResults and NextToken on DescribeImages, DescribeInstances and
// DescribeVolumes through the dispatcher, over catalogs large enough to page.
#include <gtest/gtest.h>

#include <set>

#include "common/block_device_mapping.h"
#include "daemon/api/listing.h"
#include "daemon/state/iso_time.h"
#include "daemon/api/params.h"
#include "daemon/services/render.h"
#include "tests/unit/catalog_fixture.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

class DescribeListingTest : public ::amid::testing::CatalogFixture {
 protected:
  // Every page of `action` with `params` (MaxResults set); the ids under
  // `list`/`id_field`, in the order the pages gave them.
  std::vector<std::string> all_pages(const std::string& action, Json params, const std::string& list,
                                     const std::string& id_field, int* pages = nullptr) {
    std::vector<std::string> ids;
    int n = 0;
    for (; n < 1000; ++n) {
      auto r = call(action, params);
      EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
      if (!r.ok) break;
      size_t on_page = 0;
      for (const auto& row : r.body[list]) {
        ids.push_back(row[id_field]);
        ++on_page;
      }
      if (params.contains("MaxResults")) {
        EXPECT_LE(on_page, params["MaxResults"].get<size_t>());
      }
      if (!r.body.contains("NextToken")) break;
      params["NextToken"] = r.body["NextToken"];
    }
    if (pages) *pages = n + 1;
    return ids;
  }
};

// 300 images of two owners, in three states, two architectures and with tags:
// each filtered, paged listing returns exactly the images it should, each once.
TEST_F(DescribeListingTest, ThreeHundredImagesFilteredAndPaged) {
  struct Expect {
    std::set<std::string> available_arm, tagged_web, prod_or_big, all_alice;
  } want;
  for (int i = 0; i < 300; ++i) {
    const Caller& owner = i % 10 == 9 ? bob_ : alice_;
    const std::string state = i % 3 == 0 ? "available" : i % 3 == 1 ? "pending" : "failed";
    Tags tags;
    if (i % 4 == 0) tags["Name"] = "web-" + std::to_string(i);
    if (i % 5 == 0) tags["env"] = i % 2 ? "prod" : "dev";
    ImageRecord r;
    r.id = new_id("ami");
    r.name = "image " + std::to_string(i);
    r.owner = owner.account;
    r.region = "local-1";
    r.state = *image_state_named(state);
    r.architecture = i % 2 ? "arm64" : "x86_64";
    r.creation_date = iso_now();
    r.size_bytes = (i % 7 == 0 ? 8ull : 1ull) << 30;
    r.tags = tags;
    catalog_->insert_image(r);
    if (owner.account != alice_.account) continue;
    want.all_alice.insert(r.id);
    if (state == "available" && r.architecture == "arm64") want.available_arm.insert(r.id);
    if (tags.count("Name")) want.tagged_web.insert(r.id);
    if ((tags.count("env") && tags["env"] == "prod") || i % 7 == 0) {
      if (state != "failed") want.prod_or_big.insert(r.id);
    }
  }
  ASSERT_EQ(catalog_->list_images().size(), 300u);

  auto check = [&](const Json& filters, int max, const std::set<std::string>& expected) {
    Json params = {{"MaxResults", max}};
    if (!filters.is_null()) params["Filters"] = filters;
    int pages = 0;
    auto ids = all_pages("DescribeImages", params, "Images", "ImageId", &pages);
    EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), ids.size()) << filters.dump() << ": an image twice";
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end())) << "pages in id order";
    EXPECT_EQ(std::set(ids.begin(), ids.end()), expected) << filters.dump();
    size_t full_pages = expected.size() / static_cast<size_t>(max);
    EXPECT_GE(static_cast<size_t>(pages), std::max<size_t>(1, full_pages)) << filters.dump();
    EXPECT_LE(static_cast<size_t>(pages), full_pages + 1) << filters.dump();
  };
  check(Json(), 1000, want.all_alice);
  check(Json(), 7, want.all_alice);
  check(Json::parse(R"([{"Name":"state","Values":["available"]},{"Name":"architecture","Values":["arm64"]}])"), 5,
        want.available_arm);
  check(Json::parse(R"([{"Name":"tag:Name","Values":["web-*"]}])"), 13, want.tagged_web);
  check(Json::parse(R"([{"Name":"tag-key","Values":["Name"]}])"), 50, want.tagged_web);
  // OR within a filter (prod or 8 GiB is expressed as two listings' union here:
  // EC2 has no OR across filters), AND with the state filter.
  std::set<std::string> prod, big;
  auto collect = [&](const Json& filters, std::set<std::string>& into) {
    auto ids = all_pages("DescribeImages", {{"MaxResults", 9}, {"Filters", filters}}, "Images", "ImageId");
    into.insert(ids.begin(), ids.end());
  };
  collect(Json::parse(R"([{"Name":"tag:env","Values":["prod"]},{"Name":"state","Values":["available","pending"]}])"),
          prod);
  collect(Json::parse(R"([{"Name":"block-device-mapping.volume-size","Values":["8"]},
                          {"Name":"state","Values":["pending","available"]}])"),
          big);
  std::set<std::string> either = prod;
  either.insert(big.begin(), big.end());
  EXPECT_EQ(either, want.prod_or_big);
  // bob's 30 are not alice's to see, whatever the filter.
  check(Json::array({{{"Name", "owner-id"}, {"Values", {bob_.account}}}}), 5, {});
  EXPECT_EQ(all_pages("DescribeImages", {{"MaxResults", 1000}}, "Images", "ImageId").size(), 270u);
}

TEST_F(DescribeListingTest, DescribeImagesRefusals) {
  add_image("web", alice_);
  auto unknown = call("DescribeImages", {{"Filters", Json::parse(R"([{"Name":"foo","Values":["x"]}])")}});
  EXPECT_EQ(unknown.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(unknown.error_message, "Filters: unknown filter name 'foo'"));
  for (int max : {4, 1001}) {
    auto r = call("DescribeImages", {{"MaxResults", max}});
    EXPECT_EQ(r.error_code, codes::kInvalidParameterValue) << max;
    EXPECT_TRUE(has_substr(r.error_message, "MaxResults: must be between 5 and 1000"));
  }
  auto combo = call("DescribeImages", {{"ImageIds", {"ami-0123456789abcdef0"}}, {"MaxResults", 5}});
  EXPECT_EQ(combo.error_code, codes::kInvalidParameterCombination);
  auto token = call("DescribeImages", {{"NextToken", "not-a-token"}});
  EXPECT_EQ(token.error_code, codes::kInvalidNextToken);
  auto foreign = call("DescribeImages", {{"NextToken", encode_next_token("DescribeVolumes", {"vol-0"})}});
  EXPECT_EQ(foreign.error_code, codes::kInvalidNextToken);
  EXPECT_TRUE(has_substr(foreign.error_message, "DescribeVolumes"));
}

TEST_F(DescribeListingTest, FiltersApplyToNamedIds) {
  ImageRecord a = add_image("alpha", alice_);
  ImageRecord b = add_image("beta", alice_, {}, "pending");
  auto r = call("DescribeImages", {{"ImageIds", {a.id, b.id}}, {"Filters", Json::parse(R"([{"Name":"state","Values":["pending"]}])")}});
  ASSERT_TRUE(r.ok) << r.error_message;
  ASSERT_EQ(r.body["Images"].size(), 1u);
  EXPECT_EQ(r.body["Images"][0]["ImageId"], b.id);
}

TEST_F(DescribeListingTest, DescribeInstancesFiltersAndPagesInstances) {
  // 23 instances of alice in 6 reservations, and some of bob's.
  std::set<std::string> all, web, small;
  for (int res = 0; res < 6; ++res) {
    std::string reservation = new_id("r");
    for (int i = 0; i < 4 && all.size() < 23; ++i) {
      Tags tags;
      if (i % 2 == 0) tags["Name"] = "web";
      auto rec = add_instance(alice_, reservation, tags, i == 3 ? "m5.large" : "t3.nano");
      all.insert(rec.id);
      if (i % 2 == 0) web.insert(rec.id);
      if (i != 3) small.insert(rec.id);
    }
  }
  add_instance(bob_, new_id("r"), {{"Name", "web"}});
  ASSERT_EQ(all.size(), 23u);

  auto pages_of = [&](Json params) {
    std::vector<std::string> ids;
    for (;;) {
      auto r = call("DescribeInstances", params);
      EXPECT_TRUE(r.ok) << r.error_message;
      if (!r.ok) break;
      size_t n = 0;
      for (const auto& res : r.body["Reservations"]) {
        EXPECT_TRUE(res.contains("ReservationId") && res.contains("OwnerId"));
        for (const auto& inst : res["Instances"]) {
          ids.push_back(inst["InstanceId"]);
          EXPECT_FALSE(inst.contains("ReservationId")) << "an instance shows EC2's fields only";
          EXPECT_FALSE(inst.contains("OwnerId"));
          ++n;
        }
      }
      EXPECT_LE(n, params["MaxResults"].get<size_t>()) << "MaxResults counts instances";
      if (!r.body.contains("NextToken")) break;
      params["NextToken"] = r.body["NextToken"];
    }
    EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), ids.size()) << "an instance twice";
    return std::set(ids.begin(), ids.end());
  };
  EXPECT_EQ(pages_of({{"MaxResults", 5}}), all);
  EXPECT_EQ(pages_of({{"MaxResults", 5}, {"Filters", Json::parse(R"([{"Name":"tag:Name","Values":["web"]}])")}}), web);
  EXPECT_EQ(pages_of({{"MaxResults", 6}, {"Filters", Json::parse(R"([{"Name":"instance-type","Values":["t3.*"]},
                                                                     {"Name":"instance-state-name","Values":["pending"]}])")}}),
            small);
  EXPECT_TRUE(pages_of({{"MaxResults", 5}, {"Filters", Json::parse(R"([{"Name":"instance-state-name","Values":["running"]}])")}}).empty());

  // Filters on the reservation's fields.
  std::string one_id = *all.begin();
  auto rec = catalog_->find_instance(one_id);
  auto by_res = call("DescribeInstances", {{"Filters", Json::array({{{"Name", "reservation-id"}, {"Values", {rec->reservation_id}}},
                                                                    {{"Name", "owner-id"}, {"Values", {alice_.account}}}})}});
  ASSERT_TRUE(by_res.ok) << by_res.error_message;
  ASSERT_EQ(by_res.body["Reservations"].size(), 1u);
  EXPECT_EQ(by_res.body["Reservations"][0]["ReservationId"], rec->reservation_id);

  auto combo = call("DescribeInstances", {{"InstanceIds", {one_id}}, {"MaxResults", 5}});
  EXPECT_EQ(combo.error_code, codes::kInvalidParameterCombination);
  EXPECT_EQ(call("DescribeInstances", {{"MaxResults", 1001}}).error_code, codes::kInvalidParameterValue);
  auto bad = call("DescribeInstances", {{"Filters", Json::parse(R"([{"Name":"state","Values":["x"]}])")}});
  EXPECT_TRUE(has_substr(bad.error_message, "unknown filter name 'state'"));
}

TEST_F(DescribeListingTest, DescribeVolumesFiltersAndPages) {
  std::set<std::string> all, big, tagged;
  for (int i = 0; i < 17; ++i) {
    Tags tags;
    if (i % 3 == 0) tags["backup"] = "daily";
    auto v = add_volume(alice_, tags, i % 2 ? 20 : 1);
    all.insert(v.id);
    if (i % 2) big.insert(v.id);
    if (i % 3 == 0) tagged.insert(v.id);
  }
  add_volume(bob_, {{"backup", "daily"}}, 20);
  auto pages = [&](Json params) {
    auto ids = all_pages("DescribeVolumes", std::move(params), "Volumes", "VolumeId");
    EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), ids.size());
    return std::set(ids.begin(), ids.end());
  };
  EXPECT_EQ(pages({{"MaxResults", 5}}), all);
  EXPECT_EQ(pages({{"MaxResults", 500}, {"Filters", Json::parse(R"([{"Name":"size","Values":["20"]}])")}}), big);
  EXPECT_EQ(pages({{"MaxResults", 5}, {"Filters", Json::parse(R"([{"Name":"tag:backup","Values":["d*"]},
                                                                  {"Name":"status","Values":["available"]}])")}}),
            tagged);
  EXPECT_TRUE(pages({{"MaxResults", 5}, {"Filters", Json::parse(R"([{"Name":"attachment.instance-id","Values":["*"]}])")}})
                  .empty());
  auto too_many = call("DescribeVolumes", {{"MaxResults", 501}});
  EXPECT_EQ(too_many.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(too_many.error_message, "between 5 and 500"));
  auto combo = call("DescribeVolumes", {{"VolumeIds", {*all.begin()}}, {"NextToken", encode_next_token("DescribeVolumes", {"vol-0"})}});
  EXPECT_EQ(combo.error_code, codes::kInvalidParameterCombination);
  auto foreign = call("DescribeVolumes", {{"NextToken", encode_next_token("DescribeTags", {"vol-0", "Name"})}});
  EXPECT_EQ(foreign.error_code, codes::kInvalidNextToken);
}

TEST_F(DescribeListingTest, WithoutPagingTheOrderIsUnchanged) {
  // Made on six days, newest id first: shown oldest first, as before paging existed.
  std::vector<std::string> made;
  for (int day = 1; day <= 6; ++day) {
    ImageRecord r;
    r.id = "ami-" + std::string(16, '0') + std::to_string(9 - day);
    r.name = "image " + std::to_string(day);
    r.owner = alice_.account;
    r.region = "local-1";
    r.state = ImageState::kAvailable;
    r.creation_date = "2026-01-0" + std::to_string(day) + "T00:00:00.000Z";
    catalog_->insert_image(r);
    made.push_back(r.id);
  }
  auto r = call("DescribeImages", Json::object());
  ASSERT_TRUE(r.ok);
  std::vector<std::string> shown;
  for (const auto& img : r.body["Images"]) shown.push_back(img["ImageId"]);
  EXPECT_EQ(shown, made);
  EXPECT_FALSE(r.body.contains("NextToken"));
  // Paged, the same images come in id order.
  auto paged = call("DescribeImages", {{"MaxResults", 1000}});
  std::vector<std::string> by_id;
  for (const auto& img : paged.body["Images"]) by_id.push_back(img["ImageId"]);
  EXPECT_EQ(by_id, std::vector<std::string>(made.rbegin(), made.rend()));
}

TEST_F(DescribeListingTest, CreateImageTagSpecificationsAreChecked) {
  // No job scheduler here: a good request gets as far as UnsupportedOperation.
  auto good = call("CreateImage", {{"InstanceId", "i-0123456789abcdef0"}, {"Name", "web"},
                                   {"TagSpecifications", Json::parse(R"([{"ResourceType":"image","Tags":[{"Key":"a","Value":"1"}]},
                                                                        {"ResourceType":"snapshot","Tags":[{"Key":"b","Value":"2"}]}])")}});
  EXPECT_EQ(good.error_code, codes::kUnsupportedOperation) << good.error_message;
  auto instance = call("CreateImage", {{"InstanceId", "i-0123456789abcdef0"}, {"Name", "web"},
                                       {"TagSpecifications", Json::parse(R"([{"ResourceType":"instance","Tags":[]}])")}});
  EXPECT_EQ(instance.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(instance.error_message, "TagSpecifications[0].ResourceType"));
  EXPECT_TRUE(has_substr(instance.error_message, "image, snapshot"));
  auto reserved = call("CreateImage", {{"InstanceId", "i-0123456789abcdef0"}, {"Name", "web"},
                                       {"TagSpecifications", Json::parse(R"([{"ResourceType":"image","Tags":[{"Key":"aws:x"}]}])")}});
  EXPECT_TRUE(has_substr(reserved.error_message, "TagSpecifications[0].Tags[0].Key"));
}

// DescribeImages over the whole catalog selects its page (and narrows by filters)
// before rendering; its answers must be exactly those of rendering every image the
// caller sees, then filtering and paging them (Listing's wants and take_page).
TEST_F(DescribeListingTest, SelectingBeforeRenderingAnswersAsRenderingEverything) {
  const Caller carol = ::amid::testing::user_caller(3000);
  for (int i = 0; i < 160; ++i) {
    const Caller& owner = i % 5 == 4 ? bob_ : i % 11 == 10 ? carol : alice_;
    ImageRecord r;
    r.id = new_id("ami");
    r.name = (i % 3 ? "web-" : "db-") + std::to_string(i);
    r.description = i % 4 ? "plain" : "with [brackets] and *stars*";
    r.owner = owner.account;
    r.region = i % 17 == 16 ? "local-2" : "local-1";
    r.state = i % 13 == 12 ? ImageState::kDeregistered : i % 7 == 6 ? ImageState::kPending : ImageState::kAvailable;
    r.architecture = i % 2 ? "arm64" : "x86_64";
    // Creation dates out of id order, some equal.
    r.creation_date = "2026-0" + std::to_string(1 + (i * 7) % 9) + "-01T00:00:00.000Z";
    r.size_bytes = static_cast<std::uint64_t>(1 + i % 3) << 30;
    if (i % 6 == 0) {
      BlockDeviceMapping root{"/dev/vda", EbsSpec{}, std::nullopt, false};
      root.ebs->volume_size_gib = 2 + i % 4;
      BlockDeviceMapping extra{"/dev/vdb", EbsSpec{}, std::nullopt, false};
      extra.ebs->volume_size_gib = 8;
      r.block_device_mappings = BlockDeviceMappings{root, extra};
    }
    if (i % 4 == 0) r.tags["Name"] = "t" + std::to_string(i);
    if (i % 9 == 0) r.tags["env"] = i % 2 ? "prod" : "dev";
    catalog_->insert_image(r);
    if (owner.account != alice_.account) {
      if (i % 2) catalog_->edit_launch_permissions(r.id, {{"group", "all"}}, {});
      else if (i % 3 == 0) catalog_->edit_launch_permissions(r.id, {{"user", alice_.account}}, {});
      if (i % 8 == 4) catalog_->set_image_deprecation(r.id, "2020-01-01T00:00:00.000Z");
    }
  }
  // The answer the old way: every image rendered, then filtered and paged.
  auto reference = [&](const Json& params) {
    ParamReader p(params);
    auto ids = p.string_list("ImageIds");
    bool include_deprecated = p.optional_bool("IncludeDeprecated").value_or(false);
    ImageScope scope{p.string_list("Owners"), p.string_list("ExecutableUsers")};
    Listing listing({"DescribeImages", &kImageFilters, 5, 1000, {"/ImageId"}}, p, !ids.empty(), "ImageIds");
    std::vector<Json> rows;
    for (const auto& rec : images_->describe_images(alice_, ids, include_deprecated, scope)) {
      Json row = render_image(rec);
      if (listing.wants(row)) rows.push_back(std::move(row));
    }
    std::string next = listing.take_page(rows);
    Json out = {{"Images", Json(std::move(rows))}};
    if (!next.empty()) out["NextToken"] = next;
    return out;
  };
  const std::vector<Json> filter_sets = {
      Json(),
      Json::parse(R"([{"Name":"name","Values":["web-*"]}])"),
      Json::parse(R"([{"Name":"name","Values":["db-1?","web-10*"]},{"Name":"state","Values":["available"]}])"),
      Json::parse(R"([{"Name":"description","Values":["*\\*stars\\**"]}])"),
      Json::parse(R"([{"Name":"is-public","Values":["true"]}])"),
      Json::parse(R"([{"Name":"block-device-mapping.volume-size","Values":["8","3"]}])"),
      Json::parse(R"([{"Name":"tag:Name","Values":["t1*"]},{"Name":"architecture","Values":["x86_64"]}])"),
      Json::parse(R"([{"Name":"tag-key","Values":["env"]}])"),
      Json::parse(R"([{"Name":"image-id","Values":["ami-*"]},{"Name":"owner-id","Values":["000000002000"]}])"),
      Json::parse(R"([{"Name":"name","Values":["nothing-matches"]}])"),
  };
  const std::vector<Json> scopes = {
      Json::object(),
      {{"IncludeDeprecated", true}},
      {{"Owners", {"self"}}},
      {{"ExecutableUsers", {"all"}}, {"IncludeDeprecated", true}},
  };
  int compared = 0;
  for (const auto& filters : filter_sets) {
    for (const auto& base : scopes) {
      for (int max : {0, 5, 7, 1000}) {
        Json params = base;
        if (!filters.is_null()) params["Filters"] = filters;
        if (max) params["MaxResults"] = max;
        for (int page = 0; page < 100; ++page) {
          auto r = call("DescribeImages", params);
          ASSERT_TRUE(r.ok) << params.dump() << ": " << r.error_code << ": " << r.error_message;
          Json want = reference(params);
          ASSERT_EQ(r.body, want) << params.dump();
          ++compared;
          if (!r.body.contains("NextToken")) break;
          params["NextToken"] = r.body["NextToken"];
        }
      }
      // A token alone (no MaxResults): the rest, in id order.
      Json params = base;
      if (!filters.is_null()) params["Filters"] = filters;
      params["NextToken"] = encode_next_token("DescribeImages", {"ami-4"});
      ASSERT_EQ(call("DescribeImages", params).body, reference(params)) << params.dump();
    }
  }
  EXPECT_GT(compared, 200);
}

}  // namespace
}  // namespace amid
