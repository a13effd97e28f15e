#include "daemon/services/layers.h"

#include <set>

#include "common/error.h"

namespace amid {

std::vector<SnapshotRecord> snapshot_chain(const Catalog& catalog, const SnapshotRecord& top) {
  std::vector<SnapshotRecord> chain{top};
  std::set<std::string> seen{top.id};
  while (!chain.back().base_snapshot_id.empty()) {
    const std::string base_id = chain.back().base_snapshot_id;
    if (!seen.insert(base_id).second) {
      throw AmidError(codes::kInternalError, "snapshot " + top.id + ": its chain of bases loops at " + base_id);
    }
    auto base = catalog.find_snapshot(base_id);
    if (!base) {
      throw AmidError(codes::kInternalError,
                      "snapshot " + chain.back().id + ": its base snapshot " + base_id + " is gone");
    }
    chain.push_back(*base);
  }
  return chain;
}

std::vector<std::string> chain_files(const Catalog& catalog, const SnapshotRecord& top) {
  std::vector<std::string> files;
  for (const auto& s : snapshot_chain(catalog, top)) files.push_back(s.file);
  return files;
}

std::optional<SnapshotRecord> root_snapshot(const Catalog& catalog, const ImageRecord& image) {
  for (const auto& snap : catalog.snapshots_of_image(image.id)) {
    if (snap.file == image.disk_file) return snap;
  }
  return std::nullopt;
}

std::vector<std::string> root_backing(const Catalog& catalog, const ImageRecord& image) {
  if (auto root = root_snapshot(catalog, image)) return chain_files(catalog, *root);
  return {image.disk_file};
}

}  // namespace amid
