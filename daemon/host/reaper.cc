#include "daemon/host/reaper.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/host/log.h"

namespace amid {
namespace {

std::vector<pid_t> pids_in(const std::string& dir) {
  std::vector<pid_t> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      long v = std::strtol(e->d_name, &end, 10);
      if (end != e->d_name && *end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
    }
    closedir(d);
  }
  return out;
}

// Children of this process: each thread's /proc children list (a re-parented
// orphan may hang under any thread), or the whole of /proc without it.
std::vector<pid_t> children_of(pid_t self) {
  std::vector<pid_t> out;
  bool listed = false;
  for (pid_t tid : pids_in("/proc/" + std::to_string(self) + "/task")) {
    std::ifstream in("/proc/" + std::to_string(self) + "/task/" + std::to_string(tid) + "/children");
    if (!in) continue;
    listed = true;
    pid_t p;
    while (in >> p) out.push_back(p);
  }
  return listed ? out : pids_in("/proc");
}

struct Stat {
  char state = '?';
  pid_t ppid = 0, session = 0;
};

bool read_stat(pid_t pid, Stat& s) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  pid_t pgrp;
  return static_cast<bool>(rest >> s.state >> s.ppid >> pgrp >> s.session);
}

}  // namespace

int reap_orphans(pid_t self, pid_t own_session, Orphans& seen) {
  int reaped = 0;
  const auto now = std::chrono::steady_clock::now();
  std::map<pid_t, std::chrono::steady_clock::time_point> leaders;
  for (pid_t pid : children_of(self)) {
    Stat s;
    if (!read_stat(pid, s) || s.state != 'Z' || s.ppid != self || s.session == own_session) continue;
    if (s.session == pid) {  // a session leader: libvirt's middle process, unless it lingers
      auto first = seen.zombie_leaders.find(pid);
      auto since = first == seen.zombie_leaders.end() ? now : first->second;
      if (now - since < seen.leader_grace) {
        leaders[pid] = since;
        continue;
      }
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) ++reaped;
  }
  seen.zombie_leaders = std::move(leaders);
  return reaped;
}

void Reaper::prepare() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) log_warn("cannot become a child subreaper; guests' QEMU is reaped by init");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Reaper::Reaper() : thread_([this] { loop(); }) {}

Reaper::~Reaper() {
  stop_ = true;
  pthread_kill(thread_.native_handle(), SIGCHLD);  // blocked there: ends its sigtimedwait now
  thread_.join();
}

void Reaper::loop() {
  const pid_t self = getpid();
  const pid_t session = getsid(0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  // Each SIGCHLD (coalesced or not) triggers one scan; a scan every second
  // besides covers an orphan whose signal was taken elsewhere.
  const timespec second{1, 0};
  Orphans seen;
  while (!stop_) {
    sigtimedwait(&set, nullptr, &second);
    reap_orphans(self, session, seen);
  }
}

}  // namespace amid
