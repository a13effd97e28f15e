// host/domain_xml.h: the domain XML amid hands libvirt, as golden files
// (tests/data/golden/domain_*.xml; AMID_UPDATE_GOLDEN=1 rewrites them), and the
// ownership mark amid reads back from a domain.
#include "daemon/host/domain_xml.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>
#include <map>
#include <string>

#include "common/error.h"
#include "daemon/host/process.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

DomainSpec hvm_spec() {
  DomainSpec s;
  s.name = "i-0123456789abcdef0";
  s.uuid = "6f1c3c4e-2b0a-4d8e-9c55-0a1b2c3d4e5f";
  s.domain_type = "kvm";
  s.vcpus = 2;
  s.memory_mib = 1024;
  s.disks.push_back({"/var/lib/amid/instances/i-0123456789abcdef0/root.qcow2", "vda",
                     {"/var/lib/amid/images/ami-0fedcba9876543210/disk.qcow2"}, false});
  s.console_log = "/var/lib/amid/instances/i-0123456789abcdef0/console.log";
  s.user_data_file = "/var/lib/amid/instances/i-0123456789abcdef0/user-data";
  s.fw_cfg_network = "mac=52:54:00:12:34:56 address=172.31.0.4/20 gateway=172.31.0.1 metadata=169.254.169.254";
  s.owner = "000000001000";
  s.region = "local-1";
  s.image_id = "ami-0fedcba9876543210";
  s.state_dir = "/var/lib/amid";
  return s;
}

DomainSpec pv_spec() {
  DomainSpec s;
  s.name = "i-00000000000000001";
  s.uuid = "0e9d8c7b-6a59-4483-b221-0f1e2d3c4b5a";
  s.domain_type = "qemu";
  s.vcpus = 1;
  s.memory_mib = 512;
  s.disks.push_back({"/srv/amid/instances/i-00000000000000001/root.qcow2", "vda", {}, false});
  s.disks.push_back({"/srv/amid/instances/i-00000000000000001/seed.qcow2", "vdb", {}, true});
  s.console_log = "/srv/amid/instances/i-00000000000000001/console.log";
  s.kernel = "/srv/amid/images/ami-00000000000000002/vmlinuz";
  s.initrd = "/srv/amid/images/ami-00000000000000002/initrd.img";
  s.cmdline = "console=ttyS0 root=/dev/vda1 ro";
  s.owner = "000000000000";
  s.region = "local-1";
  s.image_id = "ami-00000000000000002";
  s.state_dir = "/srv/amid";
  return s;
}

pugi::xml_document parse(const std::string& xml) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_string(xml.c_str());
  EXPECT_TRUE(r) << r.description() << "\n" << xml;
  return doc;
}

TEST(RenderDomainXml, HvmMatchesGolden) { AMID_EXPECT_GOLDEN("domain_hvm.xml", render_domain_xml(hvm_spec())); }

