#include <filesystem>

#include "cli/arguments.h"
#include "cli/commands/commands.h"

namespace amid::cli {

void add_register_image(CLI::App& app, ContextFactory make_ctx) {
  auto* cmd = app.add_subcommand("register-image", "Register a qcow2 or raw disk as a new image (AMI)");
  struct Opts {
    std::string name, disk, description, arch = "x86_64", virt = "hvm", root = "ebs";
    std::string kernel, ramdisk, cmdline, bdm;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--name", o->name, "image name: 3-128 letters, digits, spaces, ( ) [ ] . / - ' @ _")->required();
  cmd->add_option("--disk", o->disk, "path of the disk; amid inspects it and keeps its own copy")->required();
  cmd->add_option("--description", o->description, "up to 255 characters");
  cmd->add_option("--architecture", o->arch, "x86_64 | arm64")->default_str("x86_64");
  cmd->add_option("--virtualization-type", o->virt, "hvm | paravirtual")->default_str("hvm");
  cmd->add_option("--root-device-type", o->root, "ebs | instance-store")->default_str("ebs");
  cmd->add_option("--kernel", o->kernel, "paravirtual: kernel booted directly (like an AKI)");
  cmd->add_option("--ramdisk", o->ramdisk, "paravirtual: its initial ramdisk (like an ARI)");
  cmd->add_option("--kernel-command-line", o->cmdline, "paravirtual: the kernel's command line");
  cmd->add_option("--block-device-mappings", o->bdm,
                  "file://bdm.toml (see configs/bdm.example.toml) or EC2's JSON");
  cmd->callback([o, make_ctx] {
    Context& ctx = make_ctx();
    std::error_code ec;
    std::string disk = std::filesystem::absolute(o->disk, ec).string();
    protocol::Json params = {{"Name", o->name}, {"DiskPath", ec ? o->disk : disk},
                             {"Architecture", o->arch}, {"VirtualizationType", o->virt},
                             {"RootDeviceType", o->root}};
    if (!o->description.empty()) params["Description"] = o->description;
    auto absolute = [](const std::string& p) {
      std::error_code err;
      auto a = std::filesystem::absolute(p, err);
      return err ? p : a.string();
    };
    if (!o->kernel.empty()) params["KernelPath"] = absolute(o->kernel);
    if (!o->ramdisk.empty()) params["RamdiskPath"] = absolute(o->ramdisk);
    if (!o->cmdline.empty()) params["KernelCommandLine"] = o->cmdline;
    if (!o->bdm.empty()) params["BlockDeviceMappings"] = read_block_device_mappings(o->bdm);
    protocol::Json body;
    if (!call(ctx, "RegisterImage", params, body)) return;
    if (ctx.format == Format::kJson) ctx.out << body.dump(4) << "\n";
    else ctx.out << body.value("ImageId", "") << "\n";
  });
}

}  // namespace amid::cli
