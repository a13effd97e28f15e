// Builds libvirt domain XML for an instance, with pugixml (never by pasting
// strings). Pure; golden-tested in tests/unit/domain_xml_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace amid {

struct DiskSpec {
  std::string path;          // a store-managed qcow2 overlay
  std::string target;        // "vda", "vdb", ...
  // The qcow2 files it sits on, nearest first: a template, and under a thin
  // captured template the templates it was captured over. Empty: none.
  std::vector<std::string> backing;
  bool read_only = false;
  std::string format = "qcow2";  // raw: a NoCloud seed
};

struct DomainSpec {
  std::string name;          // the instance id, i-...
  std::string uuid;
  std::string domain_type;   // "kvm" or "qemu" (TCG)
  std::string arch = "x86_64";  // libvirt's name: x86_64 or aarch64
  std::string machine = "pc";   // "virt" for aarch64
  int vcpus = 1;
  std::uint64_t memory_mib = 512;
  std::vector<DiskSpec> disks;
  std::string console_log;   // serial console goes to this file
  std::string mac;           // the NIC's MAC address
  // The host tap the NIC is backed by (host/region_network.h moves it into the
  // region's namespace); "" = no network interface.
  std::string tap;
  // The guest agent's port (a virtio-serial channel): whether the domain has
  // one, and the host socket behind it ("": the path libvirt picks).
  bool guest_agent = true;
  std::string agent_socket;
  // amid's own port to the guest (a virtio-serial channel): how a guest restored
  // from a warm image learns who it now is (docs/WARM_IMAGES.md). Every domain
  // has it, so that any running instance's memory can be saved and restored.
  // The host socket behind it: "" = the path libvirt picks.
  bool resume_channel = true;
  std::string resume_socket;
  // The NIC's link: down while a warm image's memory is saved, so that a guest
  // restored from it sends nothing before it took its own MAC address.
  bool link_up = true;
  std::optional<std::string> user_data_file;  // exposed as fw_cfg opt/amid/user-data
  // The guest's network settings for a guest without cloud-init, exposed as
  // the fw_cfg entry opt/amid/network (images/README.md); "" = none.
  std::string fw_cfg_network;
  // Paravirtual (direct kernel boot); empty kernel = hvm, firmware boots the disk.
  std::string kernel, initrd, cmdline;
  // Recorded in <metadata> so amid can prove a domain is its own.
  std::string owner, region, image_id, state_dir;
};

inline constexpr const char* kMetadataNamespace = "https://github.com/amid/xmlns/instance/1";
// The virtio-serial port name qemu-guest-agent listens on (QEMU's convention).
inline constexpr const char* kGuestAgentChannel = "org.qemu.guest_agent.0";
// The virtio-serial port name of amid's resume messages (images/README.md).
inline constexpr const char* kResumeChannel = "org.amid.resume.0";

// x86_64 guests: SeaBIOS boots hvm disks, ACPI power button. aarch64 guests: the
// `virt` machine; hvm disks boot through UEFI (firmware='efi', libvirt picks
// AAVMF from the firmware descriptors), paravirtual ones directly without ACPI
// (the power button is a device-tree GPIO key); TCG uses a cortex-a57 CPU.
std::string render_domain_xml(const DomainSpec& spec);

// The domain's NIC with MAC `mac` (its <interface> element, as the domain XML
// has it) with its link up or down: what virDomainUpdateDeviceFlags takes to
// change only that. Throws AmidError when there is no such NIC.
std::string interface_with_link(const std::string& domain_xml, const std::string& mac, bool up);

// The source path of the virtio-serial channel named `channel` in a domain's
// XML ("" when it has none, or the XML does not parse).
std::string channel_socket_in(const std::string& domain_xml, const std::string& channel);

// What a warm image records of the domain it saved: the machine (as libvirt
// expanded it), the CPU ("host-passthrough", "custom:cortex-a57", "default")
// and the domain type (kvm, qemu).
struct SavedMachine {
  std::string machine, cpu, domain_type;
};
SavedMachine saved_machine_of(const std::string& domain_xml);

// EC2's architecture name (x86_64, arm64) as libvirt spells it (x86_64, aarch64).
std::string libvirt_arch(const std::string& ec2_arch);

// <domainsnapshot> for a disk-only external snapshot: each (target dev, file)
// in `overlays` continues on a new qcow2 overlay at file, on top of its current
// image; every other disk target in `all_targets` is marked snapshot='no'.
std::string render_overlay_snapshot_xml(const std::vector<std::pair<std::string, std::string>>& overlays,
                                        const std::vector<std::string>& all_targets);

// Each <disk>'s target dev and the file behind it ("" for a disk with no file),
// in the order of the domain XML.
std::vector<std::pair<std::string, std::string>> disk_files_of(const std::string& domain_xml);

// The domain XML with disk `target` pointed at `file` (its <backingStore> dropped,
// so libvirt probes the new chain). Throws AmidError when there is no such disk.
std::string with_disk_file(const std::string& domain_xml, const std::string& target,
                           const std::string& file);

// The instance's MAC address: QEMU's 52:54:00 prefix and 24 bits of the id.
std::string mac_for_instance(const std::string& instance_id);

// What amid wrote into a domain's <metadata>, read back (std::nullopt when the
// domain carries no amid metadata, i.e. is not amid's).
struct DomainOwnership {
  std::string instance_id, owner, region, state_dir;
};
std::optional<DomainOwnership> read_domain_ownership(const std::string& xml);

// True when a running domain's live XML shows its guest agent connected (libvirt
// marks the agent channel's target state='connected' once qemu-guest-agent
// opened its end in the guest).
bool guest_agent_connected_in(const std::string& live_xml);

}  // namespace amid