// amid defines its domains without libvirt's schema validation (it cost 8-9 ms of
// every launch): the domains it renders are checked against libvirt's schema here.
TEST(RenderDomainXml, EveryGoldenDomainPassesLibvirtsSchema) {
  ASSERT_EQ(run_process({"sh", "-c", "command -v virt-xml-validate"}).exit_code, 0)
      << "virt-xml-validate (libvirt-clients, installed with libvirt-daemon-system by scripts/install-deps) is missing";
  for (const char* name : {"domain_hvm.xml", "domain_pv.xml", "domain_arm64_hvm.xml", "domain_arm64_pv.xml"}) {
    std::string file = std::string(AMID_TESTDATA_DIR) + "/golden/" + name;
    ProcessResult r = run_process({"virt-xml-validate", file, "domain"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.out << r.err;
  }
}

TEST(RenderDomainXml, ParavirtualMatchesGolden) {
  AMID_EXPECT_GOLDEN("domain_pv.xml", render_domain_xml(pv_spec()));
}

DomainSpec arm_spec(bool paravirtual) {
  DomainSpec s = paravirtual ? pv_spec() : hvm_spec();
  s.domain_type = "qemu";
  s.arch = "aarch64";
  s.machine = "virt";
  if (paravirtual) s.cmdline = "root=/dev/vda2 console=ttyAMA0 quiet";
  return s;
}

TEST(RenderDomainXml, Arm64HvmMatchesGolden) {
  AMID_EXPECT_GOLDEN("domain_arm64_hvm.xml", render_domain_xml(arm_spec(false)));
}

TEST(RenderDomainXml, Arm64ParavirtualMatchesGolden) {
  AMID_EXPECT_GOLDEN("domain_arm64_pv.xml", render_domain_xml(arm_spec(true)));
}

// arm64 on the virt machine: UEFI for hvm (ACPI comes with it), none for direct
// kernel boot; no x86 APIC; a cortex-a57 under TCG; host-passthrough under KVM.
TEST(RenderDomainXml, Arm64UsesTheVirtMachineWithUefiOrADirectKernel) {
  auto hvm = parse(render_domain_xml(arm_spec(false)));
  pugi::xml_node dom = hvm.child("domain");
  EXPECT_STREQ(dom.child("os").attribute("firmware").value(), "efi");
  EXPECT_STREQ(dom.child("os").child("type").attribute("arch").value(), "aarch64");
  EXPECT_STREQ(dom.child("os").child("type").attribute("machine").value(), "virt");
  EXPECT_TRUE(dom.child("features").child("acpi"));
  EXPECT_FALSE(dom.child("features").child("apic"));
  EXPECT_STREQ(dom.child("cpu").child("model").text().get(), "cortex-a57");

  auto pv = parse(render_domain_xml(arm_spec(true)));
  dom = pv.child("domain");
  EXPECT_FALSE(dom.child("os").attribute("firmware"));
  EXPECT_FALSE(dom.child("features").child("acpi")) << "libvirt allows ACPI on aarch64 only with UEFI";
  EXPECT_FALSE(dom.child("os").child("kernel").text().empty());

  DomainSpec kvm = arm_spec(false);
  kvm.domain_type = "kvm";
  auto k = parse(render_domain_xml(kvm));
  EXPECT_STREQ(k.child("domain").child("cpu").attribute("mode").value(), "host-passthrough");

  // x86_64 keeps SeaBIOS (no firmware attribute) and its APIC.
  auto x86 = parse(render_domain_xml(hvm_spec()));
  EXPECT_FALSE(x86.child("domain").child("os").attribute("firmware"));
  EXPECT_TRUE(x86.child("domain").child("features").child("apic"));
  EXPECT_EQ(libvirt_arch("arm64"), "aarch64");
  EXPECT_EQ(libvirt_arch("x86_64"), "x86_64");
}

// What the goldens must say, checked field by field so that a golden rewritten
// by mistake cannot hide a broken domain.
TEST(RenderDomainXml, HvmBootsTheOverlayOnItsStatedBackingStore) {
  DomainSpec spec = hvm_spec();
  pugi::xml_document doc = parse(render_domain_xml(spec));
  pugi::xml_node dom = doc.child("domain");
  EXPECT_STREQ(dom.attribute("type").value(), "kvm");
  EXPECT_STREQ(dom.child_value("name"), spec.name.c_str());
  EXPECT_STREQ(dom.child_value("uuid"), spec.uuid.c_str());
  EXPECT_STREQ(dom.child_value("vcpu"), "2");
  EXPECT_STREQ(dom.child_value("memory"), "1024");
  EXPECT_STREQ(dom.child("memory").attribute("unit").value(), "MiB");
  EXPECT_STREQ(dom.child("os").child("boot").attribute("dev").value(), "hd");
  EXPECT_TRUE(dom.child("os").child("kernel").empty());
  EXPECT_STREQ(dom.child("cpu").attribute("mode").value(), "host-passthrough");

  pugi::xml_node disk = dom.child("devices").child("disk");
  EXPECT_STREQ(disk.child("driver").attribute("type").value(), "qcow2");
  EXPECT_STREQ(disk.child("source").attribute("file").value(), spec.disks[0].path.c_str());
  EXPECT_STREQ(disk.child("target").attribute("dev").value(), "vda");
  pugi::xml_node backing = disk.child("backingStore");
  EXPECT_STREQ(backing.child("format").attribute("type").value(), "qcow2");
  EXPECT_STREQ(backing.child("source").attribute("file").value(), spec.disks[0].backing.at(0).c_str());
  // The chain ends there: libvirt must not probe the template for a further backing file.
  ASSERT_FALSE(backing.child("backingStore").empty());
  EXPECT_TRUE(backing.child("backingStore").first_child().empty());
  EXPECT_TRUE(disk.child("readonly").empty());

  pugi::xml_node entry = dom.child("sysinfo").child("entry");
  EXPECT_STREQ(dom.child("sysinfo").attribute("type").value(), "fwcfg");
  EXPECT_STREQ(entry.attribute("name").value(), "opt/amid/user-data");
  EXPECT_STREQ(entry.attribute("file").value(), spec.user_data_file->c_str());
  // The network settings for guests without cloud-init, inline (no file to keep).
  pugi::xml_node network = entry.next_sibling("entry");
  EXPECT_STREQ(network.attribute("name").value(), "opt/amid/network");
  EXPECT_TRUE(network.attribute("file").empty());
  EXPECT_EQ(std::string(network.text().get()), spec.fw_cfg_network);
  spec.fw_cfg_network.clear();
  spec.user_data_file.reset();
  pugi::xml_document bare;
  ASSERT_TRUE(bare.load_string(render_domain_xml(spec).c_str()));
  EXPECT_FALSE(bare.child("domain").child("sysinfo")) << "no user data and no network: no fw_cfg entries";

  pugi::xml_node serial = dom.child("devices").child("serial");
  EXPECT_STREQ(serial.attribute("type").value(), "file");
  EXPECT_STREQ(serial.child("source").attribute("path").value(), spec.console_log.c_str());
}

// A disk launched from a thin captured template reads through every layer: the
// whole chain is stated in order, and ends with an empty backingStore.
TEST(RenderDomainXml, AThinTemplatesWholeChainIsStatedInOrder) {
  DomainSpec spec = hvm_spec();
  spec.disks[0].backing = {"/s/images/ami-c/disk.qcow2", "/s/images/ami-b/disk.qcow2", "/s/images/ami-a/disk.qcow2"};
  pugi::xml_document doc = parse(render_domain_xml(spec));
  pugi::xml_node below = doc.child("domain").child("devices").child("disk");
  for (const std::string& file : spec.disks[0].backing) {
    below = below.child("backingStore");
    ASSERT_FALSE(below.empty()) << "no layer for " << file;
    EXPECT_STREQ(below.child("source").attribute("file").value(), file.c_str());
    EXPECT_STREQ(below.child("format").attribute("type").value(), "qcow2");
  }
  ASSERT_FALSE(below.child("backingStore").empty());
  EXPECT_TRUE(below.child("backingStore").first_child().empty());
}

TEST(RenderDomainXml, ParavirtualBootsTheKernelDirectly) {
  const DomainSpec spec = pv_spec();
  pugi::xml_document doc = parse(render_domain_xml(spec));
  pugi::xml_node dom = doc.child("domain");
  EXPECT_STREQ(dom.attribute("type").value(), "qemu");
  pugi::xml_node os = dom.child("os");
  EXPECT_STREQ(os.child_value("kernel"), spec.kernel.c_str());
  EXPECT_STREQ(os.child_value("initrd"), spec.initrd.c_str());
  EXPECT_STREQ(os.child_value("cmdline"), spec.cmdline.c_str());
  EXPECT_TRUE(os.child("boot").empty());
  EXPECT_TRUE(dom.child("cpu").empty()) << "host-passthrough is for kvm only";
  EXPECT_TRUE(dom.child("sysinfo").empty()) << "no user data, no fw_cfg entry";

  int disks = 0;
  for (pugi::xml_node disk : dom.child("devices").children("disk")) {
    const DiskSpec& want = spec.disks[disks++];
    EXPECT_STREQ(disk.child("source").attribute("file").value(), want.path.c_str());
    EXPECT_EQ(!disk.child("readonly").empty(), want.read_only) << want.target;
    // No backing file: an empty backingStore says so, so libvirt does not probe.
    ASSERT_FALSE(disk.child("backingStore").empty());
    EXPECT_TRUE(disk.child("backingStore").first_child().empty());
  }
  EXPECT_EQ(disks, 2);
}

TEST(RenderDomainXml, EscapesXmlSpecialCharacters) {
  DomainSpec spec = hvm_spec();
  spec.name = "a&b<c'd\"e>f";
  spec.owner = "<owner & co>";
  spec.state_dir = "/srv/it's \"here\" & <there>";
  spec.console_log = "/tmp/o'neil & \"co\" <log>";
  spec.cmdline = "console=ttyS0 quiet & <x> 'y'";
  spec.kernel = "/boot/vmlinuz";
  std::string xml = render_domain_xml(spec);

  pugi::xml_document doc = parse(xml);
  pugi::xml_node dom = doc.child("domain");
  EXPECT_EQ(std::string(dom.child_value("name")), spec.name);
  EXPECT_EQ(std::string(dom.child_value("title")), "amid instance " + spec.name);
  EXPECT_EQ(std::string(dom.child("os").child_value("cmdline")), spec.cmdline);
  EXPECT_EQ(std::string(dom.child("devices").child("serial").child("source").attribute("path").value()),
            spec.console_log);
  pugi::xml_node inst = dom.child("metadata").child("amid:instance");
  EXPECT_EQ(std::string(inst.child_value("amid:owner")), spec.owner);
  EXPECT_EQ(std::string(inst.child_value("amid:state-dir")), spec.state_dir);

  auto owner = read_domain_ownership(xml);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->instance_id, spec.name);
  EXPECT_EQ(owner->owner, spec.owner);
  EXPECT_EQ(owner->state_dir, spec.state_dir);
}

TEST(ReadDomainOwnership, RoundTripsTheMetadata) {
  const DomainSpec spec = hvm_spec();
  auto owner = read_domain_ownership(render_domain_xml(spec));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->instance_id, spec.name);
  EXPECT_EQ(owner->owner, spec.owner);
  EXPECT_EQ(owner->region, spec.region);
  EXPECT_EQ(owner->state_dir, spec.state_dir);
}

