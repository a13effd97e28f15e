// The catalog: amid's records (state/records.h) in SQLite (WAL), one
// transaction per change. It alone knows how they are stored: tables, columns,
// the append-only migrations (state/schema.cc) and the encoding of states and
// block device mappings. Its methods are spread over one file per table group:
// catalog_images.cc, catalog_instances.cc, catalog_volumes.cc (volumes and
// snapshots), catalog_tags.cc (tags and ClientTokens), catalog_key_pairs.cc,
// catalog_security_groups.cc; catalog.cc opens it.
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

#include "daemon/state/records.h"

struct sqlite3;

namespace amid {

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

// Why add_security_group_rules or remove_security_group_rules wrote nothing
// (all empty: it wrote every rule).
struct RuleEditRefusal {
  bool missing_group = false;                 // the group's row is gone
  std::optional<SecurityGroupRule> conflict;  // a rule already there (add) or not there (remove)
  std::size_t over_limit = 0;                 // add: how many rules the group would have
  explicit operator bool() const { return missing_group || conflict || over_limit != 0; }
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
  // (glob.h's glob_match). Columns: kImageGlobColumns only.
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
  void set_image_state(const std::string& id, ImageState state, const std::string& reason = {});
  // Progress of a pending image, kept in memory only (no fsync per update; a
  // pending image does not outlive amid anyway). find/list_images show it.
  // A capture's consistency ("consistent", "filesystem-consistent",
  // "crash-consistent") and how long the guest's file systems stayed frozen
  // for it (-1: not frozen).
  void set_image_consistency(const std::string& id, const std::string& consistency, std::int64_t freeze_ms);
  void set_image_progress(const std::string& id, std::uint64_t done, std::uint64_t total);
  // A capture's end in one transaction: its snapshots, its mappings, available.
  void complete_image(const std::string& id, const BlockDeviceMappings& mappings,
                      const std::vector<SnapshotRecord>& snapshots);
  std::optional<ImageRecord> find_image(const std::string& id) const;
  std::vector<ImageRecord> list_images() const;
  // The images a query selects, with their tags, launch permissions and
  // mappings (one query each for the rows read). Throws InternalError for a column it does not know.
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
  void set_instance_state(const std::string& id, InstanceState state, const std::string& reason = {});
  void set_instance_launch_mode(const std::string& id, const std::string& launch_mode);
  void mark_terminated(const std::string& id, const std::string& when);
  std::optional<InstanceRecord> find_instance(const std::string& id) const;
  std::vector<InstanceRecord> list_instances() const;
  // The private addresses held in `region` by instances that are not terminated.
  std::vector<std::string> private_ips_in_use(const std::string& region) const;
  // Every forward the instance has had (open now or not), by guest port: the
  // host ports it keeps for its life.
  std::vector<PortForward> known_port_forwards(const std::string& instance_id) const;
  // Records `open` as the instance's forwards listening now (each host port
  // kept for its guest port); the others it has had stay known, closed.
  void set_open_port_forwards(const std::string& instance_id, const std::vector<PortForward>& open);
  // Forgets the instance's forwards (it is terminated).
  void drop_port_forwards(const std::string& instance_id);
  // The instance of `region` that holds `private_ip` and is not terminated.
  std::optional<InstanceRecord> find_instance_at(const std::string& region, const std::string& private_ip) const;
  void delete_instance(const std::string& id);
  // Undoes a launch's row: the instance, its tags, and, when no instance of its
  // reservation is left, the RunInstances ClientToken that made it (so the request
  // can be sent again), in one transaction.
  void undo_launch_row(const std::string& id);
  // Instances whose disks still sit on the image (not yet terminated), and
  // volumes made from its snapshots (they sit on the snapshot files).
  int count_instances_using(const std::string& image_id) const;
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

  // Access keys (catalog_access_keys.cc): account-wide, by id.
  void insert_access_key(const AccessKeyRecord& key);
  std::optional<AccessKeyRecord> find_access_key(const std::string& id) const;
  std::vector<AccessKeyRecord> list_access_keys(const std::string& owner) const;  // "": everyone's
  void delete_access_key(const std::string& id);

  // Warm states (catalog_warm_states.cc): at most one per image.
  void put_warm_state(const WarmStateRecord& warm);  // inserts or replaces
  std::optional<WarmStateRecord> find_warm_state(const std::string& image_id) const;
  std::vector<WarmStateRecord> list_warm_states(const std::string& state) const;  // "": all
  void delete_warm_state(const std::string& image_id);

  // Key pairs (catalog_key_pairs.cc). Names are unique per owner and region:
  // insert_key_pair returns false (nothing written) when the name is taken.
  bool insert_key_pair(const KeyPairRecord& key);
  std::optional<KeyPairRecord> find_key_pair(const std::string& id) const;
  std::optional<KeyPairRecord> find_key_pair_named(const std::string& owner, const std::string& region,
                                                   const std::string& name) const;
  // Every key pair of a region (all regions' when region is ""), by name.
  std::vector<KeyPairRecord> list_key_pairs(const std::string& region) const;
  void delete_key_pair(const std::string& id);

  // Security groups (catalog_security_groups.cc), read with their ingress rules
  // and tags. Names are unique per owner and region, whatever their case:
  // insert_security_group returns false (nothing written) when the name is taken.
  bool insert_security_group(const SecurityGroupRecord& group);
  std::optional<SecurityGroupRecord> find_security_group(const std::string& id) const;
  std::optional<SecurityGroupRecord> find_security_group_named(const std::string& owner, const std::string& region,
                                                               const std::string& name) const;
  // Every security group of a region (all regions' when region is ""), by id.
  std::vector<SecurityGroupRecord> list_security_groups(const std::string& region) const;
  // Deletes the group, its rules and tags, and what terminated instances
  // remember of it, unless an instance that is not terminated is in it: then
  // nothing is written and those instances' ids are returned.
  std::vector<std::string> delete_security_group_if_unused(const std::string& id);
  // Adds every rule (ids set by the caller) in one transaction, or none: not when
  // one is there already or the group would hold more than max_rules.
  RuleEditRefusal add_security_group_rules(const std::string& group_id, const std::vector<SecurityGroupRule>& rules,
                                           std::size_t max_rules);
  // Removes every rule (matched by SecurityGroupRule::same_as) in one transaction,
  // or none when one is not there. Returns the refusal; `removed` gets the
  // stored rules (their ids and descriptions).
  RuleEditRefusal remove_security_group_rules(const std::string& group_id,
                                              const std::vector<SecurityGroupRule>& rules,
                                              std::vector<SecurityGroupRule>& removed);
  // Replaces an instance's groups (ids, in order) in one transaction.
  void set_instance_security_groups(const std::string& instance_id, const std::vector<std::string>& group_ids);
  // Instances in the group that are not terminated, by id.
  std::vector<std::string> instances_in_security_group(const std::string& group_id) const;

 private:
  void exec(const char* sql);
  // Runs body between BEGIN IMMEDIATE and COMMIT; rolls back and rethrows on error. mu_ held.
  void in_transaction(const std::function<void()>& body);
  void write_instances(const std::vector<InstanceRecord>& list);  // mu_ held, in a transaction
  void write_snapshot(const SnapshotRecord& snapshot);            // mu_ held, in a transaction
  void overlay_progress(ImageRecord& r) const;  // mu_ held
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> progress_;  // guarded by mu_
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace amid
