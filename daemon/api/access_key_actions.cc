// The access key actions (IAM's names and answers): CreateAccessKey,
// ListAccessKeys, DeleteAccessKey. On the socket only: they make the keys that
// EC2's HTTP endpoint checks signatures with (docs/EC2_API.md).
#include <pwd.h>

#include <vector>

#include "daemon/api/actions.h"
#include "daemon/services/access_key_service.h"

namespace amid {
namespace {

using Json = protocol::Json;

// IAM's UserName: the account's login name (the uid's passwd entry), or the account id.
std::string user_name(const std::string& account) {
  uid_t uid = static_cast<uid_t>(std::stoul(account));
  std::vector<char> buf(4096);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_name;
  return account;
}

Json metadata(const AccessKeyRecord& k) {
  return {{"UserName", user_name(k.owner)}, {"AccessKeyId", k.id}, {"Status", "Active"}, {"CreateDate", k.create_time}};
}

Json create_access_key(Services& services, const Caller& caller, ParamReader& p) {
  p.finish();
  AccessKeyRecord key = services.access_keys.create_access_key(caller);
  Json out = metadata(key);
  out["SecretAccessKey"] = key.secret;
  return {{"AccessKey", out}};
}

Json list_access_keys(Services& services, const Caller& caller, ParamReader& p) {
  p.finish();
  Json rows = Json::array();
  for (const auto& k : services.access_keys.list_access_keys(caller)) rows.push_back(metadata(k));
  return {{"AccessKeyMetadata", rows}, {"IsTruncated", false}};
}

Json delete_access_key(Services& services, const Caller& caller, ParamReader& p) {
  std::string id = p.required_string("AccessKeyId", 128);
  p.finish();
  services.access_keys.delete_access_key(caller, id);
  return {{"Return", true}};
}

}  // namespace

const ActionTable& access_key_actions() {
  static const ActionTable table = {
      {"CreateAccessKey", create_access_key},
      {"ListAccessKeys", list_access_keys},
      {"DeleteAccessKey", delete_access_key},
  };
  return table;
}

}  // namespace amid