TEST(ReadDomainOwnership, MatchesOurNamespaceUnderAnyPrefix) {
  // libvirt keeps the namespace URI but may write the element with its own prefix.
  const std::string xml = std::string(R"(<domain type='kvm'><name>i-1</name><metadata>
      <x:instance xmlns:x=")") + kMetadataNamespace + R"(">
        <x:id>i-00000000000000001</x:id><x:owner>000000001000</x:owner>
        <x:region>local-1</x:region><x:state-dir>/srv/amid</x:state-dir>
      </x:instance></metadata></domain>)";
  auto owner = read_domain_ownership(xml);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->instance_id, "i-00000000000000001");
  EXPECT_EQ(owner->owner, "000000001000");
  EXPECT_EQ(owner->region, "local-1");
  EXPECT_EQ(owner->state_dir, "/srv/amid");
}

TEST(ReadDomainOwnership, IsNulloptForDomainsThatAreNotAmids) {
  EXPECT_FALSE(read_domain_ownership("<domain type='kvm'><name>web</name></domain>").has_value());
  EXPECT_FALSE(read_domain_ownership(
                   "<domain type='kvm'><name>web</name><metadata/></domain>").has_value());
  EXPECT_FALSE(read_domain_ownership(R"(<domain type='kvm'><name>web</name><metadata>
      <other:instance xmlns:other="https://example.com/xmlns/instance/1">
        <other:id>i-00000000000000001</other:id><other:state-dir>/var/lib/amid</other:state-dir>
      </other:instance></metadata></domain>)")
                   .has_value());
  EXPECT_FALSE(read_domain_ownership("").has_value());
  EXPECT_FALSE(read_domain_ownership("not xml <<<").has_value());
}

