// Unit tests of the differ's pieces and of Diff() rule by rule. Golden files: golden_test.cc.
#include <string>
#include <vector>

#include "common/key_order.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/differ/core/compare.h"
#include "services/differ/core/differ.h"
#include "services/differ/core/field_set.h"
#include "services/differ/core/json_pointer.h"
#include "services/differ/core/line_diff.h"
#include "services/differ/core/normalize.h"
#include "services/differ/core/quantity.h"

namespace todoke::differ {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Json J(const char* text) { return Json::parse(text); }

// `value` as the compact tree the differ works on; kept for the whole test program.
const JsonNode& N(const Json& value) {
  static JsonArena* arena = new JsonArena();
  return *CopyJson(value, *arena);
}

bool QuantitiesEqual(const Json& a, const Json& b) { return differ::QuantitiesEqual(N(a), N(b)); }

// ---------------------------------------------------------------------------------------------
// Quantities

TEST(QuantityTest, EqualSpellingsAreEqual) {
  EXPECT_TRUE(QuantitiesEqual(Json("1000m"), Json("1")));
  EXPECT_TRUE(QuantitiesEqual(Json("1"), Json(1)));
  EXPECT_TRUE(QuantitiesEqual(Json("500m"), Json(0.5)));
  EXPECT_TRUE(QuantitiesEqual(Json("0.5"), Json("500m")));
  EXPECT_TRUE(QuantitiesEqual(Json("1Gi"), Json("1024Mi")));
  EXPECT_TRUE(QuantitiesEqual(Json("1k"), Json("1e3")));
  EXPECT_TRUE(QuantitiesEqual(Json("1M"), Json("1000k")));
  EXPECT_TRUE(QuantitiesEqual(Json("0"), Json("0Mi")));
  EXPECT_TRUE(QuantitiesEqual(Json("100u"), Json("100000n")));
  EXPECT_TRUE(QuantitiesEqual(Json("1.5Gi"), Json("1536Mi")));
}

TEST(QuantityTest, DifferentValuesDiffer) {
  EXPECT_FALSE(QuantitiesEqual(Json("1G"), Json("1Gi")));
  EXPECT_FALSE(QuantitiesEqual(Json("100m"), Json("1")));
  EXPECT_FALSE(QuantitiesEqual(Json("-1"), Json("1")));
  EXPECT_FALSE(QuantitiesEqual(Json("1Ki"), Json("1k")));
}

TEST(QuantityTest, RejectsNonQuantities) {
  EXPECT_FALSE(ParseQuantity("abc").has_value());
  EXPECT_FALSE(ParseQuantity("1Xi").has_value());
  EXPECT_FALSE(ParseQuantity("").has_value());
  EXPECT_FALSE(ParseQuantity("1.2.3").has_value());
  EXPECT_FALSE(QuantitiesEqual(Json("abc"), Json("abc")));
  EXPECT_FALSE(QuantitiesEqual(Json(true), Json(true)));
}

// ---------------------------------------------------------------------------------------------
// JSON pointers

TEST(JsonPointerTest, ParsesAndUnescapes) {
  auto tokens = ParseJsonPointer("/metadata/annotations/a~1b~0c/0");
  ASSERT_TRUE(tokens.ok());
  EXPECT_THAT(*tokens, ElementsAre("metadata", "annotations", "a/b~c", "0"));
  EXPECT_TRUE(ParseJsonPointer("")->empty());
}

TEST(JsonPointerTest, RejectsInvalid) {
  auto missing_slash = ParseJsonPointer("spec/replicas");
  ASSERT_FALSE(missing_slash.ok());
  EXPECT_THAT(std::string(missing_slash.status().message()),
              HasSubstr("must be empty or start with '/'"));
  auto bad_escape = ParseJsonPointer("/a~2b");
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_THAT(std::string(bad_escape.status().message()),
              HasSubstr("'~' must be followed by '0' or '1'"));
}

TEST(JsonPointerTest, EscapesTokens) {
  std::string pointer;
  AppendPointerToken(pointer, "metadata");
  AppendPointerToken(pointer, "todoke.dev/tracking-id");
  AppendPointerToken(pointer, "a~b");
  EXPECT_EQ(pointer, "/metadata/todoke.dev~1tracking-id/a~0b");
}

TEST(JsonPointerTest, RemovesAtPointers) {
  Json value = J(R"({"a":{"b":1,"c":2},"l":[0,1,2,3,4,5,6,7,8,9,10,11]})");
  PointerTrie trie;
  trie.Add({"a", "b"});
  trie.Add({"l", "2"});
  trie.Add({"l", "10"});
  RemoveAtPointers(value, trie.root());
  EXPECT_EQ(value, J(R"({"a":{"c":2},"l":[0,1,3,4,5,6,7,8,9,11]})"));
  EXPECT_TRUE(RemoveAtPointer(value, {"a", "c"}));
  EXPECT_FALSE(RemoveAtPointer(value, {"a", "zzz"}));
}

// ---------------------------------------------------------------------------------------------
// Field sets

TEST(FieldSetTest, ParsesFieldsV1) {
  Json fields = J(R"({
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {"f:template": {"f:spec": {"f:containers": {
      "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
        "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}},
    "f:finalizers": {"v:\"example.com/cleanup\"": {}}
  })");
  auto set = FieldSet::Parse(N(fields));
  ASSERT_TRUE(set.ok()) << set.status();
  const FieldSet labels = set->Field("metadata").Field("labels");
  ASSERT_FALSE(labels.empty());
  EXPECT_FALSE(labels.IsLeaf());
  EXPECT_TRUE(labels.Field("app").IsLeaf());
  EXPECT_TRUE(labels.Field("tier").empty());
  const FieldSet containers =
      set->Field("spec").Field("template").Field("spec").Field("containers");
  ASSERT_FALSE(containers.empty());
  const FieldSet web = containers.Element(R"(k:{"name":"web"})");
  ASSERT_FALSE(web.empty());
  EXPECT_TRUE(web.OwnsSelf());
  EXPECT_FALSE(web.Field("ports").Element(R"(k:{"containerPort":8080,"protocol":"TCP"})").empty());
  EXPECT_TRUE(containers.Element(R"(k:{"name":"other"})").empty());
  EXPECT_FALSE(set->Field("finalizers").Value(N(Json("example.com/cleanup"))).empty());
  EXPECT_TRUE(set->Field("finalizers").Value(N(Json("example.com/other"))).empty());
}

TEST(FieldSetTest, RejectsUnknownElements) {
  EXPECT_FALSE(FieldSet::Parse(N(J(R"({"x:foo": {}})"))).ok());
  EXPECT_FALSE(FieldSet::Parse(N(J(R"({"f:a": {"k:{broken": {}}})"))).ok());
  EXPECT_FALSE(FieldSet::Parse(N(J(R"([])"))).ok());
}

TEST(FieldSetTest, OwnedBySelectsManagersAndSkipsStatus) {
  Json object = J(R"({"metadata": {"managedFields": [
    {"manager": "todoke", "operation": "Apply", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    {"manager": "todoke", "operation": "Update", "subresource": "status", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:status": {"f:phase": {}}}},
    {"manager": "kubectl-edit", "operation": "Update", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:spec": {"f:paused": {}}}}]}})");
  FieldSet owned = FieldSet::OwnedBy(N(object), {"todoke"});
  EXPECT_FALSE(owned.Field("spec").Field("replicas").empty());
  EXPECT_TRUE(owned.Field("status").empty());
  EXPECT_TRUE(owned.Field("spec").Field("paused").empty());
  FieldSet both = FieldSet::OwnedBy(N(object), {"todoke", "kubectl-edit"});
  EXPECT_FALSE(both.Field("spec").Field("paused").empty());
  EXPECT_FALSE(both.Field("spec").Field("replicas").empty());
  EXPECT_TRUE(FieldSet::OwnedBy(N(object), {"nobody"}).empty());
}

// ---------------------------------------------------------------------------------------------
// Line diff

TEST(LineDiffTest, MinimalEditScript) {
  std::vector<std::string_view> a = {"a", "b", "c", "a", "b", "b", "a"};
  std::vector<std::string_view> b = {"c", "b", "a", "b", "a", "c"};
  std::vector<LineEdit> edits = DiffLines(a, b);
  int changes = 0;
  for (const LineEdit& edit : edits) changes += edit.kind != LineEdit::Kind::kKeep;
  EXPECT_EQ(changes, 5);  // the classic Myers example: D = 5
}

TEST(LineDiffTest, UnifiedFormatLikeGnuDiff) {
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  const std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n";
  EXPECT_EQ(UnifiedDiff(before, after, "live/x", "desired/x"),
            "--- live/x\n+++ desired/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  EXPECT_EQ(UnifiedDiff(before, before, "a", "b"), "");
  EXPECT_EQ(UnifiedDiff("", "x\ny\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  EXPECT_EQ(UnifiedDiff("x\n", "", "a", "b"), "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n");
}

TEST(LineDiffTest, SeparateHunksWhenFarApart) {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 2 || i == 18 ? "x" : std::to_string(i)) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "a", "b");
  EXPECT_THAT(diff, HasSubstr("@@ -1,5 +1,5 @@\n 1\n-2\n+x\n 3\n 4\n 5\n"));
  EXPECT_THAT(diff, HasSubstr("@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+x\n 19\n 20\n"));
}

// ---------------------------------------------------------------------------------------------
// CompareObjects: rule by rule

CompareResult Compare(const Json& desired, const Json& live, const FieldSet* owned = nullptr) {
  CompareInputs inputs;
  inputs.applier_owned = owned;
  inputs.ignored_pointers = &NormalizedAwayPaths().root();
  return CompareObjects(N(desired), N(live), inputs);
}

TEST(CompareTest, FieldsDesiredDoesNotSetAreNotDrift) {
  Json desired = J(R"({"spec": {"replicas": 2}})");
  Json live = J(R"({"spec": {"replicas": 2, "revisionHistoryLimit": 10}, "status": {"x": 1}})");
  EXPECT_TRUE(Compare(desired, live).equal);
}

TEST(CompareTest, ChangedScalarIsReplace) {
  CompareResult result =
      Compare(J(R"({"spec": {"replicas": 3}})"), J(R"({"spec": {"replicas": 2}})"));
  EXPECT_FALSE(result.equal);
  EXPECT_EQ(result.patch, J(R"([{"op":"replace","path":"/spec/replicas","value":3}])"));
}

TEST(CompareTest, IntAndStringDiffer) {
  CompareResult result = Compare(J(R"({"targetPort": "8080"})"), J(R"({"targetPort": 8080})"));
  EXPECT_FALSE(result.equal);
}

TEST(CompareTest, NormalisedMetadataIsIgnored) {
  Json desired = J(R"({"metadata": {"name": "x", "uid": "aaa", "resourceVersion": "1",
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "todoke.dev/tracking-id": "a"}},
    "status": {"phase": "x"}})");
  Json live = J(R"({"metadata": {"name": "x", "uid": "bbb", "resourceVersion": "2", "generation": 4,
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"a\":1}", "todoke.dev/tracking-id": "b"}},
    "status": {"phase": "y"}})");
  EXPECT_TRUE(Compare(desired, live).equal);
}

TEST(CompareTest, ZeroValuesMatchAbsentFields) {
  Json desired =
      J(R"({"spec": {"hostNetwork": false, "value": "", "labels": {}, "list": [], "n": null}})");
  Json live = J(R"({"spec": {}})");
  EXPECT_TRUE(Compare(desired, live).equal);
  EXPECT_FALSE(Compare(J(R"({"spec": {"hostNetwork": true}})"), live).equal);
}

TEST(CompareTest, AssociativeListsPairByKey) {
  Json desired = J(R"({"containers": [
    {"name": "b", "image": "b:1", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]},
    {"name": "a", "image": "a:1", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]}]})");
  Json live = J(R"({"containers": [
    {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
     "imagePullPolicy": "IfNotPresent"},
    {"name": "istio-proxy", "image": "proxy:1"},
    {"name": "b", "image": "b:1", "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 80, "protocol": "TCP"}]}]})");
  EXPECT_TRUE(Compare(desired, live).equal);
}

