// Chaos: amid killed by SIGKILL at random points of register, run, stop, start,
// create-image, terminate and deregister, and of the warm ones (warm-image, a
// warm launch, create-image --warm; docs/WARM_IMAGES.md), then restarted.
// After each restart: every image is available or cleanly failed, no instance
// is left pending, no warm state is left pending and a failed one has no files,
// no file or domain definition is orphaned (a stopped instance's is parked in
// the catalog, not in libvirt), every qcow2 passes `qemu-img check`, and the
// guests amid was not touching kept their QEMU process.
//
// CI runs AMID_CHAOS_ROUNDS (default 10: each operation once); by hand, e.g.
//   AMID_CHAOS_ROUNDS=50 build/tests/amid_e2e_tests --gtest_filter=Chaos.*
// AMID_CHAOS_SEED repeats a run (the seed is printed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "e2e_harness.h"

namespace amid::e2e {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// Rows of one column, read straight from the catalog (amid is running; WAL lets us).
std::set<std::string> column(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::set<std::string> out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path;
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      auto* t = sqlite3_column_text(s, 0);
      out.insert(t ? reinterpret_cast<const char*>(t) : "");
    }
  } else {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

class Chaos : public ::testing::Test {
 protected:
  Json images() {
    Result r = amid_.amictl({"describe-images", "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Json::parse(r.out)["Images"] : Json::array();
  }
  std::map<std::string, std::string> instances() {  // id -> state
    Result r = amid_.amictl({"describe-instances", "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    if (r.exit_code != 0) return out;
    const Json doc = Json::parse(r.out);  // kept alive: the loop walks into it
    for (const auto& res : doc["Reservations"]) {
      for (const auto& i : res["Instances"]) {
        out[i["InstanceId"].get<std::string>()] = i["State"]["Name"].get<std::string>();
      }
    }
    return out;
  }
  std::string launch() {
    Result r = amid_.amictl({"run-instances", "--image-id", base_, "--instance-type", "t3.nano",
                             "--block-device-mappings", "file://" + bdm_, "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Json::parse(r.out)["Instances"][0]["InstanceId"].get<std::string>() : "";
  }
  std::string pick(const std::string& state, const std::string& except) {
    for (const auto& [id, st] : instances()) {
      if (st == state && id != except) return id;
    }
    return "";
  }

  // Everything the catalog, the store, libvirt's definitions and QEMU agree on.
  void check_invariants(const std::string& when) {
    SCOPED_TRACE(when);
    for (const auto& img : images()) {
      std::string st = img["State"];
      EXPECT_TRUE(st == "available" || st == "failed") << img["ImageId"] << " is " << st;
      if (st == "failed") {
        EXPECT_FALSE(fs::exists(amid_.state_dir() + "/images/" + img["ImageId"].get<std::string>()))
            << "a failed image kept its files";
      }
    }
    for (const auto& [id, st] : instances()) EXPECT_NE(st, "pending") << id;
    for (const auto& img : images()) {
      if (!img.contains("WarmState")) continue;
      const std::string warm = img["WarmState"].value("State", "");
      EXPECT_NE(warm, "pending") << img["ImageId"] << "'s warm state";
      if (warm == "failed") {
        const std::string dir = amid_.state_dir() + "/images/" + img["ImageId"].get<std::string>();
        EXPECT_FALSE(fs::exists(dir + "/warm-memory.save")) << "a failed warm state kept its save image";
        EXPECT_FALSE(fs::exists(dir + "/warm-root.qcow2")) << "a failed warm state kept its root layer";
      }
    }

    const std::string s = amid_.state_dir();
    const std::string db = s + "/catalog.db";
    auto image_rows = column(db, "SELECT id FROM images");
    for (const auto& d : names_in(s + "/images")) EXPECT_TRUE(image_rows.count(d)) << "orphan image folder " << d;
    auto instance_rows = column(db, "SELECT id FROM instances");
    for (const auto& d : names_in(s + "/instances")) {
      EXPECT_TRUE(instance_rows.count(d)) << "orphan instance folder " << d;
    }
    auto volume_files = column(db, "SELECT file FROM volumes");
    for (const auto& f : names_in(s + "/volumes")) {
      EXPECT_TRUE(volume_files.count(s + "/volumes/" + f)) << "orphan volume file " << f;
    }
    for (const auto& f : volume_files) EXPECT_TRUE(fs::exists(f)) << "volume row without its file " << f;
    // Running (and every other live state): defined in libvirt. Stopped: its
    // definition parked in the catalog, none in libvirt.
    auto live = column(db, "SELECT id FROM instances WHERE state != 'terminated'");
    auto stopped = column(db, "SELECT id FROM instances WHERE state = 'stopped'");
    auto parked = column(db, "SELECT id FROM instances WHERE state = 'stopped' AND domain_xml != ''");
    for (const auto& f : names_in(s + "/libvirt/etc/qemu")) {
      if (f.size() < 5 || f.substr(f.size() - 4) != ".xml") continue;
      std::string name = f.substr(0, f.size() - 4);
      EXPECT_TRUE(live.count(name)) << "libvirt still defines " << name;
      EXPECT_FALSE(stopped.count(name)) << "libvirt still defines the stopped " << name;
    }
    for (const auto& id : live) {
      if (stopped.count(id)) {
        EXPECT_TRUE(parked.count(id)) << "the stopped " << id << " has no definition kept in the catalog";
      } else {
        EXPECT_TRUE(fs::exists(s + "/libvirt/etc/qemu/" + id + ".xml")) << id << " has no domain definition";
      }
    }
    for (const auto& e : fs::recursive_directory_iterator(s)) {
      if (e.path().extension() != ".qcow2") continue;
      Result c = run({"qemu-img", "check", "-U", e.path().string()});
      EXPECT_EQ(c.exit_code, 0) << e.path() << ": " << c.out << c.err;
    }
  }

  Amid amid_;
  std::string base_, bdm_;
};

TEST_F(Chaos, AmidKilledAtRandomPointsRecoversCleanly) {
  const int rounds = std::getenv("AMID_CHAOS_ROUNDS") ? std::atoi(std::getenv("AMID_CHAOS_ROUNDS")) : 10;
  const unsigned seed = std::getenv("AMID_CHAOS_SEED") ? static_cast<unsigned>(std::atol(std::getenv("AMID_CHAOS_SEED")))
                                                       : std::random_device{}();
  std::cout << "chaos: " << rounds << " rounds, AMID_CHAOS_SEED=" << seed << std::endl;
  std::mt19937 rng(seed);
  amid_.start();
  Result r = amid_.amictl({"register-image", "--name", "chaos base", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  base_ = r.out.substr(0, r.out.find('\n'));
  bdm_ = amid_.dir() + "/bdm.toml";
  std::ofstream(bdm_) << "[[block_device_mappings]]\ndevice_name = \"/dev/vdb\"\nebs = { volume_size = 1 }\n";
  // A guest nobody touches: its QEMU must outlive every crash of amid.
  const std::string keeper = launch();
  ASSERT_EQ(amid_.amictl({"get-console-output", "--instance-id", keeper, "--wait-for", "amid-tiny: ready",
                          "--timeout", "180"}).exit_code, 0);
  const pid_t keeper_pid = qemu_pid_of(keeper);
  ASSERT_GT(keeper_pid, 0);
  // A warm image for the warm launches (a launch with base_'s volume boots cold).
  r = amid_.amictl({"register-image", "--name", "chaos warm", "--disk", tiny_image()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string warm = r.out.substr(0, r.out.find('\n'));
  r = amid_.amictl({"warm-image", "--image-id", warm, "--instance-type", "t3.nano", "--wait", "--timeout", "300"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  const std::vector<std::string> ops = {"register",   "run",        "stop",      "start",       "create-image",
                                        "terminate",  "deregister", "warm-image", "warm-launch", "warm-capture"};
  int registered = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string op = ops[static_cast<size_t>(round) % ops.size()];
    // Set the stage (not interrupted), then run the operation and kill amid during it.
    std::vector<std::string> args;
    if (op == "register") {
      args = {"register-image", "--name", "chaos " + std::to_string(registered++), "--disk", tiny_image()};
    } else if (op == "run") {
      args = {"run-instances", "--image-id", base_, "--instance-type", "t3.nano", "--block-device-mappings",
              "file://" + bdm_};
    } else if (op == "stop" || op == "create-image" || op == "terminate" || op == "warm-capture") {
      std::string victim = op == "warm-capture" ? "" : pick("running", keeper);
      if (op == "warm-capture") {
        // Root disk only (launch() maps a volume, which --warm refuses): one restored from the warm image.
        Result w = amid_.amictl({"run-instances", "--image-id", warm, "--instance-type", "t3.nano", "--output", "text"});
        EXPECT_EQ(w.exit_code, 0) << w.err;
        victim = w.out.substr(0, w.out.find('\t'));
      }
      if (victim.empty()) victim = launch();
      if (op == "stop") args = {"stop-instances", "--instance-ids", victim};
      if (op == "terminate") args = {"terminate-instances", "--instance-ids", victim};
      if (op == "create-image" || op == "warm-capture") {
        args = {"create-image", "--instance-id", victim, "--name", "chaos capture " + std::to_string(round)};
        if (op == "warm-capture") {
          // Its guest must be booted (the resume listener greets once it is):
          // then the kill lands in the save, the copy or the restore.
          amid_.amictl({"get-console-output", "--instance-id", victim, "--wait-for", "amid-tiny: ready",
                        "--timeout", "180"});
          args.push_back("--warm");
        }
      }
    } else if (op == "warm-image") {
      Result reg = amid_.amictl({"register-image", "--name", "chaos " + std::to_string(registered++), "--disk",
                                 tiny_image()});
      args = {"warm-image", "--image-id", reg.out.substr(0, reg.out.find('\n')), "--instance-type", "t3.nano",
              "--wait", "--timeout", "300"};
    } else if (op == "warm-launch") {
      args = {"run-instances", "--image-id", warm, "--instance-type", "t3.nano"};
    } else if (op == "start") {
      std::string victim = pick("stopped", keeper);
      if (victim.empty()) {
        victim = pick("running", keeper);
        if (victim.empty()) victim = launch();
        amid_.amictl({"stop-instances", "--instance-ids", victim, "--force"});
        amid_.amictl({"wait", "instance-stopped", "--instance-ids", victim});
      }
      args = {"start-instances", "--instance-ids", victim};
    } else if (op == "deregister") {
      std::string target;
      for (const auto& img : images()) {
        if (img["ImageId"] != base_ && img["ImageId"] != warm && img["State"] == "available") target = img["ImageId"];
      }
      if (target.empty()) {
        Result reg = amid_.amictl({"register-image", "--name", "chaos " + std::to_string(registered++), "--disk",
                                   tiny_image()});
        target = reg.out.substr(0, reg.out.find('\n'));
      }
      args = {"deregister-image", "--image-id", target};
    }
    const int delay_ms = std::uniform_int_distribution<int>(0, 1500)(rng);
    std::cout << "chaos round " << round << ": " << op << " (" << args.back() << "), SIGKILL after " << delay_ms
              << " ms" << std::endl;
    auto op_run = std::async(std::launch::async, [&] { return amid_.amictl(args); });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    amid_.kill9();
    Result done = op_run.get();  // finished, or cut off (exit 3): either is fine
    EXPECT_TRUE(done.exit_code == 0 || done.exit_code == 3) << op << ": " << done.err;
    amid_.start();
    check_invariants("after round " + std::to_string(round) + " (" + op + ")");
    EXPECT_EQ(qemu_pid_of(keeper), keeper_pid) << "the untouched guest lost its QEMU";
    if (::testing::Test::HasFailure()) break;
  }
  auto all = instances();
  EXPECT_EQ(all[keeper], "running") << amid_.amictl({"describe-instances"}).out;
}

}  // namespace
}  // namespace amid::e2e
