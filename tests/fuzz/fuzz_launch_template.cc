// Fuzz target: the launch template TOML reader (common/launch_template.h,
// parse_launch_template), as amictl reads --launch-template file://X.
//
// Checked: no crash, leak, hang, UB or exception; a refusal starts with "SOURCE:"
// and has a code; an accepted template obeys the documented limits, and its
// block_device_mappings obey bdm_checks.h.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ids.h"
#include "common/launch_template.h"
#include "common/tags.h"
#include "tests/fuzz/bdm_checks.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace amid;
  const std::string text = fuzz::text(data, size);
  BdmLimits limits;
  auto parsed = parse_launch_template(text, "fuzz.toml", limits);
  if (!parsed.ok()) {
    AMID_FUZZ_CHECK(!parsed.problem().code.empty());
    AMID_FUZZ_CHECK(fuzz::starts_with(parsed.problem().message, "fuzz.toml:"),
                    parsed.problem().message);
    return 0;
  }
  const LaunchTemplate& lt = parsed.value();
  if (lt.image_id) AMID_FUZZ_CHECK(is_valid_id(*lt.image_id, "ami"), *lt.image_id);
  if (lt.instance_type) {
    AMID_FUZZ_CHECK(!lt.instance_type->empty() && lt.instance_type->size() <= 64);
  }
  if (lt.count) AMID_FUZZ_CHECK(*lt.count >= 1 && *lt.count <= kMaxLaunchCount);
  if (lt.user_data) AMID_FUZZ_CHECK(lt.user_data->size() <= kMaxUserDataBytes);
  AMID_FUZZ_CHECK(lt.tags.size() <= kMaxTags);
  for (const auto& [key, value] : lt.tags) {
    AMID_FUZZ_CHECK(!tag_key_problem(key), key);
    AMID_FUZZ_CHECK(!tag_value_problem(value), value);
  }
  fuzz::check_accepted_mappings(lt.block_device_mappings, limits);
  return 0;
}
