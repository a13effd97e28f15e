#include "daemon/host/hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "daemon/host/domain_xml.h"
#include "daemon/host/libvirt_daemon.h"
#include "daemon/host/libvirt_handles.h"
#include "daemon/host/log.h"

namespace amid {
namespace {

using libvirt::CString;
using libvirt::ConnectHandle;
using libvirt::DomainHandle;

[[noreturn]] void throw_libvirt(const std::string& what) { libvirt::throw_error(what); }

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
  // A local daemon's socket is named in the URI (host/libvirt_daemon.h says why).
  const HostView host = this_host();
  const std::string open_uri = with_daemon_socket(uri, host);
  conn_->handle.reset(virConnectOpen(open_uri.c_str()));
  if (!conn_->handle) {
    if (auto socket = daemon_socket(open_uri, host)) {
      const virError* err = virGetLastError();
      throw AmidError(codes::kInternalError,
                      unreachable_daemon_message(uri, *socket, err && err->message ? err->message : "", host));
    }
    throw_libvirt("cannot connect to " + uri);
  }
  // Detect a dead remote peer instead of hanging on it (remote URIs only).
  if (uri.find("+ssh://") != std::string::npos || uri.find("+tcp://") != std::string::npos ||
      uri.find("+tls://") != std::string::npos) {
    virConnectSetKeepAlive(conn_->handle.get(), 5, 3);
  }
}

_virConnect* Hypervisor::connection() const { return conn_->handle.get(); }

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

std::vector<std::pair<std::string, std::string>> Hypervisor::disk_files(const std::string& name,
                                                                       bool live) const {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  CString xml(virDomainGetXMLDesc(dom.get(), live ? 0 : VIR_DOMAIN_XML_INACTIVE));
  if (!xml) throw_libvirt("cannot read XML of " + name);
  return disk_files_of(xml.get());
}

void Hypervisor::snapshot_to_overlays(const std::string& name,
                                      const std::vector<std::pair<std::string, std::string>>& overlays) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  std::vector<std::string> targets;
  for (const auto& [target, file] : disk_files(name, true)) targets.push_back(target);
  std::string xml = render_overlay_snapshot_xml(overlays, targets);
  // No metadata: amid keeps no libvirt snapshot objects; the overlay is merged
  // back with commit_overlay(). Atomic: every disk or none.
  unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
                   VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
  virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(dom.get(), xml.c_str(), flags);
  if (!snap) throw_libvirt("cannot take a point-in-time snapshot of " + name);
  virDomainSnapshotFree(snap);
}

void Hypervisor::commit_overlay(const std::string& name, const std::string& target, const std::string& base) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  virDomainBlockJobInfo info{};
  int has_job = virDomainGetBlockJobInfo(dom.get(), target.c_str(), &info, 0);
  if (has_job < 0) throw_libvirt("cannot read the block jobs of " + name);
  if (has_job == 0 &&
      virDomainBlockCommit(dom.get(), target.c_str(), base.c_str(), nullptr, 0, VIR_DOMAIN_BLOCK_COMMIT_ACTIVE) < 0) {
    throw_libvirt("cannot merge the capture overlay of " + name + " " + target + " back");
  }
  // libvirt reports cur == end only once the job is ready to pivot.
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    int r = virDomainGetBlockJobInfo(dom.get(), target.c_str(), &info, 0);
    if (r < 0) throw_libvirt("cannot follow the merge of " + name + " " + target);
    if (r == 0) {
      for (const auto& [t, file] : disk_files(name, true)) {
        if (t == target && file == base) return;  // pivoted already
      }
      throw AmidError(codes::kInternalError, "libvirt: the merge of " + name + " " + target + " stopped early");
    }
    if (info.cur == info.end && virDomainBlockJobAbort(dom.get(), target.c_str(), VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0) {
      return;
    }
    auto so_far = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (so_far > std::chrono::minutes(30)) {
      throw AmidError(codes::kInternalError, "libvirt: the merge of " + name + " " + target + " took over 30 min");
    }
    std::this_thread::sleep_for(std::clamp(so_far / 20, std::chrono::milliseconds(1), std::chrono::milliseconds(250)));
  }
}

