// Resource ids as EC2 spells them: a prefix ("ami", "i", "vol", "snap", "r")
// and 17 lower-case hex digits, drawn from libuuid's random generator.
// Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace amid {

std::string new_id(std::string_view prefix);
// True when id is prefix + "-" + 17 lower-case hex digits (EC2 also accepts
// the old 8-digit form; amid never issues it and refuses it).
bool is_valid_id(std::string_view id, std::string_view prefix);
// The caller's uid as EC2 shows an account id: 12 decimal digits.
std::string account_id(unsigned uid);
// A new random RFC 4122 UUID in its text form (for libvirt domain UUIDs).
std::string new_uuid();
// `n` bytes from the kernel's CSPRNG (getrandom), for secrets and seeds.
// Throws AmidError (InternalError) when the kernel gives none.
std::string random_bytes(std::size_t n);

}  // namespace amid
