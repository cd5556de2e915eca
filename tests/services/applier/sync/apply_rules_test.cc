// The Kubernetes destination's decisions that need no API server: result actions, retries,
// immutable fields, takeover from kubectl, what prune leaves alone, hook names.
#include "services/applier/core/sync/apply_rules.h"

#include <string>

#include "common/json_parse.h"
#include "common/tracking.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::applier::sync {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

Json ConfigMap(absl::string_view name = "c", absl::string_view ns = "app") {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", std::string(name)}, {"namespace", std::string(ns)}}},
              {"data", {{"a", "1"}}}};
}

Json Tracked(Json object, absl::string_view app, absl::string_view installation = "default") {
  StampTracking(object, installation, app);
  return object;
}

TEST(ApplyRulesTest, ActionsFromResourceVersions) {
  Json before = ConfigMap();
  before["metadata"]["resourceVersion"] = "10";
  Json same = before;
  Json bumped = before;
  bumped["metadata"]["resourceVersion"] = "11";
  EXPECT_EQ(ActionFor(nullptr, same, false), ApplyAction::kCreated);
  EXPECT_EQ(ActionFor(&before, same, false), ApplyAction::kUnchanged);
  EXPECT_EQ(ActionFor(&before, bumped, false), ApplyAction::kConfigured);
}

TEST(ApplyRulesTest, DryRunComparesContentNotVersions) {
  Json before = ConfigMap();
  before["metadata"]["resourceVersion"] = "10";
  before["metadata"]["managedFields"] = Json::array({{{"manager", "todoke"}}});
  Json answered = before;
  answered["metadata"]["managedFields"] = Json::array({{{"manager", "todoke"}, {"time", "x"}}});
  EXPECT_EQ(ActionFor(&before, answered, true), ApplyAction::kUnchanged);
  answered["data"]["a"] = "2";
  EXPECT_EQ(ActionFor(&before, answered, true), ApplyAction::kConfigured);
}

// Statuses as the kube client maps HTTP answers (kube_client.h): 429 and 5xx UNAVAILABLE,
// 422 INVALID_ARGUMENT, 404 NOT_FOUND, 403 PERMISSION_DENIED.
TEST(ApplyRulesTest, RetryableErrors) {
  EXPECT_TRUE(
      IsRetryableApplyError(absl::UnavailableError("PATCH /x: slow down (HTTP 429)"), false));
  EXPECT_TRUE(IsRetryableApplyError(
      absl::UnavailableError("PATCH /x: Internal error occurred: failed calling webhook "
                             "\"v.example.com\": connection refused (HTTP 500)"),
      false));
  EXPECT_TRUE(IsRetryableApplyError(absl::InternalError("failed calling webhook \"v.example.com\""),
                                    false));
  EXPECT_FALSE(IsRetryableApplyError(absl::InternalError("bad response body"), false));
  EXPECT_FALSE(IsRetryableApplyError(absl::NotFoundError("no kind Widget"), false));
  EXPECT_TRUE(IsRetryableApplyError(absl::NotFoundError("no kind Widget"), true));
  EXPECT_FALSE(IsRetryableApplyError(absl::InvalidArgumentError("bad (HTTP 422)"), true));
  EXPECT_FALSE(IsRetryableApplyError(absl::PermissionDeniedError("forbidden"), false));
}

TEST(ApplyRulesTest, ImmutableFieldErrors) {
  EXPECT_TRUE(IsImmutableFieldError(absl::InvalidArgumentError(
      "PATCH /apis/apps/v1/namespaces/a/deployments/web: Deployment.apps \"web\" is invalid: "
      "spec.selector: Invalid value: {}: field is immutable (HTTP 422 Unprocessable Entity)")));
  EXPECT_TRUE(IsImmutableFieldError(
      absl::InvalidArgumentError("Invalid value: \"x\": Value is immutable")));
  EXPECT_FALSE(IsImmutableFieldError(absl::InvalidArgumentError("spec.replicas: must be >= 0")));
  EXPECT_FALSE(IsImmutableFieldError(absl::UnavailableError("field is immutable")));
}

