#include "common/ids.h"

#include <sys/random.h>
#include <uuid/uuid.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace amid {

std::string new_id(std::string_view prefix) {
  uuid_t raw;
  uuid_generate_random(raw);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  id += '-';
  // 17 hex digits = 68 bits; a v4 uuid has 122 random bits, skip the version nibble.
  int digits = 0;
  for (int i = 0; i < 16 && digits < 17; ++i) {
    if (i == 6) continue;  // version nibble lives in byte 6
    id += kHex[raw[i] >> 4];
    if (++digits == 17) break;
    id += kHex[raw[i] & 0xf];
    ++digits;
  }
  return id;
}

bool is_valid_id(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 1 + 17) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '-') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string account_id(unsigned uid) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012u", uid);
  return buf;
}

std::string new_uuid() {
  uuid_t raw;
  uuid_generate_random(raw);
  char text[37];
  uuid_unparse_lower(raw, text);
  return text;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t done = 0;
  while (done < n) {
    ssize_t got = ::getrandom(out.data() + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw AmidError(codes::kInternalError, std::string("getrandom: ") + std::strerror(errno));
    done += static_cast<std::size_t>(got);
  }
  return out;
}

}  // namespace amid
