#include "daemon/state/glob.h"

#include <string>
#include <vector>

namespace amid {
namespace {

// EC2's wildcards, matched on characters. Not fnmatch(3): it gives "[" a meaning
// EC2 does not, and glibc's, in a UTF-8 locale, also accepts byte-wise matches
// ("?????" matches "caf\u00e9", four characters).
enum class GlobToken { kChar, kOne, kRun };

struct GlobItem {
  GlobToken token;
  std::string_view ch;  // kChar: the character
};

// The UTF-8 characters of s (a stray continuation byte joins the character before it).
std::vector<std::string_view> characters(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 1; i <= s.size(); ++i) {
    if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      out.push_back(s.substr(start, i - start));
      start = i;
    }
  }
  return out;
}

std::vector<GlobItem> compile_glob(std::string_view pattern) {
  std::vector<GlobItem> out;
  auto chars = characters(pattern);
  for (std::size_t i = 0; i < chars.size(); ++i) {
    if (chars[i] == "\\" && i + 1 < chars.size()) out.push_back({GlobToken::kChar, chars[++i]});
    else if (chars[i] == "*") out.push_back({GlobToken::kRun, {}});
    else if (chars[i] == "?") out.push_back({GlobToken::kOne, {}});
    else out.push_back({GlobToken::kChar, chars[i]});
  }
  return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  const auto pat = compile_glob(pattern);
  const auto txt = characters(text);
  // Greedy with one backtrack point: the last "*" seen, and where in the text it
  // started to match. Linear in practice, quadratic at worst.
  std::size_t p = 0, t = 0, star = std::string::npos, star_t = 0;
  while (t < txt.size()) {
    if (p < pat.size() && (pat[p].token == GlobToken::kOne ||
                           (pat[p].token == GlobToken::kChar && pat[p].ch == txt[t]))) {
      ++p;
      ++t;
    } else if (p < pat.size() && pat[p].token == GlobToken::kRun) {
      star = p++;
      star_t = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p].token == GlobToken::kRun) ++p;
  return p == pat.size();
}

}  // namespace amid
