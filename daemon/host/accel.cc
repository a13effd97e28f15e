#include "daemon/host/accel.h"

#include <sys/utsname.h>

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "daemon/host/unique_fd.h"

namespace amid {
namespace {

// Runs "mov al,0x42; out 0x10,al; hlt" in real mode; true when KVM reports the out.
bool runs_guest_code(int kvm, std::string& why) {
  UniqueFd vm(ioctl(kvm, KVM_CREATE_VM, 0));
  if (vm.get() < 0) return why = "KVM_CREATE_VM failed: " + std::string(strerror(errno)), false;
  const size_t mem_size = 0x1000;
  void* mem = mmap(nullptr, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return why = "mmap failed", false;
  const unsigned char code[] = {0xb0, 0x42, 0xe6, 0x10, 0xf4};
  std::memcpy(mem, code, sizeof code);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0x1000;
  region.memory_size = mem_size;
  region.userspace_addr = reinterpret_cast<unsigned long>(mem);
  bool ok = false;
  do {
    if (ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
      why = "KVM_SET_USER_MEMORY_REGION failed";
      break;
    }
    UniqueFd vcpu(ioctl(vm.get(), KVM_CREATE_VCPU, 0));
    if (vcpu.get() < 0) {
      why = "KVM_CREATE_VCPU failed";
      break;
    }
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) {
      why = "KVM_GET_VCPU_MMAP_SIZE failed";
      break;
    }
    void* run_mem = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0);
    if (run_mem == MAP_FAILED) {
      why = "mmap of kvm_run failed";
      break;
    }
    auto* run = static_cast<kvm_run*>(run_mem);
    kvm_sregs sregs{};
    kvm_regs regs{};
    if (ioctl(vcpu.get(), KVM_GET_SREGS, &sregs) == 0) {
      sregs.cs.base = 0;
      sregs.cs.selector = 0;
      ioctl(vcpu.get(), KVM_SET_SREGS, &sregs);
      regs.rip = 0x1000;
      regs.rflags = 0x2;
      ioctl(vcpu.get(), KVM_SET_REGS, &regs);
      for (int i = 0; i < 4 && !ok; ++i) {
        if (ioctl(vcpu.get(), KVM_RUN, 0) < 0) {
          why = "KVM_RUN failed: " + std::string(strerror(errno));
          break;
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10 &&
            run->io.direction == KVM_EXIT_IO_OUT) {
          auto* data = reinterpret_cast<unsigned char*>(run) + run->io.data_offset;
          ok = *data == 0x42;
          if (!ok) why = "guest code wrote the wrong value";
        } else if (run->exit_reason != KVM_EXIT_INTR) {
          why = "guest code exited with reason " + std::to_string(run->exit_reason);
          break;
        }
      }
    } else {
      why = "KVM_GET_SREGS failed";
    }
    munmap(run_mem, run_size);
  } while (false);
  munmap(mem, mem_size);
  return ok;
}

}  // namespace

KvmProbe probe_kvm(const std::string& dev, const std::string& sys_module) {
  KvmProbe p;
  UniqueFd kvm(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
  if (kvm.get() < 0) {
    p.reason = dev + " cannot be opened (" + strerror(errno) + ")";
    return p;
  }
  if (ioctl(kvm.get(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    p.reason = dev + " speaks an unexpected KVM API version";
    return p;
  }
  std::string why;
  if (!runs_guest_code(kvm.get(), why)) {
    p.reason = dev + " did not run a test guest: " + why;
    return p;
  }
  auto loaded = [&](const char* module) {
    struct stat st;
    return ::stat((sys_module + "/" + module).c_str(), &st) == 0;
  };
  bool vendor = loaded("kvm_intel") || loaded("kvm_amd");
  bool pvm = loaded("kvm_pvm");
  if (pvm && !vendor) {
    p.reason = dev + " is a paravirtual KVM (kvm_pvm), which cannot boot a stock guest kernel";
    return p;
  }
  if (!vendor) {
    p.reason = dev + " is not backed by kvm_intel or kvm_amd";
    return p;
  }
  p.usable = true;
  p.reason = dev + " runs guests (hardware virtualisation)";
  return p;
}

AccelChoice choose_accel(const std::string& requested, const KvmProbe& probe) {
  if (requested == "tcg") return {"qemu", "accelerator tcg (requested)"};
  if (requested == "kvm") {
    if (!probe.usable) {
      throw AmidError(codes::kInvalidParameterValue,
                      "accel: kvm was requested but " + probe.reason + "; use --accel auto or tcg");
    }
    return {"kvm", "accelerator kvm (requested): " + probe.reason};
  }
  if (probe.usable) return {"kvm", "accelerator kvm: " + probe.reason};
  return {"qemu", "accelerator tcg (software emulation, slow): " + probe.reason};
}

std::string host_arch() {
  struct utsname u {};
  if (::uname(&u) != 0) return "x86_64";
  return u.machine;
}

std::map<std::string, std::string> guest_domain_types(
    const std::string& host_libvirt_arch, const std::string& host_domain_type,
    const std::function<bool(const std::string& arch, const std::string& type)>& supports) {
  std::map<std::string, std::string> out;
  for (const auto& [ec2, libvirt] : {std::pair<std::string, std::string>{"x86_64", "x86_64"},
                                     std::pair<std::string, std::string>{"arm64", "aarch64"}}) {
    if (libvirt == host_libvirt_arch) {
      out[ec2] = host_domain_type;
    } else if (supports(libvirt, "qemu")) {
      out[ec2] = "qemu";
    }
  }
  return out;
}

}  // namespace amid
