#include "daemon/host/libvirt_daemon.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace amid {
namespace {

struct LocalUri {
  std::string driver;  // qemu
  std::string path;    // /system or /session
  std::string socket;  // the socket= parameter ("" when absent)
};

// Percent-decoding of a query value (libvirt's URIs escape '/' rarely, but may).
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A driver+unix URI with no host, or nullopt.
std::optional<LocalUri> parse_local(const std::string& uri) {
  auto sep = uri.find("://");
  if (sep == std::string::npos) return std::nullopt;
  std::string scheme = uri.substr(0, sep);
  auto plus = scheme.find('+');
  if (plus == std::string::npos || scheme.substr(plus + 1) != "unix") return std::nullopt;
  std::string rest = uri.substr(sep + 3);
  if (rest.empty() || rest[0] != '/') return std::nullopt;  // a host is named
  LocalUri out;
  out.driver = scheme.substr(0, plus);
  auto q = rest.find('?');
  out.path = rest.substr(0, q);
  if (q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    std::size_t at = 0;
    while (at <= query.size()) {
      auto amp = query.find('&', at);
      std::string param = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
      if (param.rfind("socket=", 0) == 0) out.socket = unescape(param.substr(7));
      if (amp == std::string::npos) break;
      at = amp + 1;
    }
  }
  return out;
}

std::string daemon_names(const std::vector<RunningDaemon>& daemons) {
  std::string out;
  for (std::size_t i = 0; i < daemons.size(); ++i) {
    if (i) out += i + 1 == daemons.size() ? " and " : ", ";
    out += daemons[i].name + " (pid " + std::to_string(daemons[i].pid) + ")";
  }
  return out;
}

}  // namespace

HostView this_host() {
  HostView h;
  h.exists = [](const std::string& path) { return ::access(path.c_str(), F_OK) == 0; };
  h.daemons = [] {
    std::vector<RunningDaemon> out;
    DIR* proc = ::opendir("/proc");
    if (!proc) return out;
    while (dirent* e = ::readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end) continue;
      std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
      std::string name;
      if (std::getline(comm, name) && (name == "libvirtd" || name == "virtqemud")) {
        out.push_back({name, static_cast<pid_t>(pid)});
      }
    }
    ::closedir(proc);
    return out;
  };
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir && *dir) h.runtime_dir = dir;
  return h;
}

std::optional<std::string> daemon_socket(const std::string& uri, const HostView& host) {
  auto local = parse_local(uri);
  if (!local) return std::nullopt;
  if (!local->socket.empty()) return local->socket;
  std::string dir = local->path == "/session" ? host.runtime_dir + "/libvirt" : "/run/libvirt";
  std::string modular = dir + "/virt" + local->driver + "d-sock";
  return host.exists(modular) ? modular : dir + "/libvirt-sock";
}

std::string with_daemon_socket(const std::string& uri, const HostView& host) {
  auto local = parse_local(uri);
  if (!local || !local->socket.empty()) return uri;
  std::string socket = *daemon_socket(uri, host);
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "socket=" + socket;
}

std::string unreachable_daemon_message(const std::string& uri, const std::string& socket,
                                       const std::string& libvirt_message, const HostView& host) {
  const std::vector<RunningDaemon> running = host.daemons();
  std::string out = "cannot reach the libvirt daemon of " + uri + ": ";
  if (!host.exists(socket)) {
    out += "its socket " + socket + " does not exist";
    if (running.empty()) {
      out += ", and neither libvirtd nor virtqemud is running. Start one (systemctl start libvirtd, "
             "or virtqemud.socket for the modular daemons), or give the region the socket of a daemon "
             "that runs (" + uri.substr(0, uri.find('?')) + "?socket=PATH)";
    } else {
      out += ", although " + daemon_names(running) + (running.size() > 1 ? " are" : " is") +
             " running: it listens elsewhere (unix_sock_dir in its .conf); give the region that socket (" +
             uri.substr(0, uri.find('?')) + "?socket=PATH)";
    }
  } else if (running.empty()) {
    out += "its socket " + socket + " exists, but neither libvirtd nor virtqemud is running (a socket "
           "left behind, or one that systemd starts the daemon on). Start the daemon (systemctl start libvirtd)";
  } else {
    out += "its socket " + socket + " exists and " + daemon_names(running) + (running.size() > 1 ? " are" : " is") +
           " running, but the connection failed: check that amid's user may use that socket (the daemon's "
           "unix_sock_group and auth_unix_rw) and the daemon's log";
  }
  if (!libvirt_message.empty()) out += " (libvirt: " + libvirt_message + ")";
  return out;
}

}  // namespace amid
