// Catalog records rendered as EC2 renders them in its API answers.
#pragma once

#include "common/protocol.h"
#include "daemon/catalog.h"

namespace amid {

protocol::Json render_image(const ImageRecord& image);
// Only the top-level fields named in `fields` ("Name", "Tags", ...), each exactly
// as render_image writes it (for matching filters without rendering everything).
protocol::Json render_image_fields(const ImageRecord& image, const std::vector<std::string>& fields);
// EC2's DeregistrationProtection: disabled, enabled-without-cooldown,
// enabled-with-cooldown, or disabled-after-<time> while a cooldown runs (the
// record's protected_until; ImageService clears it once past).
std::string deregistration_protection_state(const ImageRecord& image);
protocol::Json render_instance(const InstanceRecord& instance);
protocol::Json render_instance_state(const std::string& state);
protocol::Json render_volume(const VolumeRecord& volume);
// EC2's [{"Key", "Value"}], sorted by key.
protocol::Json render_tags(const Tags& tags);
// EC2's numeric code for an instance state name (pending 0 ... stopped 80).
int instance_state_code(const std::string& state);

inline constexpr const char* kRootDeviceName = "/dev/vda";

}  // namespace amid
