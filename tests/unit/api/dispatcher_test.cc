// api/dispatcher.h with the real services behind it: a catalog and a store
// in a temp dir, libvirt's test driver, and the real qemu-img. Every answer is
// one JSON line with a RequestId; every refusal carries its EC2 code and leaves
// nothing behind.
#include "daemon/api/dispatcher.h"
#include "tests/unit/region_fixture.h"

#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/base64.h"
#include "common/ids.h"
#include "daemon/host/process.h"
#include "daemon/services/runtime.h"
#include "tests/unit/test_support.h"

namespace amid {
namespace {

using protocol::Json;
using ::amid::testing::has_substr;
using ::amid::testing::list_dir;

class DispatcherTest : public ::amid::testing::RegionFixture {
 protected:
  void SetUp() override {
    // The callers (uids 1000, 2000) register disks from this folder: amid opens
    // them with the caller's rights, so the folder must let them in.
    ::chmod(tmp_.path().c_str(), 0755);
    RegionFixture::SetUp();
  }

  // Sends one raw line and checks the answer's framing.
  protocol::Response send_line(const std::string& line, const Caller& caller) {
    std::string answer = dispatcher_->handle(caller, line);
    EXPECT_FALSE(answer.empty());
    EXPECT_EQ(answer.find('\n'), answer.size() - 1) << "an answer is exactly one line: " << answer;
    auto parsed = protocol::parse_response(answer);
    EXPECT_TRUE(parsed.ok()) << answer;
    if (!parsed.ok()) return {};
    EXPECT_TRUE(is_valid_request_id(parsed.value().request_id)) << answer;
    return std::move(parsed).value();
  }

  protocol::Response call(const std::string& action, const Json& params, const Caller& caller) {
    std::string line = protocol::encode_request({action, params});
    line.pop_back();  // the server hands the dispatcher the line without its newline
    return send_line(line, caller);
  }
  protocol::Response call(const std::string& action, const Json& params) {
    return call(action, params, alice_);
  }

  static bool is_valid_request_id(const std::string& id) { return id.size() == 36 && id[8] == '-'; }

  // A small qcow2 made by the real qemu-img, readable by everyone.
  std::string make_qcow2(const std::string& name, const std::string& size = "1M") {
    std::string path = tmp_.file(name);
    EXPECT_TRUE(::amid::testing::qemu_img({"create", "-q", "-f", "qcow2", path, size}));
    ::chmod(path.c_str(), 0644);
    return path;
  }

  void require_qemu_img() {
    if (!::amid::testing::have_qemu_img()) GTEST_SKIP() << "qemu-img is not on PATH (apt-get install qemu-utils)";
  }

  std::string register_image(const std::string& name, const std::string& disk) {
    auto r = call("RegisterImage", {{"Name", name}, {"DiskPath", disk}});
    EXPECT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
    return r.ok ? r.body.value("ImageId", "") : "";
  }
};

TEST_F(DispatcherTest, AGarbageLineIsAMalformedQuery) {
  for (const char* line : {"garbage", "", "{\"Version\":1,", "[\"RunInstances\"]"}) {
    auto r = send_line(line, alice_);
    EXPECT_FALSE(r.ok) << line;
    EXPECT_EQ(r.error_code, codes::kMalformedRequest) << line;
    EXPECT_FALSE(r.error_message.empty());
  }
}

TEST_F(DispatcherTest, AnUnknownActionIsRefusedByName) {
  auto r = call("LaunchMissiles", Json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidAction);
  EXPECT_TRUE(has_substr(r.error_message, "LaunchMissiles"));
}

TEST_F(DispatcherTest, AnUnknownParameterIsRefusedByName) {
  auto r = call("DescribeImages", {{"ImageIds", Json::array()}, {"IncludeDisabled", true}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kUnknownParameter);
  EXPECT_TRUE(has_substr(r.error_message, "'IncludeDisabled'"));
}

TEST_F(DispatcherTest, EveryAnswerHasItsOwnRequestId) {
  auto a = call("DescribeImages", Json::object());
  auto b = send_line("garbage", alice_);
  EXPECT_NE(a.request_id, b.request_id);
}

TEST_F(DispatcherTest, KnowsEc2sActionNames) {
  auto names = Dispatcher::action_names();
  for (const char* action : {"RegisterImage", "DescribeImages", "DeregisterImage", "RunInstances",
                             "DescribeInstances", "TerminateInstances", "GetConsoleOutput"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), action), names.end()) << action;
  }
}

TEST_F(DispatcherTest, DescribeImagesOnAnEmptyCatalog) {
  auto r = call("DescribeImages", Json::object());
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body, Json({{"Images", Json::array()}}));
}

