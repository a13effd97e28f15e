// amictl's sub-commands, one file each. Each add_* declares its options on
// `app` and sets a callback that runs it against `ctx`.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "cli/output.h"

namespace amid::cli {

using ContextFactory = std::function<Context&()>;

void add_register_image(CLI::App& app, ContextFactory ctx);
void add_describe_images(CLI::App& app, ContextFactory ctx);
void add_deregister_image(CLI::App& app, ContextFactory ctx);
void add_run_instances(CLI::App& app, ContextFactory ctx);
void add_describe_instances(CLI::App& app, ContextFactory ctx);
void add_terminate_instances(CLI::App& app, ContextFactory ctx);
void add_get_console_output(CLI::App& app, ContextFactory ctx);
void add_start_instances(CLI::App& app, ContextFactory ctx);
void add_stop_instances(CLI::App& app, ContextFactory ctx);
void add_reboot_instances(CLI::App& app, ContextFactory ctx);
void add_create_image(CLI::App& app, ContextFactory ctx);
void add_wait(CLI::App& app, ContextFactory ctx);
void add_describe_volumes(CLI::App& app, ContextFactory ctx);
void add_enable_image_deregistration_protection(CLI::App& app, ContextFactory ctx);
void add_disable_image_deregistration_protection(CLI::App& app, ContextFactory ctx);
void add_enable_image_deprecation(CLI::App& app, ContextFactory ctx);
void add_disable_image_deprecation(CLI::App& app, ContextFactory ctx);
void add_copy_image(CLI::App& app, ContextFactory ctx);
void add_warm_image(CLI::App& app, ContextFactory ctx);
void add_create_tags(CLI::App& app, ContextFactory ctx);
void add_delete_tags(CLI::App& app, ContextFactory ctx);
void add_describe_tags(CLI::App& app, ContextFactory ctx);
void add_modify_image_attribute(CLI::App& app, ContextFactory ctx);
void add_describe_image_attribute(CLI::App& app, ContextFactory ctx);
void add_reset_image_attribute(CLI::App& app, ContextFactory ctx);
void add_create_key_pair(CLI::App& app, ContextFactory ctx);
void add_import_key_pair(CLI::App& app, ContextFactory ctx);
void add_describe_key_pairs(CLI::App& app, ContextFactory ctx);
void add_delete_key_pair(CLI::App& app, ContextFactory ctx);
void add_create_security_group(CLI::App& app, ContextFactory ctx);
void add_describe_security_groups(CLI::App& app, ContextFactory ctx);
void add_delete_security_group(CLI::App& app, ContextFactory ctx);
void add_authorize_security_group_ingress(CLI::App& app, ContextFactory ctx);
void add_revoke_security_group_ingress(CLI::App& app, ContextFactory ctx);
void add_modify_instance_attribute(CLI::App& app, ContextFactory ctx);
void add_ssh(CLI::App& app, ContextFactory ctx);
void add_create_access_key(CLI::App& app, ContextFactory ctx);
void add_list_access_keys(CLI::App& app, ContextFactory ctx);
void add_delete_access_key(CLI::App& app, ContextFactory ctx);
// Hidden (not in kCommands, not in help): amictl __complete-ids KIND, the ids
// the shell completion offers (complete_ids.cc).
void add_complete_ids(CLI::App& app, ContextFactory ctx);

// The commands as a table, in the order help lists them.
struct CommandEntry {
  const char* name;
  void (*add)(CLI::App&, ContextFactory);
};
inline constexpr CommandEntry kCommands[] = {
    {"register-image", add_register_image},
    {"describe-images", add_describe_images},
    {"deregister-image", add_deregister_image},
    {"enable-image-deregistration-protection", add_enable_image_deregistration_protection},
    {"disable-image-deregistration-protection", add_disable_image_deregistration_protection},
    {"enable-image-deprecation", add_enable_image_deprecation},
    {"disable-image-deprecation", add_disable_image_deprecation},
    {"modify-image-attribute", add_modify_image_attribute},
    {"describe-image-attribute", add_describe_image_attribute},
    {"reset-image-attribute", add_reset_image_attribute},
    {"create-key-pair", add_create_key_pair},
    {"import-key-pair", add_import_key_pair},
    {"describe-key-pairs", add_describe_key_pairs},
    {"delete-key-pair", add_delete_key_pair},
    {"create-security-group", add_create_security_group},
    {"describe-security-groups", add_describe_security_groups},
    {"delete-security-group", add_delete_security_group},
    {"authorize-security-group-ingress", add_authorize_security_group_ingress},
    {"revoke-security-group-ingress", add_revoke_security_group_ingress},
    {"run-instances", add_run_instances},
    {"describe-instances", add_describe_instances},
    {"modify-instance-attribute", add_modify_instance_attribute},
    {"get-console-output", add_get_console_output},
    {"ssh", add_ssh},
    {"start-instances", add_start_instances},
    {"stop-instances", add_stop_instances},
    {"reboot-instances", add_reboot_instances},
    {"create-image", add_create_image},
    {"copy-image", add_copy_image},
    {"warm-image", add_warm_image},
    {"describe-volumes", add_describe_volumes},
    {"create-tags", add_create_tags},
    {"delete-tags", add_delete_tags},
    {"describe-tags", add_describe_tags},
    {"wait", add_wait},
    {"terminate-instances", add_terminate_instances},
    {"create-access-key", add_create_access_key},
    {"list-access-keys", add_list_access_keys},
    {"delete-access-key", add_delete_access_key},
};

}  // namespace amid::cli
