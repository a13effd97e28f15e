// How amictl reads its options' values. Blobs as the AWS CLI reads them (a
// value, or file://PATH), block device mappings (a TOML file or EC2's JSON), and
// structured options in the AWS CLI's two spellings, shorthand and JSON:
//   --filters Name=state,Values=available,pending   (or [{"Name":..,"Values":[..]}])
//   --tags Key=Name,Value=web                         (or [{"Key":..,"Value":..}])
// Each option may be given several values (and several times); a value that starts
// with "[" or "{" (or is file://PATH) is JSON. Pure; errors throw
// std::invalid_argument naming the option.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/protocol.h"

namespace amid::cli {

// EC2's Filters from --filters values. Shorthand: Name=NAME,Values=V1,V2 (a value
// cannot hold a comma there; use JSON for that).
protocol::Json parse_filters_argument(const std::vector<std::string>& values);

// EC2's Tags list from --tags values. Shorthand: Key=K,Value=V (the value is all
// that follows ",Value=", commas included); `value_required` = false lets Key=K
// stand alone (delete-tags: whatever the value). Checked with EC2's tag rules.
protocol::Json parse_tags_argument(const std::vector<std::string>& values, bool value_required);

// --tag-specifications: EC2's TagSpecifications as JSON (or file://PATH), checked
// here with EC2's tag rules for the resource types the command tags.
protocol::Json parse_tag_specifications_argument(const std::string& value, const std::set<std::string>& resource_types);

// EC2's LaunchPermission from --launch-permission: the AWS CLI's shorthand
// Add=[{UserId=123456789012},{Group=all}],Remove=[{UserId=...}] or JSON
// {"Add":[{"UserId":"..."}],"Remove":[...]} (or file://PATH). The daemon checks
// the values; this only reads the shape.
protocol::Json parse_launch_permission_argument(const std::string& value);

// The rules of authorize- and revoke-security-group-ingress as EC2's IpPermissions:
// --ip-permissions JSON (or file://PATH), or the AWS CLI's shorthand
// --protocol tcp --port 22|8000-8100 --cidr 0.0.0.0/0 (--port -1: every port;
// for icmp TYPE-CODE, as the AWS CLI reads it). `json` "" means the shorthand. The daemon checks the
// values; this only reads the shape.
protocol::Json ip_permissions_argument(const std::string& json, const std::string& protocol,
                                       const std::string& port, const std::string& cidr);
// Lets a list option take several values (up to 1000 a use) while a value that is a
// JSON list reaches us whole: by default CLI11 splits "[a,b]" at its commas.
CLI::Option* keep_json_lists(CLI::Option* option);

// --filters, --max-results and --next-token of a Describe command.
struct ListingOptions {
  std::vector<std::string> filters;
  std::int64_t max_results = 0;
  CLI::Option* max_results_option = nullptr;  // whether --max-results was given
  std::string next_token;
  // Declares the options on `cmd`; `filter_names` lists them for --help.
  void add_to(CLI::App* cmd, const std::string& filter_names, const std::string& max_range);
  // Adds Filters, MaxResults and NextToken to the request's parameters.
  void apply(protocol::Json& params) const;
};

// Reads "file://PATH" (or a literal value) as aws-cli does for blob options.
std::string read_blob_argument(const std::string& value, const std::string& option);

// --block-device-mappings: file://PATH (TOML, errors name PATH:LINE:COLUMN) or
// EC2's JSON inline; returns EC2's JSON for the wire. Throws std::invalid_argument.
protocol::Json read_block_device_mappings(const std::string& value);

}  // namespace amid::cli
