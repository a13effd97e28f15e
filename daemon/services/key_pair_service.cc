#include "daemon/services/key_pair_service.h"

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/host/ssh_keys.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

constexpr const char* kDuplicate = "InvalidKeyPair.Duplicate";
constexpr const char* kNotFound = "InvalidKeyPair.NotFound";

[[noreturn]] void not_found_named(const std::string& name) {
  throw AmidError(kNotFound, "The key pair '" + name + "' does not exist");
}

[[noreturn]] void not_found_id(const std::string& id) {
  throw AmidError(kNotFound, "The key pair ID '" + id + "' does not exist");
}

}  // namespace

void KeyPairService::check_name(const std::string& name) const {
  if (name.empty()) throw AmidError(codes::kMissingParameter, "KeyName: required");
  if (name.size() > kMaxNameLength) {
    throw AmidError(codes::kInvalidParameterValue, "KeyName: longer than 255 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c > 0x7e) {
      throw AmidError(codes::kInvalidParameterValue, "KeyName: only printable ASCII characters, as EC2 allows");
    }
  }
}

KeyPairRecord KeyPairService::record_new(const Caller& caller, const std::string& name, KeyPairRecord key) {
  key.id = new_id("key");
  key.owner = caller.account;
  key.region = rt_.settings.region;
  key.name = name;
  key.create_time = iso_now();
  if (!rt_.catalog.insert_key_pair(key)) {
    throw AmidError(kDuplicate, "The keypair '" + name + "' already exists.");
  }
  log_info("key pair " + key.id + " (" + name + ", " + key.type + ") " + "recorded for " + caller.account);
  return key;
}

CreatedKeyPair KeyPairService::create_key_pair(const Caller& caller, const std::string& name,
                                               const std::string& type, const std::string& format) {
  check_name(name);
  if (type != "rsa" && type != "ed25519") {
    throw AmidError(codes::kInvalidParameterValue, "KeyType: '" + type + "' is neither rsa nor ed25519");
  }
  if (format != "pem" && format != "ppk") {
    throw AmidError(codes::kInvalidParameterValue, "KeyFormat: '" + format + "' is neither pem nor ppk");
  }
  // Refused before a key is made; record_new checks again, in the same step as the row.
  if (rt_.catalog.find_key_pair_named(caller.account, rt_.settings.region, name)) {
    throw AmidError(kDuplicate, "The keypair '" + name + "' already exists.");
  }
  std::string work = rt_.files->staging_dir().empty() ? rt_.store.tmp_dir() : rt_.files->staging_dir();
  MadeKeyPair made = make_key_pair(type, format, name, work);
  KeyPairRecord key;
  key.type = type;
  key.fingerprint = made.fingerprint;
  key.public_key = made.public_key;
  return {record_new(caller, name, key), made.private_key};
}

KeyPairRecord KeyPairService::import_key_pair(const Caller& caller, const std::string& name,
                                              const std::string& public_key) {
  check_name(name);
  PublicKey pub = read_public_key(public_key, "PublicKeyMaterial").value_or_throw();
  KeyPairRecord key;
  key.type = pub.type;
  key.fingerprint = pub.fingerprint;
  key.public_key = pub.openssh;
  return record_new(caller, name, key);
}

std::vector<KeyPairRecord> KeyPairService::describe_key_pairs(const Caller& caller,
                                                              const std::vector<std::string>& names,
                                                              const std::vector<std::string>& ids) {
  std::vector<KeyPairRecord> mine;
  for (auto& k : rt_.catalog.list_key_pairs(rt_.settings.region)) {
    if (caller.may_manage(k.owner)) mine.push_back(std::move(k));
  }
  if (names.empty() && ids.empty()) return mine;
  std::vector<KeyPairRecord> out;
  std::set<std::string> taken;
  for (const auto& name : names) {
    bool found = false;
    for (const auto& k : mine) {
      if (k.name != name || (k.owner != caller.account && !caller.admin)) continue;
      found = true;
      if (taken.insert(k.id).second) out.push_back(k);
    }
    if (!found) not_found_named(name);
  }
  for (const auto& id : ids) {
    auto it = std::find_if(mine.begin(), mine.end(), [&](const KeyPairRecord& k) { return k.id == id; });
    if (it == mine.end()) not_found_id(id);
    if (taken.insert(it->id).second) out.push_back(*it);
  }
  return out;
}

std::string KeyPairService::delete_key_pair(const Caller& caller, const std::string& name, const std::string& id) {
  if (name.empty() == id.empty()) {
    throw AmidError(codes::kMissingParameter, "KeyName: give the key pair's name or its KeyPairId");
  }
  std::optional<KeyPairRecord> key;
  if (!id.empty()) {
    key = rt_.catalog.find_key_pair(id);
    if (!key || key->region != rt_.settings.region || !caller.may_manage(key->owner)) not_found_id(id);
  } else {
    key = rt_.catalog.find_key_pair_named(caller.account, rt_.settings.region, name);
    if (!key) return "";  // EC2: deleting a name that names nothing succeeds
  }
  rt_.catalog.delete_key_pair(key->id);
  log_info("key pair " + key->id + " (" + key->name + ") deleted by " + caller.account);
  return key->id;
}

KeyPairRecord KeyPairService::key_for_launch(const Caller& caller, const std::string& name) {
  auto key = rt_.catalog.find_key_pair_named(caller.account, rt_.settings.region, name);
  if (!key) not_found_named(name);
  return *key;
}

}  // namespace amid
