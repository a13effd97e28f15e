// host/accel.h: KVM is chosen only when it really runs guests; otherwise TCG
// with the reason said, and an explicit request for KVM fails loudly.
#include "daemon/host/accel.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

const KvmProbe kUsable{true, "/dev/kvm runs guests (hardware virtualisation)"};
const KvmProbe kUnusable{false, "/dev/kvm cannot be opened (No such file or directory)"};

TEST(ChooseAccel, AutoPicksKvmWhenUsable) {
  AccelChoice c = choose_accel("auto", kUsable);
  EXPECT_EQ(c.domain_type, "kvm");
  EXPECT_TRUE(has_substr(c.reason, kUsable.reason));
}

TEST(ChooseAccel, AutoFallsBackToTcgAndSaysWhy) {
  AccelChoice c = choose_accel("auto", kUnusable);
  EXPECT_EQ(c.domain_type, "qemu");
  EXPECT_TRUE(has_substr(c.reason, "tcg"));
  EXPECT_TRUE(has_substr(c.reason, kUnusable.reason));
}

TEST(ChooseAccel, KvmRequestedAndUsable) { EXPECT_EQ(choose_accel("kvm", kUsable).domain_type, "kvm"); }

TEST(ChooseAccel, KvmRequestedButUnusableThrowsWithTheReason) {
  try {
    choose_accel("kvm", kUnusable);
    FAIL() << "no error";
  } catch (const AmidError& e) {
    EXPECT_EQ(e.code(), codes::kInvalidParameterValue);
    EXPECT_TRUE(::amid::testing::starts_with(e.what(), "accel:"));
    EXPECT_TRUE(has_substr(e.what(), kUnusable.reason));
  }
}

TEST(ChooseAccel, TcgRequestedIsAlwaysTcg) {
  EXPECT_EQ(choose_accel("tcg", kUsable).domain_type, "qemu");
  EXPECT_EQ(choose_accel("tcg", kUnusable).domain_type, "qemu");
}

TEST(ProbeKvm, AMissingDeviceIsUnusableAndNamed) {
  const std::string dev = "/nonexistent/amid-test/kvm";
  KvmProbe p = probe_kvm(dev, "/sys/module");
  EXPECT_FALSE(p.usable);
  EXPECT_TRUE(has_substr(p.reason, dev));
}

TEST(ProbeKvm, ADeviceThatIsNotKvmIsUnusable) {
  KvmProbe p = probe_kvm("/dev/null", "/sys/module");
  EXPECT_FALSE(p.usable);
  EXPECT_TRUE(has_substr(p.reason, "/dev/null"));
}

class ProbeRealKvm : public ::amid::testing::TempDirTest {
 protected:
  void SetUp() override {
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) GTEST_SKIP() << "/dev/kvm cannot be opened here: the module checks need a real KVM";
    ::close(fd);
    // With a vendor module faked in, the probe gets past the guest-code test only
    // if this KVM really runs guest code; the module checks need that first.
    KvmProbe vendor = probe_kvm("/dev/kvm", fake_modules({"kvm", "kvm_intel"}));
    if (!vendor.usable) GTEST_SKIP() << "this /dev/kvm does not run test guest code: " << vendor.reason;
  }
  std::string fake_modules(std::initializer_list<const char*> names) {
    std::string dir = tmp_.file("module-" + std::to_string(++dirs_));
    std::filesystem::create_directories(dir);
    for (const char* n : names) std::filesystem::create_directories(dir + "/" + n);
    return dir;
  }
  int dirs_ = 0;
};

TEST_F(ProbeRealKvm, APvmOnlyKvmIsUnusable) {
  KvmProbe p = probe_kvm("/dev/kvm", fake_modules({"kvm_pvm"}));
  EXPECT_FALSE(p.usable);
  EXPECT_TRUE(has_substr(p.reason, "kvm_pvm"));
}

TEST_F(ProbeRealKvm, AKvmWithoutAVendorModuleIsUnusable) {
  KvmProbe p = probe_kvm("/dev/kvm", fake_modules({"kvm"}));
  EXPECT_FALSE(p.usable);
  EXPECT_TRUE(has_substr(p.reason, "kvm_intel or kvm_amd"));
}

TEST_F(ProbeRealKvm, AVendorModuleMakesItUsable) {
  EXPECT_TRUE(probe_kvm("/dev/kvm", fake_modules({"kvm", "kvm_amd"})).usable);
  EXPECT_TRUE(probe_kvm("/dev/kvm", fake_modules({"kvm", "kvm_intel", "kvm_pvm"})).usable);
}

TEST(GuestDomainTypes, HostArchGetsTheAcceleratorOthersNeedAnEmulator) {
  auto none = [](const std::string&, const std::string&) { return false; };
  auto with_aarch64 = [](const std::string& arch, const std::string& type) {
    return arch == "aarch64" && type == "qemu";
  };
  using Map = std::map<std::string, std::string>;
  EXPECT_EQ(guest_domain_types("x86_64", "kvm", none), (Map{{"x86_64", "kvm"}}));
  EXPECT_EQ(guest_domain_types("x86_64", "qemu", with_aarch64), (Map{{"x86_64", "qemu"}, {"arm64", "qemu"}}));
  // On an arm64 host the roles swap: KVM for arm64, x86_64 only through an emulator.
  EXPECT_EQ(guest_domain_types("aarch64", "kvm", none), (Map{{"arm64", "kvm"}}));
  auto with_x86 = [](const std::string& arch, const std::string&) { return arch == "x86_64"; };
  EXPECT_EQ(guest_domain_types("aarch64", "kvm", with_x86), (Map{{"arm64", "kvm"}, {"x86_64", "qemu"}}));
}

}  // namespace
}  // namespace amid
