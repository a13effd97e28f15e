// amid's records, typed: what the catalog stores and the services work with.
// States are enums and block device mappings are parsed values; how either is
// written down is the catalog's business (state/catalog_*.cc), nobody else's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/block_device_mapping.h"
#include "common/tags.h"

namespace amid {

// EC2 tags of one resource, key -> value (at most 50, checked by the caller).
using Tags = TagMap;

// EC2's image states (amid has no `transient`, `invalid` or `error`).
enum class ImageState { kPending, kAvailable, kFailed, kDeregistered };
// EC2's instance states, in the order of their codes (0, 16, 32, 48, 64, 80).
enum class InstanceState { kPending, kRunning, kShuttingDown, kTerminated, kStopping, kStopped };

// EC2's names: "pending", "available", ... / "running", "shutting-down", ...
const char* to_string(ImageState state);
const char* to_string(InstanceState state);
// The state a name stands for, as to_string writes it; nullopt for any other text.
std::optional<ImageState> image_state_named(std::string_view name);
std::optional<InstanceState> instance_state_named(std::string_view name);
// EC2's numeric code of an instance state (pending 0 ... stopped 80).
int state_code(InstanceState state);

// One of an image's EC2 launch permissions: kind "user" with a 12-digit account
// id, or kind "group" with "all" (the image is public).
struct LaunchPermission {
  std::string kind, value;
  bool operator==(const LaunchPermission&) const = default;
  bool operator<(const LaunchPermission& o) const { return kind != o.kind ? kind < o.kind : value < o.value; }
};
using LaunchPermissions = std::vector<LaunchPermission>;

// A warm image's memory state (docs/WARM_IMAGES.md): a guest booted from the
// image, saved (libvirt's save image) once its resume listener greeted amid,
// with the root disk as that guest left it, and what a launch must match to
// be restored from it instead of booting.
struct WarmStateRecord {
  std::string image_id;
  std::string state = "pending";  // pending | available | failed
  std::string state_reason;       // failed: why
  std::string memory_file;        // the save image, absolute
  std::string root_layer;         // qcow2 over the image's root disk
  std::uint64_t memory_bytes = 0; // the save image's size
  std::string instance_type;      // of the guest that was saved
  std::uint64_t memory_mib = 0;
  int vcpus = 0;
  std::string machine;            // QEMU's machine, as libvirt expanded it (pc-i440fx-7.2)
  std::string cpu;                // the domain's <cpu> mode and model ("host-passthrough", "custom:cortex-a57", "default")
  std::string accelerator;        // libvirt's domain type: kvm | qemu (TCG)
  std::string qemu_version;       // libvirt's hypervisor version of QEMU (7002000)
  bool nic = false;               // had a network interface
  std::string create_time;
};

struct ImageRecord {
  std::string id, name, description, owner, region;
  std::string architecture = "x86_64";
  std::string virtualization_type = "hvm";
  std::string root_device_type = "ebs";
  ImageState state = ImageState::kPending;
  std::string state_reason;
  std::string creation_date;      // ISO 8601, UTC
  std::uint64_t size_bytes = 0;   // virtual size of the root disk
  std::string disk_file;          // the template's qcow2, absolute
  std::string source;             // where it came from ("file:/path", "instance:i-...")
  // Paravirtual images: the kernel, ramdisk and command line kept with the template.
  std::string kernel_id, kernel_file, ramdisk_id, ramdisk_file, kernel_cmdline;
  // The image's mappings, its root's included. nullopt: an image recorded before
  // amid kept mappings (its root alone, as render_image shows it).
  std::optional<BlockDeviceMappings> block_device_mappings;
  std::string source_instance;        // create-image: the instance captured
  std::string consistency;            // create-image: "consistent" (clean), "filesystem-consistent"
                                      // (live, frozen through the guest agent) or "crash-consistent"
  std::int64_t freeze_ms = -1;        // filesystem-consistent: how long the freeze lasted
  std::uint64_t progress_done = 0, progress_total = 0;  // bytes, while pending
  bool restart_source = false;        // create-image stopped the instance and owes it a start
  // Deregistration protection in EC2's words: disabled | enabled-without-cooldown |
  // enabled-with-cooldown. protected_until: set when protection with a cooldown was
  // disabled; deregistration stays refused until then (ISO 8601 UTC, "" = none).
  std::string deregistration_protection = "disabled";
  std::string protected_until;
  std::string deprecation_time;       // EC2's DeprecationTime (ISO 8601 UTC, "" = none)
  Tags tags;
  // Who else may launch it, sorted (find_image/list_images fill it; insert_image*
  // ignores it: a new image is private).
  LaunchPermissions launch_permissions;
  // Its warm state, when it has one (find_image/list_images fill it).
  std::optional<WarmStateRecord> warm;