TEST(CompareTest, AssociativeListPatchUsesLivePositions) {
  Json desired =
      J(R"({"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]})");
  Json live =
      J(R"({"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]})");
  CompareResult result = Compare(desired, live);
  EXPECT_EQ(result.patch, J(R"([
    {"op":"replace","path":"/containers/1/image","value":"b:2"},
    {"op":"add","path":"/containers/-","value":{"name":"c","image":"c:1"}}])"));
}

TEST(CompareTest, PortsWithDifferentProtocolAreDifferentItems) {
  Json desired = J(R"({"ports": [{"containerPort": 53, "protocol": "UDP"}]})");
  Json live = J(R"({"ports": [{"containerPort": 53, "protocol": "TCP"}]})");
  CompareResult result = Compare(desired, live);
  EXPECT_FALSE(result.equal);
  EXPECT_EQ(result.patch[0]["op"], "add");
}

TEST(CompareTest, AtomicListsCompareByPosition) {
  EXPECT_FALSE(Compare(J(R"({"args": ["a", "b"]})"), J(R"({"args": ["b", "a"]})")).equal);
  EXPECT_FALSE(Compare(J(R"({"args": ["a"]})"), J(R"({"args": ["a", "b"]})")).equal);
  // Items of atomic lists get server defaults too: desired is a subset.
  EXPECT_TRUE(Compare(J(R"({"tolerations": [{"key": "k", "operator": "Exists"}]})"),
                      J(R"({"tolerations": [{"key": "k", "operator": "Exists", "effect": ""}]})"))
                  .equal);
}

