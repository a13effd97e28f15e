// Start-up reconciliation of catalog, files and libvirt domains.
// Runs on the main thread before the socket opens. Never stops a guest; never
// deletes a file or domain it cannot prove is its own.
#pragma once

#include "daemon/services/image_service.h"
#include "daemon/services/instance_service.h"
#include "daemon/services/runtime.h"

namespace amid {

void reconcile(Runtime& rt, ImageService& images, InstanceService& instances);

}  // namespace amid
