// End to end: the RemoteHost fixture stands for a second libvirt host. Its
// store is out of the test's reach, so bytes get there and back only through
// libvirt's storage API (pools, volumes, streams), holes included, and a guest
// boots there from a volume put there that way.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "e2e_harness.h"
#include "remote_host.h"

namespace amid::e2e {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tpl[] = "/tmp/amid-remote-XXXXXX";
    path = ::mkdtemp(tpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

::testing::AssertionResult ok(const Result& r) {
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "exit " << r.exit_code << ": " << r.err << r.out;
}

// 4 MiB: 64 KiB of noise at 0 and at 2 MiB, holes elsewhere.
void write_sparse(const std::string& path) {
  std::mt19937 noise(7);
  std::string chunk(64 * 1024, '\0');
  for (auto& c : chunk) c = static_cast<char>(noise());
  std::ofstream out(path, std::ios::binary);
  out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  out.seekp(2 << 20);
  out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  out.close();
  std::filesystem::resize_file(path, 4 << 20);
}

long long blocks_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_blocks : -1;
}

// Under TCG (this machine's KVM cannot boot stock kernels), no network: the
// serial console goes to a file in the store, written by the host's virtlogd.
std::string tiny_domain_xml(const std::string& disk, const std::string& console) {
  return R"(<domain type='qemu'>
  <name>remote-tiny</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file=')" + disk + R"('/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'><log file=')" + console + R"(' append='off'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
)";
}

TEST(RemoteHost, AStoreOnAnotherHostIsReachedOnlyThroughLibvirt) {
  TempDir work;
  std::string pid_ns;
  {
    RemoteHost host(work.path + "/host", RemoteHost::fresh_hidden_dir());
    pid_ns = host.pid_namespace();
    const std::string images = host.hidden_dir() + "/images";
    EXPECT_FALSE(std::filesystem::exists(host.hidden_dir())) << "the store is visible from here";
    EXPECT_TRUE(ok(host.exec({"test", "-d", host.hidden_dir()})));
    ASSERT_TRUE(ok(host.virsh({"pool-define-as", "store", "dir", "--target", images})));
    ASSERT_TRUE(ok(host.virsh({"pool-build", "store"})));
    ASSERT_TRUE(ok(host.virsh({"pool-start", "store"})));

    // Up a stream: the same bytes, the holes still holes, and nothing here.
    std::string sparse = work.path + "/sparse.raw";
    write_sparse(sparse);
    ASSERT_TRUE(ok(host.virsh({"vol-create-as", "store", "data.raw", "4M", "--allocation", "0", "--format", "raw"})));
    ASSERT_TRUE(ok(host.virsh({"vol-upload", "--pool", "store", "data.raw", sparse, "--sparse"})));
    std::string there = images + "/data.raw";
    EXPECT_FALSE(std::filesystem::exists(there));
    EXPECT_EQ(host.exec({"sha256sum", there}).out.substr(0, 64), sha256_of(sparse));
    std::istringstream st(host.exec({"stat", "-c", "%s %b", there}).out);
    long long size = -1, blocks = -1;
    st >> size >> blocks;
    EXPECT_EQ(size, 4 << 20);
    EXPECT_GT(blocks, 0);
    EXPECT_LE(blocks, blocks_of(sparse)) << "the upload filled holes";

    // And back down.
    std::string back = work.path + "/back.raw";
    ASSERT_TRUE(ok(host.virsh({"vol-download", "--pool", "store", "data.raw", back, "--sparse"})));
    EXPECT_EQ(sha256_of(back), sha256_of(sparse));
    EXPECT_LE(blocks_of(back), blocks_of(sparse)) << "the download filled holes";

    // The tiny template goes up as bytes; a refresh tells libvirt it is qcow2.
    std::string size_bytes = std::to_string(std::filesystem::file_size(tiny_image()));
    ASSERT_TRUE(ok(host.virsh({"vol-create-as", "store", "tiny.qcow2", size_bytes, "--allocation", "0",
                               "--format", "raw"})));
    ASSERT_TRUE(ok(host.virsh({"vol-upload", "--pool", "store", "tiny.qcow2", tiny_image(), "--sparse"})));
    ASSERT_TRUE(ok(host.virsh({"pool-refresh", "store"})));
    EXPECT_NE(host.virsh({"vol-dumpxml", "--pool", "store", "tiny.qcow2"}).out.find("<format type='qcow2'/>"),
              std::string::npos);
    std::string overlay_xml = work.path + "/overlay.xml";
    std::ofstream(overlay_xml) << "<volume><name>root.qcow2</name><capacity unit='bytes'>134217728</capacity>"
                               << "<target><format type='qcow2'/></target><backingStore><path>" << images
                               << "/tiny.qcow2</path><format type='qcow2'/></backingStore></volume>";
    ASSERT_TRUE(ok(host.virsh({"vol-create", "store", overlay_xml})));
    Result info = host.exec({"qemu-img", "info", images + "/root.qcow2"});
    EXPECT_NE(info.out.find("backing file: " + images + "/tiny.qcow2"), std::string::npos) << info.out;

    // It boots there: QEMU is a process of the remote host.
    std::string domain_xml = work.path + "/domain.xml";
    std::ofstream(domain_xml) << tiny_domain_xml(images + "/root.qcow2", images + "/console.log");
    ASSERT_TRUE(ok(host.virsh({"create", domain_xml})));
    pid_t qemu = qemu_pid_of("remote-tiny");
    std::error_code ec;
    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(qemu) + "/ns/pid", ec).string(), pid_ns);
    std::string console;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (console.find("amid-tiny: ready") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      console = host.exec({"cat", images + "/console.log"}).out;
    }
    EXPECT_NE(console.find("amid-tiny: disk vda 134217728 bytes"), std::string::npos) << console;
    EXPECT_NE(console.find("amid-tiny: ready"), std::string::npos) << console;
    EXPECT_FALSE(std::filesystem::exists(images + "/console.log"));
    EXPECT_TRUE(ok(host.virsh({"destroy", "remote-tiny"})));
  }
  EXPECT_TRUE(RemoteHost::processes_in(pid_ns).empty()) << "a process of the remote host outlived it";
}

}  // namespace
}  // namespace amid::e2e
