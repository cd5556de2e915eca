// The apply and prune order of the Kubernetes destination: hook phases, sync waves, kind order,
// dependency pulling, invalid objects failing alone, and the reverse order for prune.
#include "services/applier/core/sync/sync_order.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::applier::sync {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Json Object(absl::string_view api_version, absl::string_view kind, absl::string_view name,
            absl::string_view ns = "", Json annotations = Json::object()) {
  Json object = {{"apiVersion", std::string(api_version)},
                 {"kind", std::string(kind)},
                 {"metadata", {{"name", std::string(name)}}}};
  if (!ns.empty()) object["metadata"]["namespace"] = std::string(ns);
  if (!annotations.empty()) object["metadata"]["annotations"] = annotations;
  return object;
}

// "<phase>/<wave>: Kind name, Kind name | <phase>/<wave>: ..." for readable expectations.
std::string Describe(const std::vector<SyncStep>& steps) {
  std::vector<std::string> parts;
  for (const SyncStep& step : steps) {
    std::vector<std::string> names;
    for (const PlannedObject& object : step.objects) {
      names.push_back(absl::StrCat(object.key.kind, " ", object.key.name));
    }
    parts.push_back(
        absl::StrCat(SyncPhaseName(step.phase), "/", step.wave, ": ", absl::StrJoin(names, ", ")));
  }
  return absl::StrJoin(parts, " | ");
}

