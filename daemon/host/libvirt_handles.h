// What the two files that call libvirt's C API share (hypervisor.cc,
// libvirt_files.cc): owning handles for its objects, and its errors as
// AmidError. Private to those files; nothing else includes libvirt.
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"

namespace amid::libvirt {

struct ConnectDeleter {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainDeleter {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct PoolDeleter {
  void operator()(virStoragePoolPtr p) const { virStoragePoolFree(p); }
};
struct VolDeleter {
  void operator()(virStorageVolPtr v) const { virStorageVolFree(v); }
};
struct StreamDeleter {
  void operator()(virStreamPtr s) const { virStreamFree(s); }
};
struct CharDeleter {
  void operator()(char* p) const { std::free(p); }  // NOLINT: libvirt allocates with malloc
};
using ConnectHandle = std::unique_ptr<virConnect, ConnectDeleter>;
using DomainHandle = std::unique_ptr<virDomain, DomainDeleter>;
using PoolHandle = std::unique_ptr<virStoragePool, PoolDeleter>;
using VolHandle = std::unique_ptr<virStorageVol, VolDeleter>;
using StreamHandle = std::unique_ptr<virStream, StreamDeleter>;
using CString = std::unique_ptr<char, CharDeleter>;

// Throws AmidError(InternalError, "libvirt: WHAT: libvirt's last message").
[[noreturn]] inline void throw_error(const std::string& what) {
  const virError* err = virGetLastError();
  std::string msg = "libvirt: " + what;
  if (err && err->message) msg += ": " + std::string(err->message);
  throw AmidError(codes::kInternalError, msg);
}

}  // namespace amid::libvirt
