#include "cli/commands/image_wait.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/exit_codes.h"

namespace amid::cli {

std::string progress_bar(std::uint64_t done, std::uint64_t total, int width) {
  double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  if (fraction > 1.0) fraction = 1.0;
  int filled = static_cast<int>(fraction * width);
  char tail[64];
  std::snprintf(tail, sizeof tail, "] %3d%%  %.1f/%.1f MiB", static_cast<int>(fraction * 100),
                static_cast<double>(done) / (1 << 20), static_cast<double>(total) / (1 << 20));
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(width - filled), '-') + tail;
}

bool wait_images_available(Context& ctx, const std::vector<std::string>& ids, int timeout_seconds) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::string last_line;
  // Poll at a twentieth of the time waited so far (5 ms to 500 ms): a small capture
  // is seen done within milliseconds, a long one costs few requests, and the wait
  // never overshoots the capture by more than about 5%.
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    protocol::Json body;
    if (!call(ctx, "DescribeImages", {{"ImageIds", ids}}, body)) return false;
    bool all_available = true;
    std::uint64_t done = 0, total = 0;
    for (const auto& img : body["Images"]) {
      std::string state = img.value("State", "");
      if (state == "failed") {
        if (tty) ctx.err << "\n";
        ctx.err << "amictl: image " << img.value("ImageId", "") << " failed: "
                << field(img, "/StateReason/Message") << "\n";
        ctx.exit_code = kFailed;
        return false;
      }
      if (state != "available") all_available = false;
      if (img.contains("Progress")) {
        done += img["Progress"].value("BytesDone", 0ull);
        total += img["Progress"].value("BytesTotal", 0ull);
      }
    }
    if (all_available) {
      if (tty && !last_line.empty()) ctx.err << "\r" << progress_bar(1, 1) << "\n";
      return true;
    }
    if (total > 0) {
      std::string line = progress_bar(done, total);
      if (tty) {
        ctx.err << "\r" << line << std::flush;
      } else if (line != last_line) {
        ctx.err << "progress: " << line << "\n";
      }
      last_line = line;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (tty) ctx.err << "\n";
      ctx.err << "amictl: timed out after " << timeout_seconds << " s waiting for the image\n";
      ctx.exit_code = kTimedOut;
      return false;
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    // A fiftieth of the time waited so far (2-500 ms): a describe costs amid about
    // a millisecond, and --wait then ends within about 2% of the image's own time.
    std::this_thread::sleep_for(std::clamp(waited / 50, std::chrono::milliseconds(2), std::chrono::milliseconds(500)));
  }
}

bool wait_images_warm(Context& ctx, const std::vector<std::string>& ids, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  for (;;) {
    protocol::Json body;
    if (!call(ctx, "DescribeImages", {{"ImageIds", ids}}, body)) return false;
    bool all_warm = true;
    for (const auto& img : body["Images"]) {
      const std::string id = img.value("ImageId", "");
      const std::string state = field(img, "/WarmState/State");
      if (state == "-" || state == "failed") {
        ctx.err << "amictl: image " << id << " is not being made warm"
                << (state == "failed" ? ": " + field(img, "/WarmState/StateReason") : std::string())
                << " (amictl warm-image --image-id " << id << ")\n";
        ctx.exit_code = kFailed;
        return false;
      }
      if (state != "available") all_warm = false;
    }
    if (all_warm) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      ctx.err << "amictl: timed out after " << timeout_seconds << " s waiting for the image to be warm\n";
      ctx.exit_code = kTimedOut;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

void print_new_image(Context& ctx, const protocol::Json& body, bool wait, int timeout_seconds) {
  std::string id = body.value("ImageId", "");
  if (wait && !wait_images_available(ctx, {id}, timeout_seconds)) {
    ctx.out << id << "\n";
    return;
  }
  if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
  else ctx.out << id << "\n";
}

}  // namespace amid::cli
