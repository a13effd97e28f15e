// cli/arguments.h: --filters and --tags in the AWS CLI's shorthand and JSON, and
// the listing options as the describe commands declare them.
#include "cli/arguments.h"

#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

namespace amid::cli {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(FiltersArgument, Shorthand) {
  EXPECT_EQ(parse_filters_argument({"Name=state,Values=available,pending", "Name=tag:Name,Values=web*"}),
            Json::parse(R"([{"Name":"state","Values":["available","pending"]},
                            {"Name":"tag:Name","Values":["web*"]}])"));
  EXPECT_EQ(parse_filters_argument({"Values=x86_64,Name=architecture"}),
            Json::parse(R"([{"Name":"architecture","Values":["x86_64"]}])"))
      << "either order";
  EXPECT_EQ(parse_filters_argument({"Name=description,Values="}),
            Json::parse(R"([{"Name":"description","Values":[""]}])"));
  EXPECT_EQ(parse_filters_argument({}), Json::array());
}

TEST(FiltersArgument, Json) {
  EXPECT_EQ(parse_filters_argument({R"([{"Name":"state","Values":["a,b"]}])", "Name=name,Values=x"}),
            Json::parse(R"([{"Name":"state","Values":["a,b"]},{"Name":"name","Values":["x"]}])"));
  EXPECT_EQ(parse_filters_argument({R"({"Name":"state","Values":["a"]})"}),
            Json::parse(R"([{"Name":"state","Values":["a"]}])"));
}

TEST(FiltersArgument, RefusesWhatItCannotRead) {
  for (const char* bad : {"state=available", "Name=state", "Values=a", "Name=,Values=a", "Name=a,Name=b,Values=c",
                          "Name=a,Values=b,Values=c", "[not json", "file:///nonexistent/filters.json", "7"}) {
    std::string e = error_of([&] { parse_filters_argument({bad}); });
    EXPECT_TRUE(has_substr(e, "--filters")) << bad << ": " << e;
  }
}

TEST(TagsArgument, ShorthandAndJson) {
  EXPECT_EQ(parse_tags_argument({"Key=Name,Value=web", "Key=note,Value=a,b=c"}, true),
            Json::parse(R"([{"Key":"Name","Value":"web"},{"Key":"note","Value":"a,b=c"}])"))
      << "the value is everything after ,Value=";
  EXPECT_EQ(parse_tags_argument({"Key=empty,Value="}, true), Json::parse(R"([{"Key":"empty","Value":""}])"));
  EXPECT_EQ(parse_tags_argument({R"([{"Key":"a","Value":"1"}])"}, true), Json::parse(R"([{"Key":"a","Value":"1"}])"));
  // delete-tags: a key alone means whatever the value.
  EXPECT_EQ(parse_tags_argument({"Key=Name", "Key=env,Value=prod"}, false),
            Json::parse(R"([{"Key":"Name"},{"Key":"env","Value":"prod"}])"));
}

TEST(TagsArgument, ChecksEc2sRulesBeforeSending) {
  EXPECT_TRUE(has_substr(error_of([] { parse_tags_argument({"Key=Name"}, true); }), "Value"));
  EXPECT_TRUE(has_substr(error_of([] { parse_tags_argument({"Name=web"}, true); }), "--tags"));
  EXPECT_TRUE(has_substr(error_of([] { parse_tags_argument({"Key=aws:x,Value=1"}, true); }), "--tags[0].Key"));
  EXPECT_TRUE(has_substr(error_of([] { parse_tags_argument({"Key=a,Value=1", "Key=a,Value=2"}, true); }),
                         "--tags[1].Key"));
  EXPECT_TRUE(has_substr(error_of([] { parse_tags_argument({"Key=,Value=1"}, true); }), "--tags[0].Key"));
}

TEST(ListingOptions, ReadFromTheCommandLine) {
  CLI::App app;
  ListingOptions o;
  o.add_to(&app, "state, name", "5-1000");
  app.parse(std::vector<std::string>{"tok", "--next-token", "7", "--max-results", "Name=name,Values=web*",
                                     "--filters", "Name=state,Values=available,pending", "--filters"});
  Json params = Json::object();
  o.apply(params);
  EXPECT_EQ(params["Filters"], Json::parse(R"([{"Name":"state","Values":["available","pending"]},
                                              {"Name":"name","Values":["web*"]}])"));
  EXPECT_EQ(params["MaxResults"], 7);
  EXPECT_EQ(params["NextToken"], "tok");

  // A JSON list reaches the parser whole (CLI11 would split "[...]" at its commas).
  CLI::App json_app;
  ListingOptions j;
  j.add_to(&json_app, "state", "5-1000");
  json_app.parse(std::vector<std::string>{"Name=name,Values=x", R"([{"Name":"state","Values":["a","b"]}])", "--filters"});
  Json jp = Json::object();
  j.apply(jp);
  EXPECT_EQ(jp["Filters"], Json::parse(R"([{"Name":"state","Values":["a","b"]},{"Name":"name","Values":["x"]}])"));

  CLI::App bare;
  ListingOptions none;
  none.add_to(&bare, "state", "5-1000");
  bare.parse(std::vector<std::string>{});
  Json empty = Json::object();
  none.apply(empty);
  EXPECT_EQ(empty, Json::object()) << "nothing given, nothing sent";
}

TEST(LaunchPermissionArgument, ShorthandAndJson) {
  EXPECT_EQ(parse_launch_permission_argument("Add=[{UserId=123456789012}],Remove=[{Group=all}]"),
            Json::parse(R"({"Add":[{"UserId":"123456789012"}],"Remove":[{"Group":"all"}]})"));
  EXPECT_EQ(parse_launch_permission_argument("Add=[{UserId=000000001000},{UserId=000000002000},{Group=all}]"),
            Json::parse(R"({"Add":[{"UserId":"000000001000"},{"UserId":"000000002000"},{"Group":"all"}]})"));
  EXPECT_EQ(parse_launch_permission_argument("Remove=[]"), Json::parse(R"({"Remove":[]})"));
  EXPECT_EQ(parse_launch_permission_argument(R"({"Add":[{"UserId":"123456789012"}]})"),
            Json::parse(R"({"Add":[{"UserId":"123456789012"}]})"));
}

TEST(LaunchPermissionArgument, RefusesWhatItCannotRead) {
  for (const char* bad : {"Add={UserId=1}", "Grant=[{UserId=1}]", "Add=[{UserId=1}", "Add=[{UserId}]",
                          "Add=[{UserId=1}],Add=[{Group=all}]", "[1,2]", "{not json"}) {
    EXPECT_TRUE(has_substr(error_of([&] { parse_launch_permission_argument(bad); }), "--launch-permission")) << bad;
  }
}

TEST(ReadBlobArgument, ReadsFileUrlsAndPassesLiteralsThrough) {
  amid::testing::TempDir tmp;
  amid::testing::write_text(tmp.file("ud.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(read_blob_argument("file://" + tmp.file("ud.sh"), "--user-data"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(read_blob_argument("plain text", "--user-data"), "plain text");
  try {
    read_blob_argument("file://" + tmp.file("missing"), "--user-data");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(amid::testing::has_substr(e.what(), "--user-data"));
    EXPECT_TRUE(amid::testing::has_substr(e.what(), tmp.file("missing")));
  }
}

TEST(IpPermissionsArgument, ShorthandAsTheAwsCliHasIt) {
  EXPECT_EQ(ip_permissions_argument("", "tcp", "22", "0.0.0.0/0"),
            Json::parse(R"([{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}])"));
  EXPECT_EQ(ip_permissions_argument("", "udp", "8000-8100", "10.0.0.0/8")[0]["ToPort"], 8100);
  EXPECT_EQ(ip_permissions_argument("", "icmp", "-1", "10.0.0.0/8")[0]["FromPort"], -1);
  Json all = ip_permissions_argument("", "all", "", "10.0.0.0/8");
  EXPECT_EQ(all[0]["IpProtocol"], "-1");
  EXPECT_FALSE(all[0].contains("FromPort"));
  EXPECT_EQ(ip_permissions_argument(R"([{"IpProtocol":"tcp","FromPort":1,"ToPort":2,"IpRanges":[]}])", "", "", "")
                .size(),
            1u);
  EXPECT_EQ(ip_permissions_argument(R"({"IpProtocol":"-1"})", "", "", "").size(), 1u) << "one permission alone";
}

TEST(IpPermissionsArgument, RefusesWhatItCannotRead) {
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("", "tcp", "22", ""); }), "--cidr"));
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("", "", "22", "0.0.0.0/0"); }), "--protocol"));
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("", "tcp", "ssh", "0.0.0.0/0"); }), "--port"));
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("", "tcp", "1-", "0.0.0.0/0"); }), "--port"));
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("[", "", "", ""); }), "--ip-permissions"));
  EXPECT_TRUE(has_substr(error_of([] { ip_permissions_argument("[]", "tcp", "", ""); }), "--ip-permissions"));
}

}  // namespace
}  // namespace amid::cli
