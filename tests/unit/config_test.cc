// daemon/config.h: every key is read, anything else is refused with
// file:line:column and the key's name, and cross-field rules hold.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace amid {
namespace {

using ::amid::testing::has_substr;

// A config that passes validate_config, for tests that break one thing in it.
Config valid_config() {
  Config c;
  c.socket_path = "/run/amid/amid.sock";
  c.state_dir = "/var/lib/amid";
  return c;
}

// True when `rest` starts with a column number and ": " (not std::regex: g++ 12
// warns -Wmaybe-uninitialized inside <regex> under -fsanitize=address,undefined).
bool starts_with_column(const std::string& rest) {
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  return digits > 0 && rest.compare(digits, 2, ": ") == 0;
}

// "file:line:column: " at the start of a message, with the line given.
::testing::AssertionResult located(const std::string& message, const std::string& file, int line) {
  const std::string prefix = file + ":" + std::to_string(line) + ":";
  if (message.rfind(prefix, 0) == 0 &&
      starts_with_column(message.substr(prefix.size()))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "\"" << message << "\" does not start with " << prefix
                                       << "COLUMN: ";
}

// "daemon.KEY" of a "KEY = VALUE" line.
std::string bad_key(const std::string& line) { return "daemon." + line.substr(0, line.find(' ')); }

TEST(LoadConfigText, ReadsEveryKey) {
  const char* text = R"(
[daemon]
socket = "/run/amid-test/amid.sock"
state_dir = "/srv/amid"
region = "test-2"
socket_group = "amid"
max_request_bytes = 4096
workers = 3
max_connections = 10
instance_types = "/etc/amid/instance-types.toml"

[libvirt]
uri = "qemu:///system"
accel = "tcg"

[limits]
max_image_gib = 8
capacity_memory_mib = 4096

[images]
capture = "standalone"
)";
  auto r = load_config_text(text, "amid.toml", Config{});
  ASSERT_TRUE(r.ok()) << r.problem().message;
  const Config& c = r.value();
  EXPECT_EQ(c.socket_path, "/run/amid-test/amid.sock");
  EXPECT_EQ(c.state_dir, "/srv/amid");
  EXPECT_EQ(c.region, "test-2");
  EXPECT_EQ(c.socket_group, "amid");
  EXPECT_EQ(c.max_request_bytes, 4096u);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.max_connections, 10);
  EXPECT_EQ(c.instance_types_file, "/etc/amid/instance-types.toml");
  EXPECT_EQ(c.libvirt_uri, "qemu:///system");
  EXPECT_EQ(c.accel, "tcg");
  EXPECT_EQ(c.max_image_gib, 8u);
  EXPECT_EQ(c.capacity_memory_mib, 4096u);
  EXPECT_EQ(c.capture, "standalone");
  EXPECT_EQ(Config{}.capture, "thin") << "the default";
}

TEST(LoadConfigText, KeysAbsentFromTheFileKeepTheBaseValues) {
  Config base = valid_config();
  base.region = "base-1";
  base.workers = 7;
  base.max_image_gib = 3;
  auto r = load_config_text("[daemon]\nmax_connections = 5\n", "amid.toml", base);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().max_connections, 5);
  EXPECT_EQ(r.value().region, "base-1");
  EXPECT_EQ(r.value().workers, 7);
  EXPECT_EQ(r.value().max_image_gib, 3u);
  EXPECT_EQ(r.value().socket_path, base.socket_path);
  EXPECT_EQ(r.value().state_dir, base.state_dir);

  auto empty = load_config_text("", "amid.toml", base);
  ASSERT_TRUE(empty.ok()) << empty.problem().message;
  EXPECT_EQ(empty.value().workers, 7);
}

