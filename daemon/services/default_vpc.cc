#include "daemon/services/default_vpc.h"

#include <cstdint>
#include <cstdio>

namespace amid {
namespace {

// FNV-1a, 64 bits: stable across builds and machines (std::hash is not promised to be).
std::uint64_t fnv1a(const std::string& text, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// 17 hex digits, as EC2's ids have, from two hashes of what names the resource.
std::string derived_id(const std::string& prefix, const std::string& account, const std::string& region) {
  std::string key = prefix + "\n" + account + "\n" + region;
  std::uint64_t high = fnv1a(key, 0xcbf29ce484222325ull);
  std::uint64_t low = fnv1a(key, high);
  char hex[18];
  std::snprintf(hex, sizeof hex, "%01x%016llx", static_cast<unsigned>(high & 0xf),
                static_cast<unsigned long long>(low));
  return prefix + "-" + hex;
}

}  // namespace

std::string default_vpc_id(const std::string& account, const std::string& region) {
  return derived_id("vpc", account, region);
}

std::string default_subnet_id(const std::string& account, const std::string& region) {
  return derived_id("subnet", account, region);
}

std::string default_availability_zone(const std::string& region) { return region + "a"; }

}  // namespace amid