TEST(CompareTest, ResourceQuantitiesCompareByValue) {
  Json desired =
      J(R"({"resources": {"limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": "0.5"}}})");
  Json live = J(
      R"({"resources": {"limits": {"cpu": "1", "memory": "1024Mi"}, "requests": {"cpu": "500m"}}})");
  EXPECT_TRUE(Compare(desired, live).equal);
  Json different = J(R"({"resources": {"limits": {"memory": "1G"}}})");
  EXPECT_FALSE(Compare(different, live).equal);
  // Outside resource maps, "1" and 1 stay different.
  EXPECT_FALSE(Compare(J(R"({"data": {"cpu": "1"}})"), J(R"({"data": {"cpu": 1}})")).equal);
}

TEST(CompareTest, FieldsOwnedByApplierAndDroppedAreDrift) {
  const Json owned_json = J(R"({"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:tier": {}}},
    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:env": {
      "k:{\"name\":\"OLD\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}})");
  auto owned = FieldSet::Parse(N(owned_json));
  ASSERT_TRUE(owned.ok());
  Json desired = J(R"({"metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "env": [{"name": "NEW", "value": "1"}]}]}})");
  Json live =
      J(R"({"metadata": {"labels": {"app": "web", "tier": "front", "added-by-kubectl": "x"}},
    "spec": {"containers": [{"name": "web", "env": [{"name": "OLD", "value": "0"}, {"name": "NEW", "value": "1"},
      {"name": "INJECTED", "value": "by-webhook"}]}]}})");
  CompareResult result = Compare(desired, live, &*owned);
  EXPECT_FALSE(result.equal);
  EXPECT_EQ(result.patch, J(R"([
    {"op":"remove","path":"/metadata/labels/tier"},
    {"op":"remove","path":"/spec/containers/0/env/0"}])"));
  // Without ownership information the same live object is in sync.
  EXPECT_TRUE(Compare(desired, live).equal);
}

