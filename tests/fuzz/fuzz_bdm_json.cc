// Fuzz target: the EC2 JSON block device mapping reader (common/block_device_mapping.h,
// from_ec2_json), as amid's dispatcher hands it a request's BlockDeviceMappings.
//
// The input is JSON text. When it parses, from_ec2_json reads the whole document,
// and also its "BlockDeviceMappings" member when the document is an object (so that a
// corpus of whole Parameters objects works too). Checked as for fuzz_bdm_toml.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/block_device_mapping.h"
#include "tests/fuzz/bdm_checks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void read(const nlohmann::json& json) {
  using namespace amid;
  BdmLimits limits;
  auto parsed = from_ec2_json(json, limits);
  if (!parsed.ok()) {
    AMID_FUZZ_CHECK(!parsed.problem().code.empty());
    AMID_FUZZ_CHECK(fuzz::starts_with(parsed.problem().message, "BlockDeviceMappings"),
                    parsed.problem().message);
    return;
  }
  fuzz::check_accepted_mappings(parsed.value(), limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json doc =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;
  read(doc);
  if (doc.is_object()) {
    if (auto it = doc.find("BlockDeviceMappings"); it != doc.end()) read(*it);
  }
  return 0;
}
