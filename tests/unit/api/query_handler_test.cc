// api/query_handler.h with the real services behind it (region_fixture.h):
// a request signed with an access key acts as the key's account through the
// same dispatcher as the socket, answers EC2's XML, and every refusal (no or
// a wrong signature, a deleted key, an action or parameter EC2's model lacks,
// a parameter given twice, text that is not UTF-8, a dry run, a region amid
// does not serve, a caller over its connection share) is EC2's error document
// with its HTTP status, and changes nothing.
#include "daemon/api/query_handler.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <string>

#include "tests/unit/region_fixture.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

class QueryHandlerTest : public ::amid::testing::RegionFixture {
 protected:
  void SetUp() override {
    RegionFixture::SetUp();
    handler_ = std::make_unique<QueryHandler>(*dispatcher_, region_->access_keys(), AccessPolicy{});
    key_ = region_->access_keys().create_access_key(root_);
  }

  // A POST of `body` signed with `secret` for `region`, as the AWS CLI sends it.
  sigv4::HttpRequest signed_post(const std::string& body, const std::string& secret = "",
                                 const std::string& region = "local-1") {
    sigv4::HttpRequest r{"POST", "/", {{"Host", "127.0.0.1:8773"},
                                       {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                         body};
    sigv4::sign(r, key_.id, secret.empty() ? key_.secret : secret, region, std::chrono::system_clock::now());
    return r;
  }

  QueryHandler::Result send(const sigv4::HttpRequest& r, const QueryHandler::Admit& admit = nullptr) {
    return handler_->handle(r, std::chrono::system_clock::now(), admit);
  }

  // The code of an error document ("" when the answer is not one).
  static std::string code_of(const HttpAnswer& a) {
    pugi::xml_document doc;
    if (!doc.load_string(a.body.c_str())) return "<not XML: " + a.body + ">";
    return doc.select_node("/Response/Errors/Error/Code") ? doc.select_node("/Response/Errors/Error/Code").node().text().as_string()
                                                          : "";
  }

  int groups_named(const std::string& name) {
    int n = 0;
    for (const auto& g : catalog_->list_security_groups("local-1")) n += g.name == name;
    return n;
  }

  std::unique_ptr<QueryHandler> handler_;
  AccessKeyRecord key_;
};

TEST_F(QueryHandlerTest, ASignedRequestActsAsTheKeysAccountAndAnswersEc2sXml) {
  auto made = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=Web+servers"));
  ASSERT_EQ(made.answer.status, 200) << made.answer.body;
  ASSERT_TRUE(made.caller);
  EXPECT_EQ(made.caller->uid, 0u);
  EXPECT_TRUE(made.caller->admin) << "root's key acts as root does on the socket";
  EXPECT_EQ(made.access_key_id, key_.id);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(made.answer.body.c_str())) << made.answer.body;
  const std::string group_id = doc.select_node("/CreateSecurityGroupResponse/groupId").node().text().as_string();
  EXPECT_TRUE(has_substr(group_id, "sg-"));
  EXPECT_STREQ(doc.first_child().attribute("xmlns").value(), "http://ec2.amazonaws.com/doc/2016-11-15/");
  EXPECT_EQ(groups_named("web"), 1);

  // The same group through the socket's path, and back through a filter in EC2's query form.
  auto listed = send(signed_post("Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-name&"
                                 "Filter.1.Value.1=web"));
  ASSERT_EQ(listed.answer.status, 200) << listed.answer.body;
  ASSERT_TRUE(doc.load_string(listed.answer.body.c_str()));
  auto items = doc.select_nodes("/DescribeSecurityGroupsResponse/securityGroupInfo/item");
  ASSERT_EQ(items.size(), 1u) << listed.answer.body;
  EXPECT_EQ(std::string(items.first().node().child("groupId").text().as_string()), group_id);
  EXPECT_STREQ(items.first().node().child("groupDescription").text().as_string(), "Web servers");
}

TEST_F(QueryHandlerTest, NoOrAWrongSignatureOrADeletedKeyIsRefusedAndChangesNothing) {
  const std::string body = "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w";
  sigv4::HttpRequest unsigned_request{"POST", "/", {{"Host", "127.0.0.1:8773"},
                                                    {"Content-Type", "application/x-www-form-urlencoded"}},
                                      body};
  auto none = send(unsigned_request);
  EXPECT_EQ(none.answer.status, 401);
  EXPECT_EQ(code_of(none.answer), "AuthFailure");
  EXPECT_FALSE(none.caller);

  std::string wrong = key_.secret;
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  auto bad = send(signed_post(body, wrong));
  EXPECT_EQ(bad.answer.status, 403);
  EXPECT_EQ(code_of(bad.answer), "SignatureDoesNotMatch");
  EXPECT_FALSE(has_substr(bad.answer.body, key_.secret)) << "an error never shows the secret";

  auto tampered = signed_post(body);
  tampered.body += "&TagSpecification.1.ResourceType=security-group";
  EXPECT_EQ(code_of(send(tampered).answer), "SignatureDoesNotMatch");

  auto unsigned_body = signed_post(body);
  unsigned_body.headers.emplace_back("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD");
  sigv4::sign(unsigned_body, key_.id, key_.secret, "local-1", std::chrono::system_clock::now());
  EXPECT_EQ(code_of(send(unsigned_body).answer), "IncompleteSignature");

  region_->access_keys().delete_access_key(root_, key_.id);
  auto deleted = send(signed_post(body));
  EXPECT_EQ(deleted.answer.status, 401);
  EXPECT_EQ(code_of(deleted.answer), "AuthFailure");
  EXPECT_EQ(groups_named("web"), 0);
}

TEST_F(QueryHandlerTest, AKeyWhoseAccountHasNoUserHereIsRefused) {
  AccessKeyRecord orphan{"AKIAORPHANORPHAN2345", account_id(3999999999u), "s3cr3t/orphan+orphan/orphan+orphan/orphan0",
                         "2026-12-07T00:00:00.000Z"};
  catalog_->insert_access_key(orphan);
  sigv4::HttpRequest r{"POST", "/", {{"Host", "127.0.0.1:8773"}, {"Content-Type", "application/x-www-form-urlencoded"}},
                       "Action=DescribeImages&Version=2016-11-15"};
  sigv4::sign(r, orphan.id, orphan.secret, "local-1", std::chrono::system_clock::now());
  auto result = send(r);
  EXPECT_EQ(code_of(result.answer), "AuthFailure");
  EXPECT_TRUE(has_substr(result.answer.body, "has no user on this host"));
}

TEST_F(QueryHandlerTest, ActionsAndParametersEc2sModelLacksAreRefusedByName) {
  auto unknown = send(signed_post("Action=LaunchRocket&Version=2016-11-15"));
  EXPECT_EQ(unknown.answer.status, 400);
  EXPECT_EQ(code_of(unknown.answer), "InvalidAction");
  // amid's IAM actions are the socket's: a key cannot make another.
  EXPECT_EQ(code_of(send(signed_post("Action=CreateAccessKey&Version=2016-11-15")).answer), "InvalidAction");
  EXPECT_EQ(region_->access_keys().list_access_keys(root_).size(), 1u);
  EXPECT_EQ(code_of(send(signed_post("Version=2016-11-15")).answer), "MissingParameter");

  auto param = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w&Colour=red"));
  EXPECT_EQ(code_of(param.answer), "UnknownParameter");
  EXPECT_TRUE(has_substr(param.answer.body, "Colour"));
  EXPECT_EQ(groups_named("web"), 0);
}

TEST_F(QueryHandlerTest, DuplicatesSmuggledActionsAndTextThatIsNotUtf8AreMalformed) {
  auto twice = send(signed_post("Action=DescribeImages&Version=2016-11-15&ImageId.1=ami-0123456789abcdef0&"
                                "ImageId.1=ami-0123456789abcdef1"));
  EXPECT_EQ(code_of(twice.answer), "MalformedQueryString");
  EXPECT_TRUE(has_substr(twice.answer.body, "ImageId.1: given twice"));

  // Action in the query and in the body: the signature holds, the request does not.
  auto smuggled = signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w");
  smuggled.target = "/?Action=DescribeImages";
  sigv4::sign(smuggled, key_.id, key_.secret, "local-1", std::chrono::system_clock::now());
  auto result = send(smuggled);
  EXPECT_EQ(code_of(result.answer), "MalformedQueryString");
  EXPECT_TRUE(has_substr(result.answer.body, "Action: given twice"));
  EXPECT_EQ(groups_named("web"), 0);

  auto latin1 = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=caf%E9&GroupDescription=w"));
  EXPECT_EQ(code_of(latin1.answer), "MalformedQueryString");
  EXPECT_TRUE(has_substr(latin1.answer.body, "GroupName"));
  EXPECT_EQ(code_of(send(signed_post("Action=DescribeImages&Version=2016-11-15&Owner.1=%zz")).answer),
            "MalformedQueryString");
}

TEST_F(QueryHandlerTest, ADryRunIsAllowedAndDoesNothing) {
  auto dry = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w&DryRun=true"));
  EXPECT_EQ(dry.answer.status, 412);
  EXPECT_EQ(code_of(dry.answer), "DryRunOperation");
  EXPECT_EQ(groups_named("web"), 0);
  auto real = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w&DryRun=false"));
  EXPECT_EQ(real.answer.status, 200) << real.answer.body;
  EXPECT_EQ(groups_named("web"), 1);
}

TEST_F(QueryHandlerTest, TheRegionIsTheSignaturesAndOneAmidDoesNotServeIsNamed) {
  auto elsewhere = send(signed_post("Action=DescribeImages&Version=2016-11-15", "", "us-east-1"));
  EXPECT_EQ(elsewhere.answer.status, 400);
  EXPECT_EQ(code_of(elsewhere.answer), "InvalidParameterValue");
  EXPECT_TRUE(has_substr(elsewhere.answer.body, "'us-east-1' is not a region of this amid (it serves local-1)"));
}

TEST_F(QueryHandlerTest, ACallerOverItsConnectionShareIsToldToRetry) {
  auto refused = send(signed_post("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=w"),
                      [](const Caller&, std::string& why) {
                        why = "account 000000000000 holds 16 connections, the most one may";
                        return false;
                      });
  EXPECT_EQ(refused.answer.status, 503);
  EXPECT_EQ(code_of(refused.answer), "RequestLimitExceeded");
  EXPECT_EQ(groups_named("web"), 0);
}

TEST_F(QueryHandlerTest, OnlyPostAndGetAtTheRootPathAreServed) {
  auto r = signed_post("Action=DescribeImages&Version=2016-11-15");
  r.method = "PUT";
  EXPECT_EQ(code_of(send(r).answer), "MalformedQueryString");
  auto other_path = signed_post("Action=DescribeImages&Version=2016-11-15");
  other_path.target = "/admin";
  EXPECT_EQ(code_of(send(other_path).answer), "MalformedQueryString");
  auto json_body = signed_post("{\"Action\":\"DescribeImages\"}");
  json_body.headers[1].second = "application/json";
  EXPECT_EQ(code_of(send(json_body).answer), "MalformedQueryString");
}

}  // namespace
}  // namespace amid