TEST(CompareTest, OwnedFieldWholeSubtreeDroppedIsDrift) {
  const Json owned_json =
      J(R"({"f:spec": {"f:strategy": {"f:rollingUpdate": {"f:maxSurge": {}}}}})");
  auto owned = FieldSet::Parse(N(owned_json));
  ASSERT_TRUE(owned.ok());
  Json desired = J(R"({"spec": {}})");
  Json live = J(
      R"({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"}}}})");
  CompareResult result = Compare(desired, live, &*owned);
  EXPECT_EQ(result.patch, J(R"([{"op":"remove","path":"/spec/strategy/rollingUpdate/maxSurge"}])"));
}

TEST(CompareTest, FinalizersAreASet) {
  const Json owned_json =
      J(R"({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}, "v:\"b\"": {}}}})");
  auto owned = FieldSet::Parse(N(owned_json));
  ASSERT_TRUE(owned.ok());
  Json live = J(R"({"metadata": {"finalizers": ["controller/x", "b", "a"]}})");
  EXPECT_TRUE(Compare(J(R"({"metadata": {"finalizers": ["a", "b"]}})"), live, &*owned).equal);
  CompareResult result = Compare(J(R"({"metadata": {"finalizers": ["a", "c"]}})"), live, &*owned);
  EXPECT_EQ(result.patch, J(R"([{"op":"remove","path":"/metadata/finalizers/1"},
    {"op":"add","path":"/metadata/finalizers/-","value":"c"}])"));
}

TEST(CompareTest, IgnoredFieldsOfOtherManagersAreSkipped) {
  const Json hpa_fields_json = J(R"({"f:spec": {"f:replicas": {}}})");
  auto hpa_fields = FieldSet::Parse(N(hpa_fields_json));
  ASSERT_TRUE(hpa_fields.ok());
  CompareInputs inputs;
  inputs.ignored_fields = &*hpa_fields;
  EXPECT_TRUE(CompareObjects(N(J(R"({"spec": {"replicas": 2}})")),
                             N(J(R"({"spec": {"replicas": 7}})")), inputs)
                  .equal);
  EXPECT_FALSE(CompareObjects(N(J(R"({"spec": {"paused": true}})")),
                              N(J(R"({"spec": {"replicas": 7}})")), inputs)
                   .equal);
}