TEST(LoadConfigText, RefusesAnUnknownKeyWithItsLocationAndName) {
  struct Case {
    const char* text;
    int line;
    const char* key;
  };
  for (const Case& c : {Case{"[daemon]\nworkers = 2\nworkerz = 3\n", 3, "daemon.workerz"},
                        Case{"[libvirt]\n\naccelerator = \"kvm\"\n", 3, "libvirt.accelerator"},
                        Case{"[limits]\nmax_image_size = 5\n", 2, "limits.max_image_size"}}) {
    auto r = load_config_text(c.text, "amid.toml", valid_config());
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.problem().code, codes::kInvalidParameterValue);
    EXPECT_TRUE(located(r.problem().message, "amid.toml", c.line));
    EXPECT_TRUE(has_substr(r.problem().message, std::string("'") + c.key + "'"));
  }
}

TEST(LoadConfigText, RefusesAnUnknownSection) {
  auto r = load_config_text("[daemon]\nworkers = 2\n\n[network]\nbridge = \"br0\"\n", "amid.toml",
                            valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(located(r.problem().message, "amid.toml", 4));
  EXPECT_TRUE(has_substr(r.problem().message, "'network'"));
}

TEST(LoadConfigText, RefusesATopLevelKey) {
  auto r = load_config_text("socket = \"/run/x.sock\"\n", "amid.toml", valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(located(r.problem().message, "amid.toml", 1));
  EXPECT_TRUE(has_substr(r.problem().message, "'socket'"));
}

TEST(LoadConfigText, RefusesASectionThatIsNotATable) {
  auto r = load_config_text("daemon = 5\n", "amid.toml", valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(located(r.problem().message, "amid.toml", 1));
  EXPECT_TRUE(has_substr(r.problem().message, "daemon: must be a table"));
}

TEST(LoadConfigText, RefusesWrongTypesAndNamesTheKey) {
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"[daemon]\nworkers = \"4\"\n", "daemon.workers: must be an integer"},
           Case{"[daemon]\nmax_connections = 1.5\n", "daemon.max_connections: must be an integer"},
           Case{"[daemon]\nmax_request_bytes = true\n", "daemon.max_request_bytes: must be an integer"},
           Case{"[daemon]\nsocket = 5\n", "daemon.socket: must be a string"},
           Case{"[daemon]\nstate_dir = [\"/a\"]\n", "daemon.state_dir: must be a string"},
           Case{"[daemon]\nregion = { name = \"x\" }\n", "daemon.region: must be a string"},
           Case{"[libvirt]\naccel = true\n", "libvirt.accel: must be a string"},
           Case{"[libvirt]\nuri = 1979-05-27\n", "libvirt.uri: must be a string"},
           Case{"[limits]\nmax_image_gib = \"64\"\n", "limits.max_image_gib: must be an integer"},
       }) {
    auto r = load_config_text(c.text, "amid.toml", valid_config());
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_TRUE(located(r.problem().message, "amid.toml", 2));
    EXPECT_TRUE(has_substr(r.problem().message, c.expected));
  }
}

TEST(LoadConfigText, RefusesOutOfRangeIntegers) {
  for (const char* text : {"[daemon]\nworkers = 0\n", "[daemon]\nworkers = -4\n",
                           "[daemon]\nmax_connections = 2147483648\n",
                           "[daemon]\nmax_request_bytes = 9223372036854775807\n",
                           "[limits]\nmax_image_gib = 0\n"}) {
    auto r = load_config_text(text, "amid.toml", valid_config());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(located(r.problem().message, "amid.toml", 2));
    EXPECT_TRUE(has_substr(r.problem().message, "must be between 1 and 2147483647"));
  }
  // capacity_memory_mib may be 0 (the host's RAM), never negative.
  auto zero = load_config_text("[limits]\ncapacity_memory_mib = 0\n", "amid.toml", valid_config());
  ASSERT_TRUE(zero.ok()) << zero.problem().message;
  EXPECT_EQ(zero.value().capacity_memory_mib, 0u);
  auto negative = load_config_text("[limits]\ncapacity_memory_mib = -1\n", "amid.toml", valid_config());
  ASSERT_FALSE(negative.ok());
  EXPECT_TRUE(has_substr(negative.problem().message, "limits.capacity_memory_mib: must be between 0 and"));
  auto at_max = load_config_text("[daemon]\nmax_connections = 2147483647\n", "amid.toml", valid_config());
  ASSERT_TRUE(at_max.ok()) << at_max.problem().message;
  EXPECT_EQ(at_max.value().max_connections, 2147483647);
}

