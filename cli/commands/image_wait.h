// Waiting for images to leave `pending`, shared by create-image --wait and
// `wait image-available` (and for their warm state: warm-image --wait, `wait
// image-warm`): a progress bar on a terminal, plain lines otherwise.
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"

namespace amid::cli {

// Polls DescribeImages until every image is available (true) or one failed or
// the timeout passed (false, with the reason on stderr and ctx.exit_code set).
bool wait_images_available(Context& ctx, const std::vector<std::string>& ids, int timeout_seconds);

// Polls DescribeImages until every image's warm state (WarmImage) is
// available (true), or one failed or has none, or the timeout passed (false,
// as above).
bool wait_images_warm(Context& ctx, const std::vector<std::string>& ids, int timeout_seconds);

// The answer to an action that makes an image (CreateImage, CopyImage): its id
// (or the JSON answer), after waiting for it to be available when `wait`.
void print_new_image(Context& ctx, const protocol::Json& body, bool wait, int timeout_seconds);

// "[##########----------]  50%  64.0/128.0 MiB" (pure, for tests).
std::string progress_bar(std::uint64_t done, std::uint64_t total, int width = 30);

}  // namespace amid::cli