// Map fields are found by stepping through the sorted live keys when live has few keys beyond
// desired's, and by searching otherwise; owned fields by a cursor over each fieldsV1 tree. Both
// ways must give the same patch, also with two trees (two managedFields entries of the applier).
TEST(CompareTest, SteppingAndSearchingKeysAgree) {
  const Json owner = J(R"({"metadata": {"managedFields": [
    {"manager": "todoke", "operation": "Apply",
     "fieldsV1": {"f:spec": {"f:a": {}, "f:b": {}, "f:c": {}, "f:g": {}}}},
    {"manager": "todoke", "operation": "Update", "fieldsV1": {"f:spec": {"f:a": {}, "f:d": {}}}}]}})");
  const FieldSet owned = FieldSet::OwnedBy(N(owner), {"todoke"});
  const Json desired = J(R"({"spec": {"a": 1, "c": 3, "e": 5, "g": null}})");
  Json live = J(R"({"spec": {"a": 1, "b": 2, "c": 4, "d": 4, "g": 7}})");
  const Json want = J(R"([
    {"op":"replace","path":"/spec/c","value":3},
    {"op":"add","path":"/spec/e","value":5},
    {"op":"remove","path":"/spec/b"},
    {"op":"remove","path":"/spec/g"},
    {"op":"remove","path":"/spec/d"}])");
  EXPECT_EQ(Compare(desired, live, &owned).patch, want);  // few live keys: stepping
  for (int i = 0; i < 40; ++i) live["spec"]["x" + std::to_string(100 + i)] = i;
  EXPECT_EQ(Compare(desired, live, &owned).patch, want);  // many live keys: searching
}

TEST(KeyOrderTest, SameOrderAsStringCompare) {
  const std::vector<std::string> keys = {"",
                                         "a",
                                         "ab",
                                         "b",
                                         "app.kubernetes.io/name",
                                         "app.kubernetes.io/name2",
                                         "app.kubernetes.io/part-of",
                                         "app.kubernetes.io/nam",
                                         "f:a",
                                         "\xff",
                                         "\x7f",
                                         "A",
                                         "abcdefgh",
                                         "abcdefghi",
                                         "abcdefgg",
                                         "abcdefgz1"};
  auto sign = [](int value) { return (value > 0) - (value < 0); };
  for (const std::string& a : keys) {
    for (const std::string& b : keys) {
      EXPECT_EQ(sign(CompareKeys(a, b)), sign(std::string_view(a).compare(b))) << a << " vs " << b;
    }
  }
}

TEST(FieldSetTest, CursorFindsWhatFieldFinds) {
  const Json owner = J(R"({"metadata": {"managedFields": [
    {"manager": "todoke", "fieldsV1": {".": {}, "f:a": {}, "f:c": {"f:x": {}}, "f:e": {"f:y": {}},
                                       "k:{\"name\":\"z\"}": {}}},
    {"manager": "todoke", "fieldsV1": {"f:b": {}, "f:c": {"f:w": {}}, "f:f": {}, "v:\"q\"": {}}}]}})");
  const FieldSet owned = FieldSet::OwnedBy(N(owner), {"todoke"});
  FieldSet::FieldCursor cursor(owned);
  for (const char* name : {"", "a", "b", "bb", "c", "c", "d", "e", "f", "g", "k:"}) {
    const FieldSet by_cursor = cursor.Field(name);
    const FieldSet by_search = owned.Field(name);
    EXPECT_EQ(by_cursor.empty(), by_search.empty()) << name;
    EXPECT_EQ(by_cursor.IsLeaf(), by_search.IsLeaf()) << name;
    for (const char* child : {"w", "x", "y"}) {
      EXPECT_EQ(by_cursor.Field(child).empty(), by_search.Field(child).empty())
          << name << "/" << child;
    }
  }
}

