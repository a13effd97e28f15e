// Key pairs through the dispatcher, as amictl and every client reach them
// (daemon/api/key_pair_actions.cc, daemon/services/key_pair_service.h), and the
// public key a launch puts in its guest's NoCloud seed
// (daemon/services/instance_metadata.h), on libvirt's test driver.
#include <gtest/gtest.h>

#include <string>

#include "common/base64.h"
#include "daemon/host/process.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;

class KeyPairActionsTest : public ::amid::testing::ServiceTest {
 protected:
  Json create(const std::string& name, const Json& extra = Json::object(), const Caller* who = nullptr) {
    Json params = {{"KeyName", name}};
    for (auto& [k, v] : extra.items()) params[k] = v;
    auto r = who ? call("CreateKeyPair", params, *who) : call("CreateKeyPair", params);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.body;
  }
  Json describe(const Json& params = Json::object(), const Caller* who = nullptr) {
    auto r = who ? call("DescribeKeyPairs", params, *who) : call("DescribeKeyPairs", params);
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.body["KeyPairs"];
  }
  void expect_error(const protocol::Response& r, const std::string& code, const std::string& names) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_code, code) << r.error_message;
    EXPECT_NE(r.error_message.find(names), std::string::npos) << r.error_message;
  }
  // A file of an instance's NoCloud seed (a FAT image), as the guest reads it.
  std::string seed_file(const std::string& instance_id, const std::string& name) {
    auto inst = catalog_->find_instance(instance_id);
    if (!inst) return "";
    ProcessResult r = run_process({"mcopy", "-n", "-i", inst->dir + "/seed.img", "::" + name, "-"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
};

TEST_F(KeyPairActionsTest, APrivateKeyIsAnsweredOnceAndNeverKept) {
  Json made = create("web", {{"KeyType", "ed25519"}});
  EXPECT_EQ(made["KeyName"], "web");
  EXPECT_EQ(made["KeyPairId"].get<std::string>().rfind("key-", 0), 0u);
  ASSERT_TRUE(made.contains("KeyMaterial"));
  EXPECT_NE(made["KeyMaterial"].get<std::string>().find("PRIVATE KEY"), std::string::npos);

  Json listed = describe();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["KeyPairId"], made["KeyPairId"]);
  EXPECT_EQ(listed[0]["KeyFingerprint"], made["KeyFingerprint"]);
  EXPECT_EQ(listed[0]["KeyType"], "ed25519");
  EXPECT_TRUE(listed[0].contains("CreateTime"));
  EXPECT_FALSE(listed[0].contains("KeyMaterial"));
  EXPECT_FALSE(listed[0].contains("PublicKey")) << "only with IncludePublicKey";
  Json with_key = describe({{"IncludePublicKey", true}});
  EXPECT_EQ(with_key[0]["PublicKey"].get<std::string>().rfind("ssh-ed25519 ", 0), 0u);

  // Nothing private anywhere in amid's state: the catalog holds the public half.
  reopen_catalog();
  EXPECT_EQ(describe()[0]["KeyFingerprint"], made["KeyFingerprint"]) << "kept across a restart";
  ProcessResult grep = run_process({"grep", "-rl", "PRIVATE KEY", store_->root()});
  EXPECT_EQ(grep.out, "") << "a private key was left in amid's state";
}

TEST_F(KeyPairActionsTest, BadRequestsNameTheFieldAndChangeNothing) {
  create("web");
  expect_error(call("CreateKeyPair", {{"KeyName", "web"}}), "InvalidKeyPair.Duplicate", "web");
  expect_error(call("CreateKeyPair", {{"KeyName", "x"}, {"KeyType", "dsa"}}), "InvalidParameterValue", "KeyType");
  expect_error(call("CreateKeyPair", {{"KeyName", "x"}, {"KeyFormat", "der"}}), "InvalidParameterValue", "KeyFormat");
  expect_error(call("CreateKeyPair", {{"KeyName", std::string(256, 'k')}}), "InvalidParameterValue", "KeyName");
  expect_error(call("CreateKeyPair", {{"KeyName", "tab\there"}}), "InvalidParameterValue", "KeyName");
  expect_error(call("ImportKeyPair", {{"KeyName", "y"}, {"PublicKeyMaterial", base64_encode("ssh-rsa nope")}}),
               "InvalidKeyPair.Format", "PublicKeyMaterial");
  expect_error(call("ImportKeyPair", {{"KeyName", "y"}, {"PublicKeyMaterial", "%%%"}}), "InvalidKeyPair.Format",
               "PublicKeyMaterial");
  expect_error(call("DescribeKeyPairs", {{"KeyNames", {"nope"}}}), "InvalidKeyPair.NotFound", "nope");
  expect_error(call("DeleteKeyPair", {{"KeyPairId", "key-0123456789abcdef0"}}), "InvalidKeyPair.NotFound",
               "key-0123456789abcdef0");
  EXPECT_EQ(describe().size(), 1u);
}

TEST_F(KeyPairActionsTest, AnImportedKeyKeepsItsPublicLine) {
  ProcessResult kg = run_process({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", tmp_.file("id")});
  ASSERT_EQ(kg.exit_code, 0) << kg.err;
  ProcessResult pub = run_process({"cat", tmp_.file("id.pub")});
  auto r = call("ImportKeyPair", {{"KeyName", "laptop"}, {"PublicKeyMaterial", base64_encode(pub.out)}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  EXPECT_FALSE(r.body.contains("KeyMaterial"));
  Json listed = describe({{"KeyNames", {"laptop"}}, {"IncludePublicKey", true}});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["PublicKey"].get<std::string>() + "\n", pub.out);
  EXPECT_EQ(listed[0]["KeyFingerprint"], r.body["KeyFingerprint"]);
}

TEST_F(KeyPairActionsTest, KeyPairsAreEachAccountsOwn) {
  Json alices = create("web");
  Json bobs = create("web", Json::object(), &bob_);  // the same name, another account
  EXPECT_NE(alices["KeyPairId"], bobs["KeyPairId"]);
  ASSERT_EQ(describe(Json::object(), &bob_).size(), 1u);
  EXPECT_EQ(describe(Json::object(), &bob_)[0]["KeyPairId"], bobs["KeyPairId"]);
  expect_error(call("DeleteKeyPair", {{"KeyPairId", alices["KeyPairId"]}}, bob_), "InvalidKeyPair.NotFound",
               alices["KeyPairId"].get<std::string>());
  expect_error(call("DescribeKeyPairs", {{"KeyPairIds", {alices["KeyPairId"]}}}, bob_), "InvalidKeyPair.NotFound",
               alices["KeyPairId"].get<std::string>());
  EXPECT_EQ(describe().size(), 1u) << "bob could not touch alice's";

  // Deleting by a name that names nothing succeeds, as on EC2; by name deletes one's own.
  auto none = call("DeleteKeyPair", {{"KeyName", "nothing-here"}});
  ASSERT_TRUE(none.ok) << none.error_code;
  auto gone = call("DeleteKeyPair", {{"KeyName", "web"}}, bob_);
  ASSERT_TRUE(gone.ok) << gone.error_code;
  EXPECT_EQ(gone.body["KeyPairId"], bobs["KeyPairId"]);
  EXPECT_EQ(describe(Json::object(), &bob_).size(), 0u);
  EXPECT_EQ(describe().size(), 1u);
  // Filters, as EC2's.
  EXPECT_EQ(describe({{"Filters", {{{"Name", "key-type"}, {"Values", {"rsa"}}}}}}).size(), 1u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "key-name"}, {"Values", {"w*"}}}}}}).size(), 1u);
  EXPECT_EQ(describe({{"Filters", {{{"Name", "fingerprint"}, {"Values", {"00"}}}}}}).size(), 0u);
}