TEST(SyncOrderTest, KindsFollowArgoOrderWithinAWave) {
  std::vector<Json> objects = {
      Object("example.com/v1", "Widget", "w", "app"),
      Object("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "hook"),
      Object("apps/v1", "Deployment", "web", "app"),
      Object("v1", "Service", "web", "app"),
      Object("batch/v1", "Job", "migrate", "app"),
      Object("networking.k8s.io/v1", "Ingress", "web", "app"),
      Object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
      Object("rbac.authorization.k8s.io/v1", "Role", "reader", "app"),
      Object("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"),
      Object("v1", "ConfigMap", "b", "app"),
      Object("v1", "ConfigMap", "a", "app"),
      Object("v1", "Secret", "s", "app"),
      Object("v1", "ServiceAccount", "sa", "app"),
      Object("v1", "PersistentVolumeClaim", "data", "app"),
      Object("v1", "Namespace", "app"),
      Object("apiregistration.k8s.io/v1", "APIService", "v1.example.com"),
      Object("batch/v1", "CronJob", "nightly", "app"),
  };
  SyncOrder order = OrderForSync(objects);
  ASSERT_EQ(order.steps.size(), 1u);
  EXPECT_THAT(order.sync_fail, IsEmpty());
  EXPECT_EQ(Describe(order.steps),
            "Sync/0: Namespace app, ServiceAccount sa, Secret s, ConfigMap a, ConfigMap b, "
            "PersistentVolumeClaim data, CustomResourceDefinition widgets.example.com, "
            "ClusterRole reader, Role reader, Service web, Deployment web, Job migrate, "
            "CronJob nightly, Ingress web, APIService v1.example.com, "
            "ValidatingWebhookConfiguration hook, Widget w");
  for (const PlannedObject& object : order.steps[0].objects) {
    EXPECT_EQ(object.error, "") << object.key.ToString();
    EXPECT_FALSE(object.hook);
  }
}

TEST(SyncOrderTest, KindOfAnotherGroupIsUnknown) {
  EXPECT_LT(KindRank("apps", "Deployment"), KindRank("example.com", "Deployment"));
  EXPECT_EQ(ApplyTier("example.com", "Namespace"), 4);
  EXPECT_EQ(ApplyTier("", "Namespace"), 0);
}

TEST(SyncOrderTest, TiersSplitAStep) {
  std::vector<Json> objects = {
      Object("example.com/v1", "Widget", "w", "app"),
      Object("apps/v1", "Deployment", "web", "app"),
      Object("v1", "ConfigMap", "c", "app"),
      Object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
      Object("v1", "Namespace", "app"),
  };
  SyncOrder order = OrderForSync(objects);
  ASSERT_EQ(order.steps.size(), 1u);
  std::vector<std::vector<PlannedObject>> tiers = TiersOf(order.steps[0]);
  std::vector<std::string> described;
  for (const auto& tier : tiers) {
    std::vector<std::string> kinds;
    for (const PlannedObject& object : tier) kinds.push_back(object.key.kind);
    described.push_back(absl::StrJoin(kinds, ","));
  }
  EXPECT_THAT(described, ElementsAre("Namespace", "ConfigMap", "CustomResourceDefinition",
                                     "Deployment", "Widget"));
}

TEST(SyncOrderTest, PhasesThenWaves) {
  std::vector<Json> objects = {
      Object("v1", "ConfigMap", "late", "app", {{"todoke.dev/sync-wave", "5"}}),
      Object("v1", "ConfigMap", "early", "app", {{"todoke.dev/sync-wave", "-2"}}),
      Object("v1", "ConfigMap", "plain", "app"),
      Object("batch/v1", "Job", "post", "app", {{"todoke.dev/hook", "PostSync"}}),
      Object("batch/v1", "Job", "pre", "app", {{"todoke.dev/hook", "PreSync"}}),
      Object("batch/v1", "Job", "pre-late", "app",
             {{"todoke.dev/hook", "PreSync"}, {"todoke.dev/sync-wave", "1"}}),
      Object("batch/v1", "Job", "during", "app", {{"todoke.dev/hook", "Sync"}}),
      Object("batch/v1", "Job", "fail", "app", {{"todoke.dev/hook", "SyncFail"}}),
  };
  SyncOrder order = OrderForSync(objects, {.default_namespace = "app"});
  EXPECT_EQ(Describe(order.steps),
            "PreSync/0: Job pre | PreSync/1: Job pre-late | Sync/-2: ConfigMap early | "
            "Sync/0: ConfigMap plain, Job during | Sync/5: ConfigMap late | PostSync/0: Job post");
  EXPECT_EQ(Describe(order.sync_fail), "SyncFail/0: Job fail");
  for (const SyncStep& step : order.steps) {
    for (const PlannedObject& object : step.objects) {
      EXPECT_EQ(object.hook, object.key.kind == "Job") << object.key.ToString();
      if (object.hook) {
        EXPECT_EQ(object.hook_delete_policy, kBeforeHookCreation);
      }
    }
  }
}

TEST(SyncOrderTest, HookInSeveralPhasesAppearsInEach) {
  std::vector<Json> objects = {
      Object("batch/v1", "Job", "check", "app", {{"todoke.dev/hook", "PreSync, PostSync"}}),
  };
  SyncOrder order = OrderForSync(objects);
  EXPECT_EQ(Describe(order.steps), "PreSync/0: Job check | PostSync/0: Job check");
  EXPECT_EQ(order.steps[0].objects[0].index, 0u);
  EXPECT_EQ(order.steps[1].objects[0].index, 0u);
}

TEST(SyncOrderTest, HookDeletePolicies) {
  std::vector<Json> objects = {
      Object("batch/v1", "Job", "a", "app",
             {{"todoke.dev/hook", "PreSync"},
              {"todoke.dev/hook-delete-policy", "HookSucceeded,HookFailed"}}),
      Object("batch/v1", "Job", "b", "app",
             {{"todoke.dev/hook", "PreSync"}, {"todoke.dev/hook-delete-policy", "Sometimes"}}),
  };
  SyncOrder order = OrderForSync(objects);
  ASSERT_EQ(order.steps.size(), 1u);
  const PlannedObject& a = order.steps[0].objects[0];
  const PlannedObject& b = order.steps[0].objects[1];
  EXPECT_EQ(a.hook_delete_policy, kHookSucceeded | kHookFailed);
  EXPECT_EQ(a.error, "");
  EXPECT_THAT(b.error, HasSubstr("todoke.dev/hook-delete-policy: \"Sometimes\""));
}

TEST(SyncOrderTest, GenerateNameOnlyForHooks) {
  Json hook = Object("batch/v1", "Job", "", "app", {{"todoke.dev/hook", "PreSync"}});
  hook["metadata"].erase("name");
  hook["metadata"]["generateName"] = "migrate-";
  Json plain = Object("v1", "ConfigMap", "", "app");
  plain["metadata"].erase("name");
  plain["metadata"]["generateName"] = "cm-";
  SyncOrder order = OrderForSync({hook, plain});
  ASSERT_EQ(order.steps.size(), 2u);
  const PlannedObject& hook_planned = order.steps[0].objects[0];
  EXPECT_TRUE(hook_planned.generate_name);
  EXPECT_EQ(hook_planned.key.name, "migrate-");
  EXPECT_EQ(hook_planned.error, "");
  const PlannedObject& plain_planned = order.steps[1].objects[0];
  EXPECT_FALSE(plain_planned.generate_name);
  EXPECT_THAT(plain_planned.error, HasSubstr("generateName is allowed only for hooks"));
}

TEST(SyncOrderTest, BadAnnotationsFailTheObjectAloneInItsStep) {
  std::vector<Json> objects = {
      Object("v1", "ConfigMap", "bad-wave", "app", {{"todoke.dev/sync-wave", "soon"}}),
      Object("v1", "ConfigMap", "bad-hook", "app",
             {{"todoke.dev/hook", "Later"}, {"todoke.dev/sync-wave", "2"}}),
      Object("v1", "ConfigMap", "fine", "app"),
      Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"namespace", "app"}}}},
      Json{{"kind", "ConfigMap"}, {"metadata", {{"name", "no-version"}}}},
  };
  SyncOrder order = OrderForSync(objects);
  EXPECT_EQ(Describe(order.steps),
            "Sync/0: ConfigMap no-version, ConfigMap , ConfigMap bad-wave, ConfigMap fine | "
            "Sync/2: ConfigMap bad-hook");
  std::map<std::string, std::string> errors;
  for (const SyncStep& step : order.steps) {
    for (const PlannedObject& object : step.objects) errors[object.key.name] = object.error;
  }
  EXPECT_EQ(errors["bad-wave"], "todoke.dev/sync-wave: \"soon\" is not an integer");
  EXPECT_THAT(errors["bad-hook"], HasSubstr("todoke.dev/hook: \"Later\" is not a hook phase"));
  EXPECT_EQ(errors["fine"], "");
  EXPECT_THAT(errors[""], HasSubstr("no metadata.name"));
  EXPECT_THAT(errors["no-version"], HasSubstr("no apiVersion"));
}