TEST(CompareTest, DuplicateMergeKeysFallBackToPositions) {
  // Two live items share a key: the list is compared as atomic (by position), not by key.
  Json desired = J(R"({"env": [{"name": "A", "value": "1"}]})");
  Json live = J(R"({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]})");
  CompareResult result = Compare(desired, live);
  EXPECT_EQ(result.patch,
            J(R"([{"op":"replace","path":"/env","value":[{"name":"A","value":"1"}]}])"));
  Json unique = J(R"({"env": [{"value": "0", "name": "B"}, {"name": "A", "value": "1"}]})");
  EXPECT_TRUE(Compare(desired, unique).equal);  // unique keys: paired by key, B is not owned
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST(NormalizeTest, StringDataBecomesBase64Data) {
  Json secret = J(
      R"({"apiVersion": "v1", "kind": "Secret", "data": {"a": "eA=="}, "stringData": {"b": "hello", "a": "y"}})");
  NormalizeSecretStringData(secret);
  EXPECT_EQ(secret,
            J(R"({"apiVersion": "v1", "kind": "Secret", "data": {"a": "eQ==", "b": "aGVsbG8="}})"));
}

TEST(NormalizeTest, MasksAreStableAndDistinct) {
  Json desired = J(R"({"data": {"same": "c2FtZQ==", "changed": "bmV3"}})");
  Json live = J(R"({"data": {"same": "c2FtZQ==", "changed": "b2xk", "extra": "eA=="}})");
  MaskSecretValues(&desired, &live);
  EXPECT_EQ(desired["data"]["same"], "++++++++");
  EXPECT_EQ(live["data"]["same"], "++++++++");
  EXPECT_EQ(desired["data"]["changed"], "++++++++");
  EXPECT_EQ(live["data"]["changed"], "++++++++++++");
  EXPECT_EQ(live["data"]["extra"], "++++++++");
}

// ---------------------------------------------------------------------------------------------
// Diff(): pairing, statuses, errors, summary

Json Deployment(const std::string& name, int replicas, const std::string& ns = "prod") {
  Json object = J(R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": {}})");
  object["metadata"]["name"] = name;
  if (!ns.empty()) object["metadata"]["namespace"] = ns;
  object["spec"]["replicas"] = replicas;
  return object;
}

TEST(DiffTest, StatusesAndSummary) {
  std::vector<Json> desired = {Deployment("same", 1), Deployment("changed", 3),
                               Deployment("new", 1)};
  std::vector<Json> live = {Deployment("changed", 2), Deployment("same", 1), Deployment("old", 1)};
  DiffResult result = Diff(desired, live);
  ASSERT_EQ(result.objects.size(), 4u);
  EXPECT_EQ(result.objects[0].key.name, "same");
  EXPECT_EQ(result.objects[0].status, SyncStatus::kSynced);
  EXPECT_EQ(result.objects[0].json_patch, "[]");
  EXPECT_EQ(result.objects[0].unified_diff, "");
  EXPECT_EQ(result.objects[1].status, SyncStatus::kOutOfSync);
  EXPECT_EQ(result.objects[1].json_patch,
            R"([{"op":"replace","path":"/spec/replicas","value":3}])");
  EXPECT_THAT(result.objects[1].unified_diff, HasSubstr("-  replicas: 2\n+  replicas: 3\n"));
  EXPECT_THAT(result.objects[1].unified_diff,
              HasSubstr("--- live/apps.v1.Deployment.prod.changed\n"));
  EXPECT_EQ(result.objects[2].status, SyncStatus::kMissing);
  EXPECT_THAT(result.objects[2].json_patch, HasSubstr(R"("op":"add","path":"")"));
  EXPECT_THAT(result.objects[2].unified_diff, HasSubstr("+  replicas: 1\n"));
  EXPECT_EQ(result.objects[3].key.name, "old");
  EXPECT_EQ(result.objects[3].status, SyncStatus::kExtraneous);
  EXPECT_EQ(result.objects[3].json_patch, R"([{"op":"remove","path":""}])");
  EXPECT_EQ(result.summary.synced, 1u);
  EXPECT_EQ(result.summary.out_of_sync, 1u);
  EXPECT_EQ(result.summary.missing, 1u);
  EXPECT_EQ(result.summary.extraneous, 1u);
  EXPECT_EQ(result.summary.unknown, 0u);
  EXPECT_EQ(result.summary.status, SyncStatus::kOutOfSync);
}

TEST(DiffTest, EmptyInputsAreSynced) {
  DiffResult result = Diff({}, {});
  EXPECT_TRUE(result.objects.empty());
  EXPECT_EQ(result.summary.status, SyncStatus::kSynced);
}

TEST(DiffTest, PairsAcrossApiVersions) {
  Json desired = Deployment("web", 1);
  Json live = Deployment("web", 1);
  live["apiVersion"] = "apps/v1beta2";
  DiffResult result = Diff({desired}, {live});
  ASSERT_EQ(result.objects.size(), 1u);
  EXPECT_NE(result.objects[0].status, SyncStatus::kMissing);
}

TEST(DiffTest, UnifiedDiffOnlyWhenAsked) {
  DiffOptions options;
  options.compute_unified_diff = false;
  DiffResult result = Diff({Deployment("a", 2)}, {Deployment("a", 1)}, options);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kOutOfSync);
  EXPECT_EQ(result.objects[0].unified_diff, "");
}

