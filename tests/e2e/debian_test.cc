// End to end: the Debian template (images/build-debian) as a server, the way an
// EC2 user meets one: a key pair made with amictl, run-instances --key-name
// with cloud-config user data, and cloud-init inside the real guest applying
// both from amid's NoCloud seed (user admin's authorized_keys, the hostname,
// the user data), then create-image in both modes through the guest's
// qemu-guest-agent (a live capture with its file systems frozen, which the next
// guest's own e2fsck finds clean; a clean shutdown asked of the agent), and a
// launch from the image, which cloud-init treats as a new instance; then
// create-image --warm of the first server and a launch restored from it, which
// takes its own identity and runs cloud-init again as a new instance.
//
// The template is $AMID_DEBIAN_IMAGE (scripts/test builds it once per recipe
// under build/debian/). Under TCG a boot takes about 95 s.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

long seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t).count();
}

std::string debian_image() {
  const char* env = std::getenv("AMID_DEBIAN_IMAGE");
  return env ? env : "";
}

class Debian : public ::testing::Test {
 protected:
  void SetUp() override {
    if (debian_image().empty()) {
      GTEST_SKIP() << "AMID_DEBIAN_IMAGE is not set: build the template with images/build-debian "
                      "(scripts/test builds it and sets this)";
    }
    amid_.start();
  }
  std::string first_field(const Result& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find_first_of("\t\n"));
  }
  // Waits for `text` on the console; returns the console so far.
  std::string wait_console(const std::string& id, const std::string& text, int seconds = 420) {
    Result r = amid_.amictl({"get-console-output", "--instance-id", id, "--wait-for", text, "--timeout",
                             std::to_string(seconds)});
    EXPECT_EQ(r.exit_code, 0) << "waiting for '" << text << "'; console:\n" << r.out << r.err;
    return r.out;
  }
  std::string public_key_of(const std::string& name) {
    Result r = amid_.amictl({"describe-key-pairs", "--key-names", name, "--include-public-key", "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out)["KeyPairs"][0]["PublicKey"];
  }

  Amid amid_;
};

// The cloud-config both launches give: the instance reports what cloud-init
// made of the seed, on the serial console, for get-console-output.
const char* kUserData = R"yaml(#cloud-config
write_files:
  - path: /etc/amid-e2e
    content: written by cloud-config
  - path: /usr/local/bin/amid-imds
    permissions: '0755'
    content: |
      #!/usr/bin/python3
      # EC2's IMDSv2, as the AWS SDKs use it: a session token, then a path.
      import urllib.request as u
      put = u.Request("http://169.254.169.254/latest/api/token", method="PUT",
                      headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
      token = u.urlopen(put, timeout=5).read().decode()
      get = u.Request("http://169.254.169.254/latest/meta-data/instance-id",
                      headers={"X-aws-ec2-metadata-token": token})
      print(u.urlopen(get, timeout=5).read().decode())
runcmd:
  - echo "amid-e2e host=$(hostname) file=$(cat /etc/amid-e2e) keys=$(cat /home/admin/.ssh/authorized_keys | cut -d' ' -f1,2 | tr ' ' '_')" > /dev/console
  - echo "amid-e2e-net eth0=$(ip -4 -o addr show dev eth0 | awk '{print $4}')" > /dev/console
  - echo "amid-e2e-imds id=$(/usr/local/bin/amid-imds 2>&1 | tail -1)" > /dev/console
)yaml";

// The second launch also gets the live capture's root disk as vdb and reports
// what the guest's own e2fsprogs say of that file system: whether its journal
// needs replaying (the needs_recovery feature, set while ext4 is mounted and
// cleared by a freeze) and a forced read-only check's exit code.
const char* kCheckSnapshot = R"yaml(
  - echo "amid-fsck features=$(dumpe2fs -h /dev/vdb2 2>/dev/null | grep -i '^Filesystem features' | tr -s ' ' | tr ' ' '_')" > /dev/console
  - e2fsck -fn /dev/vdb2 > /dev/null 2>&1; echo "amid-fsck rc=$?" > /dev/console
)yaml";

