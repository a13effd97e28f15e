// EC2's instance metadata service as guests ask it: the paths and listings,
// who is asking (by address), and IMDSv2's tokens (TTL bounds, expiry, another
// instance's token, X-Forwarded-For). On the test driver's region: instances
// are rows with an address, no guest runs.
#include "daemon/services/metadata_service.h"

#include <sys/stat.h>

#include <fstream>

#include "daemon/host/domain_xml.h"
#include "daemon/state/iso_time.h"
#include "tests/unit/region_fixture.h"

namespace amid::testing {
namespace {

class MetadataServiceTest : public RegionFixture {
 protected:
  InstanceRecord add_instance(const std::string& ip, const std::string& key_name = "",
                              std::vector<GroupRef> groups = {}) {
    return add_running_instance_at(ip, key_name, std::move(groups));
  }
  void add_key(const std::string& name, const std::string& created) {
    KeyPairRecord k;
    k.id = new_id("key");
    k.owner = alice_.account;
    k.region = "local-1";
    k.name = name;
    k.fingerprint = "f";
    k.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE " + name;
    k.create_time = created;
    ASSERT_TRUE(catalog_->insert_key_pair(k));
  }
  MetadataAnswer get(const std::string& path, const std::string& peer = "172.31.0.4",
                     std::optional<std::string> token = std::nullopt) {
    MetadataRequest r;
    r.method = "GET";
    r.path = path;
    r.peer = peer;
    r.token = std::move(token);
    return service().handle(r);
  }
  MetadataAnswer put_token(std::optional<std::string> ttl, const std::string& peer = "172.31.0.4",
                           bool forwarded = false) {
    MetadataRequest r;
    r.method = "PUT";
    r.path = "/latest/api/token";
    r.peer = peer;
    r.token_ttl = std::move(ttl);
    r.forwarded = forwarded;
    return service().handle(r);
  }
  const MetadataService& service() {
    if (!service_) service_ = std::make_unique<MetadataService>(*rt_, [this] { return now_; });
    return *service_;
  }
  static std::string header(const MetadataAnswer& a, const std::string& name) {
    for (const auto& [n, v] : a.headers) {
      if (n == name) return v;
    }
    return "";
  }

