// End to end: a region on another host. Its libvirtd (RemoteHost) answers only
// over qemu+tcp on 127.0.0.1 and keeps the region's store on a tmpfs this
// process cannot see: every file amid puts there, reads back or removes went
// through libvirt's storage API and its sparse streams, as it would to
// qemu+ssh://host2/system. The whole AMI workflow runs there: copy an image in,
// launch it with user data, capture it live, launch the capture, copy it back
// out, and reclaim it all.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "e2e_harness.h"
#include "remote_host.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;

std::string first_word(const std::string& s) { return s.substr(0, s.find_first_of("\t\n")); }

class RemoteRegion : public ::testing::Test {
 protected:
  std::string run_in(const std::string& region, const std::string& image, const std::string& user_data) {
    Result r = amid_.amictl({"run-instances", "--region", region, "--image-id", image, "--instance-type", "t3.nano",
                             "--user-data", user_data, "--output", "text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return first_word(r.out);
  }
  std::string console(const std::string& region, const std::string& id, const std::string& text) {
    Result r = amid_.amictl({"get-console-output", "--region", region, "--instance-id", id, "--wait-for", text,
                             "--timeout", "180"});
    EXPECT_EQ(r.exit_code, 0) << "waiting for '" << text << "' on " << id << "; console:\n" << r.out << r.err;
    return r.out;
  }
  void terminate(const std::string& region, const std::string& id) {
    ASSERT_EQ(amid_.amictl({"terminate-instances", "--region", region, "--instance-ids", id}).exit_code, 0);
    ASSERT_EQ(amid_.amictl({"wait", "--region", region, "instance-terminated", "--instance-ids", id}).exit_code, 0);
  }
  // sha256, length and allocated blocks of a file on the other host.
  struct Seen {
    std::string sha;
    long long size = -1, blocks = -1;
  };
  Seen there(const RemoteHost& host, const std::string& path) {
    Seen s;
    Result sum = host.exec({"sha256sum", path});
    s.sha = sum.out.substr(0, 64);
    Result st = host.exec({"stat", "-c", "%s %b", path});
    std::istringstream(st.out) >> s.size >> s.blocks;
    return s;
  }
  Amid amid_;
};

TEST_F(RemoteRegion, TheAmiWorkflowRunsOnAnotherHostThroughLibvirtOnly) {
  RemoteHost host(amid_.dir() + "/host2", RemoteHost::fresh_hidden_dir());
  ASSERT_FALSE(std::filesystem::exists(host.hidden_dir()))
      << "this test must not see the other host's files, or it proves nothing";
  const std::string store = host.hidden_dir() + "/east-1";
  ASSERT_EQ(host.exec({"mkdir", "-p", store}).exit_code, 0);
  std::filesystem::create_directories(amid_.dir() + "/w");
  auto write_config = [&](const std::string& path, const std::string& east_store) {
    std::ofstream(path) << "[regions.local-1]\nstore = \"" << amid_.dir() << "/w\"\n"
                        << "[regions.east-1]\nstore = \"" << east_store << "\"\nlibvirt_uri = \"" << host.uri()
                        << "\"\n";
  };

  // A store folder that does not exist on that host stops amid at start, naming it.
  write_config(amid_.dir() + "/broken.toml", host.hidden_dir() + "/nowhere");
  EXPECT_THROW(amid_.start({"--config", amid_.dir() + "/broken.toml"}), std::runtime_error);
  std::ifstream log_in(amid_.log());
  std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("regions.east-1.store: " + host.hidden_dir() + "/nowhere is not a folder on "), std::string::npos)
      << log;
  EXPECT_EQ(host.exec({"test", "-e", host.hidden_dir() + "/nowhere"}).exit_code, 1) << "amid made the folder itself";

  write_config(amid_.dir() + "/amid.toml", store);
  amid_.start({"--config", amid_.dir() + "/amid.toml"});
  Result r = amid_.amictl({"register-image", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string base = first_word(r.out);
  const std::string base_file = amid_.dir() + "/w/images/" + base + "/disk.qcow2";

  // In: the same bytes on the other host, and its holes still holes.
  r = amid_.amictl({"copy-image", "--region", "east-1", "--source-region", "local-1", "--source-image-id", base,
                    "--name", "tiny in the east", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string east = first_word(r.out);
  const std::string east_file = store + "/images/" + east + "/disk.qcow2";
  Seen in = there(host, east_file);
  struct stat st{};
  ASSERT_EQ(::stat(base_file.c_str(), &st), 0);
  EXPECT_EQ(in.sha, sha256_of(base_file));
  EXPECT_EQ(in.size, st.st_size);
  EXPECT_LE(in.blocks, st.st_blocks) << "the copy allocates more than its source: holes were filled";
  EXPECT_FALSE(std::filesystem::exists(east_file));
  r = amid_.amictl({"describe-images", "--image-ids", east});
  EXPECT_NE(r.err.find("InvalidAMIID.NotFound"), std::string::npos) << "an id of east-1 in local-1: " << r.err;

  // Launched there with user data; its console comes back through libvirt.
  const std::string src = run_in("east-1", east, "echo marker > /root/marker; sync; echo MARKER-WRITTEN");
  console("east-1", src, "MARKER-WRITTEN");
  Result listed = host.virsh({"list", "--name"});
  EXPECT_NE(listed.out.find(src), std::string::npos) << "not a domain of the other host: " << listed.out;
  EXPECT_EQ(host.exec({"test", "-f", store + "/instances/" + src + "/root.qcow2"}).exit_code, 0);

  // Captured live, there: a thin layer on the copied template.
  r = amid_.amictl({"create-image", "--region", "east-1", "--instance-id", src, "--name", "Custom-Ami", "--no-reboot",
                    "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string custom = first_word(r.out);
  Json img = Json::parse(
      amid_.amictl({"describe-images", "--region", "east-1", "--image-ids", custom, "--output", "json"}).out);
  EXPECT_EQ(img["Images"][0]["State"], "available") << img.dump();
  EXPECT_EQ(in.sha, there(host, east_file).sha) << "a capture wrote the template it came from";
  {
    // As here: only the instance's own layer is copied, on the template it came from.
    std::ifstream amid_log(amid_.log());
    std::string text((std::istreambuf_iterator<char>(amid_log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("image " + custom + " vda: a thin layer of "), std::string::npos) << text;
    Result header = host.exec({"qemu-img", "info", "-U", "--output=json", store + "/images/" + custom + "/disk.qcow2"});
    EXPECT_EQ(Json::parse(header.out).value("backing-filename", ""), east_file) << header.out << header.err;
  }
  Result capture_left = host.exec({"ls", store + "/instances/" + src});
  EXPECT_EQ(capture_left.out.find(".capture"), std::string::npos) << "the capture overlay was not merged back: "
                                                                   << capture_left.out;

  const std::string copy = run_in("east-1", custom, "echo \"root has: $(ls /root | tr '\\n' ' ')\"");
  EXPECT_NE(console("east-1", copy, "amid-tiny: ready").find("root has: marker"), std::string::npos);

  // Out again: the thin capture arrives here standalone, and boots here.
  r = amid_.amictl({"copy-image", "--source-region", "east-1", "--source-image-id", custom, "--name", "Custom-Ami home",
                    "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string home = first_word(r.out);
  Json info = Json::parse(
      run({"qemu-img", "info", "--output=json", amid_.dir() + "/w/images/" + home + "/disk.qcow2"}).out);
  EXPECT_EQ(info.value("backing-filename", ""), "") << info.dump();
  const std::string local = run_in("local-1", home, "echo \"root has: $(ls /root | tr '\\n' ' ')\"");
  EXPECT_NE(console("local-1", local, "amid-tiny: ready").find("root has: marker"), std::string::npos);
  terminate("local-1", local);

  // Reclaimed there once nothing needs them: instance folders, then templates.
  terminate("east-1", copy);
  terminate("east-1", src);
  for (const auto& id : {custom, east}) {
    ASSERT_EQ(amid_.amictl({"deregister-image", "--region", "east-1", "--image-id", id}).exit_code, 0);
  }
  Result images_left = host.exec({"ls", store + "/images"});
  EXPECT_EQ(images_left.exit_code, 0) << images_left.err;
  EXPECT_EQ(images_left.out, "") << "templates left on the other host: " << images_left.out;
  Result instance_disks = host.exec({"find", store + "/instances", "-name", "*.qcow2"});
  EXPECT_EQ(instance_disks.out, "") << "instance disks left on the other host: " << instance_disks.out;
}

// Run at every boot: marks the EBS volume once and says whether it found the
// mark; says whether the instance-store disk is blank, then dirties it.
constexpr const char* kProbe =
    "if head -c 9 /dev/vdb | grep -q volmarker; then echo FOUND-EBS; else "
    "echo volmarker | dd of=/dev/vdb conv=notrunc 2>/dev/null; sync; echo WROTE-EBS; fi; "
    "if [ -z \"$(head -c 9 /dev/vdc | tr -d '\\0')\" ]; then echo EPHEMERAL-BLANK; "
    "echo dirty | dd of=/dev/vdc conv=notrunc 2>/dev/null; sync; else echo EPHEMERAL-DIRTY; fi; echo PROBED";

TEST_F(RemoteRegion, VolumesThereOutliveStopsAndAKeptRootMovesOutOfItsInstance) {
  RemoteHost host(amid_.dir() + "/host2", RemoteHost::fresh_hidden_dir());
  const std::string store = host.hidden_dir() + "/east-1";
  ASSERT_EQ(host.exec({"mkdir", "-p", store}).exit_code, 0);
  std::filesystem::create_directories(amid_.dir() + "/w");
  std::ofstream(amid_.dir() + "/amid.toml") << "[regions.local-1]\nstore = \"" << amid_.dir() << "/w\"\n"
                                            << "[regions.east-1]\nstore = \"" << store << "\"\nlibvirt_uri = \""
                                            << host.uri() << "\"\n";
  amid_.start({"--config", amid_.dir() + "/amid.toml"});
  // Registered straight into that region: converted here, sent there.
  Result r = amid_.amictl({"register-image", "--region", "east-1", "--name", "tiny", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string image = first_word(r.out);
  const std::string image_file = store + "/images/" + image + "/disk.qcow2";
  Result header = host.exec({"qemu-img", "info", "--output=json", image_file});
  ASSERT_EQ(header.exit_code, 0) << header.err;
  EXPECT_EQ(Json::parse(header.out)["format"], "qcow2");

  std::ofstream(amid_.dir() + "/bdm.toml") << R"([[block_device_mappings]]
device_name = "/dev/vda"
ebs = { volume_size = 2, delete_on_termination = false }

[[block_device_mappings]]
device_name = "/dev/vdb"
ebs = { volume_size = 1 }

[[block_device_mappings]]
device_name = "/dev/vdc"
virtual_name = "ephemeral0"
)";
  r = amid_.amictl({"run-instances", "--region", "east-1", "--image-id", image, "--instance-type", "m5d.large",
                    "--block-device-mappings", "file://" + amid_.dir() + "/bdm.toml", "--user-data", kProbe,
                    "--output", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = first_word(r.out);
  std::string out = console("east-1", id, "PROBED");
  EXPECT_NE(out.find("amid-tiny: disk vda 2147483648 bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("amid-tiny: disk vdb 1073741824 bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("amid-tiny: disk vdc 80530636800 bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("WROTE-EBS"), std::string::npos) << out;
  EXPECT_NE(out.find("EPHEMERAL-BLANK"), std::string::npos) << out;

  // amid restarted: the guest there never stopped, and amid knows it again.
  ASSERT_EQ(amid_.stop(), 0);
  EXPECT_NE(host.virsh({"list", "--name"}).out.find(id), std::string::npos) << "amid's stop stopped a guest";
  amid_.start({"--config", amid_.dir() + "/amid.toml"});
  Json d = Json::parse(amid_.amictl({"describe-instances", "--region", "east-1", "--instance-ids", id, "--output",
                                     "json"}).out);
  EXPECT_EQ(d["Reservations"][0]["Instances"][0]["State"]["Name"], "running") << d.dump();

  // Stop and start there: the EBS volume kept its data, the instance store is blank again.
  ASSERT_EQ(amid_.amictl({"stop-instances", "--region", "east-1", "--instance-ids", id}).exit_code, 0);
  ASSERT_EQ(amid_.amictl({"wait", "--region", "east-1", "instance-stopped", "--instance-ids", id}).exit_code, 0);
  // Stopped, it holds no definition in that host's libvirt: amid keeps it, and
  // defines it again at start.
  EXPECT_EQ(host.virsh({"list", "--all", "--name"}).out.find(id), std::string::npos)
      << "a stopped instance is still defined on the other host";
  // An overlay an interrupted --no-reboot capture would leave (libvirt merges it
  // only while the guest runs): a capture of the stopped disks is refused.
  const std::string root_file = store + "/instances/" + id + "/root.qcow2";
  ASSERT_EQ(host.exec({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", root_file,
                       root_file + ".capture"}).exit_code, 0);
  r = amid_.amictl({"create-image", "--region", "east-1", "--instance-id", id, "--name", "while stopped"});
  EXPECT_NE(r.err.find("IncorrectInstanceState"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("start the instance, then create the image"), std::string::npos) << r.err;
  Json none = Json::parse(amid_.amictl({"describe-images", "--region", "east-1", "--output", "json"}).out);
  EXPECT_EQ(none["Images"].size(), 1u) << "a refused create-image recorded an image: " << none.dump();

  ASSERT_EQ(amid_.amictl({"start-instances", "--region", "east-1", "--instance-ids", id}).exit_code, 0);
  out = console("east-1", id, "FOUND-EBS");
  for (int i = 0; i < 300 && out.substr(out.find("FOUND-EBS")).find("PROBED") == std::string::npos; ++i) {
    out = console("east-1", id, "FOUND-EBS");
  }
  std::string second_boot = out.substr(out.find("FOUND-EBS"));
  EXPECT_NE(second_boot.find("EPHEMERAL-BLANK"), std::string::npos) << out;
  std::string info = host.virsh({"dominfo", id}).out;
  EXPECT_NE(info.find("running"), std::string::npos) << info;
  EXPECT_NE(info.find("Persistent:     yes"), std::string::npos) << "defined again, persistently: " << info;

  // Running, the same capture goes ahead (the overlay the guest never used is dropped).
  r = amid_.amictl({"create-image", "--region", "east-1", "--instance-id", id, "--name", "while running",
                    "--no-reboot", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Its own overlay is merged back just after the image is available.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = host.exec({"test", "-e", root_file + ".capture"}).exit_code != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "a capture overlay is still beside the root disk";
  const std::string captured = first_word(r.out);

  // Terminated: the kept root leaves the instance's folder for volumes/, still
  // on its template, which it now keeps from being reclaimed.
  Json vols = Json::parse(amid_.amictl({"describe-volumes", "--region", "east-1", "--output", "json"}).out)["Volumes"];
  std::string root;
  for (auto& v : vols) {
    if (v["Attachments"][0]["Device"] == "/dev/vda") root = v["VolumeId"];
  }
  ASSERT_FALSE(root.empty()) << vols.dump();
  terminate("east-1", id);
  vols = Json::parse(amid_.amictl({"describe-volumes", "--region", "east-1", "--output", "json"}).out)["Volumes"];
  ASSERT_EQ(vols.size(), 1u) << vols.dump();
  EXPECT_EQ(vols[0]["VolumeId"], root);
  EXPECT_EQ(vols[0]["State"], "available");
  Result kept = host.exec({"qemu-img", "info", "--output=json", store + "/volumes/" + root + ".qcow2"});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(Json::parse(kept.out).value("backing-filename", ""), image_file) << kept.out;
  EXPECT_EQ(Json::parse(kept.out)["virtual-size"], 2147483648ll) << kept.out;
  Result left = host.exec({"ls", store + "/instances/" + id});
  EXPECT_EQ(left.out, "console.log\n") << "only the console log stays with a terminated instance";
  EXPECT_NE(amid_.amictl({"get-console-output", "--region", "east-1", "--instance-id", id}).out.find("PROBED"),
            std::string::npos);
  for (const auto& ami : {captured, image}) {
    ASSERT_EQ(amid_.amictl({"deregister-image", "--region", "east-1", "--image-id", ami}).exit_code, 0);
  }
  EXPECT_EQ(host.exec({"test", "-f", image_file}).exit_code, 0) << "the kept volume's template was reclaimed";
  EXPECT_NE(host.exec({"test", "-e", store + "/images/" + captured}).exit_code, 0) << "nothing needs the capture";
}

}  // namespace
}  // namespace amid::e2e
