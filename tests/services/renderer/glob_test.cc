#include "services/renderer/core/glob.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

using ::testing::ElementsAre;

TEST(GlobTest, Wildcards) {
  EXPECT_TRUE(GlobMatch("*.yaml", "a.yaml"));
  EXPECT_TRUE(GlobMatch("*.yaml", "sub/a.yaml"));  // no separators, as Argo CD
  EXPECT_FALSE(GlobMatch("*.yaml", "a.yml"));
  EXPECT_TRUE(GlobMatch("a?.json", "ab.json"));
  EXPECT_TRUE(GlobMatch("[ab]*.yaml", "b1.yaml"));
  EXPECT_FALSE(GlobMatch("[!ab]*.yaml", "b1.yaml"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("**/deploy.yaml", "x/y/deploy.yaml"));
  EXPECT_TRUE(GlobMatch("\\*.yaml", "*.yaml"));
  EXPECT_FALSE(GlobMatch("\\*.yaml", "a.yaml"));
}

TEST(GlobTest, Braces) {
  EXPECT_TRUE(GlobMatch("{config.yaml,env-use2/*}", "env-use2/a.yaml"));
  EXPECT_TRUE(GlobMatch("{config.yaml,env-use2/*}", "config.yaml"));
  EXPECT_FALSE(GlobMatch("{config.yaml,env-use2/*}", "other.yaml"));
  EXPECT_TRUE(GlobMatch("a{b,c{d,e}}f", "acef"));
}

TEST(GlobTest, SplitsListsOutsideBraces) {
  EXPECT_THAT(SplitGlobList("*.yaml, base/*,{a,b}.json,,"),
              ElementsAre("*.yaml", "base/*", "{a,b}.json"));
  EXPECT_TRUE(GlobMatchAny(SplitGlobList("x.yaml,*.json"), "y.json"));
  EXPECT_FALSE(GlobMatchAny(SplitGlobList(""), "y.json"));
}

}  // namespace
}  // namespace todoke::renderer
