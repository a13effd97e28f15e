// Base64 (RFC 4648, with padding), as EC2 uses for UserData and console output.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace amid {

std::string base64_encode(std::string_view data);
// std::nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace amid
