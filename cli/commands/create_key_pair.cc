#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "cli/commands/commands.h"

namespace amid::cli {
namespace {

// The file --save-to names, made 0600 before amid makes the key (so that a path
// that cannot be written fails before a key exists that nobody can use).
class PrivateKeyFile {
 public:
  explicit PrivateKeyFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw std::invalid_argument("--save-to: cannot create " + path + ": " + std::strerror(errno) +
                                  (errno == EEXIST ? " (amid never overwrites a key file; remove it or pick another path)" : ""));
    }
  }
  ~PrivateKeyFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());  // not written: leave nothing behind
    }
  }
  void write(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("--save-to: cannot write " + path_ + ": " + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw std::runtime_error("--save-to: cannot write " + path_ + ": " + std::strerror(errno));
    }
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

void add_create_key_pair(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "create-key-pair", "Make an SSH key pair; amid keeps the public key, you get the private key once");
  struct Opts {
    std::string name, type = "rsa", format = "pem", save_to;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--key-name", o->name, "a name unique among your key pairs in this region (1-255 ASCII)")
      ->required();
  cmd->add_option("--key-type", o->type, "rsa (2048 bits) or ed25519")->default_str("rsa");
  cmd->add_option("--key-format", o->format, "pem (OpenSSH's ssh reads it) or ppk (PuTTY)")->default_str("pem");
  cmd->add_option("--save-to", o->save_to,
                  "write the private key to this new file, mode 0600, instead of printing it");
  cmd->callback([o, make_ctx, cmd] {
    protocol::Json params = {{"KeyName", o->name}};
    if (cmd->count("--key-type")) params["KeyType"] = o->type;
    if (cmd->count("--key-format")) params["KeyFormat"] = o->format;
    std::optional<PrivateKeyFile> file;
    if (!o->save_to.empty()) file.emplace(o->save_to);
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "CreateKeyPair", params, body)) return;
    if (file) {
      file->write(body.value("KeyMaterial", ""));
      body.erase("KeyMaterial");
      body["SavedTo"] = o->save_to;  // amictl's, not EC2's: where the key went
    }
    if (ctx.format == Format::kJson) {
      ctx.out << body.dump(4) << "\n";
    } else if (file) {
      print_rows(ctx, body, protocol::Json::array({body}),
                 {{"KEY NAME", [](auto& j) { return field(j, "/KeyName"); }},
                  {"KEY PAIR ID", [](auto& j) { return field(j, "/KeyPairId"); }},
                  {"FINGERPRINT", [](auto& j) { return field(j, "/KeyFingerprint"); }},
                  {"PRIVATE KEY", [](auto& j) { return field(j, "/SavedTo"); }}});
    } else {
      // As `aws ec2 create-key-pair --output text`: the key itself, to redirect.
      ctx.out << body.value("KeyMaterial", "");
      ctx.err << "create-key-pair: " << body.value("KeyName", "") << " (" << body.value("KeyPairId", "")
              << "): amid keeps no copy of this private key; save it now (or use --save-to PATH)\n";
    }
  });
}

}  // namespace amid::cli