TEST_F(DispatcherTest, DescribeImagesWithAMalformedId) {
  for (const char* id : {"ami-123", "ami-0123456789ABCDEF0", "../../etc/passwd", "i-0123456789abcdef0"}) {
    auto r = call("DescribeImages", {{"ImageIds", {id}}});
    EXPECT_FALSE(r.ok) << id;
    EXPECT_EQ(r.error_code, codes::kInvalidAmiIdMalformed) << id;
  }
}

TEST_F(DispatcherTest, DescribeImagesWithAnUnknownId) {
  auto r = call("DescribeImages", {{"ImageIds", {"ami-0123456789abcdef0"}}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_TRUE(has_substr(r.error_message, "ami-0123456789abcdef0"));
}

TEST_F(DispatcherTest, RegisterImageNeedsAnAbsoluteDiskPath) {
  auto r = call("RegisterImage", {{"Name", "web"}, {"DiskPath", "images/disk.qcow2"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(r.error_message, "DiskPath"));
  EXPECT_TRUE(catalog_->list_images().empty());
}

TEST_F(DispatcherTest, RegisterImageNeedsNameAndDiskPath) {
  auto r = call("RegisterImage", {{"DiskPath", "/tmp/x.qcow2"}});
  EXPECT_EQ(r.error_code, codes::kMissingParameter);
  EXPECT_TRUE(has_substr(r.error_message, "Name"));
  r = call("RegisterImage", {{"Name", "web"}});
  EXPECT_EQ(r.error_code, codes::kMissingParameter);
  EXPECT_TRUE(has_substr(r.error_message, "DiskPath"));
}

TEST_F(DispatcherTest, RegisterImageRefusesABadName) {
  require_qemu_img();
  std::string disk = make_qcow2("disk.qcow2");
  auto r = call("RegisterImage", {{"Name", "web*"}, {"DiskPath", disk}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiNameMalformed);
  EXPECT_TRUE(catalog_->list_images().empty());
  EXPECT_TRUE(list_dir(store_->images_dir()).empty());
}

TEST_F(DispatcherTest, RegisterImageOfAMissingFileIsAnInvalidDisk) {
  auto r = call("RegisterImage", {{"Name", "web"}, {"DiskPath", tmp_.file("missing.qcow2")}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidDisk);
  EXPECT_TRUE(has_substr(r.error_message, tmp_.file("missing.qcow2")));
}

TEST_F(DispatcherTest, RegisterImageWithABackingFileChangesNothing) {
  require_qemu_img();
  std::string base = make_qcow2("base.qcow2");
  std::string top = tmp_.file("top.qcow2");
  ASSERT_TRUE(::amid::testing::qemu_img({"create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top}));
  ::chmod(top.c_str(), 0644);

  auto r = call("RegisterImage", {{"Name", "layered"}, {"DiskPath", top}});
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(has_substr(r.error_code, codes::kInvalidParameterValue)) << r.error_code;
  EXPECT_TRUE(has_substr(r.error_message, top));
  EXPECT_TRUE(has_substr(r.error_message, "backing file"));
  EXPECT_TRUE(catalog_->list_images().empty());
  EXPECT_TRUE(list_dir(store_->images_dir()).empty());
  EXPECT_TRUE(list_dir(store_->tmp_dir()).empty());
}

TEST_F(DispatcherTest, RegisterImageMakesAnAvailableReadOnlyTemplate) {
  require_qemu_img();
  std::string disk = make_qcow2("disk.qcow2", "3M");
  auto r = call("RegisterImage", {{"Name", "debian-12 (tiny)"}, {"DiskPath", disk},
                                  {"Description", "for tests"}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string id = r.body.value("ImageId", "");
  ASSERT_TRUE(is_valid_id(id, "ami")) << r.body.dump();

  auto d = call("DescribeImages", Json::object());
  ASSERT_TRUE(d.ok) << d.error_message;
  ASSERT_EQ(d.body["Images"].size(), 1u);
  const Json& img = d.body["Images"][0];
  EXPECT_EQ(img["ImageId"], id);
  EXPECT_EQ(img["Name"], "debian-12 (tiny)");
  EXPECT_EQ(img["Description"], "for tests");
  EXPECT_EQ(img["State"], "available");
  EXPECT_EQ(img["OwnerId"], alice_.account);
  EXPECT_EQ(img["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], 1) << "3 MiB rounds up to 1 GiB";
  EXPECT_TRUE(::amid::testing::file_exists(store_->image_dir(id) + "/manifest.json"));

  auto by_id = call("DescribeImages", {{"ImageIds", {id}}});
  ASSERT_TRUE(by_id.ok) << by_id.error_message;
  EXPECT_EQ(by_id.body["Images"].size(), 1u);

  struct stat st;
  ASSERT_EQ(::stat(store_->image_disk(id).c_str(), &st), 0) << store_->image_disk(id);
  EXPECT_EQ(st.st_mode & 07777, 0440u) << "read-only, and not readable by other users";
  ProcessResult info = run_process({"qemu-img", "info", "-U", "--output=json", store_->image_disk(id)});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  Json disk_info = Json::parse(info.out);
  EXPECT_EQ(disk_info["format"], "qcow2");
  EXPECT_EQ(disk_info["virtual-size"], 3 * 1024 * 1024);
  EXPECT_FALSE(disk_info.contains("backing-filename"));
}

TEST_F(DispatcherTest, RegisterImageRefusesADuplicateName) {
  require_qemu_img();
  std::string first = register_image("web", make_qcow2("a.qcow2"));
  ASSERT_FALSE(first.empty());
  auto r = call("RegisterImage", {{"Name", "web"}, {"DiskPath", make_qcow2("b.qcow2")}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidAmiNameDuplicate);
  EXPECT_TRUE(has_substr(r.error_message, "web"));
  EXPECT_EQ(catalog_->list_images().size(), 1u);
  EXPECT_EQ(list_dir(store_->images_dir()), std::vector<std::string>{first});

  // Another owner may use the name.
  auto other = call("RegisterImage", {{"Name", "web"}, {"DiskPath", make_qcow2("c.qcow2")}}, bob_);
  EXPECT_TRUE(other.ok) << other.error_code << ": " << other.error_message;
}

TEST_F(DispatcherTest, OthersDoNotSeeYourImages) {
  require_qemu_img();
  std::string id = register_image("private", make_qcow2("a.qcow2"));
  ASSERT_FALSE(id.empty());
  auto all = call("DescribeImages", Json::object(), bob_);
  ASSERT_TRUE(all.ok);
  EXPECT_TRUE(all.body["Images"].empty());
  auto named = call("DescribeImages", {{"ImageIds", {id}}}, bob_);
  EXPECT_EQ(named.error_code, codes::kInvalidAmiIdNotFound);
  auto deregister = call("DeregisterImage", {{"ImageId", id}}, bob_);
  EXPECT_EQ(deregister.error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_TRUE(::amid::testing::file_exists(store_->image_disk(id)));
}

TEST_F(DispatcherTest, DeregisterImageRemovesAnUnusedImage) {
  require_qemu_img();
  std::string id = register_image("web", make_qcow2("a.qcow2"));
  ASSERT_FALSE(id.empty());
  auto r = call("DeregisterImage", {{"ImageId", id}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body, Json({{"Return", true}}));
  EXPECT_TRUE(call("DescribeImages", Json::object()).body["Images"].empty());
  EXPECT_EQ(call("DescribeImages", {{"ImageIds", {id}}}).error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_FALSE(catalog_->find_image(id).has_value());
  EXPECT_TRUE(list_dir(store_->images_dir()).empty());
}

TEST_F(DispatcherTest, RunInstancesWithAnUnknownInstanceType) {
  require_qemu_img();
  std::string id = register_image("web", make_qcow2("a.qcow2"));
  ASSERT_FALSE(id.empty());
  auto r = call("RunInstances", {{"ImageId", id}, {"InstanceType", "z9.mega"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(r.error_message, "InstanceType"));
  EXPECT_TRUE(has_substr(r.error_message, "z9.mega"));
  EXPECT_TRUE(catalog_->list_instances().empty());
  EXPECT_TRUE(list_dir(store_->instances_dir()).empty());
  EXPECT_EQ(hypervisor_->list_domains().size(), 1u) << "only the test driver's own domain";
}

TEST_F(DispatcherTest, RunInstancesRefusesBadCountsAndUserData) {
  const Json bad[] = {
      {{"ImageId", "ami-0123456789abcdef0"}, {"MaxCount", 0}},
      {{"ImageId", "ami-0123456789abcdef0"}, {"MaxCount", 17}},
      {{"ImageId", "ami-0123456789abcdef0"}, {"MaxCount", 18446744073709551615u}},
      {{"ImageId", "ami-0123456789abcdef0"}, {"MinCount", 3}, {"MaxCount", 2}},
      {{"ImageId", "ami-0123456789abcdef0"}, {"UserData", "not base64!"}},
      {{"ImageId", "ami-0123456789abcdef0"}, {"UserData", base64_encode(std::string(16 * 1024 + 1, 'x'))}},
  };
  for (const Json& params : bad) {
    auto r = call("RunInstances", params);
    EXPECT_FALSE(r.ok) << params.dump();
    EXPECT_EQ(r.error_code, codes::kInvalidParameterValue) << params.dump() << ": " << r.error_message;
  }
  EXPECT_TRUE(catalog_->list_instances().empty());
}

TEST_F(DispatcherTest, RunInstancesOfAnUnknownImage) {
  auto r = call("RunInstances", {{"ImageId", "ami-0123456789abcdef0"}});
  EXPECT_EQ(r.error_code, codes::kInvalidAmiIdNotFound);
  EXPECT_TRUE(catalog_->list_instances().empty());
}

TEST_F(DispatcherTest, RunInstancesLaunchesOnAnOverlayOfTheTemplate) {
  require_qemu_img();
  std::string image = register_image("web", make_qcow2("a.qcow2", "2M"));
  ASSERT_FALSE(image.empty());
  auto r = call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"MaxCount", 2},
                                 {"UserData", base64_encode("#!/bin/sh\necho hi\n")}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  ASSERT_EQ(r.body["Instances"].size(), 2u);
  EXPECT_EQ(r.body["OwnerId"], alice_.account);
  for (const Json& inst : r.body["Instances"]) {
    std::string id = inst.value("InstanceId", "");
    ASSERT_TRUE(is_valid_id(id, "i")) << inst.dump();
    EXPECT_EQ(inst["ImageId"], image);
    EXPECT_EQ(inst["InstanceType"], "t3.nano");
    EXPECT_EQ(inst["State"], Json({{"Code", 0}, {"Name", "pending"}})) << "as EC2 answers RunInstances";

    auto st = hypervisor_->domain_status(id);
    ASSERT_TRUE(st.has_value()) << id;
    EXPECT_EQ(st->state, DomainRunState::kRunning);
    std::string root = store_->instance_dir(id) + "/root.qcow2";
    ProcessResult info = run_process({"qemu-img", "info", "-U", "--output=json", root});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    Json j = Json::parse(info.out);
    EXPECT_EQ(j["backing-filename"], store_->image_disk(image));
    EXPECT_EQ(j["backing-filename-format"], "qcow2");
    EXPECT_EQ(::amid::testing::read_text(store_->instance_dir(id) + "/user-data"), "#!/bin/sh\necho hi\n");
  }

  auto d = call("DescribeInstances", Json::object());
  ASSERT_TRUE(d.ok) << d.error_message;
  ASSERT_EQ(d.body["Reservations"].size(), 1u);
  EXPECT_EQ(d.body["Reservations"][0]["ReservationId"], r.body["ReservationId"]);
  for (const Json& inst : d.body["Reservations"][0]["Instances"]) {
    EXPECT_EQ(inst["State"]["Name"], "running");
  }
  EXPECT_EQ(catalog_->count_instances_using(image), 2);

  // The image is in use: deregistering it hides it but keeps the template.
  ASSERT_TRUE(call("DeregisterImage", {{"ImageId", image}}).ok);
  EXPECT_TRUE(::amid::testing::file_exists(store_->image_disk(image)));
}

// EC2's reservation: one ReservationId (r- and 17 hex digits) for the instances
// of one request, each with its AmiLaunchIndex 0..N-1, kept in the catalog.
TEST_F(DispatcherTest, RunInstancesNumbersTheInstancesOfOneReservation) {
  require_qemu_img();
  std::string image = register_image("web", make_qcow2("a.qcow2", "2M"));
  ASSERT_FALSE(image.empty());
  auto r = call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"MaxCount", 3}});
  ASSERT_TRUE(r.ok) << r.error_code << ": " << r.error_message;
  std::string reservation = r.body["ReservationId"];
  EXPECT_TRUE(is_valid_id(reservation, "r")) << reservation;
  std::map<std::string, int> index;
  for (const Json& inst : r.body["Instances"]) index[inst["InstanceId"]] = inst["AmiLaunchIndex"].get<int>();
  std::set<int> numbers;
  for (const auto& [id, n] : index) numbers.insert(n);
  EXPECT_EQ(numbers, (std::set<int>{0, 1, 2})) << r.body.dump();

  auto d = call("DescribeInstances", Json::object());  // read back from the catalog
  ASSERT_TRUE(d.ok) << d.error_message;
  ASSERT_EQ(d.body["Reservations"].size(), 1u);
  EXPECT_EQ(d.body["Reservations"][0]["ReservationId"], reservation);
  ASSERT_EQ(d.body["Reservations"][0]["Instances"].size(), 3u);
  for (const Json& inst : d.body["Reservations"][0]["Instances"]) {
    EXPECT_EQ(inst["AmiLaunchIndex"], index[inst["InstanceId"]]) << inst.dump();
  }
  // A second launch is a reservation of its own, numbered from 0 again.
  auto one = call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}});
  ASSERT_TRUE(one.ok) << one.error_message;
  EXPECT_NE(one.body["ReservationId"], reservation);
  EXPECT_EQ(one.body["Instances"][0]["AmiLaunchIndex"], 0);
}

// As on EC2: an image runs only on types of its architecture, and arm64 needs an
// emulator this host may not have (this runtime offers x86_64 guests only).
TEST_F(DispatcherTest, RunInstancesChecksTheArchitectureOfTypeImageAndHost) {
  require_qemu_img();
  auto arm = call("RegisterImage", {{"Name", "arm"}, {"DiskPath", make_qcow2("arm.qcow2")},
                                     {"Architecture", "arm64"}});
  ASSERT_TRUE(arm.ok) << arm.error_message << " (images of any architecture can be registered)";
  std::string arm_image = arm.body["ImageId"];
  EXPECT_EQ(call("DescribeImages", {{"ImageIds", {arm_image}}}).body["Images"][0]["Architecture"], "arm64");
  std::string x86_image = register_image("x86", make_qcow2("x86.qcow2"));

  auto mismatch = call("RunInstances", {{"ImageId", x86_image}, {"InstanceType", "t4g.micro"}});
  EXPECT_EQ(mismatch.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(mismatch.error_message, "InstanceType: the architecture 'arm64' of instance type t4g.micro "
                                                 "does not match the architecture 'x86_64'"))
      << mismatch.error_message;
  auto mismatch2 = call("RunInstances", {{"ImageId", arm_image}, {"InstanceType", "t3.micro"}});
  EXPECT_EQ(mismatch2.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(mismatch2.error_message, "t4g.micro")) << "suggests an arm64 type";

  // No type given: arm64 images default to t4g.micro, which this host cannot run.
  auto no_emulator = call("RunInstances", {{"ImageId", arm_image}});
  EXPECT_EQ(no_emulator.error_code, codes::kUnsupportedOperation);
  EXPECT_TRUE(has_substr(no_emulator.error_message, "cannot run arm64 guests"));
  EXPECT_TRUE(has_substr(no_emulator.error_message, "qemu-system-arm")) << "says what to install";
  EXPECT_TRUE(catalog_->list_instances().empty());
  EXPECT_TRUE(list_dir(store_->instances_dir()).empty());
}

TEST_F(DispatcherTest, RunInstancesTagsInstancesAndVolumes) {
  require_qemu_img();
  std::string image = register_image("web", make_qcow2("a.qcow2", "2M"));
  Json specs = Json::parse(R"([{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"web"}]},
                              {"ResourceType":"volume","Tags":[{"Key":"backup","Value":"daily"}]}])");
  auto r = call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}, {"TagSpecifications", specs}});
  ASSERT_TRUE(r.ok) << r.error_message;
  EXPECT_EQ(r.body["Instances"][0]["Tags"], specs[0]["Tags"]);
  std::string id = r.body["Instances"][0]["InstanceId"];
  auto d = call("DescribeInstances", {{"InstanceIds", {id}}});
  EXPECT_EQ(d.body["Reservations"][0]["Instances"][0]["Tags"], specs[0]["Tags"]);
  auto v = call("DescribeVolumes", Json::object());
  ASSERT_EQ(v.body["Volumes"].size(), 1u);
  EXPECT_EQ(v.body["Volumes"][0]["Tags"], specs[1]["Tags"]);

  // A bad tag is refused by name and launches nothing.
  Json bad = Json::parse(R"([{"ResourceType":"instance","Tags":[{"Key":"aws:x","Value":"1"}]}])");
  auto refused = call("RunInstances", {{"ImageId", image}, {"TagSpecifications", bad}});
  EXPECT_EQ(refused.error_code, codes::kInvalidParameterValue);
  EXPECT_TRUE(has_substr(refused.error_message, "TagSpecifications[0].Tags[0].Key")) << refused.error_message;
  EXPECT_EQ(catalog_->list_instances().size(), 1u);
}

TEST_F(DispatcherTest, GetConsoleOutputOfAnUnknownInstance) {
  auto r = call("GetConsoleOutput", {{"InstanceId", "i-0123456789abcdef0"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_code, codes::kInvalidInstanceIdNotFound);
  EXPECT_TRUE(has_substr(r.error_message, "i-0123456789abcdef0"));

  r = call("GetConsoleOutput", {{"InstanceId", "i-123"}});
  EXPECT_EQ(r.error_code, codes::kInvalidInstanceIdMalformed);
}

TEST_F(DispatcherTest, TerminateInstancesNeedsIds) {
  auto r = call("TerminateInstances", Json::object());
  EXPECT_EQ(r.error_code, codes::kMissingParameter);
  EXPECT_TRUE(has_substr(r.error_message, "InstanceIds"));
  r = call("TerminateInstances", {{"InstanceIds", {"i-0123456789abcdef0"}}});
  EXPECT_EQ(r.error_code, codes::kInvalidInstanceIdNotFound);
}

// Requests that change one instance at once are serialised: each succeeds or is
// refused by EC2's state rules, and the end state agrees with libvirt.
TEST_F(DispatcherTest, ConcurrentChangesToOneInstanceNeverInterleave) {
  require_qemu_img();
  std::string image = register_image("web", make_qcow2("a.qcow2", "2M"));
  auto r = call("RunInstances", {{"ImageId", image}, {"InstanceType", "t3.nano"}});
  ASSERT_TRUE(r.ok) << r.error_message;
  const std::string id = r.body["Instances"][0]["InstanceId"];
  const std::vector<std::pair<std::string, Json>> ops = {
      {"StopInstances", {{"InstanceIds", {id}}, {"Force", true}}},
      {"StartInstances", {{"InstanceIds", {id}}}},
      {"RebootInstances", {{"InstanceIds", {id}}}},
      {"DescribeInstances", {{"InstanceIds", {id}}}},
  };
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> unexpected;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const auto& [action, params] = ops[static_cast<size_t>((t + i) % ops.size())];
        auto a = call(action, params);
        if (!a.ok && a.error_code != codes::kIncorrectInstanceState) {
          std::lock_guard lock(mu);
          unexpected.push_back(action + ": " + a.error_code + ": " + a.error_message);
        }
      }
    });
  }
  threads.emplace_back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto a = call("TerminateInstances", {{"InstanceIds", {id}}});
    if (!a.ok) {
      std::lock_guard lock(mu);
      unexpected.push_back("TerminateInstances: " + a.error_code + ": " + a.error_message);
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  // Terminate won: the instance is terminated and libvirt no longer has it.
  auto d = call("DescribeInstances", {{"InstanceIds", {id}}});
  ASSERT_TRUE(d.ok) << d.error_message;
  EXPECT_EQ(d.body["Reservations"][0]["Instances"][0]["State"]["Name"], "terminated");
  EXPECT_FALSE(hypervisor_->domain_status(id).has_value());
  EXPECT_TRUE(catalog_->volumes_of_instance(id).empty());
}

}  // namespace
}  // namespace amid

namespace amid {
namespace {

// The server sends reads to a pool of their own, so a storm of launches holding
// every worker never holds up a describe.
TEST(DispatcherReadsOnly, DescribesAndConsoleOutputAreReadsAndNothingElse) {
  for (const char* action : {"DescribeImages", "DescribeInstances", "DescribeVolumes", "DescribeTags",
                             "DescribeImageAttribute", "GetConsoleOutput"}) {
    EXPECT_TRUE(Dispatcher::reads_only(std::string(R"({"Version":1,"Action":")") + action + R"(","Parameters":{}})"))
        << action;
  }
  for (const char* action : {"RunInstances", "CreateImage", "TerminateInstances", "CreateTags", "CopyImage",
                             "ModifyImageAttribute", "DescribeNothing"}) {
    bool reads = Dispatcher::reads_only(std::string(R"({"Version":1,"Action":")") + action + R"(","Parameters":{}})");
    if (std::string(action).rfind("Describe", 0) == 0) {
      EXPECT_TRUE(reads) << "an unknown Describe* is answered InvalidAction from the read pool: harmless";
    } else {
      EXPECT_FALSE(reads) << action;
    }
  }
  EXPECT_FALSE(Dispatcher::reads_only("not json"));
  EXPECT_FALSE(Dispatcher::reads_only(R"({"Version":1,"Parameters":{}})"));
  EXPECT_FALSE(Dispatcher::reads_only(R"({"Action":"DescribeImages","Parameters":{}})")) << "no Version: refused anyway";
}

}  // namespace
}  // namespace amid
