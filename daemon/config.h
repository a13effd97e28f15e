// amid's configuration: defaults, then the TOML file (--config), then flags.
// configs/amid.toml documents every key. Loading never throws: a bad file is a
// Problem whose message names file:line:column and the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace amid {

// One region: a name (EC2's us-east-1), the folder holding its templates,
// instance disks and volumes, and the libvirt URI its guests run on.
struct RegionConfig {
  std::string name;
  std::string store;
  std::string libvirt_uri = "embedded";  // "embedded" = qemu:///embed?root=<store>/libvirt
  // The URI amid passes to virConnectOpen.
  std::string effective_libvirt_uri() const;
  // True when the URI names a host (qemu+ssh://host2/system, qemu+tcp://...):
  // the store folder is on that host, reached through libvirt's storage API.
  bool store_on_libvirt_host() const;
};

struct Config {
  std::string socket_path;   // where amictl connects
  std::string state_dir;     // catalog, store, embedded libvirt root
  std::string region = "local-1";
  std::string libvirt_uri = "embedded";  // "embedded" = qemu:///embed?root=<state_dir>/libvirt
  std::string accel = "auto";            // auto | kvm | tcg
  std::string socket_group;              // group whose members may connect ("" = only root and amid's user)
  std::string admin_group = "amid-admin";  // members see and manage everything, as root does
  std::uint64_t max_request_bytes = 1024 * 1024;
  std::uint64_t max_image_gib = 64;      // cap on a registered disk's virtual size
  std::uint64_t capacity_memory_mib = 0; // memory all live instances may take; 0 = the host's RAM
  int workers = 8;                       // threads for blocking work (libvirt, qemu-img); reads have 2 more
  // Connections (api/connection_limits.h): in all, per user, kept for admins;
  // how long one may sit without a request, or trickle one in.
  // The two shares default to parts of max_connections (0 here until
  // validate_config fills them in): a quarter per user, an eighth for admins.
  int max_connections = 64;
  int max_connections_per_user = 0;    // 16 of 64
  int admin_reserved_connections = -1; // 8 of 64
  int idle_timeout_seconds = 60;
  int request_timeout_seconds = 10;
  std::string instance_types_file;       // "" = the built-in table (configs/instance-types.toml)
  std::string capture = "thin";          // [images] capture: thin | standalone (create-image's templates)
  // [ec2_api]: EC2's Query API over HTTP (docs/EC2_API.md). "" = off;
  // an address outside 127.0.0.0/8 only with allow_remote.
  std::string ec2_api_listen = "127.0.0.1:8773";
  bool ec2_api_allow_remote = false;
  // [regions.NAME]; empty = one region, `region`, on state_dir and libvirt_uri.
  // `region` is the default region then and must be one of them.
  std::vector<RegionConfig> regions;

  // The regions amid serves, the default one first.
  std::vector<RegionConfig> effective_regions() const;

  // The URI amid passes to virConnectOpen.
  std::string effective_libvirt_uri() const;
};

// Defaults that depend on who runs amid: /run/amid and /var/lib/amid for root,
// $XDG_RUNTIME_DIR/amid and $XDG_STATE_HOME/amid (or ~/.local/state/amid) otherwise.
Config default_config();
std::string default_socket_path();

// Reads a TOML file over `base`. Unknown keys, wrong types and out-of-range
// values are refused with "file:line:column: key: what is wrong".
Result<Config> load_config_file(const std::string& path, Config base);
Result<Config> load_config_text(const std::string& text, const std::string& source_name,
                                Config base);

// An IPv4 "ADDRESS:PORT" (port 0: any free one), or nullopt.
struct ListenAddress {
  std::string address;
  unsigned short port = 0;
};
std::optional<ListenAddress> parse_listen_address(const std::string& text);

// Checks cross-field rules (accel value, absolute paths, socket path length).
Result<Config> validate_config(Config config);

}  // namespace amid
