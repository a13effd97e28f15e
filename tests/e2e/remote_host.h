// A second libvirt host, simulated on this machine, for tests of regions that
// live on another host (qemu+ssh://host2/system in real life). Its libvirtd
// answers only over libvirt's remote protocol on TCP (127.0.0.1, auth none), and
// it runs in private mount and PID namespaces where the store folder exists on a
// tmpfs no other process can see. Whatever reaches that folder's files went
// through libvirt: storage pools, volumes and streams.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "e2e_harness.h"

namespace amid::e2e {

class RemoteHost {
 public:
  // A fresh absolute path for the hidden store: /srv/amid-remote-<random>.
  static std::string fresh_hidden_dir();

  // Starts the host and waits (up to 60 s) until its libvirtd answers; throws
  // with the log's tail if it does not, or naming the program that is missing.
  // work_dir (created if needed, left in place) holds the config, the log, the
  // host's /etc/libvirt and /var/log/libvirt. hidden_dir must not exist here: its
  // parent (e.g. /srv) is covered by a fresh tmpfs inside the namespace, so that
  // parent must not hold work_dir or anything the remote host needs.
  RemoteHost(const std::string& work_dir, const std::string& hidden_dir);
  // Destroys the domains and removes the pools left on the host, stops libvirtd,
  // and makes sure no process of its namespace (virtlogd, QEMU) outlives it.
  ~RemoteHost();
  RemoteHost(const RemoteHost&) = delete;
  RemoteHost& operator=(const RemoteHost&) = delete;

  // qemu+tcp://127.0.0.1:PORT/system
  const std::string& uri() const { return uri_; }
  const std::string& hidden_dir() const { return hidden_dir_; }
  std::string log() const { return work_dir_ + "/libvirtd.log"; }
  // Runs argv on the remote host's filesystem (its mount namespace), as a test
  // looks at files there: sha256sum, stat, ls, cat.
  Result exec(const std::vector<std::string>& argv) const;
  // virsh -c uri() args...
  Result virsh(const std::vector<std::string>& args) const;
  // Its PID namespace ("pid:[N]"): every process of the host, QEMU included, is in it.
  const std::string& pid_namespace() const { return pid_ns_; }
  // Host pids of the processes in a PID namespace (empty once a RemoteHost is gone).
  static std::vector<pid_t> processes_in(const std::string& pid_namespace);

 private:
  void wait_until_answering();
  void stop();

  std::string work_dir_, hidden_dir_, uri_, pid_ns_;
  pid_t unshare_pid_ = -1;  // our child: unshare, parent of the namespace's init
  pid_t init_pid_ = -1;     // the namespace's PID 1 (a shell), as this namespace numbers it
};

}  // namespace amid::e2e
