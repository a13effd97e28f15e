#include <optional>

#include "cli/commands/commands.h"
#include "cli/private_file.h"

namespace amid::cli {

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
    std::optional<PrivateFile> file;
    if (!o->save_to.empty()) file.emplace("--save-to", o->save_to);
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
