#include "daemon/services/metadata_service.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>

#include "common/base64.h"
#include "common/error.h"
#include "common/protocol.h"
#include "daemon/services/instance_service.h"

namespace amid {

namespace {

std::string lines(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : "\n") + n;
  return out;
}

// "/latest/meta-data/placement/" and "/latest/meta-data/placement" name the same thing.
std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string identity_document(const MetadataView& v) {
  // EC2's fields, those amid has no counterpart of as null.
  protocol::Json doc = {
      {"accountId", v.account_id},
      {"architecture", v.architecture},
      {"availabilityZone", v.m.availability_zone},
      {"billingProducts", nullptr},
      {"devpayProductCodes", nullptr},
      {"marketplaceProductCodes", nullptr},
      {"imageId", v.m.ami_id},
      {"instanceId", v.m.instance_id},
      {"instanceType", v.m.instance_type},
      {"kernelId", nullptr},
      {"pendingTime", v.pending_time},
      {"privateIp", v.m.local_ipv4.empty() ? protocol::Json(nullptr) : protocol::Json(v.m.local_ipv4)},
      {"ramdiskId", nullptr},
      {"region", v.m.region},
      {"version", "2017-09-30"},
  };
  return doc.dump(2);
}

std::optional<std::string> meta_data_at(const MetadataView& v, const std::string& rest) {
  const InstanceMetadata& m = v.m;
  const bool has_key = !m.public_keys.empty();
  if (rest.empty()) {
    std::vector<std::string> names = {"ami-id", "ami-launch-index", "hostname", "instance-id", "instance-type",
                                      "local-hostname"};
    if (!m.local_ipv4.empty()) names.push_back("local-ipv4");
    names.push_back("mac");
    names.push_back("placement/");
    if (has_key) names.push_back("public-keys/");
    names.push_back("reservation-id");
    if (!v.security_groups.empty()) names.push_back("security-groups");
    return lines(names);
  }
  if (rest == "ami-id") return m.ami_id;
  if (rest == "ami-launch-index") return std::to_string(v.launch_index);
  if (rest == "hostname" || rest == "local-hostname") return m.local_hostname;
  if (rest == "instance-id") return m.instance_id;
  if (rest == "instance-type") return m.instance_type;
  if (rest == "local-ipv4" && !m.local_ipv4.empty()) return m.local_ipv4;
  if (rest == "mac") return m.mac;
  if (rest == "reservation-id") return v.reservation_id;
  if (rest == "security-groups" && !v.security_groups.empty()) return lines(v.security_groups);
  if (rest == "placement") return lines({"availability-zone", "region"});
  if (rest == "placement/availability-zone") return m.availability_zone;
  if (rest == "placement/region") return m.region;
  if (has_key) {
    if (rest == "public-keys") return "0=" + m.key_name;
    if (rest == "public-keys/0") return std::string("openssh-key");
    if (rest == "public-keys/0/openssh-key") return m.public_keys.front();
  }
  return std::nullopt;
}

std::optional<int> parse_ttl(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 5) return std::nullopt;
  int ttl = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    ttl = ttl * 10 + (c - '0');
  }
  if (ttl < 1 || ttl > MetadataTokens::kMaxTtl) return std::nullopt;
  return ttl;
}

MetadataAnswer answer(int status, std::string body) {
  MetadataAnswer a;
  a.status = status;
  a.body = std::move(body);
  return a;
}

constexpr const char* kTokenPath = "/latest/api/token";
constexpr const char* kTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";

}  // namespace

std::optional<std::string> metadata_at(const MetadataView& v, const std::string& raw_path) {
  const std::string path = without_trailing_slash(raw_path);
  if (path == "/") return std::string("latest");
  if (path == "/latest") {
    return lines(v.m.user_data ? std::vector<std::string>{"dynamic", "meta-data", "user-data"}
                               : std::vector<std::string>{"dynamic", "meta-data"});
  }
  if (path == "/latest/meta-data") return meta_data_at(v, "");
  const std::string meta = "/latest/meta-data/";
  if (path.rfind(meta, 0) == 0) return meta_data_at(v, path.substr(meta.size()));
  if (path == "/latest/user-data") return v.m.user_data;
  if (path == "/latest/dynamic") return std::string("instance-identity/");
  if (path == "/latest/dynamic/instance-identity") return std::string("document");
  if (path == "/latest/dynamic/instance-identity/document") return identity_document(v);
  return std::nullopt;
}

// ---------------------------------------------------------------- tokens ----

MetadataTokens::MetadataTokens(Clock now) : now_(std::move(now)) {
  if (!now_) {
    now_ = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw AmidError(codes::kInternalError, "metadata: cannot draw a random key for IMDSv2 tokens");
  }
}

