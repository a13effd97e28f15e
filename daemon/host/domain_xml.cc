#include "daemon/host/domain_xml.h"

#include <pugixml.hpp>

#include <algorithm>
#include <sstream>

#include "common/error.h"

namespace amid {
namespace {

pugi::xml_node child(pugi::xml_node parent, const char* name, const std::string& text = {}) {
  pugi::xml_node n = parent.append_child(name);
  if (!text.empty()) n.text().set(text.c_str());
  return n;
}

void attr(pugi::xml_node n, const char* name, const std::string& value) {
  n.append_attribute(name).set_value(value.c_str());
}

}  // namespace

std::string render_domain_xml(const DomainSpec& spec) {
  pugi::xml_document doc;
  pugi::xml_node dom = doc.append_child("domain");
  attr(dom, "type", spec.domain_type);
  child(dom, "name", spec.name);
  child(dom, "uuid", spec.uuid);
  child(dom, "title", "amid instance " + spec.name);

  pugi::xml_node meta = child(dom, "metadata");
  pugi::xml_node inst = meta.append_child("amid:instance");
  attr(inst, "xmlns:amid", kMetadataNamespace);
  child(inst, "amid:id", spec.name);
  child(inst, "amid:owner", spec.owner);
  child(inst, "amid:region", spec.region);
  child(inst, "amid:image", spec.image_id);
  child(inst, "amid:state-dir", spec.state_dir);

  pugi::xml_node mem = child(dom, "memory", std::to_string(spec.memory_mib));
  attr(mem, "unit", "MiB");
  child(dom, "vcpu", std::to_string(spec.vcpus));

  if (spec.user_data_file || !spec.fw_cfg_network.empty()) {
    pugi::xml_node sys = child(dom, "sysinfo");
    attr(sys, "type", "fwcfg");
    if (spec.user_data_file) {
      pugi::xml_node entry = child(sys, "entry");
      attr(entry, "name", "opt/amid/user-data");
      attr(entry, "file", *spec.user_data_file);
    }
    if (!spec.fw_cfg_network.empty()) {
      // One line, given inline: QEMU gets it as -fw_cfg name=...,string=...
      pugi::xml_node entry = child(sys, "entry", spec.fw_cfg_network);
      attr(entry, "name", "opt/amid/network");
    }
  }

  const bool arm = spec.arch == "aarch64";
  const bool firmware_boot = spec.kernel.empty();
  pugi::xml_node os = child(dom, "os");
  if (arm && firmware_boot) attr(os, "firmware", "efi");
  pugi::xml_node type = child(os, "type", "hvm");
  attr(type, "arch", spec.arch);
  attr(type, "machine", spec.machine);
  if (arm && firmware_boot) {
    // Plain UEFI: a Secure Boot build with Microsoft's keys enrolled refuses the
    // unsigned loaders of most images (tiny's GRUB among them).
    pugi::xml_node fw = child(os, "firmware");
    pugi::xml_node sb = child(fw, "feature");
    attr(sb, "enabled", "no");
    attr(sb, "name", "secure-boot");
    pugi::xml_node keys = child(fw, "feature");
    attr(keys, "enabled", "no");
    attr(keys, "name", "enrolled-keys");
  }
  if (spec.kernel.empty()) {
    attr(child(os, "boot"), "dev", "hd");
  } else {
    child(os, "kernel", spec.kernel);
    if (!spec.initrd.empty()) child(os, "initrd", spec.initrd);
    if (!spec.cmdline.empty()) child(os, "cmdline", spec.cmdline);
  }

  pugi::xml_node features = child(dom, "features");
  if (!arm || firmware_boot) child(features, "acpi");  // on aarch64 ACPI comes with UEFI
  if (!arm) child(features, "apic");

  if (spec.domain_type == "kvm") {
    attr(child(dom, "cpu"), "mode", "host-passthrough");
  } else if (arm) {
    // TCG: a plain ARMv8.0 core; "max" would emulate pointer authentication, which is slow.
    pugi::xml_node cpu = child(dom, "cpu");
    attr(cpu, "mode", "custom");
    attr(cpu, "match", "exact");
    attr(child(cpu, "model", "cortex-a57"), "fallback", "forbid");
  }
  child(dom, "on_poweroff", "destroy");
  child(dom, "on_reboot", "restart");
  child(dom, "on_crash", "destroy");

  pugi::xml_node devices = child(dom, "devices");
  for (const DiskSpec& d : spec.disks) {
    pugi::xml_node disk = child(devices, "disk");
    attr(disk, "type", "file");
    attr(disk, "device", "disk");
    pugi::xml_node drv = child(disk, "driver");
    attr(drv, "name", "qemu");
    attr(drv, "type", d.format);
    attr(drv, "discard", "unmap");
    attr(child(disk, "source"), "file", d.path);
    // The whole chain, stated explicitly and ended with an empty backingStore,
    // so that libvirt never probes it from the image headers.
    pugi::xml_node below = disk;
    for (const std::string& file : d.backing) {
      pugi::xml_node bs = child(below, "backingStore");
      attr(bs, "type", "file");
      attr(child(bs, "format"), "type", "qcow2");
      attr(child(bs, "source"), "file", file);
      below = bs;
    }
    child(below, "backingStore");
    pugi::xml_node target = child(disk, "target");
    attr(target, "dev", d.target);
    attr(target, "bus", "virtio");
    if (d.read_only) child(disk, "readonly");
  }
  if (!spec.tap.empty()) {
    // A tap amid made and moves into the region's network namespace once QEMU
    // holds it (docs/NETWORK.md): libvirt only opens it (managed='no').
    pugi::xml_node nic = child(devices, "interface");
    attr(nic, "type", "ethernet");
    attr(child(nic, "mac"), "address", spec.mac);
    pugi::xml_node target = child(nic, "target");
    attr(target, "dev", spec.tap);
    attr(target, "managed", "no");
    attr(child(nic, "model"), "type", "virtio");
    if (!spec.link_up) attr(child(nic, "link"), "state", "down");
  }
  pugi::xml_node usb = child(devices, "controller");
  attr(usb, "type", "usb");
  attr(usb, "model", "none");
  pugi::xml_node serial = child(devices, "serial");
  attr(serial, "type", "file");
  pugi::xml_node src = child(serial, "source");
  attr(src, "path", spec.console_log);
  attr(src, "append", "on");
  attr(child(serial, "target"), "port", "0");
  // A virtio-serial port named `name` whose host end is a Unix socket QEMU
  // listens on: at `socket`, or where libvirt picks when "".
  auto add_channel = [&](const char* name, const std::string& socket) {
    pugi::xml_node channel = child(devices, "channel");
    attr(channel, "type", "unix");
    if (!socket.empty()) {
      pugi::xml_node source = child(channel, "source");
      attr(source, "mode", "bind");
      attr(source, "path", socket);
    }
    pugi::xml_node target = child(channel, "target");
    attr(target, "type", "virtio");
    attr(target, "name", name);
  };
  // The QEMU guest agent's port. A guest that runs qemu-guest-agent answers on
  // it: amid then shuts it down and freezes its file systems through the agent
  // (host/hypervisor.h).
  if (spec.guest_agent) add_channel(kGuestAgentChannel, spec.agent_socket);
  // amid's resume port (host/guest_resume.h): a guest restored from a warm
  // image learns its identity on it.
  if (spec.resume_channel) add_channel(kResumeChannel, spec.resume_socket);
  attr(child(devices, "memballoon"), "model", "none");

  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
  return out.str();
}

std::string render_overlay_snapshot_xml(const std::vector<std::pair<std::string, std::string>>& overlays,
                                        const std::vector<std::string>& all_targets) {
  pugi::xml_document doc;
  pugi::xml_node snap = doc.append_child("domainsnapshot");
  child(snap, "description").text().set("amid create-image --no-reboot: point-in-time overlays");
  pugi::xml_node disks = child(snap, "disks");
  for (const auto& target : all_targets) {
    pugi::xml_node disk = child(disks, "disk");
    attr(disk, "name", target);
    auto it = std::find_if(overlays.begin(), overlays.end(), [&](const auto& o) { return o.first == target; });
    if (it == overlays.end()) {
      attr(disk, "snapshot", "no");
      continue;
    }
    attr(disk, "snapshot", "external");
    attr(disk, "type", "file");
    attr(child(disk, "driver"), "type", "qcow2");
    attr(child(disk, "source"), "file", it->second);
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
  return out.str();
}

namespace {
pugi::xml_document parse_domain(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) throw AmidError(codes::kInternalError, "libvirt gave unreadable domain XML");
  return doc;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> disk_files_of(const std::string& domain_xml) {
  pugi::xml_document doc = parse_domain(domain_xml);
  std::vector<std::pair<std::string, std::string>> out;
  for (pugi::xml_node disk : doc.child("domain").child("devices").children("disk")) {
    std::string target = disk.child("target").attribute("dev").value();
    if (target.empty()) continue;
    out.emplace_back(target, disk.child("source").attribute("file").value());
  }
  return out;
}

std::string with_disk_file(const std::string& domain_xml, const std::string& target, const std::string& file) {
  pugi::xml_document doc = parse_domain(domain_xml);
  for (pugi::xml_node disk : doc.child("domain").child("devices").children("disk")) {
    if (target != disk.child("target").attribute("dev").value()) continue;
    pugi::xml_node source = disk.child("source");
    if (!source) source = disk.prepend_child("source");
    pugi::xml_attribute f = source.attribute("file");
    if (!f) f = source.append_attribute("file");
    f.set_value(file.c_str());
    while (pugi::xml_node b = disk.child("backingStore")) disk.remove_child(b);
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
    return out.str();
  }
  throw AmidError(codes::kInternalError, "the domain has no disk " + target);
}

std::string interface_with_link(const std::string& domain_xml, const std::string& mac, bool up) {
  pugi::xml_document doc = parse_domain(domain_xml);
  for (pugi::xml_node nic : doc.child("domain").child("devices").children("interface")) {
    if (mac != nic.child("mac").attribute("address").value()) continue;
    pugi::xml_node link = nic.child("link");
    if (!link) link = nic.append_child("link");
    pugi::xml_attribute state = link.attribute("state");
    if (!state) state = link.append_attribute("state");
    state.set_value(up ? "up" : "down");
    std::ostringstream out;
    nic.print(out, "  ", pugi::format_indent);
    return out.str();
  }
  throw AmidError(codes::kInternalError, "the domain has no network interface " + mac);
}

std::string channel_socket_in(const std::string& domain_xml, const std::string& channel) {
  pugi::xml_document doc;
  if (!doc.load_string(domain_xml.c_str())) return "";
  for (pugi::xml_node c : doc.child("domain").child("devices").children("channel")) {
    if (channel == c.child("target").attribute("name").value()) return c.child("source").attribute("path").value();
  }
  return "";
}

SavedMachine saved_machine_of(const std::string& domain_xml) {
  pugi::xml_document doc = parse_domain(domain_xml);
  pugi::xml_node dom = doc.child("domain");
  SavedMachine out;
  out.machine = dom.child("os").child("type").attribute("machine").value();
  out.domain_type = dom.attribute("type").value();
  pugi::xml_node cpu = dom.child("cpu");
  if (!cpu) {
    out.cpu = "default";
  } else {
    out.cpu = cpu.attribute("mode").value();
    if (out.cpu.empty()) out.cpu = "custom";
    if (const char* model = cpu.child_value("model"); *model) out.cpu += std::string(":") + model;
  }
  return out;
}

std::string libvirt_arch(const std::string& ec2_arch) {
  return ec2_arch == "arm64" ? "aarch64" : ec2_arch;
}

std::string mac_for_instance(const std::string& instance_id) {
  std::string hex = instance_id.substr(instance_id.find('-') + 1);
  while (hex.size() < 6) hex += '0';
  std::string mac = "52:54:00";
  for (int i = 0; i < 3; ++i) mac += ":" + hex.substr(static_cast<size_t>(i) * 2, 2);
  return mac;
}

std::optional<DomainOwnership> read_domain_ownership(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return std::nullopt;
  // libvirt keeps our namespace but may rename its prefix; match by local name.
  for (pugi::xml_node n : doc.child("domain").child("metadata").children()) {
    std::string name = n.name();
    auto local = [](const std::string& s) { return s.substr(s.find(':') + 1); };
    if (local(name) != "instance") continue;
    bool ours = false;
    for (pugi::xml_attribute a : n.attributes()) {
      if (std::string(a.value()) == kMetadataNamespace) ours = true;
    }
    if (!ours) continue;
    DomainOwnership o;
    for (pugi::xml_node c : n.children()) {
      std::string ln = local(c.name());
      if (ln == "id") o.instance_id = c.text().get();
      else if (ln == "owner") o.owner = c.text().get();
      else if (ln == "region") o.region = c.text().get();
      else if (ln == "state-dir") o.state_dir = c.text().get();
    }
    return o;
  }
  return std::nullopt;
}

bool guest_agent_connected_in(const std::string& live_xml) {
  pugi::xml_document doc;
  if (!doc.load_string(live_xml.c_str())) return false;
  for (pugi::xml_node ch : doc.child("domain").child("devices").children("channel")) {
    pugi::xml_node target = ch.child("target");
    if (std::string(target.attribute("name").value()) == kGuestAgentChannel) {
      return std::string(target.attribute("state").value()) == "connected";
    }
  }
  return false;
}

}  // namespace amid
