#include "daemon/state/records.h"

namespace amid {
namespace {

constexpr const char* kImageStates[] = {"pending", "available", "failed", "deregistered"};
constexpr const char* kInstanceStates[] = {"pending", "running", "shutting-down", "terminated", "stopping", "stopped"};

}  // namespace

const char* to_string(ImageState state) { return kImageStates[static_cast<int>(state)]; }
const char* to_string(InstanceState state) { return kInstanceStates[static_cast<int>(state)]; }

std::optional<ImageState> image_state_named(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kImageStates)); ++i) {
    if (name == kImageStates[i]) return static_cast<ImageState>(i);
  }
  return std::nullopt;
}

std::optional<InstanceState> instance_state_named(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kInstanceStates)); ++i) {
    if (name == kInstanceStates[i]) return static_cast<InstanceState>(i);
  }
  return std::nullopt;
}

int state_code(InstanceState state) { return 16 * static_cast<int>(state); }

}  // namespace amid
