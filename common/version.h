// amid's version, from one place: CMakeLists.txt's project(VERSION), which
// common/CMakeLists.txt passes in as AMID_VERSION. `amid --version`,
// `amictl --version` and the Debian package (CPack) all show it.
#pragma once

namespace amid {

#ifndef AMID_VERSION
#error "AMID_VERSION is defined by common/CMakeLists.txt from project(VERSION)"
#endif
inline constexpr const char* kVersion = AMID_VERSION;

}  // namespace amid