TEST(ApplyRulesTest, TakeoverMovesKubectlManagersAndDropsLastApplied) {
  absl::StatusOr<Json> live = ParseJson(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {
      "name": "c", "namespace": "app",
      "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"},
      "managedFields": [
        {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
         "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:annotations": {"f:keep": {}}}}},
        {"manager": "before-first-apply", "operation": "Update", "apiVersion": "v1",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
        {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
         "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}
      ]
    },
    "data": {"a": "1", "b": "2", "c": "3"}
  })");
  ASSERT_TRUE(live.ok());
  std::string text = TakeoverPatch(*live, "todoke");
  absl::StatusOr<Json> patch = ParseJson(text);
  ASSERT_TRUE(patch.ok()) << text;
  ASSERT_EQ(patch->size(), 2u) << text;
  EXPECT_EQ((*patch)[0]["op"], "replace");
  EXPECT_EQ((*patch)[0]["path"], "/metadata/managedFields");
  const Json& entries = (*patch)[0]["value"];
  ASSERT_EQ(entries.size(), 3u) << entries.dump();
  EXPECT_EQ(entries[0]["manager"], "todoke");
  EXPECT_EQ(entries[0]["operation"], "Apply");
  // The two kubectl entries became one, with the union of their fields.
  EXPECT_EQ(entries[0]["fieldsV1"], Json::parse(R"({"f:data": {"f:a": {}, "f:b": {}},
                            "f:metadata": {"f:annotations": {"f:keep": {}}}})"));
  EXPECT_EQ(entries[1]["manager"], "kube-controller-manager");
  EXPECT_EQ(entries[2]["subresource"], "status");  // subresource entries are left alone
  EXPECT_EQ(entries[2]["manager"], "kubectl-client-side-apply");
  EXPECT_EQ((*patch)[1], Json::parse(R"({"op": "remove", "path":
                "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"})"));
}

TEST(ApplyRulesTest, NoTakeoverForAnObjectTodokeAlreadyManages) {
  Json live = ConfigMap();
  live["metadata"]["managedFields"] =
      Json::array({{{"manager", "todoke"}, {"operation", "Apply"}, {"apiVersion", "v1"}},
                   {{"manager", "kubectl-edit"}, {"operation", "Update"}, {"apiVersion", "v1"}}});
  EXPECT_EQ(TakeoverPatch(live, "todoke"), "");
}

TEST(ApplyRulesTest, ForeignOwner) {
  EXPECT_EQ(ForeignOwner(ConfigMap(), "default", "web"), "");
  EXPECT_EQ(ForeignOwner(Tracked(ConfigMap(), "web"), "default", "web"), "");
  EXPECT_EQ(ForeignOwner(Tracked(ConfigMap(), "db"), "default", "web"), "app \"db\"");
  EXPECT_EQ(ForeignOwner(Tracked(ConfigMap(), "web", "other"), "default", "web"),
            "installation \"other\" app \"web\"");
  // A tracking id copied from another object names another key: not an owner.
  Json copied = Tracked(ConfigMap("original"), "db");
  copied["metadata"]["name"] = "copy";
  EXPECT_EQ(ForeignOwner(copied, "default", "web"), "");
}

TEST(ApplyRulesTest, PruneTouchesOnlyTheAppsOwnObjects) {
  EXPECT_EQ(PruneRefusal(Tracked(ConfigMap(), "web"), "default", "web", false), "");
  EXPECT_THAT(PruneRefusal(ConfigMap(), "default", "web", false), HasSubstr("not tracked"));
  EXPECT_THAT(PruneRefusal(Tracked(ConfigMap(), "db"), "default", "web", false),
              HasSubstr("tracked by app \"db\""));
  EXPECT_THAT(PruneRefusal(Tracked(ConfigMap(), "web", "other"), "default", "web", false),
              HasSubstr("not tracked"));
  Json copied = Tracked(ConfigMap("original"), "web");
  copied["metadata"]["name"] = "copy";
  EXPECT_THAT(PruneRefusal(copied, "default", "web", false), HasSubstr("not tracked"));

  Json disabled = Tracked(ConfigMap(), "web");
  disabled["metadata"]["annotations"]["todoke.dev/prune"] = "disabled";
  EXPECT_THAT(PruneRefusal(disabled, "default", "web", false), HasSubstr("disabled"));
  Json deleting = Tracked(ConfigMap(), "web");
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_THAT(PruneRefusal(deleting, "default", "web", false), HasSubstr("being deleted"));
  Json owned = Tracked(ConfigMap(), "web");
  owned["metadata"]["ownerReferences"] = Json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"controller", true}}});
  EXPECT_THAT(PruneRefusal(owned, "default", "web", false),
              HasSubstr("owned by controller ReplicaSet rs"));
  Json namespace_object = Tracked(
      Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "app"}}}}, "web");
  EXPECT_THAT(PruneRefusal(namespace_object, "default", "web", false),
              HasSubstr("allow_cluster_critical"));
  EXPECT_EQ(PruneRefusal(namespace_object, "default", "web", true), "");
  Json crd = Tracked(Json{{"apiVersion", "apiextensions.k8s.io/v1"},
                          {"kind", "CustomResourceDefinition"},
                          {"metadata", {{"name", "widgets.example.com"}}}},
                     "web");
  EXPECT_THAT(PruneRefusal(crd, "default", "web", false), HasSubstr("allow_cluster_critical"));
}