TEST(DiffTest, BadInputGivesPerObjectErrors) {
  Json no_kind = J(R"({"apiVersion": "v1", "metadata": {"name": "x"}})");
  Json no_name = J(R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})");
  Json no_api_version = J(R"({"kind": "ConfigMap", "metadata": {"name": "y"}})");
  std::vector<Json> desired = {
      no_kind, Deployment("dup", 1), Deployment("ok", 1),  Deployment("dup", 2),
      no_name, no_api_version,       Json("not an object")};
  std::vector<Json> live = {Deployment("dup", 1), Deployment("ok", 2)};
  DiffResult result = Diff(desired, live);
  ASSERT_EQ(result.objects.size(), 7u);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kUnknown);
  EXPECT_THAT(result.objects[0].error, HasSubstr("desired object #0"));
  EXPECT_THAT(result.objects[0].error, HasSubstr("has no kind"));
  EXPECT_EQ(result.objects[1].status, SyncStatus::kUnknown);
  EXPECT_THAT(
      result.objects[1].error,
      HasSubstr("duplicate desired object Deployment.apps dup -n prod (desired objects #1, #3)"));
  EXPECT_EQ(result.objects[2].status, SyncStatus::kOutOfSync);  // the rest is still compared
  EXPECT_EQ(result.objects[3].status, SyncStatus::kUnknown);
  EXPECT_THAT(result.objects[4].error, HasSubstr("has no metadata.name"));
  EXPECT_EQ(result.objects[4].key.kind, "ConfigMap");
  EXPECT_THAT(result.objects[5].error, HasSubstr("has no apiVersion"));
  EXPECT_THAT(result.objects[6].error, HasSubstr("not a mapping"));
  EXPECT_EQ(result.summary.unknown, 6u);
  EXPECT_EQ(result.summary.out_of_sync, 1u);
  EXPECT_EQ(result.summary.extraneous,
            0u);  // the duplicated key's live object is not a prune candidate
  EXPECT_EQ(result.summary.status, SyncStatus::kOutOfSync);
}

TEST(DiffTest, DuplicateLiveObjects) {
  DiffResult result = Diff({Deployment("a", 1)}, {Deployment("a", 1), Deployment("a", 1)});
  ASSERT_EQ(result.objects.size(), 1u);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kUnknown);
  EXPECT_THAT(result.objects[0].error, HasSubstr("duplicate live object"));
  EXPECT_EQ(result.summary.status, SyncStatus::kUnknown);
}

TEST(DiffTest, InvalidJsonText) {
  DiffResult result =
      DiffJsonText({R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})", "{broken"},
                   {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})"});
  ASSERT_EQ(result.objects.size(), 2u);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kSynced);
  EXPECT_EQ(result.objects[1].status, SyncStatus::kUnknown);
  EXPECT_THAT(result.objects[1].error, HasSubstr("desired object #1: invalid JSON"));
}

TEST(DiffTest, InvalidIgnoreRuleFailsOnlyMatchingObjects) {
  DiffOptions options;
  options.ignore_differences.push_back(
      {.kind = "Deployment", .name = "a", .json_pointers = {"spec/replicas"}});
  options.ignore_differences.push_back({.kind = "ConfigMap"});  // ignores nothing
  DiffResult result = Diff({Deployment("a", 2), Deployment("b", 2)},
                           {Deployment("a", 1), Deployment("b", 1)}, options);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kUnknown);
  EXPECT_EQ(result.objects[0].error,
            "ignoreDifferences[0]: invalid JSON pointer \"spec/replicas\": must be empty or start "
            "with '/'");
  EXPECT_EQ(result.objects[1].status, SyncStatus::kOutOfSync);
  EXPECT_FALSE(ValidateIgnoreRule(options.ignore_differences[1]).ok());
}

TEST(DiffTest, IgnoreRulesByPointerAndScope) {
  DiffOptions options;
  options.ignore_differences.push_back(
      {.group = "apps", .kind = "Deployment", .ns = "prod", .json_pointers = {"/spec/replicas"}});
  DiffResult result = Diff({Deployment("a", 2), Deployment("b", 2, "dev")},
                           {Deployment("a", 1), Deployment("b", 1, "dev")}, options);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kSynced);
  EXPECT_EQ(result.objects[1].status, SyncStatus::kOutOfSync);
}

TEST(DiffTest, DefaultNamespacePairs) {
  DiffOptions options;
  options.default_namespace = "prod";
  Json cluster_cr =
      J(R"({"apiVersion": "example.com/v1", "kind": "ClusterThing", "metadata": {"name": "c"}})");
  DiffResult result =
      Diff({Deployment("a", 1, ""), cluster_cr}, {Deployment("a", 1), cluster_cr}, options);
  ASSERT_EQ(result.objects.size(), 2u);
  EXPECT_EQ(result.objects[0].status, SyncStatus::kSynced);
  EXPECT_EQ(result.objects[0].key.ns, "prod");
  EXPECT_EQ(result.objects[1].status, SyncStatus::kSynced);
}

