// copy-image: an image of another region (or this one) becomes a new image in
// this region, as EC2's CopyImage: every file it is made of (root template,
// snapshots, kernel, ramdisk) copied byte for byte and sparse under new ids. A
// thin snapshot is copied standalone, so that the copy holds all it reads.
// A warm image's warm state (services/warm_images.h) comes along when both
// stores are on this machine, as warm states are: its save image copied, its
// root layer copied and pointed at the copy's disk.
//
// copy_image() checks, records the image as `pending` and returns at once; the
// copy runs on the scheduler as a CopyJob, with progress on the image. A
// failure part way removes every partial file and marks the image `failed`.
// Called from worker threads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/services/caller.h"
#include "daemon/services/client_token.h"
#include "daemon/services/image_service.h"
#include "daemon/services/runtime.h"
#include "daemon/services/scheduler.h"

namespace amid {

struct CopyImageRequest {
  std::string source_region, source_image_id, name;
  std::optional<std::string> description;  // absent: "[Copied ami-... from REGION] ...", as EC2 writes
  bool copy_image_tags = false;
  Tags image_tags;     // TagSpecifications "image": over the copied tags, if any
  Tags snapshot_tags;  // TagSpecifications "snapshot": on each new snapshot
  std::optional<ClientToken> client_token;  // makes the request idempotent (services/client_token.h)
};

class CopyService {
 public:
  explicit CopyService(Runtime& rt) : rt_(rt) {}
  void set_scheduler(Scheduler* scheduler) { scheduler_ = scheduler; }

  // Checks, records a pending image in this region and returns it; a job copies
  // every file of `source` (which the caller can see, through `source_images`,
  // the source region's image service) into this region's store. ClientTokens
  // are per destination region, as on EC2.
  ImageRecord copy_image(const Caller& caller, const CopyImageRequest& request, ImageService& source_images);

 private:
  struct CopyFile {
    std::string from, to;
    std::uint64_t bytes = 0;
    bool flatten = false;               // a thin snapshot: copied as a standalone qcow2
    RegionFiles* from_files = nullptr;  // the source region's store
  };
  // A copy, from its pending image to its end; runs on the scheduler.
  struct CopyJob {
    ImageRecord image;                     // pending, as recorded
    std::vector<CopyFile> files;
    std::vector<SnapshotRecord> snapshots;  // recorded when every file is in place
    std::optional<WarmStateRecord> warm;    // the copy's warm state, recorded with it
    std::string warm_root_from;             // the source's root layer
  };

  ImageRecord start_copy(const Caller& caller, const CopyImageRequest& request, ImageService& source_images,
                         const std::string& token_action);
  void run(const CopyJob& job);
  // The source's warm state for `image`, its save image added to `job`'s
  // files; none (and a log line) when the source is not warm or a store is
  // on another machine.
  void plan_warm_state(const ImageRecord& src, RegionFiles& from_files, ImageRecord& image, CopyJob& job);
  void copy_root_layer(const CopyJob& job);
  // A thin snapshot of another region, made standalone in this one: flattened
  // where its chain is, then copied across when that is not here.
  void flatten_across(RegionFiles& from_files, const std::string& from, const std::string& to,
                      const std::function<void(double)>& progress);
  // A folder on this machine for files on their way between hosts.
  std::string staging() const;

  Runtime& rt_;
  Scheduler* scheduler_ = nullptr;
};

}  // namespace amid
