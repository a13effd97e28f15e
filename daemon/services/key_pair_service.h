// EC2's key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs,
// DeleteKeyPair, and the public key a launch puts into its guest.
//
// A key pair belongs to the account that made it, in one region, as images do;
// its name is unique there. amid keeps only the public key and the fingerprint:
// a made key's private half is answered once and forgotten. Called from worker
// threads; errors are AmidErrors with EC2's codes (InvalidKeyPair.Duplicate,
// InvalidKeyPair.NotFound, InvalidKeyPair.Format).
#pragma once

#include <string>
#include <vector>

#include "daemon/services/caller.h"
#include "daemon/services/runtime.h"

namespace amid {

// What CreateKeyPair answers: the record and, this once, the private key.
struct CreatedKeyPair {
  KeyPairRecord key;
  std::string key_material;
};

class KeyPairService {
 public:
  explicit KeyPairService(Runtime& rt) : rt_(rt) {}

  // type: rsa (EC2's default) or ed25519; format: pem (default) or ppk.
  CreatedKeyPair create_key_pair(const Caller& caller, const std::string& name, const std::string& type,
                                 const std::string& format);
  // public_key: the key's text as the caller sent it (an OpenSSH .pub line).
  KeyPairRecord import_key_pair(const Caller& caller, const std::string& name, const std::string& public_key);
  // The caller's key pairs in this region, or exactly those named or given by
  // id (InvalidKeyPair.NotFound for one that is not).
  std::vector<KeyPairRecord> describe_key_pairs(const Caller& caller, const std::vector<std::string>& names,
                                                const std::vector<std::string>& ids);
  // By name or id (one of them). As on EC2, a name that names nothing is no
  // error; an id that does is InvalidKeyPair.NotFound. Returns the id deleted ("" for none).
  std::string delete_key_pair(const Caller& caller, const std::string& name, const std::string& id);
  // The key pair a launch names (KeyName): the caller's, in this region.
  KeyPairRecord key_for_launch(const Caller& caller, const std::string& name);

  static constexpr std::size_t kMaxNameLength = 255;

 private:
  void check_name(const std::string& name) const;
  KeyPairRecord record_new(const Caller& caller, const std::string& name, KeyPairRecord key);
  Runtime& rt_;
};

}  // namespace amid