TEST(LoadConfigText, ReportsTomlSyntaxErrorsWithTheirLocation) {
  auto r = load_config_text("[daemon]\nworkers = 2\nregion = \"unterminated\n", "bad.toml",
                            valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(located(r.problem().message, "bad.toml", 3));
}

TEST(LoadConfigFile, ReadsAFileAndNamesItInErrors) {
  amid::testing::TempDir tmp;
  std::string path = tmp.file("amid.toml");
  amid::testing::write_text(path, "[daemon]\nworkers = 9\n");
  auto ok = load_config_file(path, valid_config());
  ASSERT_TRUE(ok.ok()) << ok.problem().message;
  EXPECT_EQ(ok.value().workers, 9);

  amid::testing::write_text(path, "[daemon]\nworkers = 9\nbogus = 1\n");
  auto bad = load_config_file(path, valid_config());
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(located(bad.problem().message, path, 3));
}

TEST(LoadConfigFile, AMissingFileIsAProblemNamingThePath) {
  auto r = load_config_file("/nonexistent/amid-test/amid.toml", valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, "/nonexistent/amid-test/amid.toml"));
}

TEST(ValidateConfig, AcceptsAValidConfig) {
  for (const char* accel : {"auto", "kvm", "tcg"}) {
    Config c = valid_config();
    c.accel = accel;
    auto r = validate_config(c);
    EXPECT_TRUE(r.ok()) << accel << ": " << r.problem().message;
  }
}

TEST(ValidateConfig, RefusesAnUnknownAccelerator) {
  for (const char* accel : {"", "KVM", "hvf", "qemu", "kvm "}) {
    Config c = valid_config();
    c.accel = accel;
    auto r = validate_config(c);
    ASSERT_FALSE(r.ok()) << "'" << accel << "'";
    EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "accel:"));
  }
}

TEST(ValidateConfig, RefusesAnUnknownCaptureMode) {
  for (const char* mode : {"", "Thin", "flat", "standalone "}) {
    Config c = valid_config();
    c.capture = mode;
    auto r = validate_config(c);
    ASSERT_FALSE(r.ok()) << "'" << mode << "'";
    EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "images.capture:")) << r.problem().message;
  }
  auto wrong_type = load_config_text("[images]\ncapture = 1\n", "amid.toml", Config{});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_TRUE(has_substr(wrong_type.problem().message, "images.capture")) << wrong_type.problem().message;
}

TEST(ValidateConfig, TheEc2EndpointIsOnLoopbackUnlessRemoteIsAllowedAndItsAddressIsChecked) {
  EXPECT_EQ(Config{}.ec2_api_listen, "127.0.0.1:8773");
  for (const char* listen : {"127.0.0.1:8773", "127.0.0.2:0", ""}) {
    Config c = valid_config();
    c.ec2_api_listen = listen;
    auto r = validate_config(c);
    EXPECT_TRUE(r.ok()) << "'" << listen << "': " << r.problem().message;
  }
  for (const char* listen : {"localhost:8773", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80a",
                             ":8773", "[::1]:8773", "127.0.0.1:8773 "}) {
    Config c = valid_config();
    c.ec2_api_listen = listen;
    auto r = validate_config(c);
    ASSERT_FALSE(r.ok()) << "'" << listen << "'";
    EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "ec2_api.listen:")) << r.problem().message;
  }
  Config remote = valid_config();
  remote.ec2_api_listen = "0.0.0.0:8773";
  auto refused = validate_config(remote);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(has_substr(refused.problem().message, "allow_remote = true")) << refused.problem().message;
  auto allowed = load_config_text("[ec2_api]\nlisten = \"0.0.0.0:8773\"\nallow_remote = true\n", "amid.toml",
                                  valid_config());
  ASSERT_TRUE(allowed.ok()) << allowed.problem().message;
  EXPECT_TRUE(validate_config(allowed.value()).ok());
  auto unknown = load_config_text("[ec2_api]\nport = 8773\n", "amid.toml", valid_config());
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(has_substr(unknown.problem().message, "ec2_api.port")) << unknown.problem().message;
}