std::array<unsigned char, 32> MetadataTokens::mac_of(const std::string& instance_id, std::int64_t expiry) const {
  const std::string data = instance_id + "\n" + std::to_string(expiry);
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return out;
}

std::string MetadataTokens::issue(const std::string& instance_id, int ttl_seconds) const {
  const std::int64_t expiry = now_() + ttl_seconds;
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>((static_cast<std::uint64_t>(expiry) >> (56 - 8 * i)) & 0xff);
  auto mac = mac_of(instance_id, expiry);
  raw.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return base64_encode(raw);
}

std::optional<int> MetadataTokens::check(const std::string& token, const std::string& instance_id) const {
  auto raw = base64_decode(token);
  if (!raw || raw->size() != 8 + 32) return std::nullopt;
  std::uint64_t expiry_bits = 0;
  for (int i = 0; i < 8; ++i) expiry_bits = (expiry_bits << 8) | static_cast<unsigned char>((*raw)[i]);
  const auto expiry = static_cast<std::int64_t>(expiry_bits);
  auto mac = mac_of(instance_id, expiry);
  if (CRYPTO_memcmp(mac.data(), raw->data() + 8, mac.size()) != 0) return std::nullopt;
  const std::int64_t left = expiry - now_();
  if (left <= 0) return std::nullopt;
  return static_cast<int>(left);
}

// --------------------------------------------------------------- service ----

MetadataService::MetadataService(Runtime& rt, MetadataTokens::Clock now) : rt_(rt), tokens_(std::move(now)) {}

MetadataView MetadataService::view_of(const InstanceRecord& inst) const {
  std::optional<KeyPairRecord> key;
  if (!inst.key_name.empty()) {
    key = rt_.catalog.find_key_pair_named(inst.owner, inst.region, inst.key_name);
    // A key pair deleted after the launch and made again under its name is
    // not the key this instance was given.
    if (key && key->create_time > inst.launch_time) key.reset();
  }
  std::optional<std::string> user_data;
  const std::string ud = inst.dir + "/user-data";
  if (!inst.dir.empty() && rt_.files->exists(ud)) user_data = rt_.files->read_tail(ud, kMaxUserDataBytes);
  MetadataView v;
  v.m = metadata_of(inst, key, user_data);
  v.account_id = inst.owner;
  v.architecture = inst.architecture;
  v.pending_time = inst.launch_time;
  v.reservation_id = inst.reservation_id;
  v.launch_index = inst.launch_index;
  for (const auto& g : inst.security_groups) v.security_groups.push_back(g.name);
  return v;
}

MetadataAnswer MetadataService::handle(const MetadataRequest& req) const {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (!get && req.method != "PUT") {
    MetadataAnswer a = answer(405, "Method Not Allowed\n");
    a.headers.emplace_back("Allow", "GET, HEAD, PUT");
    return a;
  }
  auto inst = rt_.catalog.find_instance_at(rt_.settings.region, req.peer);
  if (!inst) return answer(403, "Forbidden: " + req.peer + " is no instance of region " + region() + "\n");

  if (req.method == "PUT") {
    if (req.path != kTokenPath) {
      MetadataAnswer a = answer(405, "Method Not Allowed\n");
      a.headers.emplace_back("Allow", "GET, HEAD");
      return a;
    }
    // A PUT that went through a proxy is refused, as on EC2: a token must
    // come from the instance itself, not from whoever can make it relay.
    if (req.forwarded) return answer(403, "Forbidden: X-Forwarded-For is not accepted on a token request\n");
    auto ttl = parse_ttl(req.token_ttl);
    if (!ttl) {
      return answer(400, std::string("Bad Request: ") + kTtlHeader + " must be a whole number of seconds from 1 to " +
                             std::to_string(MetadataTokens::kMaxTtl) + "\n");
    }
    MetadataAnswer a = answer(200, tokens_.issue(inst->id, *ttl));
    a.headers.emplace_back(kTtlHeader, std::to_string(*ttl));
    return a;
  }

  if (req.path == kTokenPath) {
    MetadataAnswer a = answer(405, "Method Not Allowed\n");
    a.headers.emplace_back("Allow", "PUT");
    return a;
  }
  std::optional<int> left;
  if (req.token) {
    left = tokens_.check(*req.token, inst->id);
    if (!left) return answer(401, "Unauthorized\n");
  }
  auto text = metadata_at(view_of(*inst), req.path);
  if (!text) return answer(404, "Not Found\n");
  MetadataAnswer a = answer(200, std::move(*text));
  if (left) a.headers.emplace_back(kTtlHeader, std::to_string(*left));
  return a;
}

}  // namespace amid
