// Chooses the accelerator: KVM only when it really runs a guest, else TCG.
// Called once at start, on the main thread, before any domain is defined.
#pragma once

#include <string>

namespace amid {

struct AccelChoice {
  std::string domain_type;  // "kvm" or "qemu"
  std::string reason;       // one human line: why this choice
};

struct KvmProbe {
  bool usable = false;
  std::string reason;
};

// Opens /dev/kvm, runs a few instructions of real guest code in a throwaway VM,
// and checks that a hardware virtualisation module (kvm_intel / kvm_amd) backs it:
// a paravirtual KVM (kvm_pvm) runs firmware but never a stock kernel.
KvmProbe probe_kvm(const std::string& dev = "/dev/kvm", const std::string& sys_module = "/sys/module");

// requested: "auto" | "kvm" | "tcg". "kvm" with an unusable KVM throws AmidError.
AccelChoice choose_accel(const std::string& requested, const KvmProbe& probe);

}  // namespace amid