// A NIC only with a tap: amid's own, which libvirt opens but does not manage.
TEST(RenderDomainXml, TheNicIsTheInstancesTapAndOnlyWithOne) {
  DomainSpec spec = hvm_spec();
  spec.mac = "52:54:00:12:34:56";
  pugi::xml_document none;
  ASSERT_TRUE(none.load_string(render_domain_xml(spec).c_str()));
  EXPECT_FALSE(none.select_node("/domain/devices/interface")) << "no tap, no NIC (never QEMU's user network)";

  spec.tap = "amid6789abcdef0";
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(render_domain_xml(spec).c_str()));
  pugi::xml_node nic = doc.select_node("/domain/devices/interface").node();
  EXPECT_STREQ(nic.attribute("type").value(), "ethernet");
  EXPECT_STREQ(nic.child("mac").attribute("address").value(), "52:54:00:12:34:56");
  EXPECT_STREQ(nic.child("target").attribute("dev").value(), "amid6789abcdef0");
  EXPECT_STREQ(nic.child("target").attribute("managed").value(), "no");
  EXPECT_STREQ(nic.child("model").attribute("type").value(), "virtio");
}

// Every domain offers the guest agent's port; amid uses the agent only once
// libvirt reports the guest's end of it open.
TEST(GuestAgent, EveryDomainHasTheAgentsPortAndItIsConnectedOnlyWhenLibvirtSaysSo) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(render_domain_xml(hvm_spec()).c_str()));
  pugi::xml_node target = doc.select_node("/domain/devices/channel[@type='unix']/target").node();
  EXPECT_STREQ(target.attribute("type").value(), "virtio");
  EXPECT_STREQ(target.attribute("name").value(), "org.qemu.guest_agent.0");

  auto live = [](const std::string& state) {
    return "<domain><devices><channel type='unix'><source mode='bind' path='/run/x.agent'/>"
           "<target type='virtio' name='org.qemu.guest_agent.0'" + state + "/></channel></devices></domain>";
  };
  EXPECT_TRUE(guest_agent_connected_in(live(" state='connected'")));
  EXPECT_FALSE(guest_agent_connected_in(live(" state='disconnected'")));
  EXPECT_FALSE(guest_agent_connected_in(live("")));  // a domain that is not running
  EXPECT_FALSE(guest_agent_connected_in(
      "<domain><devices><channel type='unix'><target type='virtio' name='org.other.port' state='connected'/>"
      "</channel></devices></domain>"));
  EXPECT_FALSE(guest_agent_connected_in("not xml <<<"));

  DomainSpec spec = hvm_spec();
  spec.agent_socket = "/var/lib/amid/instances/i-1/agent.sock";
  ASSERT_TRUE(doc.load_string(render_domain_xml(spec).c_str()));
  EXPECT_STREQ(doc.select_node("/domain/devices/channel/source").node().attribute("path").value(),
               "/var/lib/amid/instances/i-1/agent.sock");
  spec.guest_agent = false;  // a path too long for a Unix socket: no port rather than a failed start
  spec.resume_channel = false;
  ASSERT_TRUE(doc.load_string(render_domain_xml(spec).c_str()));
  EXPECT_FALSE(doc.select_node("/domain/devices/channel"));
}

