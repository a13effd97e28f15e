#include "cli/commands/ssh.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "cli/commands/commands.h"

namespace amid::cli {
namespace {

bool is_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The private key of key pair `name`, where people keep the file EC2 gave them.
std::string find_key_file(const std::string& name, const std::string& home) {
  std::vector<std::string> places = {name + ".pem", name};
  if (!home.empty()) places = {home + "/.ssh/" + name + ".pem", home + "/.ssh/" + name, name + ".pem", name};
  for (const auto& p : places) {
    if (is_file(p)) return p;
  }
  return {};
}

SshPlan refused(ExitCode code, std::string why) {
  SshPlan plan;
  plan.error = std::move(why);
  plan.exit_code = code;
  return plan;
}

// True once 127.0.0.1:port answers with an SSH banner (the guest's sshd is up:
// the forward itself accepts before the guest can).
bool answers_ssh(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    pollfd p{fd, POLLIN, 0};
    char buf[4] = {};
    ok = ::poll(&p, 1, 3000) == 1 && ::recv(fd, buf, sizeof buf, MSG_PEEK) == 4 && std::memcmp(buf, "SSH-", 4) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

SshPlan plan_ssh(const protocol::Json& instance, const SshRequest& req) {
  const std::string id = instance.value("InstanceId", req.instance_id);
  const std::string state = instance.contains("State") ? instance["State"].value("Name", "") : "";
  if (state != "running") {
    std::string next = state == "stopped" ? "; start it: amictl start-instances --instance-ids " + id
                       : state == "pending" ? "; wait for it: amictl wait instance-running --instance-ids " + id
                                            : "";
    return refused(kWrongState, "instance " + id + " is " + (state.empty() ? "in no known state" : state) +
                                    ", not running" + next);
  }
  if (!instance.contains("PrivateIpAddress")) {
    return refused(kWrongState, "instance " + id +
                                    " has no network interface: amid gives instances a network only when it runs "
                                    "as root with a local QEMU driver (see its log and docs/NETWORK.md)");
  }
  std::uint16_t port = 0;
  for (const auto& f : instance.value("PortForwards", protocol::Json::array())) {
    if (f.value("GuestPort", 0) == 22) port = static_cast<std::uint16_t>(f.value("HostPort", 0));
  }
  if (port == 0) {
    std::string group = "GROUP-ID";
    if (instance.contains("SecurityGroups") && !instance["SecurityGroups"].empty()) {
      group = instance["SecurityGroups"][0].value("GroupId", group);
    }
    return refused(kWrongState, "no security group rule of instance " + id +
                                    " admits tcp port 22 from 127.0.0.1, so amid forwards no port to its ssh; "
                                    "allow it: amictl authorize-security-group-ingress --group-id " + group +
                                    " --protocol tcp --port 22 --cidr 127.0.0.1/32");
  }
  std::string key = req.key;
  const std::string key_name = instance.value("KeyName", "");
  if (!key.empty() && !is_file(key)) {
    return refused(kBadArguments, "--key: " + key + " is not a file");
  }
  if (key.empty() && !key_name.empty()) {
    key = find_key_file(key_name, req.home);
    if (key.empty()) {
      return refused(kBadArguments, "instance " + id + " was launched with key pair '" + key_name +
                                        "', and its private key is neither ~/.ssh/" + key_name + ".pem, ~/.ssh/" +
                                        key_name + " nor ./" + key_name +
                                        ".pem; pass --key FILE (the file create-key-pair --save-to wrote)");
    }
  }
  SshPlan plan;
  plan.port = port;
  plan.argv = {"ssh", "-p", std::to_string(port),
               // Guests come and go on reused ports: a host key is remembered per instance.
               "-o", "HostKeyAlias=" + id, "-o", "StrictHostKeyChecking=accept-new"};
  if (!req.known_hosts.empty()) {
    plan.argv.insert(plan.argv.end(), {"-o", "UserKnownHostsFile=" + req.known_hosts});
  }
  if (!key.empty()) plan.argv.insert(plan.argv.end(), {"-i", key, "-o", "IdentitiesOnly=yes"});
  plan.argv.push_back(req.user + "@127.0.0.1");
  if (!req.command.empty()) {
    plan.argv.push_back("--");
    plan.argv.insert(plan.argv.end(), req.command.begin(), req.command.end());
  }
  return plan;
}

void add_ssh(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "ssh", "Log in to an instance with OpenSSH, through the port amid forwards to its port 22 (amid's own)");
  struct Opts {
    SshRequest req;
    int timeout = 120;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--instance-id", o->req.instance_id, "i-...")->required();
  cmd->add_option("--key", o->req.key,
                  "the private key file (default: ~/.ssh/KEYNAME.pem, ~/.ssh/KEYNAME or ./KEYNAME.pem for the "
                  "instance's key pair)");
  cmd->add_option("--user", o->req.user, "the user to log in as")->default_str("admin");
  cmd->add_option("--timeout", o->timeout, "seconds to wait for the guest's sshd to answer")->default_str("120");
  cmd->add_option("command", o->req.command, "a command to run instead of a shell (after --)");
  cmd->footer(
      "Example: amictl ssh --instance-id i-0123456789abcdef0 -- uname -a\n"
      "Host keys are remembered per instance in ~/.local/state/amid/known_hosts.");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "DescribeInstances", {{"InstanceIds", {o->req.instance_id}}}, body)) return;
    protocol::Json instance;
    for (auto& r : body["Reservations"])
      for (auto& i : r["Instances"]) instance = i;
    const char* home = std::getenv("HOME");
    o->req.home = home ? home : "";
    std::string state_dir;
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
      state_dir = std::string(xdg) + "/amid";
    } else if (!o->req.home.empty()) {
      state_dir = o->req.home + "/.local/state/amid";
    }
    if (!state_dir.empty()) {
      std::string mk = state_dir.substr(0, state_dir.rfind('/'));
      ::mkdir(mk.c_str(), 0700);
      ::mkdir(state_dir.c_str(), 0700);
      o->req.known_hosts = state_dir + "/known_hosts";
    }
    SshPlan plan = plan_ssh(instance, o->req);
    if (!plan.error.empty()) {
      ctx.err << "amictl: " << plan.error << "\n";
      ctx.exit_code = plan.exit_code;
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o->timeout);
    for (bool told = false; !answers_ssh(plan.port);) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ctx.err << "amictl: " << o->req.instance_id << " did not answer on its port 22 (127.0.0.1:" << plan.port
                << ") within " << o->timeout << " s; is sshd running in it? (amictl get-console-output --instance-id "
                << o->req.instance_id << ")\n";
        ctx.exit_code = kTimedOut;
        return;
      }
      if (!told) {
        ctx.err << "amictl: waiting for " << o->req.instance_id << "'s sshd (127.0.0.1:" << plan.port << ")...\n";
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    ctx.out.flush();
    ctx.err.flush();
    std::vector<char*> args;
    for (auto& a : plan.argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ctx.err << "amictl: cannot run ssh: " << std::strerror(errno)
            << (errno == ENOENT ? " (install OpenSSH's client: apt install openssh-client)" : "") << "\n";
    ctx.exit_code = kFailed;
  });
}

}  // namespace amid::cli
