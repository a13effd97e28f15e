#include "cli/arguments.h"
#include "cli/commands/commands.h"
#include "common/base64.h"

namespace amid::cli {

void add_import_key_pair(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("import-key-pair", "Register the public half of an SSH key pair you made");
  struct Opts {
    std::string name, material;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--key-name", o->name, "a name unique among your key pairs in this region (1-255 ASCII)")
      ->required();
  cmd->add_option("--public-key-material", o->material,
                  "file://PATH of an OpenSSH public key (~/.ssh/id_ed25519.pub), or its text; rsa or ed25519")
      ->required();
  cmd->callback([o, make_ctx] {
    // fileb:// as the AWS CLI spells a binary file; the text is the same here.
    std::string value = o->material.rfind("fileb://", 0) == 0 ? "file://" + o->material.substr(8) : o->material;
    protocol::Json params = {{"KeyName", o->name},
                             {"PublicKeyMaterial", base64_encode(read_blob_argument(value, "--public-key-material"))}};
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "ImportKeyPair", params, body)) return;
    print_rows(ctx, body, protocol::Json::array({body}),
               {{"KEY NAME", [](auto& j) { return field(j, "/KeyName"); }},
                {"KEY PAIR ID", [](auto& j) { return field(j, "/KeyPairId"); }},
                {"FINGERPRINT", [](auto& j) { return field(j, "/KeyFingerprint"); }}});
  });
}

}  // namespace amid::cli
