#include "daemon/services/access_key_service.h"

#include <array>
#include <mutex>

#include "common/error.h"
#include "common/ids.h"
#include "daemon/host/log.h"
#include "daemon/state/iso_time.h"

namespace amid {
namespace {

// `n` characters of `alphabet` (whose size divides 256: no bias), from the kernel's CSPRNG.
std::string random_text(std::size_t n, std::string_view alphabet) {
  std::string out;
  for (unsigned char b : random_bytes(n)) out += alphabet[b % alphabet.size()];
  return out;
}

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Creating is count-then-insert; one account's two requests at once must not both pass the count.
std::mutex create_mu;

}  // namespace

AccessKeyRecord AccessKeyService::create_access_key(const Caller& caller) {
  std::lock_guard lock(create_mu);
  if (catalog_.list_access_keys(caller.account).size() >= kMaxPerAccount) {
    throw AmidError("LimitExceeded", "account " + caller.account + " already has " + std::to_string(kMaxPerAccount) +
                                         " access keys, the most one may (as IAM allows): delete one first "
                                         "(amictl list-access-keys, amictl delete-access-key --access-key-id ...)");
  }
  AccessKeyRecord key{"AKIA" + random_text(16, kBase32), caller.account, random_text(40, kBase64), iso_now()};
  catalog_.insert_access_key(key);
  log_info("access key " + key.id + " created for account " + caller.account);
  return key;
}

std::vector<AccessKeyRecord> AccessKeyService::list_access_keys(const Caller& caller) const {
  auto keys = catalog_.list_access_keys(caller.account);
  for (auto& k : keys) k.secret.clear();
  return keys;
}

void AccessKeyService::delete_access_key(const Caller& caller, const std::string& id) {
  std::lock_guard lock(create_mu);
  auto key = catalog_.find_access_key(id);
  if (!key || !caller.may_manage(key->owner)) {
    throw AmidError("NoSuchEntity", "AccessKeyId: '" + id + "' is not an access key of account " + caller.account +
                                        " (amictl list-access-keys shows yours)");
  }
  catalog_.delete_access_key(id);
  log_info("access key " + id + " of account " + key->owner + " deleted by " + caller.account);
}

}  // namespace amid