TEST_F(KeyPairActionsTest, ALaunchWithAKeyPutsItsPublicHalfInTheGuestsSeed) {
  Json key = create("web", {{"KeyType", "ed25519"}});
  std::string public_key = describe({{"IncludePublicKey", true}})[0]["PublicKey"];
  std::string image = register_image("app");
  auto ids = run(image, 1, {{"KeyName", "web"}, {"UserData", base64_encode("#cloud-config\nruncmd: [ls]\n")}});
  ASSERT_EQ(ids.size(), 1u);

  auto r = call("DescribeInstances", {{"InstanceIds", {ids[0]}}});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body["Reservations"][0]["Instances"][0]["KeyName"], "web");

  Json meta = Json::parse(seed_file(ids[0], "meta-data"));
  EXPECT_EQ(meta["instance-id"], ids[0]);
  EXPECT_EQ(meta["local-hostname"], ids[0]);
  EXPECT_EQ(meta["ami-id"], image);
  EXPECT_EQ(meta["instance-type"], "t3.nano");
  EXPECT_EQ(meta["placement"]["availability-zone"], "local-1a");
  EXPECT_EQ(meta["public-keys"], Json::array({public_key}));
  EXPECT_EQ(seed_file(ids[0], "user-data"), "#cloud-config\nruncmd: [ls]\n");

  // The seed is the domain's last disk, read-only, labelled as NoCloud wants.
  std::string xml = hypervisor_->domain_xml(ids[0]).value_or("");
  auto seed_at = xml.find("/seed.img");
  ASSERT_NE(seed_at, std::string::npos) << xml;
  EXPECT_EQ(xml.find("<disk", seed_at), std::string::npos) << "no disk after the seed";
  EXPECT_NE(xml.find("<readonly", seed_at), std::string::npos);
  auto inst = catalog_->find_instance(ids[0]);
  ProcessResult label = run_process({"mlabel", "-s", "-i", inst->dir + "/seed.img", "::"});
  EXPECT_NE(label.out.find("CIDATA"), std::string::npos) << label.out << label.err;

  // A deleted key pair leaves the instance's key in place, as on EC2.
  ASSERT_TRUE(call("DeleteKeyPair", {{"KeyName", "web"}}).ok);
  r = call("DescribeInstances", {{"InstanceIds", {ids[0]}}});
  EXPECT_EQ(r.body["Reservations"][0]["Instances"][0]["KeyName"], "web");
}

TEST_F(KeyPairActionsTest, ALaunchWithoutAKeyHasNoneAndAnUnknownKeyLaunchesNothing) {
  std::string image = register_image("app");
  auto ids = run(image);
  ASSERT_EQ(ids.size(), 1u);
  Json meta = Json::parse(seed_file(ids[0], "meta-data"));
  EXPECT_EQ(meta["public-keys"], Json::array());
  EXPECT_FALSE(meta.contains("key-name"));
  auto r = call("DescribeInstances", {{"InstanceIds", {ids[0]}}});
  EXPECT_FALSE(r.body["Reservations"][0]["Instances"][0].contains("KeyName"));

  expect_error(call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"KeyName", "nope"}}),
               "InvalidKeyPair.NotFound", "nope");
  create("bobs", Json::object(), &bob_);
  expect_error(call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"KeyName", "bobs"}}),
               "InvalidKeyPair.NotFound", "bobs");
  r = call("DescribeInstances", Json::object());
  EXPECT_EQ(r.body["Reservations"].size(), 1u) << "the refused launches made nothing";
}

}  // namespace
}  // namespace amid