TEST(SyncOrderTest, WaveValues) {
  EXPECT_EQ(*WaveOf(Object("v1", "ConfigMap", "a")), 0);
  EXPECT_EQ(*WaveOf(Object("v1", "ConfigMap", "a", "", {{"todoke.dev/sync-wave", "-7"}})), -7);
  EXPECT_FALSE(WaveOf(Object("v1", "ConfigMap", "a", "", {{"todoke.dev/sync-wave", "1.5"}})).ok());
  EXPECT_FALSE(WaveOf(Object("v1", "ConfigMap", "a", "", {{"todoke.dev/sync-wave", ""}})).ok());
  EXPECT_FALSE(
      WaveOf(Object("v1", "ConfigMap", "a", "", {{"todoke.dev/sync-wave", "99999999999"}})).ok());
  EXPECT_FALSE(WaveOf(Object("v1", "ConfigMap", "a", "", {{"todoke.dev/sync-wave", 3}})).ok());
}

TEST(SyncOrderTest, NamespaceIsPulledIntoTheEarliestStepNeedingIt) {
  std::vector<Json> objects = {
      Object("v1", "Namespace", "app", "", {{"todoke.dev/sync-wave", "3"}}),
      Object("v1", "ConfigMap", "c", "app", {{"todoke.dev/sync-wave", "1"}}),
      Object("batch/v1", "Job", "pre", "app", {{"todoke.dev/hook", "PreSync"}}),
      Object("v1", "Namespace", "other", "", {{"todoke.dev/sync-wave", "4"}}),
      Object("v1", "Namespace", "unused", "", {{"todoke.dev/sync-wave", "4"}}),
      Object("v1", "Secret", "s", "other", {{"todoke.dev/sync-wave", "9"}}),
  };
  SyncOrder order = OrderForSync(objects);
  EXPECT_EQ(Describe(order.steps),
            "PreSync/0: Namespace app, Job pre | Sync/1: ConfigMap c | "
            "Sync/4: Namespace other, Namespace unused | Sync/9: Secret s");
  EXPECT_EQ(order.steps[0].objects[0].pulled_by,
            "needed by Job.batch pre -n app in PreSync wave 0");
  EXPECT_FALSE(order.steps[0].objects[0].hook);
}