  std::int64_t now_ = 1000;
  std::unique_ptr<MetadataService> service_;
};

TEST_F(MetadataServiceTest, AnswersTheAskingInstanceByItsAddress) {
  auto a = add_instance("172.31.0.4");
  auto b = add_instance("172.31.0.5");
  EXPECT_EQ(get("/latest/meta-data/instance-id").body, a.id);
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.5").body, b.id);
  EXPECT_EQ(get("/latest/meta-data/local-ipv4", "172.31.0.5").body, "172.31.0.5");
  EXPECT_EQ(get("/latest/meta-data/mac").body, mac_for_instance(a.id));

  // An address no instance holds, or one a terminated instance held, is nobody's.
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.9").status, 403);
  catalog_->set_instance_state(b.id, InstanceState::kTerminated);
  MetadataAnswer gone = get("/latest/meta-data/instance-id", "172.31.0.5");
  EXPECT_EQ(gone.status, 403);
  EXPECT_EQ(gone.body.find(b.id), std::string::npos) << "nothing of the instance that held it";
}

TEST_F(MetadataServiceTest, ListsFoldersOneNameALineAndServesEachLeaf) {
  auto inst = add_instance("172.31.0.4");
  EXPECT_EQ(get("/").body, "latest");
  EXPECT_EQ(get("/latest/").body, "dynamic\nmeta-data") << "no user data, so none listed";
  const std::string listing = get("/latest/meta-data/").body;
  EXPECT_EQ(listing,
            "ami-id\nami-launch-index\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\n"
            "placement/\nreservation-id");
  EXPECT_EQ(get("/latest/meta-data").body, listing) << "with or without the trailing slash";
  EXPECT_EQ(get("/latest/meta-data/ami-id").body, "ami-0123456789abcdef0");
  EXPECT_EQ(get("/latest/meta-data/ami-launch-index").body, "0");
  EXPECT_EQ(get("/latest/meta-data/instance-type").body, "t3.nano");
  EXPECT_EQ(get("/latest/meta-data/hostname").body, inst.id);
  EXPECT_EQ(get("/latest/meta-data/local-hostname").body, inst.id);
  EXPECT_EQ(get("/latest/meta-data/reservation-id").body, "r-0123456789abcdef0");
  EXPECT_EQ(get("/latest/meta-data/placement/").body, "availability-zone\nregion");
  EXPECT_EQ(get("/latest/meta-data/placement/availability-zone").body, "local-1a");
  EXPECT_EQ(get("/latest/meta-data/placement/region").body, "local-1");
  EXPECT_EQ(get("/latest/dynamic/").body, "instance-identity/");
  EXPECT_EQ(get("/latest/dynamic/instance-identity/").body, "document");

  for (const char* missing : {"/latest/meta-data/public-keys/", "/latest/meta-data/security-groups",
                              "/latest/meta-data/iam/", "/latest/user-data", "/latest/meta-data/instance-id/x",
                              "/2009-04-04/meta-data/", "/latest/meta-data/placementx"}) {
    EXPECT_EQ(get(missing).status, 404) << missing;
  }
}

TEST_F(MetadataServiceTest, TheKeyAndGroupsTheInstanceWasLaunchedWith) {
  add_key("web", "2026-12-06T09:00:00.000Z");
  SecurityGroupRecord g{"sg-0123456789abcdef0", alice_.account, "local-1", "web-servers", "d",
                        "vpc-0000000000000000a", "2026-12-06T00:00:00.000Z", {}, {}};
  SecurityGroupRecord h = g;
  h.id = "sg-0123456789abcdef1";
  h.name = "default";
  ASSERT_TRUE(catalog_->insert_security_group(g));
  ASSERT_TRUE(catalog_->insert_security_group(h));
  add_instance("172.31.0.4", "web", {{g.id, g.name}, {h.id, h.name}});
  EXPECT_NE(get("/latest/meta-data/").body.find("\npublic-keys/\n"), std::string::npos);
  EXPECT_EQ(get("/latest/meta-data/public-keys/").body, "0=web");
  EXPECT_EQ(get("/latest/meta-data/public-keys/0/").body, "openssh-key");
  EXPECT_EQ(get("/latest/meta-data/public-keys/0/openssh-key").body, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE web");
  EXPECT_EQ(get("/latest/meta-data/security-groups").body, "web-servers\ndefault");

  // A key made under the same name after the launch is another key.
  add_key("late", "2026-12-06T11:00:00.000Z");
  add_instance("172.31.0.5", "late");
  EXPECT_EQ(get("/latest/meta-data/public-keys/", "172.31.0.5").status, 404);
}

TEST_F(MetadataServiceTest, UserDataAsTheLaunchGaveItAndTheIdentityDocument) {
  auto inst = add_instance("172.31.0.4");
  ::mkdir(inst.dir.c_str(), 0700);
  std::ofstream(inst.dir + "/user-data") << "#!/bin/sh\necho hi\n";
  EXPECT_EQ(get("/latest/user-data").body, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(get("/latest/").body, "dynamic\nmeta-data\nuser-data");

  auto doc = protocol::Json::parse(get("/latest/dynamic/instance-identity/document").body);
  EXPECT_EQ(doc["accountId"], alice_.account);
  EXPECT_EQ(doc["architecture"], "x86_64");
  EXPECT_EQ(doc["availabilityZone"], "local-1a");
  EXPECT_EQ(doc["imageId"], "ami-0123456789abcdef0");
  EXPECT_EQ(doc["instanceId"], inst.id);
  EXPECT_EQ(doc["instanceType"], "t3.nano");
  EXPECT_EQ(doc["pendingTime"], "2026-12-06T10:00:00.000Z");
  EXPECT_EQ(doc["privateIp"], "172.31.0.4");
  EXPECT_EQ(doc["region"], "local-1");
  EXPECT_TRUE(doc["kernelId"].is_null());
  EXPECT_EQ(doc["version"], "2017-09-30");
}

TEST_F(MetadataServiceTest, OnlyGetHeadAndPutAndPutOnlyForAToken) {
  add_instance("172.31.0.4");
  MetadataRequest r;
  r.path = "/latest/meta-data/instance-id";
  r.peer = "172.31.0.4";
  for (const char* method : {"POST", "DELETE", "PATCH", "OPTIONS"}) {
    r.method = method;
    MetadataAnswer a = service().handle(r);
    EXPECT_EQ(a.status, 405) << method;
    EXPECT_EQ(header(a, "Allow"), "GET, HEAD, PUT");
  }
  r.method = "HEAD";
  EXPECT_EQ(service().handle(r).status, 200);
  r.method = "PUT";
  EXPECT_EQ(service().handle(r).status, 405) << "a PUT anywhere but /latest/api/token";
  EXPECT_EQ(get("/latest/api/token").status, 405) << "a token is asked for with PUT";
}

TEST_F(MetadataServiceTest, ATokensTtlIsOneSecondToSixHours) {
  add_instance("172.31.0.4");
  for (const char* bad : {"", "0", "21601", "-5", "60s", "1e3", " 60", "999999"}) {
    EXPECT_EQ(put_token(bad).status, 400) << "'" << bad << "'";
  }
  EXPECT_EQ(put_token(std::nullopt).status, 400) << "no TTL header";
  for (const char* good : {"1", "60", "21600"}) {
    MetadataAnswer a = put_token(good);
    EXPECT_EQ(a.status, 200) << good;
    EXPECT_FALSE(a.body.empty());
    EXPECT_EQ(header(a, "X-aws-ec2-metadata-token-ttl-seconds"), good);
  }
}

TEST_F(MetadataServiceTest, ATokenServesItsOwnInstanceUntilItExpires) {
  auto a = add_instance("172.31.0.4");
  add_instance("172.31.0.5");
  const std::string token = put_token("60").body;
  MetadataAnswer ok = get("/latest/meta-data/instance-id", "172.31.0.4", token);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, a.id);
  EXPECT_EQ(header(ok, "X-aws-ec2-metadata-token-ttl-seconds"), "60");

  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.5", token).status, 401) << "another instance's token";
  std::string mangled = token;
  mangled[3] = mangled[3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", mangled).status, 401);
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", "").status, 401);
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", "not a token").status, 401);
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4").status, 200) << "v1: no token at all is served";

  now_ += 59;
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", token).status, 200);
  now_ += 1;
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", token).status, 401) << "expired";

  // Tokens end with the process: another amid (another key) refuses them.
  const std::string fresh = put_token("60").body;
  MetadataService restarted(*rt_, [this] { return now_; });
  MetadataRequest r;
  r.method = "GET";
  r.path = "/latest/meta-data/instance-id";
  r.peer = "172.31.0.4";
  r.token = fresh;
  EXPECT_EQ(restarted.handle(r).status, 401);
}

TEST_F(MetadataServiceTest, AnInstanceThatTookOverAnAddressCannotUseTheFormerHoldersToken) {
  auto old = add_instance("172.31.0.4");
  const std::string token = put_token("600").body;
  catalog_->set_instance_state(old.id, InstanceState::kTerminated);
  auto successor = add_instance("172.31.0.4");
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4", token).status, 401);
  EXPECT_EQ(get("/latest/meta-data/instance-id", "172.31.0.4").body, successor.id);
}

TEST_F(MetadataServiceTest, ATokenRequestThroughAProxyIsRefused) {
  add_instance("172.31.0.4");
  EXPECT_EQ(put_token("60", "172.31.0.4", /*forwarded=*/true).status, 403);
  EXPECT_EQ(put_token("60", "172.31.0.9").status, 403) << "nobody's address gets no token";
}

TEST(MetadataTokens, AreBoundToTheInstanceAndTheirExpiry) {
  std::int64_t now = 50;
  MetadataTokens tokens([&] { return now; });
  std::string t = tokens.issue("i-0123456789abcdef0", 10);
  EXPECT_EQ(tokens.check(t, "i-0123456789abcdef0"), 10);
  EXPECT_EQ(tokens.check(t, "i-0123456789abcdef1"), std::nullopt);
  now = 59;
  EXPECT_EQ(tokens.check(t, "i-0123456789abcdef0"), 1);
  now = 60;
  EXPECT_EQ(tokens.check(t, "i-0123456789abcdef0"), std::nullopt);
  EXPECT_NE(tokens.issue("i-0123456789abcdef0", 10), tokens.issue("i-0123456789abcdef1", 10));
}

}  // namespace
}  // namespace amid::testing