TEST_F(Debian, AKeyPairAndCloudConfigReachTheGuestAndItsImage) {
  const std::string key_file = amid_.dir() + "/web.pem";
  Result made = amid_.amictl({"create-key-pair", "--key-name", "web", "--key-type", "ed25519", "--save-to", key_file});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  struct stat st{};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key must be readable by its owner only";
  EXPECT_NE(read_file(key_file).find("BEGIN OPENSSH PRIVATE KEY"), std::string::npos);
  // The key ssh would offer is the one amid keeps.
  Result derived = run({"ssh-keygen", "-y", "-f", key_file});
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  const std::string pub = public_key_of("web");
  EXPECT_EQ(derived.out.substr(0, derived.out.find('\n')), pub);
  const std::string pub_blob = pub.substr(0, pub.rfind(' '));  // type and key, no comment

  std::ofstream(amid_.dir() + "/user-data") << kUserData;
  std::string image = first_field(amid_.amictl({"register-image", "--name", "debian-12", "--disk", debian_image()}));
  std::string id = first_field(amid_.amictl({"run-instances", "--image-id", image, "--instance-type", "t3.micro",
                                             "--key-name", "web", "--user-data", "file://" + amid_.dir() + "/user-data",
                                             "--output", "text"}));
  ASSERT_EQ(id.rfind("i-", 0), 0u) << id;
  const auto launched = std::chrono::steady_clock::now();

  // cloud-init's last line names the data source it read.
  std::string console = wait_console(id, "Datasource DataSourceNoCloud");
  std::cout << "[ debian   ] first boot to cloud-init's end: " << seconds_since(launched) << " s" << std::endl;
  std::string expected = "amid-e2e host=" + id + " file=written by cloud-config keys=" + pub_blob;
  std::replace(expected.begin() + expected.find("keys="), expected.end(), ' ', '_');
  EXPECT_NE(console.find(expected), std::string::npos)
      << "cloud-init did not apply the seed as expected; wanted:\n" << expected << "\nconsole:\n" << console;

  Result described = amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  Json first_instance = Json::parse(described.out)["Reservations"][0]["Instances"][0];
  EXPECT_EQ(first_instance["KeyName"], "web");
  // Its address on the region network, as describe-instances reports it and
  // as the guest's own eth0 has it.
  const std::string first_ip = first_instance.value("PrivateIpAddress", "");
  EXPECT_EQ(first_ip.rfind("172.31.", 0), 0u) << first_instance.dump(2);
  EXPECT_NE(console.find("amid-e2e-net eth0=" + first_ip + "/20"), std::string::npos)
      << "the guest's eth0 does not hold " << first_ip << ":\n" << console;
  EXPECT_NE(console.find("amid-e2e-imds id=" + id), std::string::npos)
      << "the guest did not read its id from 169.254.169.254 (IMDSv2) through cloud-init's route:\n" << console;

  // The lab's middle: log in to the server with OpenSSH, through the port amid
  // forwards once a security group rule allows it.
  Result no_rule = amid_.amictl({"ssh", "--instance-id", id, "--key", key_file, "--", "true"});
  EXPECT_EQ(no_rule.exit_code, 5) << no_rule.out << no_rule.err;
  EXPECT_NE(no_rule.err.find("authorize-security-group-ingress"), std::string::npos) << no_rule.err;
  Result allowed = amid_.amictl({"authorize-security-group-ingress", "--group-name", "default", "--protocol", "tcp",
                                 "--port", "22", "--cidr", "127.0.0.1/32"});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  Json forwards = Json::parse(amid_.amictl({"describe-instances", "--instance-ids", id, "--output", "json"}).out)
                      ["Reservations"][0]["Instances"][0]["PortForwards"];
  ASSERT_EQ(forwards.size(), 1u) << forwards.dump();
  EXPECT_EQ(forwards[0]["GuestPort"], 22);
  const std::string host_port = std::to_string(forwards[0]["HostPort"].get<int>());
  Result table = amid_.amictl({"describe-instances", "--instance-ids", id});
  EXPECT_NE(table.out.find("127.0.0.1:" + host_port + "->22/tcp"), std::string::npos) << table.out;

  // From inside: the guest reaches neither the host's loopback (where the
  // forward listens) nor the host's own address, and has no route out.
  std::string host_ip = run({"sh", "-c", "ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'"}).out;
  host_ip = host_ip.substr(0, host_ip.find('\n'));
  const std::string probe =
      "for t in 172.31.0.1/" + host_port + " " + (host_ip.empty() ? "192.0.2.1" : host_ip) + "/" + host_port +
      " 10.0.2.2/" + host_port + "; do if timeout 5 bash -c \"exec 3<>/dev/tcp/${t%/*}/${t#*/}\" 2>/dev/null; "
      "then echo \"reached $t\"; else echo \"blocked $t\"; fi; done; ip route | grep -c '^default' || true";
  const auto ssh_at = std::chrono::steady_clock::now();
  Result inside = amid_.amictl({"ssh", "--instance-id", id, "--key", key_file, "--", "cat /etc/amid-e2e; " + probe});
  std::cout << "[ debian   ] amictl ssh to a command's end: " << seconds_since(ssh_at) << " s" << std::endl;
  ASSERT_EQ(inside.exit_code, 0) << inside.out << inside.err;
  EXPECT_NE(inside.out.find("written by cloud-config"), std::string::npos) << inside.out;
  // A key the instance was not launched with opens nothing.
  Result stranger_key = amid_.amictl({"create-key-pair", "--key-name", "stranger", "--key-type", "ed25519",
                                      "--save-to", amid_.dir() + "/stranger.pem"});
  ASSERT_EQ(stranger_key.exit_code, 0) << stranger_key.err;
  Result stranger = amid_.amictl({"ssh", "--instance-id", id, "--key", amid_.dir() + "/stranger.pem", "--", "true"});
  EXPECT_EQ(stranger.exit_code, 255) << "ssh with another key logged in:\n" << stranger.out << stranger.err;
  EXPECT_NE(stranger.err.find("Permission denied"), std::string::npos) << stranger.err;
  EXPECT_EQ(inside.out.find("reached"), std::string::npos) << "the guest reached the host:\n" << inside.out;
  EXPECT_NE(inside.out.find("blocked 172.31.0.1/" + host_port), std::string::npos) << inside.out;
  EXPECT_NE(inside.out.find("\n0\n"), std::string::npos) << "the guest has a default route:\n" << inside.out;

  // Revoked: the port closes on the running guest, and ssh says why.
  Result revoked = amid_.amictl({"revoke-security-group-ingress", "--group-name", "default", "--protocol", "tcp",
                                 "--port", "22", "--cidr", "127.0.0.1/32"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  Result closed = run({"timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + host_port});
  EXPECT_NE(closed.exit_code, 0) << "127.0.0.1:" << host_port << " still answers after the revoke";
  EXPECT_EQ(amid_.amictl({"ssh", "--instance-id", id, "--key", key_file, "--", "true"}).exit_code, 5);

  // The lab's next step: an image of the configured server, and a server from it
  // with another key. cloud-init sees a new instance id and applies the new seed.
  Result other = amid_.amictl({"create-key-pair", "--key-name", "other", "--key-type", "ed25519",
                               "--save-to", amid_.dir() + "/other.pem"});
  ASSERT_EQ(other.exit_code, 0) << other.err;

  // A live capture: the guest agent freezes the guest's file systems around
  // the point-in-time snapshot.
  auto frozen_at = std::chrono::steady_clock::now();
  std::string frozen = first_field(amid_.amictl({"create-image", "--instance-id", id, "--name", "Frozen-Debian",
                                                 "--no-reboot", "--output", "text"}));
  Result frozen_done = amid_.amictl({"wait", "image-available", "--image-ids", frozen, "--timeout", "600"});
  ASSERT_EQ(frozen_done.exit_code, 0) << frozen_done.out << frozen_done.err;
  std::cout << "[ debian   ] create-image --no-reboot (frozen through the agent): " << seconds_since(frozen_at) << " s"
            << std::endl;
  Result frozen_desc = amid_.amictl({"describe-images", "--image-ids", frozen, "--output", "json"});
  ASSERT_EQ(frozen_desc.exit_code, 0) << frozen_desc.err;
  Json frozen_image = Json::parse(frozen_desc.out)["Images"][0];
  EXPECT_EQ(frozen_image["Consistency"], "filesystem-consistent") << frozen_image.dump(2) << "\n" << read_file(amid_.log());
  ASSERT_TRUE(frozen_image.contains("FreezeMilliseconds")) << frozen_image.dump(2);
  std::cout << "[ debian   ] file systems frozen for " << frozen_image["FreezeMilliseconds"] << " ms" << std::endl;
  EXPECT_GE(frozen_image["FreezeMilliseconds"].get<long>(), 0);
  const std::string frozen_snapshot = frozen_image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"];

  const auto imaged = std::chrono::steady_clock::now();
  std::string custom = first_field(amid_.amictl({"create-image", "--instance-id", id, "--name", "Custom-Debian",
                                                 "--output", "text"}));
  Result waited = amid_.amictl({"wait", "image-available", "--image-ids", custom, "--timeout", "600"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  const std::string log = read_file(amid_.log());
  EXPECT_NE(log.find("instance " + id + ": shutting down through its guest agent"), std::string::npos)
      << "the default mode did not shut the guest down through its agent:\n" << log;
  std::ofstream(amid_.dir() + "/check-user-data") << kUserData << (kCheckSnapshot + 1);
  const std::string frozen_disk = Json::array({{{"DeviceName", "/dev/vdb"}, {"Ebs", {{"SnapshotId", frozen_snapshot}}}}}).dump();
  std::string second = first_field(amid_.amictl({"run-instances", "--image-id", custom, "--instance-type", "t3.micro",
                                                 "--key-name", "other", "--user-data",
                                                 "file://" + amid_.dir() + "/check-user-data",
                                                 "--block-device-mappings", frozen_disk,
                                                 "--output", "text"}));
  const auto relaunched = std::chrono::steady_clock::now();
  std::cout << "[ debian   ] create-image (clean shutdown, copy, start again): " << seconds_since(imaged) << " s"
            << std::endl;
  console = wait_console(second, "Datasource DataSourceNoCloud");
  std::cout << "[ debian   ] boot from the captured image to cloud-init's end: " << seconds_since(relaunched) << " s"
            << std::endl;
  Result second_described = amid_.amictl({"describe-instances", "--instance-ids", second, "--output", "json"});
  const std::string second_ip =
      Json::parse(second_described.out)["Reservations"][0]["Instances"][0].value("PrivateIpAddress", "");
  EXPECT_NE(second_ip, first_ip) << "two instances share an address";
  EXPECT_NE(console.find("amid-e2e-net eth0=" + second_ip + "/20"), std::string::npos) << console;
  std::string other_pub = public_key_of("other");
  EXPECT_NE(console.find("amid-e2e host=" + second + " "), std::string::npos) << console;
  EXPECT_NE(console.find(other_pub.substr(other_pub.find(' ') + 1, 40)), std::string::npos)
      << "the new instance's key is not in admin's authorized_keys:\n" << console;
  // The frozen capture's root file system, as the guest's own tools see it.
  auto features = console.find("amid-fsck features=");
  ASSERT_NE(features, std::string::npos) << console;
  std::string feature_line = console.substr(features, console.find('\n', features) - features);
  EXPECT_NE(feature_line.find("has_journal"), std::string::npos) << feature_line;
  EXPECT_EQ(feature_line.find("needs_recovery"), std::string::npos)
      << "the frozen capture's journal needs replaying: " << feature_line;
  EXPECT_NE(console.find("amid-fsck rc=0"), std::string::npos) << "e2fsck -fn found the capture unclean:\n" << console;

  // Both servers running, port 22 allowed again: each has a host port of its
  // own, and each port leads to its own guest.
  ASSERT_EQ(amid_.amictl({"authorize-security-group-ingress", "--group-name", "default", "--protocol", "tcp", "--port",
                          "22", "--cidr", "127.0.0.1/32"}).exit_code, 0);
  Json both = Json::parse(amid_.amictl({"describe-instances", "--instance-ids", id, second, "--output", "json"}).out);
  std::vector<int> ports;
  for (const auto& r : both["Reservations"])
    for (const auto& i : r["Instances"])
      for (const auto& f : i.value("PortForwards", Json::array())) ports.push_back(f["HostPort"]);
  ASSERT_EQ(ports.size(), 2u) << both.dump(2);
  EXPECT_NE(ports[0], ports[1]) << "two instances share a host port";
  Result who = amid_.amictl({"ssh", "--instance-id", second, "--key", amid_.dir() + "/other.pem", "--", "hostname"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_EQ(who.out.substr(0, who.out.find('\n')), second) << who.out << who.err;

  // A warm image of the first server, which booted again after its capture:
  // its memory and disks at one point. A server restored from it takes its
  // own identity at once (amid-resume.service) and then runs cloud-init over
  // its own seed as a new instance: its key pair, user data, host keys and
  // machine id are its own, not the saved server's.
  const std::string identity = "hostname; cat /etc/machine-id /etc/ssh/ssh_host_ed25519_key.pub";
  Result settled = amid_.amictl({"ssh", "--instance-id", id, "--key", key_file, "--",
                                 "cloud-init status --wait >/dev/null; systemctl is-active amid-resume; " + identity});
  ASSERT_EQ(settled.exit_code, 0) << settled.out << settled.err;
  ASSERT_EQ(settled.out.rfind("active\n" + id + "\n", 0), 0u)
      << "the resume listener is not running after the boot:\n" << settled.out;
  const auto warmed_at = std::chrono::steady_clock::now();
  std::string warm = first_field(amid_.amictl({"create-image", "--instance-id", id, "--name", "Warm-Debian", "--warm",
                                               "--output", "text"}));
  Result warm_done = amid_.amictl({"wait", "image-available", "--image-ids", warm, "--timeout", "600"});
  ASSERT_EQ(warm_done.exit_code, 0) << warm_done.out << warm_done.err << read_file(amid_.log());
  std::cout << "[ debian   ] create-image --warm: " << seconds_since(warmed_at) << " s" << std::endl;
  Json warm_image = Json::parse(amid_.amictl({"describe-images", "--image-ids", warm, "--output", "json"}).out)["Images"][0];
  EXPECT_EQ(warm_image["Warm"], true) << warm_image.dump(2);

  const auto restored_at = std::chrono::steady_clock::now();
  std::string third = first_field(amid_.amictl({"run-instances", "--image-id", warm, "--instance-type", "t3.micro",
                                                "--key-name", "other", "--user-data",
                                                "file://" + amid_.dir() + "/user-data", "--output", "text"}));
  ASSERT_EQ(third.rfind("i-", 0), 0u) << third;
  wait_console(third, "amid-debian: resumed " + third, 60);
  std::cout << "[ debian   ] warm run-instances to the guest's resumed line: " << seconds_since(restored_at) << " s"
            << std::endl;
  console = wait_console(third, "Datasource DataSourceNoCloud", 300);
  std::cout << "[ debian   ] warm run-instances to cloud-init's end: " << seconds_since(restored_at) << " s" << std::endl;
  Json third_instance = Json::parse(amid_.amictl({"describe-instances", "--instance-ids", third, "--output", "json"})
                                        .out)["Reservations"][0]["Instances"][0];
  EXPECT_EQ(third_instance["LaunchMode"], "warm") << "not restored; amid's log:\n" << read_file(amid_.log());
  const std::string third_ip = third_instance.value("PrivateIpAddress", "");
  EXPECT_NE(third_ip, first_ip);
  EXPECT_NE(console.find("amid-e2e host=" + third + " file=written by cloud-config"), std::string::npos) << console;
  EXPECT_NE(console.find(other_pub.substr(other_pub.find(' ') + 1, 40)), std::string::npos)
      << "the restored instance's key is not in admin's authorized_keys:\n" << console;
  EXPECT_NE(console.find("amid-e2e-net eth0=" + third_ip + "/20"), std::string::npos) << console;
  EXPECT_NE(console.find("amid-e2e-imds id=" + third), std::string::npos) << console;
  Result third_identity = amid_.amictl({"ssh", "--instance-id", third, "--key", amid_.dir() + "/other.pem", "--",
                                        identity + "; cloud-init status"});
  ASSERT_EQ(third_identity.exit_code, 0) << third_identity.out << third_identity.err;
  std::istringstream saved_lines(settled.out), restored_lines(third_identity.out);
  std::string line, saved_machine, saved_host_key, restored_host, restored_machine, restored_host_key;
  std::getline(saved_lines, line);  // "active"
  std::getline(saved_lines, line);  // the hostname
  std::getline(saved_lines, saved_machine);
  std::getline(saved_lines, saved_host_key);
  std::getline(restored_lines, restored_host);
  std::getline(restored_lines, restored_machine);
  std::getline(restored_lines, restored_host_key);
  EXPECT_EQ(restored_host, third);
  EXPECT_EQ(restored_machine.size(), 32u) << third_identity.out;
  EXPECT_NE(restored_machine, saved_machine) << "the restored server kept the saved one's machine id";
  EXPECT_EQ(restored_host_key.rfind("ssh-ed25519 ", 0), 0u) << third_identity.out;
  EXPECT_NE(restored_host_key, saved_host_key) << "the restored server kept the saved one's SSH host key";
  std::getline(restored_lines, line);
  EXPECT_EQ(line, "status: done") << "cloud-init's second run did not end well:\n" << third_identity.out;
  // The saved server went on after its capture, still itself.
  Result still = amid_.amictl({"ssh", "--instance-id", id, "--key", key_file, "--", "hostname"});
  EXPECT_EQ(still.out, id + "\n") << still.err;

  for (const auto& i : {id, second, third}) {
    Result t = amid_.amictl({"terminate-instances", "--instance-ids", i});
    EXPECT_EQ(t.exit_code, 0) << t.err;
  }
}

}  // namespace
}  // namespace amid::e2e
