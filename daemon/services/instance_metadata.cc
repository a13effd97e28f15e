#include "daemon/services/instance_metadata.h"

#include "common/protocol.h"

namespace amid {

InstanceMetadata metadata_of(const InstanceRecord& instance, const std::optional<KeyPairRecord>& key,
                             const std::optional<std::string>& user_data) {
  InstanceMetadata m;
  m.instance_id = instance.id;
  m.ami_id = instance.image_id;
  m.instance_type = instance.instance_type;
  m.local_hostname = instance.id;
  m.region = instance.region;
  m.availability_zone = instance.region + "a";
  if (key) {
    m.key_name = key->name;
    m.public_keys.push_back(key->public_key);
  }
  m.user_data = user_data;
  return m;
}

std::vector<std::pair<std::string, std::string>> nocloud_files(const InstanceMetadata& m) {
  protocol::Json meta = {
      {"instance-id", m.instance_id},
      {"local-hostname", m.local_hostname},
      {"ami-id", m.ami_id},
      {"instance-type", m.instance_type},
      {"placement", {{"availability-zone", m.availability_zone}, {"region", m.region}}},
      {"public-keys", m.public_keys},
  };
  if (!m.key_name.empty()) meta["key-name"] = m.key_name;
  return {{"meta-data", meta.dump(2) + "\n"}, {"user-data", m.user_data.value_or("")}};
}

}  // namespace amid
