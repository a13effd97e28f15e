// Access keys for EC2's HTTP endpoint, as IAM's CreateAccessKey,
// ListAccessKeys and DeleteAccessKey give them: an access key id and a secret
// with which the AWS CLI and SDKs sign requests (SigV4). A request signed with
// a key acts as the key's owner, exactly as that uid does on the socket.
//
// Keys belong to an account, not to a region (as IAM's are global); at most
// kMaxPerAccount each, as IAM allows. The secret is answered once, at
// creation; amid keeps it (a signature cannot be checked without it) in the
// catalog, which only amid reads. Called from worker threads and from the HTTP
// door's; errors are AmidErrors with IAM's codes (LimitExceeded, NoSuchEntity).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/services/caller.h"
#include "daemon/state/catalog.h"

namespace amid {

class AccessKeyService {
 public:
  explicit AccessKeyService(Catalog& catalog) : catalog_(catalog) {}

  // A new key of the caller's account, with its secret (this answer only).
  AccessKeyRecord create_access_key(const Caller& caller);
  // The caller's keys (no secrets), oldest first.
  std::vector<AccessKeyRecord> list_access_keys(const Caller& caller) const;
  // The caller's key (an admin's: anyone's); NoSuchEntity when there is none
  // with that id the caller may delete.
  void delete_access_key(const Caller& caller, const std::string& id);
  // For the HTTP door: the key with this id, secret included; nullopt when none.
  std::optional<AccessKeyRecord> find(const std::string& id) const { return catalog_.find_access_key(id); }

  static constexpr std::size_t kMaxPerAccount = 2;

 private:
  Catalog& catalog_;
};

}  // namespace amid