TEST(ValidateConfig, ConnectionSharesDefaultToPartsOfTheTotal) {
  Config c = valid_config();
  auto r = validate_config(c);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().max_connections, 64);
  EXPECT_EQ(r.value().max_connections_per_user, 16);
  EXPECT_EQ(r.value().admin_reserved_connections, 8);
  EXPECT_EQ(r.value().idle_timeout_seconds, 60);
  EXPECT_EQ(r.value().request_timeout_seconds, 10);
  // A small total that was valid before these keys existed stays valid.
  c.max_connections = 10;
  r = validate_config(c);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().max_connections_per_user, 2);
  EXPECT_EQ(r.value().admin_reserved_connections, 1);
  c.max_connections = 1;
  r = validate_config(c);
  ASSERT_TRUE(r.ok()) << r.problem().message;
  EXPECT_EQ(r.value().max_connections_per_user, 1);
  EXPECT_EQ(r.value().admin_reserved_connections, 0);
}

TEST(ValidateConfig, ReadsTheConnectionKeysAndRefusesSharesThatDoNotFit) {
  auto r = load_config_text("[daemon]\nmax_connections = 40\nmax_connections_per_user = 5\n"
                            "admin_reserved_connections = 0\nidle_timeout_seconds = 3\nrequest_timeout_seconds = 2\n",
                            "amid.toml", valid_config());
  ASSERT_TRUE(r.ok()) << r.problem().message;
  auto v = validate_config(r.value());
  ASSERT_TRUE(v.ok()) << v.problem().message;
  EXPECT_EQ(v.value().max_connections_per_user, 5);
  EXPECT_EQ(v.value().admin_reserved_connections, 0) << "0 is a value, not the default";
  EXPECT_EQ(v.value().idle_timeout_seconds, 3);
  EXPECT_EQ(v.value().request_timeout_seconds, 2);

  Config c = valid_config();
  c.max_connections = 10;
  c.admin_reserved_connections = 10;
  v = validate_config(c);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(amid::testing::starts_with(v.problem().message, "daemon.admin_reserved_connections:")) << v.problem().message;
  c.admin_reserved_connections = 4;
  c.max_connections_per_user = 7;
  v = validate_config(c);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(amid::testing::starts_with(v.problem().message, "daemon.max_connections_per_user:")) << v.problem().message;
  for (const char* bad : {"idle_timeout_seconds = 0", "request_timeout_seconds = -1", "max_connections_per_user = 0",
                          "admin_reserved_connections = -1"}) {
    auto refused = load_config_text(std::string("[daemon]\n") + bad + "\n", "amid.toml", valid_config());
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_TRUE(has_substr(refused.problem().message, bad_key(bad))) << refused.problem().message;
  }
}

TEST(ValidateConfig, RefusesRelativePaths) {
  Config c = valid_config();
  c.state_dir = "var/lib/amid";
  auto r = validate_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "state_dir:"));

  c = valid_config();
  c.state_dir = "";
  EXPECT_FALSE(validate_config(c).ok());

  c = valid_config();
  c.socket_path = "amid.sock";
  r = validate_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "socket:"));
}

TEST(ValidateConfig, RefusesASocketPathTooLongForSunPath) {
  Config c = valid_config();
  c.socket_path = "/" + std::string(106, 's');  // 107 bytes + NUL fits sun_path[108]
  EXPECT_TRUE(validate_config(c).ok());
  c.socket_path = "/" + std::string(107, 's');  // 108 bytes does not
  auto r = validate_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "socket:"));
}

