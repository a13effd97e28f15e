#include "common/ipv4.h"

#include <charconv>

namespace amid {

std::optional<Ipv4Cidr> Ipv4Cidr::parse(const std::string& text) {
  Ipv4Cidr c;
  const char* p = text.data();
  const char* end = p + text.size();
  auto number = [&](int max, int& out) {
    if (p == end || *p < '0' || *p > '9') return false;
    if (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9') return false;  // no leading zeros
    auto [next, ec] = std::from_chars(p, end, out);
    if (ec != std::errc() || out > max) return false;
    p = next;
    return true;
  };
  for (int i = 0; i < 4; ++i) {
    int part = 0;
    if (!number(255, part)) return std::nullopt;
    c.address = (c.address << 8) | static_cast<std::uint32_t>(part);
    if (i < 3 && (p == end || *p++ != '.')) return std::nullopt;
  }
  if (p == end || *p++ != '/') return std::nullopt;
  if (!number(32, c.prefix) || p != end) return std::nullopt;
  return c;
}

std::string ipv4_str(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255);
}

std::string Ipv4Cidr::address_str() const { return ipv4_str(address); }
std::string Ipv4Cidr::str() const { return address_str() + "/" + std::to_string(prefix); }

}  // namespace amid
