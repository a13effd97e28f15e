// Records rendered as EC2 renders them in its API answers: what the front doors
// answer with, and what an image's manifest.json holds (services/image_jobs.h).
// Pure; any thread.
#pragma once

#include "common/protocol.h"
#include "daemon/state/records.h"

namespace amid {

protocol::Json render_image(const ImageRecord& image);
// Only the top-level fields named in `fields` ("Name", "Tags", ...), each exactly
// as render_image writes it (for matching filters without rendering everything).
protocol::Json render_image_fields(const ImageRecord& image, const std::vector<std::string>& fields);
// EC2's DeregistrationProtection: disabled, enabled-without-cooldown,
// enabled-with-cooldown, or disabled-after-<time> while a cooldown runs (the
// record's protected_until; ImageService clears it once past).
std::string deregistration_protection_state(const ImageRecord& image);
// amid's WarmState of an image (services/warm_images.h): its state, and once
// available what a launch must match to restore from it.
protocol::Json render_warm_state(const WarmStateRecord& warm);
protocol::Json render_instance(const InstanceRecord& instance);
protocol::Json render_instance_state(InstanceState state);
protocol::Json render_volume(const VolumeRecord& volume);
// EC2's SecurityGroup: its ingress rules as IpPermissions (rules with the same
// protocol and ports share one, with an IpRange each), and EC2's default egress
// rule (everything out), which amid does not store.
protocol::Json render_security_group(const SecurityGroupRecord& group);
// EC2's SecurityGroupRule (what Authorize/RevokeSecurityGroupIngress answer).
protocol::Json render_security_group_rule(const SecurityGroupRecord& group, const SecurityGroupRule& rule);
// EC2's [{"Key", "Value"}], sorted by key.
protocol::Json render_tags(const Tags& tags);

inline constexpr const char* kRootDeviceName = "/dev/vda";

}  // namespace amid
