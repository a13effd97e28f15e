// EC2's instance metadata service (IMDS), versions 1 and 2, as a guest asks
// it at http://169.254.169.254/: which instance is asking (the TCP peer's
// address is an instance's private address in the region), what each path
// answers, and IMDSv2's session tokens. Every rule of it is here; the HTTP
// door (api/metadata_server.h) only parses requests into MetadataRequest and
// writes MetadataAnswer back. docs/NETWORK.md says what is served.
//
// Tokens are HttpTokens=optional, EC2's default: a request without one is
// served (v1); a request that carries one is served only when it was issued
// to the same instance and has not expired (else 401). A token is an HMAC
// under a key drawn when amid starts: nothing is stored per token, so a guest
// asking for tokens in a loop costs amid no memory, and tokens end with the
// process (a client gets 401 after a restart and asks for a new one, as on
// EC2 after a token expires).
//
// Thread-safe: handle() reads the catalog and the instance's folder (blocking:
// call it from a worker, never from an I/O thread).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/services/instance_metadata.h"
#include "daemon/services/runtime.h"

namespace amid {

struct MetadataRequest {
  std::string method;                    // GET, HEAD and PUT are served; anything else is 405
  std::string path;                      // the request target without its query string
  std::string peer;                      // the TCP peer's IPv4 address
  std::optional<std::string> token;      // X-aws-ec2-metadata-token
  std::optional<std::string> token_ttl;  // X-aws-ec2-metadata-token-ttl-seconds
  bool forwarded = false;                // carried X-Forwarded-For
};

struct MetadataAnswer {
  int status = 200;
  std::string body;  // text/plain, as EC2 sends even the identity document
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
};

// What the metadata paths describe: the instance's InstanceMetadata and the
// few facts of its record the NoCloud seed does not carry.
struct MetadataView {
  InstanceMetadata m;
  std::string account_id;    // its owner, 12 digits
  std::string architecture;  // x86_64 | arm64
  std::string pending_time;  // its launch time, ISO 8601 UTC
  std::string reservation_id;
  int launch_index = 0;
  std::vector<std::string> security_groups;  // names, in the launch's order
};

// The answer of a GET of `path` for that instance: the text, or nullopt for
// a path that does not exist (404). Listings give one name a line, folders
// with a trailing '/'. Pure.
std::optional<std::string> metadata_at(const MetadataView& view, const std::string& path);

// IMDSv2 session tokens (see above). `now` is a monotonic clock in seconds
// (tests move it).
class MetadataTokens {
 public:
  using Clock = std::function<std::int64_t()>;
  explicit MetadataTokens(Clock now = {});
  // A token for `instance_id`, valid for `ttl_seconds` (1..kMaxTtl, checked by the caller).
  std::string issue(const std::string& instance_id, int ttl_seconds) const;
  // The seconds `token` has left when it was issued to `instance_id` and has
  // not expired; nullopt otherwise (forged, mangled, another instance's, expired).
  std::optional<int> check(const std::string& token, const std::string& instance_id) const;

  static constexpr int kMaxTtl = 21600;  // six hours, EC2's limit

 private:
  std::array<unsigned char, 32> mac_of(const std::string& instance_id, std::int64_t expiry) const;
  Clock now_;
  std::array<unsigned char, 32> key_{};
};

class MetadataService {
 public:
  explicit MetadataService(Runtime& rt, MetadataTokens::Clock now = {});

  // The whole answer to one request: 405 for another method, 403 when the
  // peer is no instance of this region, PUT /latest/api/token (403 with
  // X-Forwarded-For, 400 without a TTL of 1..21600), 401 for a bad token,
  // else the path's text or 404.
  MetadataAnswer handle(const MetadataRequest& request) const;

  const std::string& region() const { return rt_.settings.region; }

 private:
  MetadataView view_of(const InstanceRecord& instance) const;

  Runtime& rt_;
  MetadataTokens tokens_;
};

}  // namespace amid