TEST(DiffTest, SecretValuesNeverLeak) {
  Json desired =
      J(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "prod"},
    "stringData": {"password": "hunter2-new", "user": "admin"}})");
  Json live =
      J(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "prod",
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"password\":\"hunter2-old\"}}"}},
    "type": "Opaque", "data": {"password": "aHVudGVyMi1vbGQ=", "user": "YWRtaW4="}})");
  DiffResult result = Diff({desired}, {live});
  const ObjectDiff& diff = result.objects[0];
  EXPECT_EQ(diff.status, SyncStatus::kOutOfSync);
  EXPECT_EQ(diff.json_patch, R"([{"op":"replace","path":"/data/password","value":"++++++++"}])");
  for (const std::string& output : {diff.json_patch, diff.unified_diff}) {
    EXPECT_THAT(output, Not(HasSubstr("hunter2")));
    EXPECT_THAT(output, Not(HasSubstr("aHVudGVyMi1")));
    EXPECT_THAT(output, Not(HasSubstr("YWRtaW4=")));
  }
  EXPECT_THAT(diff.unified_diff, HasSubstr("\n-  password: ++++++++++++\n+  password: ++++++++\n"));
  // Missing and Extraneous Secrets are masked as well.
  DiffResult missing = Diff({desired}, {});
  EXPECT_THAT(missing.objects[0].json_patch, Not(HasSubstr("hunter2")));
  EXPECT_THAT(missing.objects[0].unified_diff, Not(HasSubstr("aHVudGVy")));
  DiffResult extraneous = Diff({}, {live});
  EXPECT_THAT(extraneous.objects[0].unified_diff, Not(HasSubstr("aHVudGVy")));
  EXPECT_THAT(extraneous.objects[0].unified_diff, Not(HasSubstr("hunter2")));
}

// Secrets of every shape the differ may be handed (the API server would refuse some; a render
// can produce them all) never show a value: not as a string, a list, a map or a number under
// data or stringData, nor inside the last-applied annotation, in a patch, a diff or an error,
// whatever the object's status.
TEST(DiffTest, SecretValuesOfEveryShapeNeverLeak) {
  const std::string canary = "CANARY-7f3a9c";
  const std::string canary_base64 = "Q0FOQVJZLTdmM2E5Yw";  // base64 of the canary, unpadded prefix
  const std::vector<std::string> shapes = {
      "\"" + canary + "\"",
      "[\"" + canary + "\", \"second\"]",
      "{\"key\": {\"nested\": \"" + canary + "\"}}",
      "{\"key\": [\"" + canary + "\"]}",
      "{\"key\": \"" + canary + "\", \"other\": 7}",
      "{\"key\": \"" + canary_base64 + "\"}",
  };
  auto secret = [&](const std::string& name, const std::string& field, const std::string& shape,
                    const std::string& annotation_value) {
    Json object = J(R"({"apiVersion": "v1", "kind": "Secret", "type": "Opaque"})");
    object["metadata"] = Json{{"name", name}, {"namespace", "prod"}};
    if (!annotation_value.empty()) {
      object["metadata"]["annotations"][std::string(kLastAppliedAnnotation)] = annotation_value;
    }
    object[field] = Json::parse(shape);
    return object;
  };
  std::vector<Json> desired, live;
  int n = 0;
  for (const char* field : {"data", "stringData"}) {
    for (const std::string& shape : shapes) {
      const std::string name = "s" + std::to_string(n++);
      const std::string last_applied =
          R"({"apiVersion":"v1","kind":"Secret",")" + std::string(field) + "\":" + shape + "}";
      // The same name on both sides, in other shapes: compared.
      desired.push_back(secret(name, field, shape, ""));
      live.push_back(secret(name, std::string(field) == "data" ? "stringData" : "data",
                            shapes[(n + 1) % shapes.size()], last_applied));
      // Only desired (Missing) and only live (Extraneous).
      desired.push_back(secret(name + "-new", field, shape, last_applied));
      live.push_back(secret(name + "-old", field, shape, last_applied));
    }
  }
  for (bool unified : {true, false}) {
    DiffOptions options;
    options.compute_unified_diff = unified;
    const DiffResult result = Diff(desired, live, options);
    ASSERT_EQ(result.objects.size(), desired.size() + live.size() / 2);
    for (const ObjectDiff& diff : result.objects) {
      SCOPED_TRACE(diff.key.ToString());
      EXPECT_NE(diff.status, SyncStatus::kUnknown) << diff.error;
      for (const std::string* output : {&diff.json_patch, &diff.unified_diff, &diff.error}) {
        EXPECT_THAT(*output, Not(HasSubstr("CANARY"))) << *output;
        EXPECT_THAT(*output, Not(HasSubstr(canary_base64))) << *output;
        EXPECT_THAT(*output, Not(HasSubstr("last-applied"))) << *output;
      }
    }
  }
}

TEST(DiffTest, DiffFileNameLikeKubectl) {
  EXPECT_EQ(DiffFileName({"apps", "v1", "Deployment", "prod", "web"}),
            "apps.v1.Deployment.prod.web");
  EXPECT_EQ(DiffFileName({"", "v1", "Namespace", "", "prod"}), "v1.Namespace.prod");
}

}  // namespace
}  // namespace todoke::differ
