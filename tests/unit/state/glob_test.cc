// state/glob.h: EC2's wildcards, as its Filters and the catalog's queries match them.
#include "daemon/state/glob.h"

#include <gtest/gtest.h>

namespace amid {
namespace {

TEST(GlobMatch, StarAndQuestionMark) {
  EXPECT_TRUE(glob_match("web", "web"));
  EXPECT_FALSE(glob_match("web", "web2"));
  EXPECT_FALSE(glob_match("web", "Web")) << "case-sensitive, as EC2";
  EXPECT_TRUE(glob_match("web*", "web"));
  EXPECT_TRUE(glob_match("web*", "web-server-2"));
  EXPECT_TRUE(glob_match("*server*", "web-server-2"));
  EXPECT_FALSE(glob_match("*server", "web-server-2"));
  EXPECT_TRUE(glob_match("web-?", "web-1"));
  EXPECT_FALSE(glob_match("web-?", "web-"));
  EXPECT_FALSE(glob_match("web-?", "web-12"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("2026-11-*T03:*", "2026-11-27T03:49:17.248Z"));
  EXPECT_TRUE(glob_match("a/*", "a/b/c")) << "a slash is an ordinary character";
  EXPECT_TRUE(glob_match("*", ".hidden")) << "so is a leading dot";
}

TEST(GlobMatch, QuestionMarkIsOneCharacterNotOneByte) {
  EXPECT_TRUE(glob_match("caf?", "caf\xc3\xa9"));
  EXPECT_FALSE(glob_match("caf??", "caf\xc3\xa9"));
  EXPECT_FALSE(glob_match("?????", "caf\xc3\xa9")) << "five bytes, four characters";
  EXPECT_TRUE(glob_match("????", "caf\xc3\xa9"));
  EXPECT_TRUE(glob_match("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));
  EXPECT_FALSE(glob_match("\xc3\xa8*", "\xc3\xa9t\xc3\xa9")) << "a character is all of its bytes";
}

TEST(GlobMatch, StarsBacktrack) {
  EXPECT_TRUE(glob_match("*a*b*c", "xxaxxbxxbxxc"));
  EXPECT_FALSE(glob_match("*a*b*c", "xxaxxbxxbxxcx"));
  EXPECT_TRUE(glob_match("a*a*a", "aaa"));
  EXPECT_FALSE(glob_match("a*a*a", "aa"));
  EXPECT_TRUE(glob_match("**?", "x"));
  std::string long_text(2000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*b", long_text)) << "and finish quickly";
}

TEST(GlobMatch, BackslashMakesTheNextCharacterLiteral) {
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axxb"));
  EXPECT_TRUE(glob_match("\\?", "?"));
  EXPECT_FALSE(glob_match("\\?", "x"));
  EXPECT_TRUE(glob_match("\\\\", "\\"));
  EXPECT_TRUE(glob_match("end\\", "end\\")) << "a trailing backslash stands for itself";
}

TEST(GlobMatch, BracketsAreOrdinaryCharacters) {
  EXPECT_TRUE(glob_match("web[1]", "web[1]"));
  EXPECT_FALSE(glob_match("web[12]", "web1"));
  EXPECT_TRUE(glob_match("[*", "[x"));
  EXPECT_TRUE(glob_match("x]", "x]"));
}

}  // namespace
}  // namespace amid