TEST(ValidateConfig, RefusesALongStateDirForTheEmbeddedDriverOnly) {
  Config c = valid_config();
  c.libvirt_uri = "embedded";
  c.state_dir = "/" + std::string(51, 'd');  // 52 characters
  EXPECT_TRUE(validate_config(c).ok());
  c.state_dir = "/" + std::string(52, 'd');  // 53 characters
  auto r = validate_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "state_dir:"));
  EXPECT_TRUE(has_substr(r.problem().message, "libvirt.uri"));

  c.libvirt_uri = "qemu:///system";
  EXPECT_TRUE(validate_config(c).ok()) << "the length limit is the embedded driver's only";
}

TEST(ValidateConfig, RefusesABadRegion) {
  for (const std::string& region :
       {std::string(), std::string(33, 'a'), std::string("local_1"), std::string("local 1"),
        std::string("local-1\n"), std::string("r\xc3\xa9gion")}) {
    Config c = valid_config();
    c.region = region;
    auto r = validate_config(c);
    ASSERT_FALSE(r.ok()) << "'" << region << "'";
    EXPECT_TRUE(amid::testing::starts_with(r.problem().message, "region:"));
  }
  for (const std::string& region : {std::string("a"), std::string(32, 'a'), std::string("eu-west-2")}) {
    Config c = valid_config();
    c.region = region;
    EXPECT_TRUE(validate_config(c).ok()) << region;
  }
}

TEST(Regions, WithoutRegionsTablesOneRegionLivesInTheStateDir) {
  Config c = valid_config();
  auto regions = c.effective_regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].name, "local-1");
  EXPECT_EQ(regions[0].store, "/var/lib/amid");
  EXPECT_EQ(regions[0].effective_libvirt_uri(), "qemu:///embed?root=/var/lib/amid/libvirt");
}

TEST(Regions, ReadsEachRegionWithTheDefaultFirst) {
  auto r = load_config_text(R"([daemon]
region = "local-2"
[regions.local-1]
store = "/var/lib/amid/regions/local-1"
[regions.local-2]
store = "/srv/amid/local-2"
libvirt_uri = "qemu:///system"
)", "amid.toml", valid_config());
  ASSERT_TRUE(r.ok()) << r.problem().message;
  auto valid = validate_config(r.value());
  ASSERT_TRUE(valid.ok()) << valid.problem().message;
  auto regions = valid.value().effective_regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].name, "local-2");
  EXPECT_EQ(regions[0].effective_libvirt_uri(), "qemu:///system");
  EXPECT_EQ(regions[1].name, "local-1");
  EXPECT_EQ(regions[1].libvirt_uri, "embedded");
  EXPECT_EQ(regions[1].effective_libvirt_uri(), "qemu:///embed?root=/var/lib/amid/regions/local-1/libvirt");
}

TEST(Regions, LocalLibvirtUrisAreAccepted) {
  for (const std::string uri : {"qemu:///system", "qemu+unix:///system?socket=/run/x/libvirt-sock",
                                "test:///default"}) {
    Config c = valid_config();
    c.regions = {{"local-1", "/a", "embedded"}, {"local-2", "/b", uri}};
    auto r = validate_config(c);
    EXPECT_TRUE(r.ok()) << uri << ": " << r.problem().message;
    EXPECT_FALSE(c.regions[1].store_on_libvirt_host()) << uri;
  }
}

TEST(Regions, AUriNamingAHostPutsTheRegionsStoreOnThatHost) {
  for (const std::string uri : {"qemu+ssh://root@host2:22/system", "qemu+tcp://127.0.0.1:16509/system",
                                "qemu://localhost/system"}) {
    Config c = valid_config();
    c.regions = {{"local-1", "/a", "embedded"}, {"east-1", "/srv/amid/east-1", uri}};
    auto r = validate_config(c);
    EXPECT_TRUE(r.ok()) << uri << ": " << r.problem().message;
    EXPECT_TRUE(c.regions[1].store_on_libvirt_host()) << uri;
  }
  // Without [regions], the state dir (the catalog's, on this machine) cannot be that host's store.
  Config c = valid_config();
  c.libvirt_uri = "qemu+ssh://host2/system";
  auto r = validate_config(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problem().message.find("libvirt.uri: 'qemu+ssh://host2/system' names another host (host2)"),
            std::string::npos)
      << r.problem().message;
}

