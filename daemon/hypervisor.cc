#include "daemon/hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <mutex>

#include "common/error.h"
#include "daemon/domain_xml.h"
#include "daemon/log.h"

namespace amid {
namespace {

struct ConnectDeleter {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainDeleter {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct CharDeleter {
  void operator()(char* p) const { free(p); }  // NOLINT: libvirt allocates with malloc
};
using ConnectHandle = std::unique_ptr<virConnect, ConnectDeleter>;
using DomainHandle = std::unique_ptr<virDomain, DomainDeleter>;
using CString = std::unique_ptr<char, CharDeleter>;

[[noreturn]] void throw_libvirt(const std::string& what) {
  const virError* err = virGetLastError();
  std::string msg = "libvirt: " + what;
  if (err && err->message) msg += ": " + std::string(err->message);
  throw AmidError(codes::kInternalError, msg);
}

bool last_error_is_no_domain() {
  const virError* err = virGetLastError();
  return err && err->code == VIR_ERR_NO_DOMAIN;
}

// libvirt's default event loop must be registered once per process, before the
// first connection, and run by some thread for as long as connections live.
class EventLoop {
 public:
  static EventLoop& instance() {
    static EventLoop loop;
    return loop;
  }
  void ensure_running() {
    std::call_once(once_, [this] {
      if (virEventRegisterDefaultImpl() < 0) throw_libvirt("cannot register the event loop");
      thread_ = std::thread([] {
        for (;;) {
          if (virEventRunDefaultImpl() < 0) log_warn("libvirt event loop iteration failed");
        }
      });
      thread_.detach();  // runs until the process exits, as libvirt expects
    });
  }

 private:
  std::once_flag once_;
  std::thread thread_;
};

void quiet_error_handler(void*, virErrorPtr) {}  // errors are reported through exceptions

DomainRunState map_state(int s) {
  switch (s) {
    case VIR_DOMAIN_RUNNING: return DomainRunState::kRunning;
    case VIR_DOMAIN_BLOCKED: return DomainRunState::kRunning;
    case VIR_DOMAIN_PAUSED: return DomainRunState::kPaused;
    case VIR_DOMAIN_PMSUSPENDED: return DomainRunState::kPaused;
    case VIR_DOMAIN_SHUTDOWN: return DomainRunState::kShuttingDown;
    case VIR_DOMAIN_SHUTOFF: return DomainRunState::kShutoff;
    case VIR_DOMAIN_CRASHED: return DomainRunState::kCrashed;
    default: return DomainRunState::kOther;
  }
}

DomainStatus status_of(virDomainPtr dom) {
  DomainStatus st;
  st.name = virDomainGetName(dom);
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) st.uuid = uuid;
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) throw_libvirt("cannot read state of " + st.name);
  st.state = map_state(state);
  st.persistent = virDomainIsPersistent(dom) == 1;
  return st;
}

DomainHandle lookup(virConnectPtr conn, const std::string& name) {
  return DomainHandle(virDomainLookupByName(conn, name.c_str()));
}

}  // namespace

struct Hypervisor::Conn {
  ConnectHandle handle;
};

const char* to_string(DomainRunState s) {
  switch (s) {
    case DomainRunState::kRunning: return "running";
    case DomainRunState::kPaused: return "paused";
    case DomainRunState::kShutoff: return "shutoff";
    case DomainRunState::kShuttingDown: return "shutting-down";
    case DomainRunState::kCrashed: return "crashed";
    default: return "other";
  }
}

Hypervisor::Hypervisor(const std::string& uri) : uri_(uri), conn_(std::make_unique<Conn>()) {
  virSetErrorFunc(nullptr, quiet_error_handler);
  EventLoop::instance().ensure_running();
  conn_->handle.reset(virConnectOpen(uri.c_str()));
  if (!conn_->handle) throw_libvirt("cannot connect to " + uri);
  // Detect a dead remote peer instead of hanging on it (remote URIs only).
  if (uri.find("+ssh://") != std::string::npos || uri.find("+tcp://") != std::string::npos ||
      uri.find("+tls://") != std::string::npos) {
    virConnectSetKeepAlive(conn_->handle.get(), 5, 3);
  }
}

Hypervisor::~Hypervisor() {
  if (stop_callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_->handle.get(), stop_callback_id_);
}

namespace {
int lifecycle_event(virConnectPtr, virDomainPtr dom, int event, int, void* opaque) {
  // QEMU's STOP/RESUME, as libvirt reports them: logged with their time, so a
  // pause (during a capture, say) is visible and measurable (bench/capture.sh).
  if (event == VIR_DOMAIN_EVENT_SUSPENDED) log_info(std::string("domain ") + virDomainGetName(dom) + " vcpus paused");
  if (event == VIR_DOMAIN_EVENT_RESUMED) log_info(std::string("domain ") + virDomainGetName(dom) + " vcpus resumed");
  if (event == VIR_DOMAIN_EVENT_STOPPED) {
    auto* fn = static_cast<std::function<void(const std::string&)>*>(opaque);
    (*fn)(virDomainGetName(dom));
  }
  return 0;
}
}  // namespace

void Hypervisor::watch_stops(std::function<void(const std::string&)> fn) {
  on_stop_ = std::move(fn);
  stop_callback_id_ = virConnectDomainEventRegisterAny(
      conn_->handle.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(lifecycle_event), &on_stop_, nullptr);
  if (stop_callback_id_ < 0) throw_libvirt("cannot watch domain events");
}

void Hypervisor::backup_begin(const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& targets,
                              const std::vector<std::string>& skipped) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  std::string xml = render_backup_xml(targets, skipped);
  if (virDomainBackupBegin(dom.get(), xml.c_str(), nullptr, 0) < 0) {
    throw_libvirt("cannot start a backup of " + name);
  }
}

