// What the jobs that make a new image (create-image, copy-image) share: the new
// image recorded `pending` with its ClientToken, the answer to a request sent
// again, the manifest written beside its files, and a job that failed.
// Called from worker threads.
#pragma once

#include <optional>
#include <string>

#include "common/protocol.h"
#include "daemon/services/caller.h"
#include "daemon/services/client_token.h"
#include "daemon/services/runtime.h"

namespace amid {

// Records `image` (pending) and its ClientToken, if any, in one step. A name the
// owner already uses is InvalidAMIName.Duplicate; a token another request
// recorded first is kClientTokenTaken (services/client_token.h).
void record_pending_image(Catalog& catalog, const Caller& caller, const std::string& action,
                          const std::optional<ClientToken>& client_token, const ImageRecord& image);

// The image an earlier request with the same ClientToken made, as it is now
// (only its id when it has been reclaimed since).
ImageRecord replayed_image(const Catalog& catalog, const ClientTokenRecord& prior);

// The image's manifest.json beside its files: the image as describe-images
// shows it, available, with `extra` fields over it (Source, Consistency...).
void write_manifest(Runtime& rt, const ImageRecord& image, const protocol::Json& extra);

// A job that could not finish: its files go, its snapshots' rows and its warm
// state go, and the image is `failed` with the reason.
void fail_image_job(Runtime& rt, const ImageRecord& image, const std::string& reason);

}  // namespace amid
