// Rules for user-supplied values, as EC2 states them. Pure; never throw.
#pragma once

#include <string>

#include "common/error.h"

namespace amid {

// 3-128 characters: letters, digits, spaces and ( ) [ ] . / - ' @ _
Result<std::string> validate_image_name(const std::string& name);
// Up to 255 printable characters.
Result<std::string> validate_description(const std::string& description);
Result<std::string> validate_architecture(const std::string& arch);          // x86_64 | arm64
Result<std::string> validate_virtualization_type(const std::string& type);   // hvm | paravirtual
Result<std::string> validate_root_device_type(const std::string& type);      // ebs | instance-store

// True when s holds no control characters (C0, DEL). Newlines count as control.
bool is_printable(const std::string& s);

}  // namespace amid
