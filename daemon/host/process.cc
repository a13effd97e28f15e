#include "daemon/host/process.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace amid {

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::function<void(const std::string&)>& on_line) {
  ProcessResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0) return r;
  if (pipe2(err_pipe, O_CLOEXEC) < 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;  // amid blocks SIGCHLD for its reaper thread; its tools start unblocked
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    // Nothing else of amid's goes with the tool: Asio opens its sockets without
    // close-on-exec, and a qemu-img that outlived a killed amid kept its
    // listening socket open, so the next amid found the socket "in use"
    // (the chaos test, killing amid mid-capture).
    close_range(3, ~0U, 0);
    // What amid's tools (qemu-img) create is not readable by other users; libvirt
    // gives QEMU's own user access to the disks it hands it.
    umask(027);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    r.err = "fork failed";
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[8192];
  std::string partial;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, n);
        if (i == 0 && on_line) {
          // Hand over complete lines; progress meters end theirs with '\r'.
          partial.append(buf, n);
          size_t cut;
          while ((cut = partial.find_first_of("\r\n")) != std::string::npos) {
            if (cut > 0) on_line(partial.substr(0, cut));
            partial.erase(0, cut + 1);
          }
        }
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace amid
