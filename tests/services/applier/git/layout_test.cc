// The Git destination's file layout: names, escaping, app folders.
#include "services/applier/core/git/layout.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::applier {
namespace {

ObjectKey Key(std::string group, std::string kind, std::string ns, std::string name) {
  return ObjectKey{std::move(group), "v1", std::move(kind), std::move(ns), std::move(name)};
}

TEST(GitLayoutTest, ObjectFilePaths) {
  EXPECT_EQ(*ObjectFilePath(Key("", "ConfigMap", "demo", "cfg")), "demo/core.configmap.cfg.yaml");
  EXPECT_EQ(*ObjectFilePath(Key("apps", "Deployment", "demo", "web")),
            "demo/apps.deployment.web.yaml");
  EXPECT_EQ(*ObjectFilePath(Key("", "Namespace", "", "demo")), "_cluster/core.namespace.demo.yaml");
  EXPECT_EQ(*ObjectFilePath(Key("rbac.authorization.k8s.io", "ClusterRole", "", "system:view")),
            "_cluster/rbac.authorization.k8s.io.clusterrole.system%3Aview.yaml");
}

TEST(GitLayoutTest, HostileNamesStayInOneComponent) {
  for (const ObjectKey& key :
       {Key("", "ConfigMap", "..", "../../etc/passwd"), Key("", "ConfigMap", ".", ".."),
        Key("", "ConfigMap", "a/b", "x/y"), Key("", "ConfigMap", "_cluster", "n"),
        Key("", "ConfigMap", ".todoke-app", ".git"), Key("x/y", "Kind/../z", "ns", "n"),
        Key("", "ConfigMap", "ns", std::string("nul\0byte", 8)),
        Key("", "ConfigMap", "ns", "new\nline%2F")}) {
    absl::StatusOr<std::string> path = ObjectFilePath(key);
    ASSERT_TRUE(path.ok()) << path.status();
    EXPECT_TRUE(IsObjectFilePath(*path)) << *path;
    size_t slash = path->find('/');
    EXPECT_EQ(path->find('/', slash + 1), std::string::npos) << *path;
    EXPECT_EQ(path->find('\0'), std::string::npos);
    EXPECT_NE((*path)[0], '.') << *path;
    EXPECT_NE((*path)[slash + 1], '.') << *path;
    EXPECT_NE(path->substr(0, slash), "_cluster") << *path;  // every key here has a namespace
  }
  EXPECT_EQ(*ObjectFilePath(Key("", "ConfigMap", "..", "../x")),
            "%2E./core.configmap.%2E.%2Fx.yaml");
  EXPECT_EQ(EscapePathComponent("a%b"), "a%25b");
}

TEST(GitLayoutTest, DistinctNamesGiveDistinctFiles) {
  std::set<std::string> paths;
  for (const char* name : {"a", "A", "a%2F", "a/", "a_", "a%5F", ".a", "%2Ea"}) {
    EXPECT_TRUE(paths.insert(*ObjectFilePath(Key("", "ConfigMap", "ns", name))).second) << name;
  }
}

TEST(GitLayoutTest, RefusesUnusableKeys) {
  EXPECT_FALSE(ObjectFilePath(Key("", "ConfigMap", "ns", "")).ok());
  EXPECT_FALSE(ObjectFilePath(Key("", "", "ns", "n")).ok());
  EXPECT_FALSE(ObjectFilePath(Key("", "ConfigMap", "ns", std::string(250, 'a'))).ok());
  EXPECT_FALSE(ObjectFilePath(Key("", "ConfigMap", std::string(300, 'a'), "n")).ok());
}

TEST(GitLayoutTest, NormalizesAppPaths) {
  EXPECT_EQ(*NormalizeAppPath(""), "");
  EXPECT_EQ(*NormalizeAppPath("/"), "");
  EXPECT_EQ(*NormalizeAppPath("./"), "");
  EXPECT_EQ(*NormalizeAppPath("apps//a/./"), "apps/a");
  EXPECT_EQ(*NormalizeAppPath("/apps/a"), "apps/a");
  for (const char* bad :
       {"apps/../etc", "..", ".git/hooks", "a/.GIT", "a/.todoke-app", "a\\b", "a\nb", "a\tb"}) {
    EXPECT_EQ(NormalizeAppPath(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(NormalizeAppPath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(NormalizeAppPath(std::string(300, 'a')).ok());
}

TEST(GitLayoutTest, Overlap) {
  EXPECT_TRUE(AppPathsOverlap("apps/a", "apps/a"));
  EXPECT_TRUE(AppPathsOverlap("apps/a", "apps/a/b"));
  EXPECT_TRUE(AppPathsOverlap("apps/a/b", "apps/a"));
  EXPECT_TRUE(AppPathsOverlap("", "apps/a"));
  EXPECT_FALSE(AppPathsOverlap("apps/a", "apps/ab"));
  EXPECT_FALSE(AppPathsOverlap("apps/a", "apps/b"));
}

TEST(GitLayoutTest, ObjectFileShape) {
  EXPECT_TRUE(IsObjectFilePath("ns/core.configmap.x.yaml"));
  EXPECT_FALSE(IsObjectFilePath("core.configmap.x.yaml"));
  EXPECT_FALSE(IsObjectFilePath("ns/sub/x.yaml"));
  EXPECT_FALSE(IsObjectFilePath(".hidden/x.yaml"));
  EXPECT_FALSE(IsObjectFilePath("ns/README.md"));
  EXPECT_FALSE(IsObjectFilePath("ns/.yaml"));
}

}  // namespace
}  // namespace todoke::applier