Hypervisor::JobProgress Hypervisor::backup_progress(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  JobProgress p;
  if (!dom) {
    p.error = "the domain is gone";
    return p;
  }
  auto read = [&](unsigned flags, int& type) {
    virTypedParameterPtr params = nullptr;
    int n = 0;
    if (virDomainGetJobStats(dom.get(), &type, &params, &n, flags) < 0) return false;
    unsigned long long v = 0;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1) p.done = v;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL, &v) == 1) p.total = v;
    const char* err = nullptr;
    if (virTypedParamsGetString(params, n, VIR_DOMAIN_JOB_ERRMSG, &err) == 1 && err) p.error = err;
    virTypedParamsFree(params, n);
    return true;
  };
  int type = VIR_DOMAIN_JOB_NONE;
  if (!read(0, type)) throw_libvirt("cannot read the job of " + name);
  if (type != VIR_DOMAIN_JOB_NONE) {
    p.active = true;
    return p;
  }
  // Finished: the completed job's statistics say how it ended.
  if (!read(VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED, type)) {
    throw_libvirt("cannot read the finished job of " + name);
  }
  p.succeeded = type == VIR_DOMAIN_JOB_COMPLETED;
  if (!p.succeeded && p.error.empty()) p.error = "the backup job failed";
  return p;
}

void Hypervisor::abort_job(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (dom) virDomainAbortJob(dom.get());
}

void Hypervisor::reboot_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainReboot(dom.get(), VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) < 0) {
    throw_libvirt("cannot reboot " + name);
  }
}

std::string Hypervisor::hostname() const {
  CString h(virConnectGetHostname(conn_->handle.get()));
  return h ? std::string(h.get()) : std::string();
}

std::string Hypervisor::capabilities_xml() const {
  CString caps(virConnectGetCapabilities(conn_->handle.get()));
  if (!caps) throw_libvirt("cannot read capabilities");
  return caps.get();
}

bool Hypervisor::supports_domain_type(const std::string& arch, const std::string& type) const {
  CString caps(virConnectGetDomainCapabilities(conn_->handle.get(), nullptr, arch.c_str(), nullptr,
                                               type.c_str(), 0));
  return caps != nullptr;
}

std::string Hypervisor::define_domain(const std::string& xml) {
  DomainHandle dom(virDomainDefineXMLFlags(conn_->handle.get(), xml.c_str(),
                                           VIR_DOMAIN_DEFINE_VALIDATE));
  if (!dom) throw_libvirt("cannot define domain");
  return virDomainGetName(dom.get());
}

void Hypervisor::start_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainCreate(dom.get()) < 0) throw_libvirt("cannot start " + name);
}

void Hypervisor::destroy_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) {
    if (last_error_is_no_domain()) return;
    throw_libvirt("cannot look up " + name);
  }
  if (virDomainIsActive(dom.get()) != 1) return;
  if (virDomainDestroyFlags(dom.get(), VIR_DOMAIN_DESTROY_DEFAULT) < 0) {
    if (virDomainIsActive(dom.get()) == 0) return;  // it went away by itself meanwhile
    throw_libvirt("cannot stop " + name);
  }
}

void Hypervisor::shutdown_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainShutdownFlags(dom.get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
    throw_libvirt("cannot shut down " + name);
  }
}

void Hypervisor::undefine_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) {
    if (last_error_is_no_domain()) return;
    throw_libvirt("cannot look up " + name);
  }
  if (virDomainUndefineFlags(dom.get(), VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
    // Drivers without NVRAM support (the test driver) refuse the flag.
    const virError* err = virGetLastError();
    bool unsupported = err && (err->code == VIR_ERR_INVALID_ARG || err->code == VIR_ERR_NO_SUPPORT);
    if (!unsupported || virDomainUndefineFlags(dom.get(), 0) < 0) throw_libvirt("cannot undefine " + name);
  }
}

std::optional<DomainStatus> Hypervisor::domain_status(const std::string& name) const {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) {
    if (last_error_is_no_domain()) return std::nullopt;
    throw_libvirt("cannot look up " + name);
  }
  return status_of(dom.get());
}

std::optional<std::string> Hypervisor::domain_xml(const std::string& name) const {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) {
    if (last_error_is_no_domain()) return std::nullopt;
    throw_libvirt("cannot look up " + name);
  }
  CString xml(virDomainGetXMLDesc(dom.get(), VIR_DOMAIN_XML_INACTIVE));
  if (!xml) throw_libvirt("cannot read XML of " + name);
  return std::string(xml.get());
}

std::vector<DomainStatus> Hypervisor::list_domains() const {
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn_->handle.get(), &doms, 0);
  if (n < 0) throw_libvirt("cannot list domains");
  std::vector<DomainHandle> owned;
  owned.reserve(n);
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  free(doms);  // NOLINT: allocated by libvirt
  std::vector<DomainStatus> out;
  for (auto& d : owned) out.push_back(status_of(d.get()));
  return out;
}

}  // namespace amid
