#include "daemon/services/validate.h"

#include <cctype>
#include <cstring>

namespace amid {

bool is_printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<std::string> validate_image_name(const std::string& name) {
  if (name.size() < 3 || name.size() > 128) {
    return problem("Name: must be 3-128 characters, got " + std::to_string(name.size()),
                   codes::kInvalidAmiNameMalformed);
  }
  for (unsigned char c : name) {
    if (std::isalnum(c) || (c != '\0' && std::strchr(" ()[]./-'@_", c) != nullptr)) continue;
    return problem("Name: character '" + std::string(1, static_cast<char>(c)) +
                       "' is not allowed (letters, digits, spaces and ( ) [ ] . / - ' @ _)",
                   codes::kInvalidAmiNameMalformed);
  }
  return name;
}

Result<std::string> validate_description(const std::string& d) {
  if (d.size() > 255) return problem("Description: longer than 255 characters");
  if (!is_printable(d)) return problem("Description: must not hold control characters");
  return d;
}

Result<std::string> validate_architecture(const std::string& a) {
  if (a == "x86_64" || a == "arm64") return a;
  return problem("Architecture: '" + a + "' is not one of x86_64, arm64");
}

Result<std::string> validate_virtualization_type(const std::string& t) {
  if (t == "hvm" || t == "paravirtual") return t;
  return problem("VirtualizationType: '" + t + "' is not one of hvm, paravirtual");
}

Result<std::string> validate_root_device_type(const std::string& t) {
  if (t == "ebs" || t == "instance-store") return t;
  return problem("RootDeviceType: '" + t + "' is not one of ebs, instance-store");
}

}  // namespace amid