void Hypervisor::set_disk_file(const std::string& name, const std::string& target, const std::string& file) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  CString xml(virDomainGetXMLDesc(dom.get(), VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
  if (!xml) throw_libvirt("cannot read XML of " + name);
  std::string updated = with_disk_file(xml.get(), target, file);
  DomainHandle redefined(virDomainDefineXMLFlags(conn_->handle.get(), updated.c_str(), VIR_DOMAIN_DEFINE_VALIDATE));
  if (!redefined) throw_libvirt("cannot point " + name + " " + target + " at " + file);
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
  // No VIR_DOMAIN_DEFINE_VALIDATE: checking amid's own XML against libvirt's
  // RelaxNG schema cost 8-9 ms of every launch; the unit tests check it instead
  // (RenderDomainXml.EveryGoldenDomainPassesLibvirtsSchema). libvirt's parser
  // still refuses what it cannot use.
  DomainHandle dom(virDomainDefineXMLFlags(conn_->handle.get(), xml.c_str(), 0));
  if (!dom) throw_libvirt("cannot define domain");
  return virDomainGetName(dom.get());
}

void Hypervisor::start_domain(const std::string& name, bool paused) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainCreateWithFlags(dom.get(), paused ? VIR_DOMAIN_START_PAUSED : 0) < 0) {
    throw_libvirt("cannot start " + name);
  }
}

void Hypervisor::resume_domain(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainResume(dom.get()) < 0) throw_libvirt("cannot resume " + name);
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

void Hypervisor::shutdown_domain(const std::string& name, bool through_agent) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  unsigned how = through_agent ? VIR_DOMAIN_SHUTDOWN_GUEST_AGENT : VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN;
  if (virDomainShutdownFlags(dom.get(), how) < 0) throw_libvirt("cannot shut down " + name);
}

void Hypervisor::save_domain(const std::string& name, const std::string& path) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  // Recorded as running: a restore runs it unless told to keep it paused.
  if (virDomainSaveFlags(dom.get(), path.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) {
    throw_libvirt("cannot save " + name + " to " + path);
  }
}

void Hypervisor::restore_domain(const std::string& path, bool paused) {
  if (virDomainRestoreFlags(conn_->handle.get(), path.c_str(), nullptr,
                            paused ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING) < 0) {
    throw_libvirt("cannot restore from " + path);
  }
}

void Hypervisor::set_link(const std::string& name, const std::string& mac, bool up) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  // The device as it is live, with only its link changed: libvirt refuses a
  // change of anything else (model, tap) on a running domain.
  CString live(virDomainGetXMLDesc(dom.get(), 0));
  if (!live) throw_libvirt("cannot read the XML of " + name);
  const std::string xml = interface_with_link(live.get(), mac, up);
  if (virDomainUpdateDeviceFlags(dom.get(), xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    throw_libvirt("cannot set the link of " + name + "'s NIC " + mac + (up ? " up" : " down"));
  }
}

std::string Hypervisor::channel_socket(const std::string& name, const std::string& channel) const {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  CString live(virDomainGetXMLDesc(dom.get(), 0));
  if (!live) throw_libvirt("cannot read the XML of " + name);
  return channel_socket_in(live.get(), channel);
}

std::string Hypervisor::version() const {
  unsigned long v = 0;
  if (virConnectGetVersion(conn_->handle.get(), &v) < 0) throw_libvirt("cannot read the hypervisor's version");
  return std::to_string(v);
}

bool Hypervisor::guest_agent_connected(const std::string& name) const {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom || virDomainIsActive(dom.get()) != 1) return false;
  CString xml(virDomainGetXMLDesc(dom.get(), 0));  // live: the channel's state is there only
  return xml && guest_agent_connected_in(xml.get());
}

int Hypervisor::freeze_filesystems(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  int frozen = virDomainFSFreeze(dom.get(), nullptr, 0, 0);
  if (frozen < 0) throw_libvirt("cannot freeze the file systems of " + name);
  return frozen;
}

void Hypervisor::thaw_filesystems(const std::string& name) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) throw_libvirt("no domain " + name);
  if (virDomainFSThaw(dom.get(), nullptr, 0, 0) < 0) throw_libvirt("cannot thaw the file systems of " + name);
}

void Hypervisor::undefine_domain(const std::string& name, bool keep_nvram) {
  DomainHandle dom = lookup(conn_->handle.get(), name);
  if (!dom) {
    if (last_error_is_no_domain()) return;
    throw_libvirt("cannot look up " + name);
  }
  unsigned nvram = keep_nvram ? VIR_DOMAIN_UNDEFINE_KEEP_NVRAM : VIR_DOMAIN_UNDEFINE_NVRAM;
  if (virDomainUndefineFlags(dom.get(), nvram) < 0) {
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
