// The RFC 6901 tokenizer shared by the differ's ignoreDifferences and kustomize's JSON 6902
// patches.
#include "common/json_pointer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(JsonPointerTest, SplitsAndUnescapes) {
  EXPECT_THAT(*ParseJsonPointer(""), IsEmpty());
  EXPECT_THAT(*ParseJsonPointer("/"), ElementsAre(""));
  EXPECT_THAT(*ParseJsonPointer("/a~1b/0"), ElementsAre("a/b", "0"));
  EXPECT_THAT(*ParseJsonPointer("/metadata/annotations/a~1b~0c/"),
              ElementsAre("metadata", "annotations", "a/b~c", ""));
  // Left to right: "~01" is "~" then "1", never "/".
  EXPECT_THAT(*ParseJsonPointer("/~01"), ElementsAre("~1"));
  EXPECT_THAT(*ParseJsonPointer("//x"), ElementsAre("", "x"));
}

TEST(JsonPointerTest, RefusesAMissingSlashNamingThePointer) {
  auto parsed = ParseJsonPointer("spec/replicas");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("\"spec/replicas\": must be empty or start with '/'"));
  EXPECT_FALSE(ParseJsonPointer("x", JsonPointerEscapes::kLenient).ok());
}

TEST(JsonPointerTest, StrictRefusesABadEscape) {
  for (const char* bad : {"/a~2b", "/a~", "/~/x", "/a~b"}) {
    auto parsed = ParseJsonPointer(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("'~' must be followed by '0' or '1'"))
        << bad;
  }
}

TEST(JsonPointerTest, LenientKeepsABadEscapeLiterally) {
  EXPECT_THAT(*ParseJsonPointer("/a~2b/c~", JsonPointerEscapes::kLenient),
              ElementsAre("a~2b", "c~"));
  EXPECT_THAT(*ParseJsonPointer("/a~1b~0", JsonPointerEscapes::kLenient), ElementsAre("a/b~"));
}

TEST(JsonPointerTest, AppendEscapesAndRoundTrips) {
  std::string pointer;
  AppendPointerToken(pointer, "metadata");
  AppendPointerToken(pointer, "todoke.dev/tracking-id");
  AppendPointerToken(pointer, "a~b");
  AppendPointerToken(pointer, "");
  EXPECT_EQ(pointer, "/metadata/todoke.dev~1tracking-id/a~0b/");
  EXPECT_THAT(*ParseJsonPointer(pointer),
              ElementsAre("metadata", "todoke.dev/tracking-id", "a~b", ""));
}

}  // namespace
}  // namespace todoke
