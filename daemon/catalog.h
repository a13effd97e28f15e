// The catalog: amid's metadata in SQLite (WAL), one transaction per change.
//
// Thread-safe: one connection guarded by a mutex (the catalog is small and its
// statements are fast; libvirt and qemu-img work happens outside it).
// A catalog that is not a SQLite database, or whose schema is foreign, makes the
// constructor throw: amid never reads a broken catalog as empty.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/tags.h"

struct sqlite3;

namespace amid {

// EC2 tags of one resource, key -> value (at most 50, checked by the caller).
using Tags = TagMap;

// One of an image's EC2 launch permissions: kind "user" with a 12-digit account
// id, or kind "group" with "all" (the image is public).
struct LaunchPermission {
  std::string kind, value;
  bool operator==(const LaunchPermission&) const = default;
  bool operator<(const LaunchPermission& o) const { return kind != o.kind ? kind < o.kind : value < o.value; }
};
using LaunchPermissions = std::vector<LaunchPermission>;

struct ImageRecord {
  std::string id, name, description, owner, region;
  std::string architecture = "x86_64";
  std::string virtualization_type = "hvm";
  std::string root_device_type = "ebs";
  std::string state = "pending";  // pending | available | failed | deregistered
  std::string state_reason;
  std::string creation_date;      // ISO 8601, UTC
  std::uint64_t size_bytes = 0;   // virtual size of the root disk
  std::string disk_file;          // the template's qcow2, absolute
  std::string source;             // where it came from ("file:/path", "instance:i-...")
  // Paravirtual images: the kernel, ramdisk and command line kept with the template.
  std::string kernel_id, kernel_file, ramdisk_id, ramdisk_file, kernel_cmdline;
  std::string block_device_mappings;  // the image's extra mappings, as TOML (block_device_mapping.h)
  std::string source_instance;        // create-image: the instance captured
  std::string consistency;            // create-image: "application" (clean) or "crash"
  std::uint64_t progress_done = 0, progress_total = 0;  // bytes, while pending
  bool restart_source = false;        // create-image stopped the instance and owes it a start
  // Deregistration protection in EC2's words: disabled | enabled-without-cooldown |
  // enabled-with-cooldown. protected_until: set when protection with a cooldown was
  // disabled; deregistration stays refused until then (ISO 8601 UTC, "" = none).
  std::string deregistration_protection = "disabled";
  std::string protected_until;
  std::string deprecation_time;       // EC2's DeprecationTime (ISO 8601 UTC, "" = none)
  Tags tags;
  // Who else may launch it, sorted (find_image/list_images fill it; insert_image*
  // ignores it: a new image is private).
  LaunchPermissions launch_permissions;
};

struct InstanceRecord {
  std::string id, reservation_id, image_id, owner, region, instance_type;
  int launch_index = 0;  // EC2's AmiLaunchIndex: its place in its reservation, 0..N-1
  int vcpus = 1;
  std::uint64_t memory_mib = 512;
  std::string state = "pending";  // pending running stopping stopped shutting-down terminated
  std::string state_reason;
  std::string launch_time, terminated_time;
  std::string domain_uuid;
  std::string root_device_type = "ebs", virtualization_type = "hvm", architecture = "x86_64";
  std::string dir;                // the instance's folder in the store
  std::string block_device_mappings;  // the merged mappings it was launched with, as TOML
  Tags tags;
};

// An EBS volume (vol-): a qcow2 in the store, attached to at most one instance.
struct VolumeRecord {
  std::string id, owner, region;
  std::uint64_t size_gib = 1;
  std::string volume_type = "gp3";
  std::string state = "creating";  // creating | available | in-use | deleting
  std::string create_time;
  std::string snapshot_id;         // the snapshot it was made from ("" = blank)
  std::string file;                // absolute path of its qcow2
  std::string instance_id, device; // attachment ("" when available)
  bool delete_on_termination = true;
  Tags tags;
};

// An immutable snapshot (snap-): a qcow2, read-only once completed. Standalone,
// or thin: a layer on the file of its base snapshot (create-image copies only
// what the instance wrote over its template; see docs/CAPTURE.md).
struct SnapshotRecord {
  std::string id, owner, region, description;
  std::string state = "pending";   // pending | completed | error
  std::string start_time;
  std::string volume_id;           // the volume it was taken from ("" = registered disk)
  std::uint64_t volume_size_gib = 1;
  std::string file;                // absolute path of its qcow2
  std::string image_id;            // the image that owns the file (reclaimed with it)
  std::string base_snapshot_id;    // the snapshot whose file this one's sits on ("" = standalone)
  Tags tags;
};

// An idempotent request (EC2's ClientToken): who sent it for which action, with
// which parameters, and what it made. Keyed by (owner, action, token).
struct ClientTokenRecord {
  std::string owner, action, token;
  std::string parameters;   // the request's parameters without ClientToken, canonical JSON
  std::string resource_id;  // what it made: the reservation (r-) or the image (ami-)
  std::string result;       // JSON a replay answers from: {"InstanceIds":[...]} / {"ImageId":...}
  std::string created;
};

// What insert_image_checked did.
enum class ImageInsert { kInserted, kNameTaken, kTokenTaken };
// One resource's share of a CreateTags or DeleteTags request.
struct TagEdit {
  std::string resource_id;
  Tags set;                      // keys added or overwritten
  std::vector<TagEntry> remove;  // keys removed; an entry with a value only when the value matches
  bool remove_all = false;       // every tag of the resource
};

// Why edit_tags wrote nothing (both empty: it wrote everything).
struct TagEditRefusal {
  std::string missing;     // a resource whose row is gone
  std::string over_limit;  // a resource that would have more than max_tags tags
  std::size_t count = 0;   // how many it would have
  explicit operator bool() const { return !missing.empty() || !over_limit.empty(); }
};

// A narrowed image listing (DescribeImages over a large catalog): rows are left
// out by SQLite before they are read into records.
struct ImageQuery {
  std::string region;      // only this region's images ("" = every region's)
  bool live_only = false;  // leave out deregistered images
  // Ordered by id, only ids after `after_id` (every one when ""), at most `limit`
  // rows (0 = no limit): a page. Otherwise ordered by creation_date, id, as
  // list_images(), and after_id and limit must be left empty.
  bool by_id = false;
  std::string after_id;
  std::size_t limit = 0;
  // For each entry, the row's column must match one of the EC2 wildcard patterns
  // (filters.h's glob_match). Columns: kImageGlobColumns only.
  std::vector<std::pair<std::string, std::vector<std::string>>> globs;
};
// The image columns an ImageQuery may glob on.
inline constexpr const char* kImageGlobColumns[] = {"id", "name", "description", "owner", "state",
                                                    "architecture", "virtualization_type",
                                                    "root_device_type", "creation_date"};

class Catalog {
 public:
  explicit Catalog(const std::string& path);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  void insert_image(const ImageRecord& image);
  // Inserts unless a live image of the same owner and region has the name.
  // Returns false when the name is taken (nothing written).
  bool insert_image_if_name_free(const ImageRecord& image);
  // As insert_image_if_name_free, and records `token` (if any) in the same
  // transaction; nothing is written when the name or the token is taken.
  ImageInsert insert_image_checked(const ImageRecord& image, const ClientTokenRecord* token);
  void set_image_protection(const std::string& id, const std::string& protection,
                            const std::string& protected_until);
  void set_image_deprecation(const std::string& id, const std::string& deprecation_time);
  void set_image_state(const std::string& id, const std::string& state,
                       const std::string& reason = {});
  void set_image_mappings(const std::string& id, const std::string& toml);
  // Progress of a pending image, kept in memory only (no fsync per update; a
  // pending image does not outlive amid anyway). find/list_images show it.
  void set_image_progress(const std::string& id, std::uint64_t done, std::uint64_t total);
  // A capture's end in one transaction: its snapshots, its mappings, available.
  void complete_image(const std::string& id, const std::string& mappings_toml,
                      const std::vector<SnapshotRecord>& snapshots);
  std::optional<ImageRecord> find_image(const std::string& id) const;
  std::vector<ImageRecord> list_images() const;
  // The images a query selects, with their tags and launch permissions (one
  // query each for the rows read). Throws InternalError for a column it does not know.
  std::vector<ImageRecord> list_images(const ImageQuery& query) const;
  void delete_image(const std::string& id);
  // ModifyImageAttribute launchPermission: adds and removes in one transaction
  // (adding what is there, or removing what is not, changes nothing).
  void edit_launch_permissions(const std::string& image_id, const LaunchPermissions& add,
                               const LaunchPermissions& remove);
  // ResetImageAttribute launchPermission: removes every one.
  void reset_launch_permissions(const std::string& image_id);
  // The image's row and its snapshots' rows, in one transaction (reclaim).
  void delete_image_and_snapshots(const std::string& id);

