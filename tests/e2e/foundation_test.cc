// End to end: the real amid on the embedded QEMU driver, the real amictl, the
// tiny template booted under whatever accelerator amid picks (TCG here).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

std::string register_tiny(Amid& amid, const std::string& name = "tiny") {
  Result r = amid.amictl({"register-image", "--name", name, "--disk", tiny_image()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(id.rfind("ami-", 0), 0u) << r.out;
  return id;
}

std::string launch(Amid& amid, const std::string& image, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"run-instances", "--image-id", image, "--instance-type",
                                   "t3.nano", "--output", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  Result r = amid.amictl(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  return j["Instances"][0]["InstanceId"];
}

std::string wait_ready(Amid& amid, const std::string& instance) {
  Result r = amid.amictl({"get-console-output", "--instance-id", instance, "--wait-for",
                       "amid-tiny: ready", "--timeout", "180"});
  EXPECT_EQ(r.exit_code, 0) << "console so far:\n" << r.out << r.err << "\namid log:\n";
  return r.out;
}

std::string instance_state(Amid& amid, const std::string& instance) {
  Result r = amid.amictl({"describe-instances", "--instance-ids", instance, "--output", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Json::parse(r.out)["Reservations"][0]["Instances"][0]["State"]["Name"];
}

TEST(Foundation, BootsTheTinyTemplateAndNeverWritesIt) {
  Amid amid;
  amid.start();
  std::string image = register_tiny(amid);
  // The store's own copy, the file libvirt sees as the backing file.
  std::string template_file = amid.state_dir() + "/images/" + image + "/disk.qcow2";
  ASSERT_TRUE(std::filesystem::exists(template_file));
  std::string before = sha256_of(template_file);

  std::string user_data = amid.dir() + "/ud.sh";
  std::ofstream(user_data) << "echo written-by-guest > /root/file\nsync\necho user-data-ran\n";
  std::string instance = launch(amid, image, {"--user-data", "file://" + user_data});
  EXPECT_EQ(instance.rfind("i-", 0), 0u);

  std::string console = wait_ready(amid, instance);
  EXPECT_NE(console.find("amid-tiny: disk vda 134217728 bytes"), std::string::npos) << console;
  EXPECT_NE(console.find("user-data-ran"), std::string::npos) << console;
  EXPECT_NE(console.find("amid-tiny: user data exit 0"), std::string::npos) << console;
  EXPECT_EQ(instance_state(amid, instance), "running");

  // The guest wrote to its disk: the overlay changed, the template did not.
  EXPECT_EQ(sha256_of(template_file), before);
  Result info = run({"qemu-img", "info", "-U", "--output=json",
                  amid.state_dir() + "/instances/" + instance + "/root.qcow2"});
  Json overlay = Json::parse(info.out);
  EXPECT_EQ(overlay["format"], "qcow2");
  EXPECT_EQ(overlay["backing-filename-format"], "qcow2");
  EXPECT_EQ(overlay["backing-filename"], template_file);

  Result images = amid.amictl({"describe-images", "--output", "json"});
  Json ji = Json::parse(images.out);
  ASSERT_EQ(ji["Images"].size(), 1u);
  EXPECT_EQ(ji["Images"][0]["State"], "available");
  EXPECT_EQ(ji["Images"][0]["Architecture"], "x86_64");

  pid_t qemu = qemu_pid_of(instance);
  ASSERT_GT(qemu, 0);
  Result term = amid.amictl({"terminate-instances", "--instance-ids", instance, "--output", "json"});
  ASSERT_EQ(term.exit_code, 0) << term.err;
  EXPECT_EQ(Json::parse(term.out)["TerminatingInstances"][0]["PreviousState"]["Name"], "running");
  EXPECT_EQ(instance_state(amid, instance), "terminated");
  for (int i = 0; i < 100 && process_alive(qemu); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(process_alive(qemu)) << "QEMU " << qemu << " outlived terminate";
  EXPECT_FALSE(std::filesystem::exists(amid.state_dir() + "/instances/" + instance + "/root.qcow2"));
  EXPECT_EQ(sha256_of(template_file), before);
  // Terminating again succeeds and changes nothing, as on EC2.
  EXPECT_EQ(amid.amictl({"terminate-instances", "--instance-ids", instance}).exit_code, 0);
}

TEST(Foundation, SigtermLeavesGuestsRunningAndANewAmidSeesThem) {
  Amid amid;
  amid.start();
  std::string image = register_tiny(amid);
  std::string instance = launch(amid, image);
  wait_ready(amid, instance);
  pid_t qemu = qemu_pid_of(instance);
  ASSERT_GT(qemu, 0);

  EXPECT_EQ(amid.stop(), 0);
  EXPECT_TRUE(process_alive(qemu)) << "stopping amid stopped the guest";
  EXPECT_FALSE(std::filesystem::exists(amid.socket()));

  // Something in the store that the catalog does not know: reported, left alone.
  std::string stranger = amid.state_dir() + "/images/ami-0123456789abcdef0";
  std::filesystem::create_directories(stranger);
  std::ofstream(stranger + "/disk.qcow2") << "not amid's";
  amid.start();
  EXPECT_TRUE(std::filesystem::exists(stranger + "/disk.qcow2")) << "amid removed a file it cannot prove is its own";
  std::ifstream log(amid.log());
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find(stranger + " is in amid's store but not in its catalog; left alone"), std::string::npos) << all;
  EXPECT_EQ(instance_state(amid, instance), "running");
  EXPECT_EQ(qemu_pid_of(instance), qemu) << "the guest was restarted";
  Result console = amid.amictl({"get-console-output", "--instance-id", instance});
  EXPECT_NE(console.out.find("amid-tiny: ready"), std::string::npos);
}

TEST(Foundation, BadInputIsRefusedAndChangesNothing) {
  Amid amid;
  amid.start();
  // A disk with a backing file.
  std::string base = amid.dir() + "/base.qcow2", child = amid.dir() + "/child.qcow2";
  ASSERT_EQ(run({"qemu-img", "create", "-q", "-f", "qcow2", base, "16M"}).exit_code, 0);
  ASSERT_EQ(run({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, child}).exit_code, 0);
  Result r = amid.amictl({"register-image", "--name", "chained", "--disk", child});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("backing file"), std::string::npos) << r.err;
  // Not a disk image at all is read as raw; a missing file is refused.
  r = amid.amictl({"register-image", "--name", "missing", "--disk", amid.dir() + "/nope.qcow2"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("nope.qcow2"), std::string::npos) << r.err;
  r = amid.amictl({"register-image", "--name", "x", "--disk", base});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Name"), std::string::npos) << r.err;
  Result images = amid.amictl({"describe-images", "--output", "json"});
  EXPECT_EQ(Json::parse(images.out)["Images"].size(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(amid.state_dir() + "/images"));

  // Unknown and malformed ids.
  r = amid.amictl({"run-instances", "--image-id", "ami-0123456789abcdef0"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("InvalidAMIID.NotFound"), std::string::npos) << r.err;
  r = amid.amictl({"run-instances", "--image-id", "../../etc/passwd"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("InvalidAMIID.Malformed"), std::string::npos) << r.err;
  r = amid.amictl({"describe-instances", "--instance-ids", "i-0123456789abcdef0"});
  EXPECT_EQ(r.exit_code, 4);

  // Garbage and an oversized line on the socket get an error answer; amid lives on.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", amid.socket().c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string garbage = "this is not json\n";
  ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  Json answer = Json::parse(std::string(buf, static_cast<size_t>(n)));
  EXPECT_EQ(answer["Error"]["Code"], "MalformedQueryString");
  std::string huge(2 * 1024 * 1024, 'x');
  (void)::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
  n = ::read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)).find("longer than"), std::string::npos);
  ::close(fd);
  EXPECT_EQ(amid.amictl({"describe-images"}).exit_code, 0);

  // A second amid on the same state dir is refused with a clear message.
  Result second = run({AMID_BINARY, "--state-dir", amid.state_dir(), "--socket", amid.dir() + "/b.sock"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another amid"), std::string::npos) << second.err;
  // ... and so is a second amid on the same socket.
  second = run({AMID_BINARY, "--state-dir", amid.dir() + "/other", "--socket", amid.socket()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already listening"), std::string::npos) << second.err;
}

TEST(Foundation, UnreachableDaemonAndBadConfigGetClearErrors) {
  Amid amid;  // not started
  Result r = amid.amictl({"describe-images"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot reach amid"), std::string::npos) << r.err;

  std::string config = amid.dir() + "/amid.toml";
  std::ofstream(config) << "[daemon]\nworkers = 2\nflavour = \"vanilla\"\n";
  Result bad = run({AMID_BINARY, "--config", config, "--state-dir", amid.state_dir(), "--socket", amid.socket()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(config + ":3:1"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("flavour"), std::string::npos) << bad.err;
  std::ofstream(config, std::ios::trunc) << "[daemon]\nworkers = \"four\"\n";
  bad = run({AMID_BINARY, "--config", config, "--state-dir", amid.state_dir(), "--socket", amid.socket()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(":2:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("workers"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(amid.state_dir())) << "a refused config created the state dir";
}

}  // namespace
}  // namespace amid::e2e

namespace amid::e2e {
namespace {

std::string cmdline_value(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : all) if (c == '\0') c = ' ';
  auto at = all.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return all.substr(at, all.find_first_of(" ,\"", at) - at);
}

// --count launches side by side, each instance its own; MinCount/MaxCount follow
// EC2 against the host's capacity (here limits.capacity_memory_mib = 3 t3.nano).
TEST(Foundation, CountLaunchesDistinctInstancesSideBySideWithinCapacity) {
  Amid amid;
  std::string config = amid.dir() + "/amid.toml";
  {
    std::ofstream(config) << "[limits]\ncapacity_memory_mib = 1536\n";
  }
  amid.start({"--config", config});
  std::string image = register_tiny(amid);
  // A launch template gives the image, count, user data and tags; the command line's
  // --instance-type and --tag override its type and one tag.
  std::string lt = amid.dir() + "/lt.toml";
  {
    std::ofstream(lt) << "image_id = \"" << image << "\"\ninstance_type = \"t3.micro\"\ncount = 3\n"
                      << "user_data = \"echo launched-from-template\"\n"
                      << "[tags]\nName = \"api\"\nteam = \"blue\"\n";
  }
  Result r = amid.amictl({"run-instances", "--launch-template", "file://" + lt, "--instance-type",
                          "t3.nano", "--tag", "Name=web", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  ASSERT_EQ(j["Instances"].size(), 3u);
  std::set<std::string> ids, uuids, macs;
  for (auto& inst : j["Instances"]) {
    std::string id = inst["InstanceId"];
    ids.insert(id);
    macs.insert(inst["NetworkInterfaces"][0]["MacAddress"].get<std::string>());
    EXPECT_EQ(inst["Tags"], Json::parse(R"([{"Key":"Name","Value":"web"},{"Key":"team","Value":"blue"}])"));
    wait_ready(amid, id);
    pid_t pid = qemu_pid_of(id);
    ASSERT_GT(pid, 0);
    uuids.insert(cmdline_value(pid, "-uuid "));
    EXPECT_EQ(cmdline_value(pid, "\"mac\":\"").size(), 17u);
    EXPECT_EQ(inst["InstanceType"], "t3.nano");
  }
  Result console = amid.amictl({"get-console-output", "--instance-id", *ids.begin(), "--wait-for",
                                "user data exit 0", "--output", "text"});
  EXPECT_NE(console.out.find("launched-from-template"), std::string::npos) << console.out;
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(uuids.size(), 3u);
  EXPECT_EQ(macs.size(), 3u);
  // EC2's AmiLaunchIndex: 0..N-1 within the reservation, in the answer and in describe-instances.
  std::set<int> answered, described;
  for (auto& inst : j["Instances"]) answered.insert(inst["AmiLaunchIndex"].get<int>());
  EXPECT_EQ(answered, (std::set<int>{0, 1, 2})) << j.dump();
  Json d = Json::parse(amid.amictl({"describe-instances", "--output", "json"}).out);
  ASSERT_EQ(d["Reservations"].size(), 1u) << d.dump();
  EXPECT_EQ(d["Reservations"][0]["ReservationId"], j["ReservationId"]);
  for (auto& inst : d["Reservations"][0]["Instances"]) described.insert(inst["AmiLaunchIndex"].get<int>());
  EXPECT_EQ(described, (std::set<int>{0, 1, 2})) << d.dump();
  // Tags are kept: describe-instances shows them, and the table has a NAME column.
  Result table = amid.amictl({"describe-instances", "--instance-ids", *ids.begin()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("NAME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("web"), std::string::npos) << table.out;

  // The host is full: MinCount 1 cannot be met, so nothing is launched.
  Result full = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano"});
  EXPECT_EQ(full.exit_code, 1) << full.out;
  EXPECT_NE(full.err.find("InsufficientInstanceCapacity"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("MinCount"), std::string::npos) << full.err;
  Json all = Json::parse(amid.amictl({"describe-instances", "--output", "json"}).out);
  ASSERT_EQ(all["Reservations"].size(), 1u) << "a refused launch leaves no instance behind";
  EXPECT_EQ(all["Reservations"][0]["Instances"].size(), 3u);

  // One slot freed: --count 1:4 launches the one that fits (MinCount 1, MaxCount 4).
  ASSERT_EQ(amid.amictl({"terminate-instances", "--instance-ids", *ids.begin()}).exit_code, 0);
  Result partial = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano",
                                "--count", "1:4", "--output", "json"});
  ASSERT_EQ(partial.exit_code, 0) << partial.err;
  Json p = Json::parse(partial.out);
  ASSERT_EQ(p["Instances"].size(), 1u);
  EXPECT_FALSE(p["Instances"][0].contains("Tags"));
  // And --count 2:4 with room for none launches none.
  Result two = amid.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.nano",
                            "--count", "2:4"});
  EXPECT_NE(two.err.find("InsufficientInstanceCapacity"), std::string::npos) << two.err;

  std::vector<std::string> args = {"terminate-instances", "--instance-ids",
                                   p["Instances"][0]["InstanceId"].get<std::string>()};
  args.insert(args.end(), std::next(ids.begin()), ids.end());
  std::vector<pid_t> qemus;
  for (std::size_t i = 2; i < args.size(); ++i) qemus.push_back(qemu_pid_of(args[i]));
  // Three guests end in one call (side by side): every one is terminated and its QEMU gone.
  EXPECT_EQ(amid.amictl(args).exit_code, 0);
  for (std::size_t i = 2; i < args.size(); ++i) EXPECT_EQ(instance_state(amid, args[i]), "terminated") << args[i];
  for (pid_t q : qemus) {
    EXPECT_GT(q, 0);
    EXPECT_FALSE(process_alive(q)) << "QEMU " << q << " outlived terminate-instances";
  }
}

}  // namespace
}  // namespace amid::e2e
