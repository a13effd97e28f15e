// amid_fuzz_replay: runs every file of each fuzz target's seed corpus
// (tests/fuzz/corpus/<target>/) through that target's LLVMFuzzerTestOneInput, built
// with the project's own compiler (g++), so the normal test suite (ctest -L unit)
// replays the corpus without clang or libFuzzer. Each target's source is compiled
// once more with LLVMFuzzerTestOneInput renamed to amid_fuzz_<target>.
//
//   amid_fuzz_replay                       every target, corpus/<target>/ under the default root
//   amid_fuzz_replay TARGET [PATH...]      one target; PATHs are files or folders
//                                          (default: its corpus folder)
//   amid_fuzz_replay --list                the target names
//
// Fails (exit 1) when a folder is missing or holds no file, when a target throws,
// or returns non-zero; a crash, a sanitizer report or a failed check aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#define AMID_FUZZ_TARGET(name) extern "C" int amid_fuzz_##name(const std::uint8_t*, std::size_t);
#include "fuzz_targets.inc"
#undef AMID_FUZZ_TARGET

namespace {

namespace fs = std::filesystem;

struct Target {
  std::string name;
  int (*entry)(const std::uint8_t*, std::size_t);
};

const std::vector<Target>& targets() {
#define AMID_FUZZ_TARGET(name) Target{#name, &amid_fuzz_##name},
  static const std::vector<Target> all = {
#include "fuzz_targets.inc"
  };
#undef AMID_FUZZ_TARGET
  return all;
}

// The files to replay: a file as given, a folder's regular files (not recursive,
// hidden ones skipped) in name order. An empty list is an error the caller reports.
bool collect(const fs::path& path, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out.push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) {
    std::fprintf(stderr, "amid_fuzz_replay: %s: no such file or folder\n", path.c_str());
    return false;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    std::fprintf(stderr, "amid_fuzz_replay: %s: %s\n", path.c_str(), ec.message().c_str());
    return false;
  }
  if (files.empty()) {
    std::fprintf(stderr, "amid_fuzz_replay: %s: the folder holds no input\n", path.c_str());
    return false;
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return true;
}

bool read_file(const fs::path& path, std::vector<std::uint8_t>& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// Runs one target over its inputs; returns whether all went through.
bool replay(const Target& target, const std::vector<fs::path>& paths) {
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (!collect(p, files)) return false;
  }
  std::size_t total_bytes = 0;
  std::vector<std::uint8_t> bytes;
  for (const auto& file : files) {
    if (!read_file(file, bytes)) {
      std::fprintf(stderr, "amid_fuzz_replay: %s: cannot read\n", file.c_str());
      return false;
    }
    // An exact-size heap copy, as libFuzzer passes it, so ASan sees any overread.
    std::unique_ptr<std::uint8_t[]> input(new std::uint8_t[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), input.get());
    int rc = 0;
    try {
      rc = target.entry(input.get(), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "amid_fuzz_replay: %s: %s threw: %s\n", target.name.c_str(),
                   file.c_str(), e.what());
      return false;
    } catch (...) {
      std::fprintf(stderr, "amid_fuzz_replay: %s: %s threw a non-std exception\n",
                   target.name.c_str(), file.c_str());
      return false;
    }
    if (rc != 0) {
      std::fprintf(stderr, "amid_fuzz_replay: %s: %s: the target returned %d\n",
                   target.name.c_str(), file.c_str(), rc);
      return false;
    }
    total_bytes += bytes.size();
  }
  std::printf("amid_fuzz_replay: %s: replayed %zu inputs (%zu bytes)\n", target.name.c_str(),
              files.size(), total_bytes);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path root = AMID_FUZZ_CORPUS_DIR;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--list") {
    for (const auto& t : targets()) std::printf("%s\n", t.name.c_str());
    return 0;
  }
  if (args.empty()) {
    std::size_t failed = 0;
    for (const auto& t : targets()) failed += replay(t, {root / t.name}) ? 0 : 1;
    std::printf("amid_fuzz_replay: %zu passed, %zu failed\n", targets().size() - failed, failed);
    return failed == 0 ? 0 : 1;
  }
  const auto it = std::find_if(targets().begin(), targets().end(),
                               [&](const Target& t) { return t.name == args[0]; });
  if (it == targets().end()) {
    std::fprintf(stderr, "amid_fuzz_replay: unknown target '%s' (--list shows them)\n",
                 args[0].c_str());
    return 2;
  }
  std::vector<fs::path> paths(args.begin() + 1, args.end());
  if (paths.empty()) paths.push_back(root / it->name);
  return replay(*it, paths) ? 0 : 1;
}
