#include "daemon/host/nocloud_seed.h"

#include <filesystem>
#include <vector>

#include "common/error.h"
#include "daemon/host/fs.h"
#include "daemon/host/process.h"

namespace amid {

void write_nocloud_seed(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files) {
  // The files first, in a private folder beside the seed; then one FAT the
  // size of a floppy (user data is at most 16 KiB; a floppy's geometry keeps
  // mtools from complaining about it) and one copy of them all into it.
  fs::PrivateTempDir folder(path + ".files.");
  const std::string& dir = folder.path();
  std::vector<std::string> copy = {"mcopy", "-m", "-o", "-i", path};
  for (const auto& [name, content] : files) {
    fs::write_file_atomic(dir + "/" + name, content, 0600);
    copy.push_back(dir + "/" + name);
  }
  copy.push_back("::/");
  std::filesystem::remove(path);
  ProcessResult made = run_process({"mkfs.fat", "-n", "CIDATA", "-C", path, "1440"});
  if (made.exit_code != 0) {
    throw AmidError(codes::kInternalError, "mkfs.fat failed for " + path + ": " + made.err +
                                               " (is dosfstools installed?)");
  }
  ProcessResult copied = run_process(copy);
  if (copied.exit_code != 0) {
    throw AmidError(codes::kInternalError, "mcopy failed for " + path + ": " + copied.err + " (is mtools installed?)");
  }
}

}  // namespace amid