  void insert_instances(const std::vector<InstanceRecord>& instances);
  // As insert_instances, and records `token` in the same transaction. Returns false
  // (nothing written) when the token is already recorded.
  bool insert_instances_with_token(const std::vector<InstanceRecord>& instances,
                                   const ClientTokenRecord& token);
  void set_instance_state(const std::string& id, const std::string& state,
                          const std::string& reason = {});
  void mark_terminated(const std::string& id, const std::string& when);
  std::optional<InstanceRecord> find_instance(const std::string& id) const;
  std::vector<InstanceRecord> list_instances() const;
  void delete_instance(const std::string& id);
  // Undoes a launch's row: the instance, its tags, and, when no instance of its
  // reservation is left, the RunInstances ClientToken that made it (so the request
  // can be sent again), in one transaction.
  void undo_launch_row(const std::string& id);
  // Instances whose disks still sit on the image (not yet terminated), and
  // volumes made from its snapshots (they sit on the snapshot files).
  int count_instances_using(const std::string& image_id) const;
  void set_instance_mappings(const std::string& id, const std::string& toml);
  // A stopped instance's libvirt domain definition (its inactive XML), kept here
  // while libvirt holds none (see InstanceService::park_locked); "" when none
  // was saved. Cleared when the instance is terminated.
  void set_instance_definition(const std::string& id, const std::string& xml);
  std::string instance_definition(const std::string& id) const;
  bool has_instance_definition(const std::string& id) const;  // without reading it

