// Fuzz target: amid's config reader (daemon/config.h): load_config_text over fixed
// defaults, then validate_config, as `amid --config FILE` does.
//
// Checked: no crash, leak, hang, UB or exception; a refusal names the source; an
// accepted and validated config obeys validate_config's documented rules.
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace amid;
  const std::string text = fuzz::text(data, size);
  // Fixed defaults (default_config() depends on the user and environment).
  Config base;
  base.socket_path = "/run/amid/amid.sock";
  base.state_dir = "/var/lib/amid";

  auto loaded = load_config_text(text, "fuzz.toml", base);
  if (!loaded.ok()) {
    AMID_FUZZ_CHECK(fuzz::starts_with(loaded.problem().message, "fuzz.toml:"),
                    loaded.problem().message);
    return 0;
  }
  const Config& c = loaded.value();
  AMID_FUZZ_CHECK(c.workers >= 1 && c.max_connections >= 1);
  AMID_FUZZ_CHECK(c.max_request_bytes >= 1 && c.max_image_gib >= 1);

  auto valid = validate_config(loaded.value());
  if (!valid.ok()) {
    AMID_FUZZ_CHECK(!valid.problem().message.empty());
    return 0;
  }
  const Config& v = valid.value();
  AMID_FUZZ_CHECK(v.accel == "auto" || v.accel == "kvm" || v.accel == "tcg", v.accel);
  AMID_FUZZ_CHECK(!v.state_dir.empty() && v.state_dir[0] == '/', v.state_dir);
  AMID_FUZZ_CHECK(!v.socket_path.empty() && v.socket_path[0] == '/' && v.socket_path.size() < 108,
                  v.socket_path);
  AMID_FUZZ_CHECK(!v.region.empty() && v.region.size() <= 32, v.region);
  // libvirt.uri = "" passes validate_config (libvirt then picks its default URI);
  // only check that the embedded form is built when asked for.
  if (v.libvirt_uri == "embedded") {
    AMID_FUZZ_CHECK(fuzz::starts_with(v.effective_libvirt_uri(), "qemu:///embed?root=/"));
  }
  return 0;
}
