#include "common/object.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke {
namespace {

using ::testing::HasSubstr;

TEST(ObjectKeyTest, KeyOfNamespacedObject) {
  Json d = Json::parse(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"}})");
  absl::StatusOr<ObjectKey> key = KeyOf(d);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->group, "apps");
  EXPECT_EQ(key->version, "v1");
  EXPECT_EQ(key->kind, "Deployment");
  EXPECT_EQ(key->ns, "prod");
  EXPECT_EQ(key->name, "web");
  EXPECT_EQ(key->ApiVersion(), "apps/v1");
  EXPECT_EQ(key->ToString(), "Deployment.apps web -n prod");
}

TEST(ObjectKeyTest, CoreGroupHasEmptyGroup) {
  absl::StatusOr<ObjectKey> key =
      KeyOf(Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->group, "");
  EXPECT_EQ(key->ApiVersion(), "v1");
  EXPECT_EQ(key->ToString(), "ConfigMap c");
}

TEST(ObjectKeyTest, MissingPartsAreNamed) {
  EXPECT_THAT(
      std::string(KeyOf(Json::parse(R"({"kind":"X","metadata":{"name":"a"}})")).status().message()),
      HasSubstr("no apiVersion"));
  EXPECT_THAT(
      std::string(
          KeyOf(Json::parse(R"({"apiVersion":"v1","metadata":{"name":"a"}})")).status().message()),
      HasSubstr("no kind"));
  EXPECT_THAT(std::string(KeyOf(Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{}})"))
                              .status()
                              .message()),
              HasSubstr("Pod object has no metadata.name"));
  EXPECT_FALSE(KeyOf(Json::array()).ok());
}

TEST(ObjectKeyTest, PairingIgnoresVersion) {
  ObjectKey a{"autoscaling", "v1", "HorizontalPodAutoscaler", "ns", "h"};
  ObjectKey b{"autoscaling", "v2", "HorizontalPodAutoscaler", "ns", "h"};
  EXPECT_EQ(a, b);
  ObjectKey c{"autoscaling", "v2", "HorizontalPodAutoscaler", "other", "h"};
  EXPECT_FALSE(a == c);
  EXPECT_TRUE(a < c);
}

TEST(ObjectKeyTest, ClusterScopedKinds) {
  EXPECT_TRUE(IsClusterScopedKind("", "Namespace"));
  EXPECT_TRUE(IsClusterScopedKind("rbac.authorization.k8s.io", "ClusterRole"));
  EXPECT_TRUE(IsClusterScopedKind("apiextensions.k8s.io", "CustomResourceDefinition"));
  EXPECT_FALSE(IsClusterScopedKind("rbac.authorization.k8s.io", "Role"));
  EXPECT_FALSE(IsClusterScopedKind("apps", "Deployment"));
  EXPECT_FALSE(IsClusterScopedKind("", "ConfigMap"));
  // A custom kind named like a built-in one in another group is not assumed cluster-scoped.
  EXPECT_FALSE(IsClusterScopedKind("example.com", "Namespace"));
}

TEST(ObjectTest, LooksLikeKubernetesObject) {
  EXPECT_TRUE(LooksLikeKubernetesObject(
      Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}})")));
  EXPECT_FALSE(LooksLikeKubernetesObject(Json::parse(R"({"name":"values","replicas":3})")));
  EXPECT_FALSE(LooksLikeKubernetesObject(Json::parse(R"({"apiVersion":"v1","kind":"Pod"})")));
}

TEST(ObjectTest, CanonicalJsonSortsKeys) {
  Json a = Json::parse(R"({"b":1,"a":{"d":2,"c":3}})");
  EXPECT_EQ(CanonicalJson(a), R"({"a":{"c":3,"d":2},"b":1})");
}

TEST(ObjectTest, SplitApiVersion) {
  EXPECT_EQ(SplitApiVersion("apps/v1"), std::make_pair(std::string("apps"), std::string("v1")));
  EXPECT_EQ(SplitApiVersion("v1"), std::make_pair(std::string(""), std::string("v1")));
}

}  // namespace
}  // namespace todoke
