// Fuzz target: the wire protocol's decoders (common/protocol.h). The input is one
// request line as amid's socket reader hands it to parse_request (newline removed),
// and also an answer line as amictl hands it to parse_response.
//
// Checked: no crash, leak, hang, UB or exception; a refusal carries a code and a
// message; an accepted request has an action and object parameters, re-encodes to a
// line that decodes to the same request, and encoding is stable.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/protocol.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace amid;
  const std::string line = fuzz::text(data, size);

  auto request = protocol::parse_request(line);
  if (!request.ok()) {
    AMID_FUZZ_CHECK(!request.problem().code.empty());
    AMID_FUZZ_CHECK(!request.problem().message.empty());
  } else {
    const protocol::Request& r = request.value();
    AMID_FUZZ_CHECK(!r.action.empty());
    AMID_FUZZ_CHECK(r.parameters.is_object());
    AMID_FUZZ_CHECK(protocol::nesting_depth(line) <= protocol::kMaxDepth);
    const std::string encoded = protocol::encode_request(r);
    AMID_FUZZ_CHECK(!encoded.empty() && encoded.back() == '\n');
    auto again = protocol::parse_request(encoded.substr(0, encoded.size() - 1));
    AMID_FUZZ_CHECK(again.ok(), "re-encoded request refused: " + again.problem().message);
    AMID_FUZZ_CHECK(again.value().action == r.action);
    AMID_FUZZ_CHECK(protocol::encode_request(again.value()) == encoded, encoded);
  }
  // A smaller depth limit refuses at least what the default one refuses.
  auto shallow = protocol::parse_request(line, 2);
  AMID_FUZZ_CHECK(request.ok() || !shallow.ok());

  auto response = protocol::parse_response(line);
  if (response.ok()) {
    const protocol::Response& r = response.value();
    const std::string encoded = r.ok ? protocol::encode_ok(r.request_id, r.body)
                                     : protocol::encode_error(r.request_id, r.error_code,
                                                              r.error_message);
    auto again = protocol::parse_response(encoded.substr(0, encoded.size() - 1));
    AMID_FUZZ_CHECK(again.ok(), "re-encoded answer refused: " + encoded);
    AMID_FUZZ_CHECK(again.value().ok == r.ok && again.value().request_id == r.request_id);
  }
  return 0;
}
