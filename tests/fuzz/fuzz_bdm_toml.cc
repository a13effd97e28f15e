// Fuzz target: the block device mapping TOML reader (common/block_device_mapping.h,
// parse_block_device_mappings), as amictl reads --block-device-mappings file://X.
//
// Checked: no crash, leak, hang, UB or exception; a refusal starts with
// "SOURCE:" and has a code; accepted mappings obey the rules (bdm_checks.h) and
// survive to_toml and to_ec2_json round trips.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/block_device_mapping.h"
#include "tests/fuzz/bdm_checks.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace amid;
  const std::string text = fuzz::text(data, size);
  BdmLimits limits;  // the defaults amictl and amid use
  auto parsed = parse_block_device_mappings(text, "fuzz.toml", limits);
  if (!parsed.ok()) {
    AMID_FUZZ_CHECK(!parsed.problem().code.empty());
    AMID_FUZZ_CHECK(fuzz::starts_with(parsed.problem().message, "fuzz.toml:"),
                    parsed.problem().message);
    return 0;
  }
  fuzz::check_accepted_mappings(parsed.value(), limits);
  return 0;
}
