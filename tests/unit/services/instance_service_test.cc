// A stopped instance's libvirt definition waits in the catalog, not in libvirt
// (InstanceService::park_locked), with the real services on libvirt's test
// driver (tests/unit/service_fixture.h). libvirt keeps every definition it holds
// in memory, in amid's own process with the embedded driver; a stopped instance
// needs none until it starts. What users rely on: a stopped instance stays
// stopped (not "terminated: domain disappeared") across describes and restarts,
// starts again as the same machine (UUID, disks), and is gone for good when
// terminated.
#include <gtest/gtest.h>

#include <string>

#include "daemon/host/domain_xml.h"
#include "daemon/services/reconcile.h"
#include "tests/unit/service_fixture.h"

namespace amid {
namespace {

using protocol::Json;

class ParkedDefinitionTest : public ::amid::testing::ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
  }
  std::string state_of(const std::string& id) {
    auto r = call("DescribeInstances", {{"InstanceIds", {id}}});
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok ? r.body["Reservations"][0]["Instances"][0]["State"]["Name"].get<std::string>() : "";
  }
  void stop(const std::string& id) {
    auto r = call("StopInstances", {{"InstanceIds", {id}}, {"Force", true}});
    ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  }
  void start(const std::string& id) {
    auto r = call("StartInstances", {{"InstanceIds", {id}}});
    ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  }
  // create-image's view of the next start's disks: through a lease, as a capture has it.
  std::string next_start_disk(const std::string& id, const std::string& target) {
    return instances_->lease_for_recovery(*catalog_->find_instance(id))->next_start_disk(target);
  }
  void point_next_start_disk(const std::string& id, const std::string& target, const std::string& file) {
    instances_->lease_for_recovery(*catalog_->find_instance(id))->point_next_start_disk(target, file);
  }
  std::string uuid_in_libvirt(const std::string& id) {
    for (const auto& d : hypervisor_->list_domains()) {
      if (d.name == id) return d.uuid;
    }
    return "";
  }
};

TEST_F(ParkedDefinitionTest, AStoppedInstanceLeavesLibvirtAndStartsAgainAsTheSameMachine) {
  auto ids = run(register_image("web"));
  ASSERT_EQ(ids.size(), 1u);
  const std::string id = ids[0];
  const std::string uuid = uuid_in_libvirt(id);
  ASSERT_FALSE(uuid.empty()) << "a running instance has its libvirt domain";
  auto disks_before = hypervisor_->disk_files(id, false);
  ASSERT_FALSE(disks_before.empty());

  stop(id);
  EXPECT_EQ(state_of(id), "stopped");
  EXPECT_FALSE(hypervisor_->domain_status(id)) << "a stopped instance holds no definition in libvirt";
  EXPECT_TRUE(catalog_->has_instance_definition(id));
  std::string kept = catalog_->instance_definition(id);
  EXPECT_NE(kept.find("<name>" + id + "</name>"), std::string::npos) << kept;
  EXPECT_NE(kept.find(uuid), std::string::npos) << "the definition keeps its UUID";
  EXPECT_EQ(disk_files_of(kept), disks_before);

  EXPECT_EQ(state_of(id), "stopped") << "a second look changes nothing";
  reopen_catalog();  // as a restarted amid
  reconcile(*rt_, *images_, *instances_);
  EXPECT_EQ(state_of(id), "stopped") << "a restart does not take the missing domain for a vanished one";

  start(id);
  EXPECT_EQ(state_of(id), "running");
  auto st = hypervisor_->domain_status(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, DomainRunState::kRunning);
  EXPECT_TRUE(st->persistent) << "running instances stay defined, so a guest that stops while amid is down "
                                 "is found shut off";
  EXPECT_EQ(uuid_in_libvirt(id), uuid) << "the same machine";
  EXPECT_EQ(hypervisor_->disk_files(id, true), disks_before);

  stop(id);
  terminate(id);
  EXPECT_EQ(state_of(id), "terminated");
  EXPECT_FALSE(hypervisor_->domain_status(id));
  EXPECT_EQ(catalog_->instance_definition(id), "") << "a terminated instance keeps no definition";
  EXPECT_FALSE(catalog_->has_instance_definition(id));
}