  // Gone for everyone: deregistered, or a capture or copy that failed.
  bool is_dead() const { return state == ImageState::kDeregistered || state == ImageState::kFailed; }
};

// A security group as an instance names it: EC2's GroupIdentifier.
struct GroupRef {
  std::string id, name;
  bool operator==(const GroupRef&) const = default;
};

// One of an instance's forwards: the host's 127.0.0.1:host_port relayed to the
// guest's tcp guest_port.
struct PortForward {
  std::uint16_t guest_port = 0, host_port = 0;
  bool operator==(const PortForward&) const = default;
};

struct InstanceRecord {
  std::string id, reservation_id, image_id, owner, region, instance_type;
  int launch_index = 0;  // EC2's AmiLaunchIndex: its place in its reservation, 0..N-1
  int vcpus = 1;
  std::uint64_t memory_mib = 512;
  InstanceState state = InstanceState::kPending;
  std::string state_reason;
  std::string launch_time, terminated_time;
  std::string domain_uuid;
  std::string root_device_type = "ebs", virtualization_type = "hvm", architecture = "x86_64";
  std::string dir;                                // the instance's folder in the store
  std::string key_name;                           // EC2's KeyName it was launched with ("" = none)
  std::string private_ip;                         // its address on the region network ("" = none)
  // Its security groups, in the order given (1..5); find/list_instances read them,
  // insert_instances writes them (by id).
  std::vector<GroupRef> security_groups;
  // Its forwards listening now (127.0.0.1:host_port -> its guest_port, tcp), by
  // guest port; find/list_instances read them, services/guest_network.h makes them.
  std::vector<PortForward> port_forwards;
  BlockDeviceMappings block_device_mappings;      // the merged mappings it was launched with
  Tags tags;
  // How its launch brought its guest up: "cold" (booted) or "warm" (restored
  // from its image's warm state, docs/WARM_IMAGES.md). A later start boots.
  std::string launch_mode = "cold";

  // Takes memory on its host: pending, running or stopping.
  bool is_live() const {
    return state == InstanceState::kPending || state == InstanceState::kRunning || state == InstanceState::kStopping;
  }
};

// An EBS volume (vol-): a qcow2 in the store, attached to at most one instance.
struct VolumeRecord {
  std::string id, owner, region;
  std::uint64_t size_gib = 1;
  std::string volume_type = "gp3";
  std::string state = "creating";  // creating | available | in-use | deleting
  std::string create_time;
  std::string snapshot_id;         // the snapshot it was made from ("" = blank)
  std::string file;                // absolute path of its qcow2
  std::string instance_id, device; // attachment ("" when available)
  bool delete_on_termination = true;
  Tags tags;
};

// An immutable snapshot (snap-): a qcow2, read-only once completed. Standalone,
// or thin: a layer on the file of its base snapshot (create-image copies only
// what the instance wrote over its template; see docs/CAPTURE.md).
struct SnapshotRecord {
  std::string id, owner, region, description;
  std::string state = "pending";   // pending | completed | error
  std::string start_time;
  std::string volume_id;           // the volume it was taken from ("" = registered disk)
  std::uint64_t volume_size_gib = 1;
  std::string file;                // absolute path of its qcow2
  std::string image_id;            // the image that owns the file (reclaimed with it)
  std::string base_snapshot_id;    // the snapshot whose file this one's sits on ("" = standalone)
  Tags tags;
};

// An EC2 key pair (key-): its public half only; the private key is given to
// its owner once, when amid makes it, and never kept.
struct KeyPairRecord {
  std::string id, owner, region, name;
  std::string type = "ed25519";  // ed25519 | rsa
  std::string fingerprint;       // as EC2 computes it (services/key_pairs.h)
  std::string public_key;        // OpenSSH's one line: "ssh-ed25519 AAAA... NAME"
  std::string create_time;       // ISO 8601, UTC
};

// An access key of EC2's HTTP endpoint (IAM's AccessKey): requests signed
// with its secret act as its owner's account, as the socket does for that uid.
struct AccessKeyRecord {
  std::string id;           // AKIA + 16 of [A-Z2-7]
  std::string owner;        // account id (the uid, 12 digits)
  std::string secret;       // 40 characters, answered once at creation
  std::string create_time;  // ISO 8601, UTC
};

// One ingress rule of a security group, as EC2's IpPermission with one IpRange.
// Stored normalised (services/security_group_rules.h): protocol is "tcp", "udp",
// "icmp" or "-1" (all); ports are -1 for "-1"; for icmp they are the type and
// the code (-1 = any); cidr is IPv4 with its host bits cleared.
struct SecurityGroupRule {
  std::string id;  // sgr- + 17 hex
  std::string protocol;
  int from_port = -1, to_port = -1;
  std::string cidr;
  std::string description;
  // The same rule as far as EC2 is concerned (ids and descriptions aside).
  bool same_as(const SecurityGroupRule& o) const {
    return protocol == o.protocol && from_port == o.from_port && to_port == o.to_port && cidr == o.cidr;
  }
};

// An EC2 security group (sg-) of one account in one region, in its default VPC.
// Names are unique per owner and region, whatever their case (EC2's rule).
struct SecurityGroupRecord {
  std::string id, owner, region, name, description, vpc_id;
  std::string create_time;                 // ISO 8601, UTC
  std::vector<SecurityGroupRule> ingress;  // in the order they were authorized
  Tags tags;
};

// An idempotent request (EC2's ClientToken): who sent it for which action, with
// which parameters, and what it made. Keyed by (owner, action, token).
struct ClientTokenRecord {
  std::string owner, action, token;
  std::string parameters;   // the request's parameters without ClientToken, canonical JSON
  std::string resource_id;  // what it made: the reservation (r-) or the image (ami-)
  std::string result;       // JSON a replay answers from: {"InstanceIds":[...]} / {"ImageId":...}
  std::string created;
};

}  // namespace amid
