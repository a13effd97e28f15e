// Shared by the fuzz targets in tests/fuzz: a check that stops the run (libFuzzer
// reports it as a crash and saves the input; amid_fuzz_replay fails the test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace amid::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line,
                                      const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n%s%s", file, line, what, detail.c_str(),
               detail.empty() ? "" : "\n");
  std::abort();
}

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace amid::fuzz

// AMID_FUZZ_CHECK(condition) or AMID_FUZZ_CHECK(condition, detail-string).
#define AMID_FUZZ_CHECK(cond, ...)                                                    \
  do {                                                                                \
    if (!(cond)) ::amid::fuzz::check_failed(#cond, __FILE__, __LINE__, std::string(__VA_ARGS__)); \
  } while (0)