  void insert_volume(const VolumeRecord& volume);
  void update_volume(const VolumeRecord& volume);  // every field, by id
  std::optional<VolumeRecord> find_volume(const std::string& id) const;
  std::vector<VolumeRecord> list_volumes() const;
  std::vector<VolumeRecord> volumes_of_instance(const std::string& instance_id) const;
  void delete_volume(const std::string& id);

  void insert_snapshot(const SnapshotRecord& snapshot);
  void set_snapshot_state(const std::string& id, const std::string& state);
  std::optional<SnapshotRecord> find_snapshot(const std::string& id) const;
  std::vector<SnapshotRecord> snapshots_of_image(const std::string& image_id) const;
  std::vector<SnapshotRecord> list_snapshots() const;
  void delete_snapshot(const std::string& id);
  // Live volumes whose qcow2 sits on one of the image's snapshot files.
  int count_volumes_using_image(const std::string& image_id) const;
  // Snapshots of other images whose files sit on one of this image's snapshot files.
  int count_snapshots_based_on_image(const std::string& image_id) const;

  // Tags of any resource, by id. Records read through find_*/list_* carry their
  // tags; insert_image*, insert_instances, insert_volume, insert_snapshot and
  // complete_image write the records' tags; deleting a record deletes its tags.
  // set_tags adds or overwrites keys.
  void set_tags(const std::string& resource_id, const Tags& tags);
  void delete_tags(const std::string& resource_id, const std::vector<std::string>& keys);
  Tags tags_of(const std::string& resource_id) const;
  // CreateTags/DeleteTags over several resources (ami-, i-, vol-, snap-): all the
  // edits in one transaction, or none of them when a resource's row is gone or one
  // would end with more than max_tags tags (the refusal says which).
  TagEditRefusal edit_tags(const std::vector<TagEdit>& edits, std::size_t max_tags);

  // ClientTokens (written by insert_*_checked / _with_token); they outlive restarts.
  std::optional<ClientTokenRecord> find_client_token(const std::string& owner, const std::string& action,
                                                     const std::string& token) const;

 private:
  void exec(const char* sql);
  // Runs body between BEGIN IMMEDIATE and COMMIT; rolls back and rethrows on error. mu_ held.
  void in_transaction(const std::function<void()>& body);
  void write_instances(const std::vector<InstanceRecord>& list);  // mu_ held, in a transaction
  void overlay_progress(ImageRecord& r) const;  // mu_ held
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> progress_;  // guarded by mu_
  sqlite3* db_ = nullptr;
  std::string path_;
};

// The current time as EC2 prints it: 2026-11-27T03:20:27.000Z
std::string iso_now();

}  // namespace amid
