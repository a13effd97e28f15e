// IPv4 addresses and CIDR blocks, as security group rules and the region
// network write them. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace amid {

// An IPv4 address with a prefix length: 172.31.0.0/20, 172.31.0.1/20.
struct Ipv4Cidr {
  std::uint32_t address = 0;  // host byte order
  int prefix = 32;

  // "a.b.c.d/n" (n 0-32), each part in range, nothing else; std::nullopt otherwise.
  static std::optional<Ipv4Cidr> parse(const std::string& text);
  std::string str() const;           // "a.b.c.d/n"
  std::string address_str() const;   // "a.b.c.d"
  std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  std::uint32_t network() const { return address & mask(); }
  bool contains(std::uint32_t a) const { return (a & mask()) == network(); }
};

std::string ipv4_str(std::uint32_t address);

}  // namespace amid
