#include "daemon/host/store.h"

#include <sys/stat.h>

#include "daemon/host/fs.h"

namespace amid {

void Store::prepare() const {
  // QEMU runs as its own user and must reach templates and instance disks, so the
  // folders on that path are traversable (0711) but not listable by others.
  fs::make_dirs(root_, 0711);
  fs::make_dirs(images_dir(), 0711);
  fs::make_dirs(instances_dir(), 0711);
  fs::make_dirs(volumes_dir(), 0711);
  fs::make_dirs(tmp_dir(), 0700);
}

}  // namespace amid
