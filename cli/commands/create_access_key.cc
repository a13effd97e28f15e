#include <optional>

#include "cli/commands/commands.h"
#include "cli/private_file.h"

namespace amid::cli {

void add_create_access_key(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand(
      "create-access-key",
      "Make an access key for amid's EC2 endpoint (the AWS CLI and SDKs sign requests with it, as you)");
  cmd->footer(
      "\nThe secret is shown once. Give both to `aws configure` (or save them with --save-to), then:\n"
      "  aws --endpoint-url http://127.0.0.1:8773 --region REGION ec2 describe-images\n"
      "(the address is amid.toml's [ec2_api] listen). At most 2 keys per account, as IAM allows.");
  struct Opts {
    std::string save_to, profile = "default";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--save-to", o->save_to,
                  "write the key to this new file, mode 0600, as an AWS credentials file (AWS_SHARED_CREDENTIALS_FILE "
                  "reads it), instead of printing the secret");
  cmd->add_option("--profile", o->profile, "the credentials file's section for the key (with --save-to)")
      ->default_str("default");
  cmd->callback([o, make_ctx, cmd] {
    if (cmd->count("--profile") && o->save_to.empty()) throw std::invalid_argument("--profile: only with --save-to");
    if (o->profile.empty() || o->profile.find_first_of("[]\n\r") != std::string::npos) {
      throw std::invalid_argument("--profile: a name without brackets or line breaks");
    }
    std::optional<PrivateFile> file;
    if (!o->save_to.empty()) file.emplace("--save-to", o->save_to);
    Context& ctx = make_ctx();
    protocol::Json body;
    if (!call(ctx, "CreateAccessKey", protocol::Json::object(), body)) return;
    protocol::Json& key = body["AccessKey"];
    if (file) {
      file->write("[" + o->profile + "]\naws_access_key_id = " + key.value("AccessKeyId", "") +
                  "\naws_secret_access_key = " + key.value("SecretAccessKey", "") + "\n");
      key.erase("SecretAccessKey");
      key["SavedTo"] = o->save_to;  // amictl's, not IAM's: where the secret went
    }
    if (ctx.format == Format::kJson) {
      ctx.out << body.dump(4) << "\n";
      return;
    }
    print_rows(ctx, body, protocol::Json::array({key}),
               {{"USER", [](auto& j) { return field(j, "/UserName"); }},
                {"ACCESS KEY ID", [](auto& j) { return field(j, "/AccessKeyId"); }},
                {file ? "SAVED TO" : "SECRET ACCESS KEY",
                 [saved = bool(file)](auto& j) { return field(j, saved ? "/SavedTo" : "/SecretAccessKey"); }}});
    if (!file) {
      ctx.err << "create-access-key: amid shows this secret only now; save it (aws configure, or --save-to PATH)\n";
    }
  });
}

}  // namespace amid::cli
