// The key pair actions: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair.
#include "daemon/api/actions.h"

#include "common/base64.h"
#include "daemon/api/filters.h"
#include "daemon/services/key_pair_service.h"

namespace amid {
namespace {

using Json = protocol::Json;

Json create_key_pair(Services& services, const Caller& caller, ParamReader& p) {
  std::string name = p.required_string("KeyName", 1024);
  std::string type = p.optional_string("KeyType", 16).value_or("rsa");
  std::string format = p.optional_string("KeyFormat", 16).value_or("pem");
  p.finish();
  CreatedKeyPair made = services.key_pairs.create_key_pair(caller, name, type, format);
  return {{"KeyFingerprint", made.key.fingerprint},
          {"KeyMaterial", made.key_material},
          {"KeyName", made.key.name},
          {"KeyPairId", made.key.id}};
}

Json import_key_pair(Services& services, const Caller& caller, ParamReader& p) {
  std::string name = p.required_string("KeyName", 1024);
  // A blob, as EC2's wire has it: base64 of the key's text.
  std::string material = p.required_string("PublicKeyMaterial", 16384);
  p.finish();
  auto text = base64_decode(material);
  if (!text) {
    throw AmidError("InvalidKeyPair.Format", "PublicKeyMaterial: not base64 (give the .pub file's text, base64-encoded)");
  }
  KeyPairRecord key = services.key_pairs.import_key_pair(caller, name, *text);
  return {{"KeyFingerprint", key.fingerprint}, {"KeyName", key.name}, {"KeyPairId", key.id}};
}

Json describe_key_pairs(Services& services, const Caller& caller, ParamReader& p) {
  auto names = p.string_list("KeyNames");
  auto ids = p.string_list("KeyPairIds");
  bool include_public_key = p.optional_bool("IncludePublicKey").value_or(false);
  Filters filters;
  if (const Json* f = p.optional_json("Filters")) filters = parse_filters(*f, kKeyPairFilters).value_or_throw();
  p.finish();
  Json rows = Json::array();
  for (const auto& k : services.key_pairs.describe_key_pairs(caller, names, ids)) {
    Json row = {{"KeyPairId", k.id},       {"KeyFingerprint", k.fingerprint}, {"KeyName", k.name},
                {"KeyType", k.type},       {"CreateTime", k.create_time}};
    if (include_public_key) row["PublicKey"] = k.public_key;
    if (matches(filters, kKeyPairFilters, row)) rows.push_back(std::move(row));
  }
  return {{"KeyPairs", rows}};
}

Json delete_key_pair(Services& services, const Caller& caller, ParamReader& p) {
  std::string name = p.optional_string("KeyName", 1024).value_or("");
  std::string id = p.optional_string("KeyPairId", 64).value_or("");
  p.finish();
  std::string deleted = services.key_pairs.delete_key_pair(caller, name, id);
  Json out = {{"Return", true}};
  if (!deleted.empty()) out["KeyPairId"] = deleted;
  return out;
}

}  // namespace

const ActionTable& key_pair_actions() {
  static const ActionTable table = {
      {"CreateKeyPair", create_key_pair},
      {"ImportKeyPair", import_key_pair},
      {"DescribeKeyPairs", describe_key_pairs},
      {"DeleteKeyPair", delete_key_pair},
  };
  return table;
}

}  // namespace amid
