// EC2's wildcard match, as its Filters and amid's catalog queries use it.
// Pure; any thread.
#pragma once

#include <string_view>

namespace amid {

// EC2's wildcard match of `pattern` against all of `text` (characters are UTF-8
// code points): `*` any run, `?` one character, `\` escapes the next one. "["
// has no special meaning.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace amid