// amid's resume port: every domain has it, so that any instance's memory can
// be saved into a warm image and its clones told who they are.
TEST(ResumeChannel, EveryDomainHasAmidsPortAndItsNicLinkCanStartDown) {
  DomainSpec spec = hvm_spec();
  pugi::xml_document doc = parse(render_domain_xml(spec));
  pugi::xml_node resume =
      doc.select_node("/domain/devices/channel[target/@name='org.amid.resume.0']").node();
  ASSERT_TRUE(resume);
  EXPECT_STREQ(resume.attribute("type").value(), "unix");
  EXPECT_STREQ(resume.child("target").attribute("type").value(), "virtio");
  EXPECT_FALSE(resume.child("source")) << "no path given: libvirt picks one";
  EXPECT_FALSE(doc.select_node("/domain/devices/interface/link")) << "the link is up unless asked";

  spec.resume_socket = "/var/lib/amid/instances/i-1/resume.sock";
  spec.tap = "amid6789abcdef0";
  spec.mac = "52:54:00:12:34:56";
  spec.link_up = false;
  doc = parse(render_domain_xml(spec));
  resume = doc.select_node("/domain/devices/channel[target/@name='org.amid.resume.0']").node();
  EXPECT_STREQ(resume.child("source").attribute("mode").value(), "bind");
  EXPECT_STREQ(resume.child("source").attribute("path").value(), "/var/lib/amid/instances/i-1/resume.sock");
  EXPECT_STREQ(doc.select_node("/domain/devices/interface/link").node().attribute("state").value(), "down");
}

TEST(ResumeChannel, TheLinkUpdateIsTheLiveNicWithOnlyItsLinkChanged) {
  const std::string live = R"(<domain type='qemu'><name>i-1</name><devices>
    <interface type='ethernet'><mac address='52:54:00:aa:00:01'/><target dev='amid1' managed='no'/>
      <model type='virtio'/><alias name='net0'/></interface>
    <interface type='ethernet'><mac address='52:54:00:aa:00:02'/><target dev='amid2' managed='no'/>
      <model type='virtio'/><link state='down'/></interface></devices></domain>)";
  pugi::xml_document doc = parse(interface_with_link(live, "52:54:00:aa:00:01", false));
  pugi::xml_node nic = doc.child("interface");
  EXPECT_STREQ(nic.child("target").attribute("dev").value(), "amid1");
  EXPECT_STREQ(nic.child("model").attribute("type").value(), "virtio");
  EXPECT_STREQ(nic.child("link").attribute("state").value(), "down");
  doc = parse(interface_with_link(live, "52:54:00:aa:00:02", true));
  EXPECT_STREQ(doc.child("interface").child("target").attribute("dev").value(), "amid2");
  EXPECT_STREQ(doc.child("interface").child("link").attribute("state").value(), "up");
  EXPECT_EQ(std::distance(doc.child("interface").children("link").begin(), doc.child("interface").children("link").end()), 1);
  EXPECT_THROW(interface_with_link(live, "52:54:00:aa:00:03", true), AmidError);
}

