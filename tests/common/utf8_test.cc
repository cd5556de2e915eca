// UTF-8 validation as Go's utf8.Valid (which kustomize uses to choose data or binaryData).
#include "common/utf8.h"

#include "gtest/gtest.h"

namespace todoke {
namespace {

TEST(Utf8Test, AcceptsWellFormedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80 é 日本 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xED\x9F\xBF"));
  EXPECT_EQ(Utf8SequenceLength("\xE6\x97\xA5", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("a\xF0\x9F\x98\x80", 1), 4u);
}

TEST(Utf8Test, RefusesOverlongSurrogateOutOfRangeAndTruncated) {
  for (const char* bad : {
           "\xC0\xAF",                          // overlong '/'
           "\xC1\xBF",                          // overlong
           "\xE0\x80\xAF",                      // overlong 3-byte
           "\xF0\x80\x80\xAF",                  // overlong 4-byte
           "\xED\xA0\x80",                      // U+D800, a surrogate
           "\xED\xBF\xBF",                      // U+DFFF
           "\xF4\x90\x80\x80",                  // U+110000
           "\xF5\x80\x80\x80", "\xFF", "\x80",  // impossible lead, stray continuation
           "\xE6\x97",                          // truncated
           "\xE6\x41\xA5",                      // bad continuation
       }) {
    EXPECT_FALSE(IsValidUtf8(bad)) << testing::PrintToString(std::string(bad));
  }
}

}  // namespace
}  // namespace todoke
