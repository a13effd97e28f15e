// Chooses the accelerator: KVM only when it really runs a guest, else TCG.
// Called once at start, on the main thread, before any domain is defined.
#pragma once

#include <functional>
#include <map>
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

// libvirt's name for the host's architecture (uname's machine): x86_64, aarch64...
std::string host_arch();

// The guest architectures this host runs, by EC2's name (x86_64, arm64), each with
// its libvirt domain type: the host's own architecture gets host_domain_type (kvm
// or qemu, from choose_accel); the other gets "qemu" (TCG) when libvirt has an
// emulator for it (`supports(libvirt arch, "qemu")`, e.g. qemu-system-aarch64).
std::map<std::string, std::string> guest_domain_types(
    const std::string& host_libvirt_arch, const std::string& host_domain_type,
    const std::function<bool(const std::string& arch, const std::string& type)>& supports);

}  // namespace amid