// --no-reboot captures: the point-in-time snapshot puts only the captured disks
// on overlays; everything else (instance store, a dropped volume) is left alone.
TEST(OverlaySnapshotXml, OverlaysTheCapturedDisksAndLeavesTheRest) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(render_overlay_snapshot_xml({{"vda", "/s/root.qcow2.capture"}, {"vdc", "/s/v.capture"}},
                                                          {"vda", "vdb", "vdc"})
                                  .c_str()));
  auto disks = doc.child("domainsnapshot").child("disks");
  std::map<std::string, pugi::xml_node> by_name;
  for (auto d : disks.children("disk")) by_name[d.attribute("name").value()] = d;
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_STREQ(by_name["vda"].attribute("snapshot").value(), "external");
  EXPECT_STREQ(by_name["vda"].child("source").attribute("file").value(), "/s/root.qcow2.capture");
  EXPECT_STREQ(by_name["vda"].child("driver").attribute("type").value(), "qcow2");
  EXPECT_STREQ(by_name["vdb"].attribute("snapshot").value(), "no");
  EXPECT_FALSE(by_name["vdb"].child("source"));
  EXPECT_STREQ(by_name["vdc"].child("source").attribute("file").value(), "/s/v.capture");
}

TEST(DiskFiles, ReadsEachTargetAndRetargetsOneDroppingItsBackingChain) {
  const std::string xml = R"(<domain type='qemu'><name>i-1</name><devices>
    <disk type='file' device='disk'><source file='/s/root.qcow2.capture'/>
      <backingStore type='file'><source file='/s/root.qcow2'/></backingStore><target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='/s/vol.qcow2'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='sda'/></disk>
  </devices></domain>)";
  auto files = disk_files_of(xml);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], (std::pair<std::string, std::string>{"vda", "/s/root.qcow2.capture"}));
  EXPECT_EQ(files[1], (std::pair<std::string, std::string>{"vdb", "/s/vol.qcow2"}));
  EXPECT_EQ(files[2], (std::pair<std::string, std::string>{"sda", ""}));

  std::string changed = with_disk_file(xml, "vda", "/s/root.qcow2");
  auto after = disk_files_of(changed);
  EXPECT_EQ(after[0].second, "/s/root.qcow2");
  EXPECT_EQ(after[1].second, "/s/vol.qcow2");
  EXPECT_EQ(changed.find("backingStore"), std::string::npos);
  EXPECT_THROW(with_disk_file(xml, "vdz", "/x"), AmidError);
  EXPECT_THROW(disk_files_of("<not xml"), AmidError);
}

TEST(ChannelSocketIn, FindsTheNamedChannelsSocketOrNothing) {
  DomainSpec spec = hvm_spec();
  spec.resume_socket = "/var/lib/amid/instances/i-1/resume.sock";
  spec.agent_socket = "/var/lib/amid/instances/i-1/agent.sock";
  const std::string xml = render_domain_xml(spec);
  EXPECT_EQ(channel_socket_in(xml, kResumeChannel), spec.resume_socket);
  EXPECT_EQ(channel_socket_in(xml, "org.qemu.guest_agent.0"), spec.agent_socket);
  EXPECT_EQ(channel_socket_in(xml, "org.example.none"), "");
  EXPECT_EQ(channel_socket_in("<not xml", kResumeChannel), "");
}

TEST(SavedMachineOf, ReadsTheMachineCpuAndDomainType) {
  auto m = saved_machine_of(R"(<domain type='qemu'><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
    <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu></domain>)");
  EXPECT_EQ(m.machine, "pc-i440fx-7.2");
  EXPECT_EQ(m.cpu, "custom:qemu64");
  EXPECT_EQ(m.domain_type, "qemu");
  auto passthrough = saved_machine_of(R"(<domain type='kvm'><os><type machine='pc-q35-7.2'>hvm</type></os>
    <cpu mode='host-passthrough'/></domain>)");
  EXPECT_EQ(passthrough.cpu, "host-passthrough");
  EXPECT_EQ(passthrough.domain_type, "kvm");
  EXPECT_EQ(saved_machine_of("<domain type='qemu'><os><type machine='virt'>hvm</type></os></domain>").cpu, "default");
  EXPECT_THROW(saved_machine_of("<not xml"), AmidError);
}

}  // namespace
}  // namespace amid
