// A libvirt daemon on this machine, reached through its Unix socket
// (qemu+unix:///system): which socket a URI means, and, when amid cannot reach
// it, a message that says what is wrong and what to do, as virsh does.
//
// Why amid names the socket itself: once the embedded QEMU driver is loaded in
// amid's process (one region is "embedded"), libvirt's remote driver declines
// a local URI that names no socket, and virConnectOpen fails with "no
// connection driver available for qemu+unix:///system". With `socket=` in the
// URI it connects, as it would in a process of its own.
//
// Pure functions over a HostView, so that tests can describe any machine.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace amid {

struct RunningDaemon {
  std::string name;  // libvirtd, virtqemud
  pid_t pid = 0;
};

// What the functions below look at on this machine.
struct HostView {
  std::function<bool(const std::string&)> exists;        // a path exists
  std::function<std::vector<RunningDaemon>()> daemons;   // libvirt daemons running
  std::string runtime_dir;                               // $XDG_RUNTIME_DIR, for qemu+unix:///session
};
HostView this_host();

// The socket a local daemon URI (driver+unix with no host: qemu+unix:///system,
// qemu+unix:///session?socket=...) connects to: its `socket` parameter, else the
// one libvirt's own client picks (the modular virtqemud's when that socket
// exists, else libvirtd's), under /run/libvirt or, for session, the runtime dir.
// nullopt for any other URI (embedded, test:///, qemu:///system, another host).
std::optional<std::string> daemon_socket(const std::string& uri, const HostView& host);

// `uri` with its daemon's socket named (`socket=` added when it has none); any
// other URI unchanged.
std::string with_daemon_socket(const std::string& uri, const HostView& host);

// Why a local daemon URI could not be opened and what to do, naming the socket
// and whether libvirtd or virtqemud runs; ends with libvirt's own message.
std::string unreachable_daemon_message(const std::string& uri, const std::string& socket,
                                       const std::string& libvirt_message, const HostView& host);

}  // namespace amid
