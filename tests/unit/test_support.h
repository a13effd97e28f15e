// Helpers shared by the unit and integration tests: a temporary folder that is
// removed with its contents, small file helpers, golden-file comparison and a
// way to run qemu-img.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"
#include "daemon/host/process.h"
#include "daemon/state/records.h"

namespace amid::testing {

// Runs `f` and returns the AmidError it throws (failing the test if none).
template <typename F>
AmidError thrown(F f) {
  try {
    f();
  } catch (const AmidError& e) {
    return e;
  }
  ADD_FAILURE() << "no AmidError thrown";
  return AmidError("none", "none");
}

// A fresh folder under /tmp, removed (with everything in it) when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/amid-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every test of a fixture derived from this gets its own temp dir.
class TempDirTest : public ::testing::Test {
 protected:
  TempDir tmp_;
};

// EXPECT_TRUE(has_substr(message, "Name")): says what was searched for on failure.
inline ::testing::AssertionResult has_substr(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << haystack << "\" does not contain \"" << needle
                                       << "\"";
}

inline ::testing::AssertionResult starts_with(const std::string& text, const std::string& prefix) {
  if (text.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not start with \"" << prefix
                                       << "\"";
}

inline void write_text(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << data;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

inline std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

// True when a `qemu-img` that works is on PATH.
inline bool have_qemu_img() {
  static const bool have = run_process({"qemu-img", "--version"}).exit_code == 0;
  return have;
}

// Runs qemu-img with `args`; fails the calling test (and returns false) on error.
inline ::testing::AssertionResult qemu_img(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"qemu-img"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    return ::testing::AssertionFailure() << cmd << "failed (" << r.exit_code << "): " << r.err;
  }
  return ::testing::AssertionSuccess();
}

// Compares `actual` with the golden file tests/data/golden/<name>. With
// AMID_UPDATE_GOLDEN=1 it rewrites the file instead and skips the test, so a
// regenerated golden is never mistaken for a passing comparison.
#define AMID_EXPECT_GOLDEN(name, actual)                                                      \
  do {                                                                                       \
    const std::string golden_path_ = std::string(AMID_TESTDATA_DIR) + "/golden/" + (name);   \
    const char* update_ = std::getenv("AMID_UPDATE_GOLDEN");                                 \
    if (update_ && std::string(update_) == "1") {                                            \
      std::filesystem::create_directories(std::string(AMID_TESTDATA_DIR) + "/golden");       \
      ::amid::testing::write_text(golden_path_, (actual));                                   \
      GTEST_SKIP() << "AMID_UPDATE_GOLDEN=1: wrote " << golden_path_                         \
                   << "; review it with git diff before committing";                        \
    }                                                                                        \
    ASSERT_TRUE(::amid::testing::file_exists(golden_path_))                                  \
        << golden_path_ << " is missing; create it with AMID_UPDATE_GOLDEN=1";               \
    EXPECT_EQ(::amid::testing::read_text(golden_path_), (actual))                            \
        << "output differs from " << golden_path_                                            \
        << " (if the change is intended, rerun with AMID_UPDATE_GOLDEN=1 and review)";      \
  } while (false)

// A security group rule as the catalog keeps it (ports -1 for all; icmp: type, code).
inline SecurityGroupRule ingress_rule(const char* protocol, int from, int to, const char* cidr) {
  SecurityGroupRule r;
  r.protocol = protocol;
  r.from_port = from;
  r.to_port = to;
  r.cidr = cidr;
  return r;
}

}  // namespace amid::testing