TEST_F(ParkedDefinitionTest, AGuestThatPowersOffIsParkedWhenAmidLearnsOfIt) {
  auto ids = run(register_image("web"));
  ASSERT_EQ(ids.size(), 1u);
  hypervisor_->destroy_domain(ids[0]);  // as a guest that shuts itself down
  EXPECT_EQ(state_of(ids[0]), "stopped");
  EXPECT_FALSE(hypervisor_->domain_status(ids[0]));
  EXPECT_FALSE(catalog_->instance_definition(ids[0]).empty());
}

// An amid that kept stopped instances defined in libvirt (or one stopped between
// marking an instance stopped and undefining it) left a shut-off definition: it is
// parked at the next look, and the instance starts from it.
TEST_F(ParkedDefinitionTest, AStoppedInstanceStillDefinedIsParkedAtTheNextLook) {
  auto ids = run(register_image("web"));
  ASSERT_EQ(ids.size(), 1u);
  const std::string id = ids[0];
  hypervisor_->destroy_domain(id);
  catalog_->set_instance_state(id, InstanceState::kStopped, "Client.UserInitiatedShutdown: User initiated shutdown");
  ASSERT_TRUE(hypervisor_->domain_status(id)) << "still defined, shut off";
  ASSERT_EQ(catalog_->instance_definition(id), "");

  reopen_catalog();
  reconcile(*rt_, *images_, *instances_);
  EXPECT_EQ(state_of(id), "stopped");
  EXPECT_FALSE(hypervisor_->domain_status(id));
  EXPECT_FALSE(catalog_->instance_definition(id).empty());
  start(id);
  EXPECT_EQ(state_of(id), "running");
}

// A stopped instance whose definition is neither in libvirt nor in the catalog
// cannot start again: terminated, as for a domain removed behind amid's back.
TEST_F(ParkedDefinitionTest, AStoppedInstanceWithNoDefinitionAnywhereIsTerminated) {
  auto ids = run(register_image("web"));
  ASSERT_EQ(ids.size(), 1u);
  stop(ids[0]);
  catalog_->set_instance_definition(ids[0], "");
  EXPECT_EQ(state_of(ids[0]), "terminated");
}

// create-image repoints the disks of the definition the next start uses (a
// capture overlay merged back); a parked definition is repointed in the catalog.
TEST_F(ParkedDefinitionTest, TheNextStartsDisksAreRepointedWhereverTheDefinitionIs) {
  auto ids = run(register_image("web"));
  ASSERT_EQ(ids.size(), 1u);
  const std::string id = ids[0];
  const std::string root = next_start_disk(id, "vda");
  ASSERT_FALSE(root.empty());
  EXPECT_EQ(next_start_disk(id, "vdz"), "") << "no such disk";

  point_next_start_disk(id, "vda", root + ".elsewhere");
  EXPECT_EQ(next_start_disk(id, "vda"), root + ".elsewhere") << "in libvirt, while it runs";
  point_next_start_disk(id, "vda", root);

  stop(id);
  ASSERT_FALSE(hypervisor_->domain_status(id));
  EXPECT_EQ(next_start_disk(id, "vda"), root) << "read from the parked definition";
  point_next_start_disk(id, "vda", root + ".elsewhere");
  EXPECT_EQ(next_start_disk(id, "vda"), root + ".elsewhere");
  EXPECT_FALSE(hypervisor_->domain_status(id)) << "repointed in the catalog, still parked";
  point_next_start_disk(id, "vda", root);
  start(id);
  for (const auto& [target, file] : hypervisor_->disk_files(id, true)) {
    if (target == "vda") {
      EXPECT_EQ(file, root);
    }
  }
}

}  // namespace
}  // namespace amid
