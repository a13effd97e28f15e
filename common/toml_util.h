// Internal to the daemon's TOML readers of block device mappings and launch
// templates: locating nodes for messages, reading a whole document with a size cap
// and clear errors, and the block_device_mappings reader that both documents embed.
// Keeps toml++ out of the public headers. Pure; never throws.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/block_device_mapping.h"

namespace amid::toml_util {

// A user's string shown in a message: quoted, short, and with no control bytes to
// garble a log line.
inline std::string shown(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

// "FILE:LINE:COLUMN" of a node, a key or a parse error.
inline std::string where(const std::string& source, const toml::source_region& region) {
  std::ostringstream out;
  out << source << ":" << region.begin.line << ":" << region.begin.column;
  return out.str();
}

// A key's own position when toml++ recorded one, else its value's.
inline std::string where_key(const std::string& source, const toml::key& key,
                             const toml::node& value) {
  return key.source().begin.line != 0 ? where(source, key.source()) : where(source, value.source());
}

// toml++ 3.3 recurses once per segment of a dotted key and overflows the stack at
// some ten thousand segments (a.a.a...): keys deeper than kMaxKeySegments are
// refused before toml++ sees the text. Scans the key part of each line (before
// '=', or a [header]), skipping quoted text and multi-line strings.
inline constexpr int kMaxKeySegments = 32;
inline std::optional<std::string> deep_key_problem(const std::string& text, const std::string& source) {
  static const char* const kTriple[] = {"\"\"\"", "'''"};
  int line = 1;
  const char* in_multiline = nullptr;  // the delimiter while inside a multi-line string
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = text.find('\n', i);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + i, end - i);
    if (in_multiline) {
      if (l.find(in_multiline) != std::string_view::npos) in_multiline = nullptr;
    } else {
      int dots = 0;
      char quote = 0;
      for (std::size_t k = 0; k < l.size(); ++k) {
        char c = l[k];
        if (quote) {
          if (c == '\\' && quote == '"') ++k;
          else if (c == quote) quote = 0;
          continue;
        }
        if (c == '"' || c == '\'') quote = c;
        else if (c == '.') ++dots;
        else if (c == '=' || c == '#') break;
      }
      if (dots >= kMaxKeySegments) {
        return source + ":" + std::to_string(line) + ":1: a key with more than " +
               std::to_string(kMaxKeySegments) + " dotted parts is refused";
      }
      // A multi-line string that opens after '=' and stays open on this line.
      auto eq = l.find('=');
      if (eq != std::string_view::npos) {
        for (const char* delim : kTriple) {
          auto open = l.find(delim, eq);
          if (open != std::string_view::npos && l.find(delim, open + 3) == std::string_view::npos) {
            in_multiline = delim;
            break;
          }
        }
      }
    }
    ++line;
    i = end + 1;
  }
  return std::nullopt;
}

// Parses a whole document; refuses one over max_bytes, and turns toml++'s errors
// into "FILE:LINE:COLUMN: ..." with a plainer word for the ones users meet.
inline Result<toml::table> parse_document(const std::string& text, const std::string& source,
                                          std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return problem(source + ": the document is " + std::to_string(text.size()) +
                   " bytes; at most " + std::to_string(max_bytes) + " (" +
                   std::to_string(max_bytes / 1024) + " KiB) are accepted");
  }
  if (auto deep = deep_key_problem(text, source)) return problem(*deep);
  try {
    return toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    if (what.find("utf-8") != std::string::npos || what.find("UTF-8") != std::string::npos) {
      what =
          "the file is not valid UTF-8 text (an invalid byte sequence starts here); "
          "TOML documents must be UTF-8";
    } else if (what.find("not representable in 64 bits") != std::string::npos) {
      what += " (the number is far too large for any field)";
    }
    return problem(where(source, e.source()) + ": " + what);
  }
}

// Reads the value of a `block_device_mappings` key (an array of tables) under the
// rules of parse_block_device_mappings (defined in block_device_mapping.cc); `node`
// is only read during the call. Field names in messages are block_device_mappings[i]...
Result<BlockDeviceMappings> read_block_device_mappings(const toml::node& node,
                                                       const std::string& source,
                                                       const BdmLimits& limits);

}  // namespace amid::toml_util