TEST(SyncOrderTest, DefaultNamespaceCountsAsNeeded) {
  std::vector<Json> objects = {
      Object("v1", "Namespace", "team", "", {{"todoke.dev/sync-wave", "2"}}),
      Object("v1", "ConfigMap", "c", ""),
  };
  EXPECT_EQ(Describe(OrderForSync(objects, {.default_namespace = "team"}).steps),
            "Sync/0: Namespace team, ConfigMap c");
  EXPECT_EQ(Describe(OrderForSync(objects, {.default_namespace = "default"}).steps),
            "Sync/0: ConfigMap c | Sync/2: Namespace team");
}

TEST(SyncOrderTest, CrdIsPulledIntoTheStepOfItsFirstResource) {
  Json crd = Object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com",
                    "", {{"todoke.dev/sync-wave", "1"}});
  crd["spec"] = {{"group", "example.com"}, {"names", {{"kind", "Widget"}, {"plural", "widgets"}}}};
  std::vector<Json> objects = {
      Object("example.com/v1", "Widget", "w", "app", {{"todoke.dev/sync-wave", "-1"}}),
      Object("example.com/v1", "Gadget", "g", "app", {{"todoke.dev/sync-wave", "-3"}}),
      crd,
  };
  SyncOrder order = OrderForSync(objects, {.default_namespace = "app"});
  EXPECT_EQ(Describe(order.steps),
            "Sync/-3: Gadget g | Sync/-1: CustomResourceDefinition widgets.example.com, Widget w");
  EXPECT_THAT(order.steps[1].objects[0].pulled_by, HasSubstr("Widget.example.com w"));
}

TEST(SyncOrderTest, ReplaceIsPerObjectAndRefusedForCriticalKinds) {
  std::vector<Json> objects = {
      Object("apps/v1", "Deployment", "web", "app",
             {{"todoke.dev/sync-options", "ServerSideApply=true, Replace=true"}}),
      Object("v1", "Namespace", "app", "", {{"todoke.dev/sync-options", "Replace=true"}}),
      Object("v1", "PersistentVolumeClaim", "data", "app",
             {{"todoke.dev/sync-options", "Replace=true"}}),
      Object("v1", "ConfigMap", "c", "app"),
  };
  SyncOrder order = OrderForSync(objects, {.default_namespace = "app"});
  ASSERT_EQ(order.steps.size(), 1u);
  for (const PlannedObject& object : order.steps[0].objects) {
    if (object.key.kind == "Deployment") {
      EXPECT_TRUE(object.replace);
      EXPECT_EQ(object.error, "");
    } else if (object.key.kind == "ConfigMap") {
      EXPECT_FALSE(object.replace);
    } else {
      EXPECT_THAT(object.error, HasSubstr("Replace=true is refused for " + object.key.kind));
    }
  }
}

TEST(SyncOrderTest, EmptyInputHasNoSteps) {
  SyncOrder order = OrderForSync({});
  EXPECT_THAT(order.steps, IsEmpty());
  EXPECT_THAT(order.sync_fail, IsEmpty());
}

TEST(SyncOrderTest, PruneIsTheReverseWithNamespacesAndCrdsLast) {
  auto key = [](absl::string_view group, absl::string_view kind, absl::string_view name) {
    ObjectKey k;
    k.group = std::string(group);
    k.kind = std::string(kind);
    k.name = std::string(name);
    return k;
  };
  std::vector<PruneCandidate> candidates = {
      {key("", "Namespace", "app"), 0},
      {key("apiextensions.k8s.io", "CustomResourceDefinition", "widgets.example.com"), 5},
      {key("", "ConfigMap", "c"), 0},
      {key("apps", "Deployment", "web"), 0},
      {key("", "Service", "web"), 0},
      {key("example.com", "Widget", "w"), 0},
      {key("", "ConfigMap", "late"), 2},
  };
  std::vector<std::vector<size_t>> batches = OrderForPrune(candidates);
  std::vector<std::string> described;
  for (const auto& batch : batches) {
    std::vector<std::string> names;
    for (size_t i : batch) names.push_back(candidates[i].key.kind);
    described.push_back(absl::StrJoin(names, ","));
  }
  EXPECT_THAT(described, ElementsAre("ConfigMap", "Widget", "Deployment,Service", "ConfigMap",
                                     "CustomResourceDefinition", "Namespace"));
}

}  // namespace
}  // namespace todoke::applier::sync