TEST(Regions, BadRegionsAreRefusedNamingTheKey) {
  struct Case {
    std::string toml, expect;
  };
  const std::vector<Case> cases = {
      {"[regions.local-1]\nlibvirt_uri = \"qemu:///system\"\n", "regions.local-1.store: required"},
      {"[regions.local-1]\nstore = \"rel/dir\"\n", "regions.local-1.store: must be an absolute path"},
      {"[regions.local-1]\nstore = \"/a\"\ncolour = 1\n", "regions.local-1.colour"},
      {"[regions.local-1]\nstore = \"/a\"\n[regions.b_2]\nstore = \"/b\"\nlibvirt_uri = \"qemu:///system\"\n",
       "regions.b_2: 'b_2' may hold only"},
      {"[regions.local-1]\nstore = \"/a\"\n[regions.two]\nstore = \"/b\"\n",
       "regions.two.libvirt_uri: regions.local-1 uses the embedded driver already"},
      {"[regions.local-1]\nstore = \"/a\"\n[regions.two]\nstore = \"/a/\"\nlibvirt_uri = \"qemu:///system\"\n",
       "regions.two.store: /a/ is another region's store too"},
      {"[regions.east]\nstore = \"/a\"\n", "region: the default region 'local-1' is not among [regions] (east)"},
      {"[regions.local-1]\nstore = \"/a\"\nlibvirt_uri = \"\"\n", "regions.local-1.libvirt_uri: must not be empty"},
      {"regions = 3\n", "regions: must be a table"},
  };
  for (const auto& c : cases) {
    auto loaded = load_config_text(c.toml, "amid.toml", valid_config());
    std::string message = loaded.ok() ? "" : loaded.problem().message;
    if (loaded.ok()) {
      auto valid = validate_config(loaded.value());
      message = valid.ok() ? "" : valid.problem().message;
    }
    EXPECT_NE(message.find(c.expect), std::string::npos) << c.toml << " gave: '" << message << "'";
  }
}

TEST(EffectiveLibvirtUri, EmbeddedLivesInTheStateDir) {
  Config c = valid_config();
  c.libvirt_uri = "embedded";
  EXPECT_EQ(c.effective_libvirt_uri(), "qemu:///embed?root=/var/lib/amid/libvirt");
  c.libvirt_uri = "qemu:///system";
  EXPECT_EQ(c.effective_libvirt_uri(), "qemu:///system");
}

TEST(ShippedConfig, ConfigsAmidTomlLoadsAndValidates) {
  const std::string path = std::string(AMID_SOURCE_DIR) + "/configs/amid.toml";
  if (!amid::testing::file_exists(path)) {
    GTEST_SKIP() << path << " does not exist yet (it is written alongside the docs)";
  }
  auto loaded = load_config_file(path, valid_config());
  ASSERT_TRUE(loaded.ok()) << loaded.problem().message;
  auto valid = validate_config(loaded.value());
  EXPECT_TRUE(valid.ok()) << valid.problem().message;
}

TEST(LoadConfigText, RefusesDeepDottedKeysAndAnEmptyLibvirtUri) {
  std::string deep = "daemon";
  for (int i = 0; i < 30000; ++i) deep += ".x";
  auto r = load_config_text(deep + " = 1\n", "amid.toml", valid_config());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_substr(r.problem().message, "amid.toml:1:1: a key with more than 32 dotted parts"));
  auto empty = load_config_text("[libvirt]\nuri = \"\"\n", "amid.toml", valid_config());
  ASSERT_TRUE(empty.ok()) << empty.problem().message;
  auto v = validate_config(empty.value());
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(has_substr(v.problem().message, "libvirt.uri: must not be empty"));
}

}  // namespace
}  // namespace amid