TEST(ApplyRulesTest, WhatKeepsANamespaceAlive) {
  EXPECT_TRUE(BlocksNamespacePrune(ConfigMap("mine-not"), "default", "web"));
  EXPECT_TRUE(BlocksNamespacePrune(Tracked(ConfigMap(), "db"), "default", "web"));
  EXPECT_FALSE(BlocksNamespacePrune(Tracked(ConfigMap(), "web"), "default", "web"));
  EXPECT_FALSE(BlocksNamespacePrune(ConfigMap("kube-root-ca.crt"), "default", "web"));
  EXPECT_FALSE(BlocksNamespacePrune(Json{{"apiVersion", "v1"},
                                         {"kind", "ServiceAccount"},
                                         {"metadata", {{"name", "default"}, {"namespace", "app"}}}},
                                    "default", "web"));
  EXPECT_TRUE(BlocksNamespacePrune(Json{{"apiVersion", "v1"},
                                        {"kind", "ServiceAccount"},
                                        {"metadata", {{"name", "builder"}, {"namespace", "app"}}}},
                                   "default", "web"));
  Json pod = Json{{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata",
                   {{"name", "web-1"},
                    {"namespace", "app"},
                    {"ownerReferences", Json::array({{{"kind", "ReplicaSet"}, {"name", "x"}}})}}}};
  EXPECT_FALSE(BlocksNamespacePrune(pod, "default", "web"));
  // The app's own hooks and hook record do not keep its Namespace; another app's do.
  Json hook = ConfigMap(HookRecordName("default", "web"));
  hook["metadata"]["annotations"]["todoke.dev/hook-of"] = "default/web";
  EXPECT_FALSE(BlocksNamespacePrune(hook, "default", "web"));
  EXPECT_TRUE(BlocksNamespacePrune(hook, "default", "db"));
  EXPECT_TRUE(BlocksNamespacePrune(hook, "other", "web"));
}

TEST(ApplyRulesTest, HookRecordsRoundTripAndAreNamedStably) {
  EXPECT_EQ(HookRecordName("default", "web"), HookRecordName("default", "web"));
  EXPECT_NE(HookRecordName("default", "web"), HookRecordName("other", "web"));
  EXPECT_EQ(HookRecordName("default", "web").size(), std::string("todoke-hooks-").size() + 10);
  ObjectKey key{"batch", "v1", "Job", "app", "migrate"};
  const std::string field = HookRecordField("PreSync", key);
  EXPECT_EQ(field.rfind("PreSync.", 0), 0u);
  EXPECT_NE(field, HookRecordField("PostSync", key));
  EXPECT_EQ(HookRecordManager(field), "todoke-hook-" + field.substr(field.find('.') + 1));
  HookRecord record{"op-1", false, "Job failed: \xff BackoffLimitExceeded"};
  std::optional<HookRecord> back = ParseHookRecord(HookRecordJson(record));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->operation, "op-1");
  EXPECT_FALSE(back->succeeded);
  EXPECT_THAT(back->message, ::testing::HasSubstr("BackoffLimitExceeded"));
  EXPECT_FALSE(ParseHookRecord("not json").has_value());
  EXPECT_FALSE(ParseHookRecord(R"({"operation": 1, "succeeded": true})").has_value());
}

TEST(ApplyRulesTest, HookNamesAreStablePerOperationAndPhase) {
  const std::string a = HookName("migrate-", "op-1", "PreSync");
  EXPECT_EQ(a, HookName("migrate-", "op-1", "PreSync"));
  EXPECT_NE(a, HookName("migrate-", "op-2", "PreSync"));
  EXPECT_NE(a, HookName("migrate-", "op-1", "PostSync"));
  EXPECT_EQ(a.size(), std::string("migrate-").size() + 10);
  EXPECT_EQ(a.rfind("migrate-", 0), 0u);
  EXPECT_LE(HookName(std::string(80, 'x'), "op", "Sync").size(), 63u);
}

TEST(ApplyRulesTest, CrdConditions) {
  Json crd = {{"spec", {{"group", "example.com"}, {"names", {{"kind", "Widget"}}}}}};
  EXPECT_FALSE(CrdEstablished(crd));
  crd["status"]["conditions"] = Json::array({{{"type", "NamesAccepted"}, {"status", "True"}},
                                             {{"type", "Established"}, {"status", "False"}}});
  EXPECT_FALSE(CrdEstablished(crd));
  crd["status"]["conditions"][1]["status"] = "True";
  EXPECT_TRUE(CrdEstablished(crd));
  EXPECT_EQ(CrdGroupKind(crd), std::make_pair(std::string("example.com"), std::string("Widget")));
}

}  // namespace
}  // namespace todoke::applier::sync
