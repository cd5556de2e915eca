#include "services/renderer/core/substitution.h"

#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

using ::testing::HasSubstr;

TEST(SubstituteVariablesTest, Forms) {
  Variables vars = {{"CLUSTER", "prod"}, {"EMPTY", ""}};
  EXPECT_EQ(*SubstituteVariables("a-${CLUSTER}-b", vars), "a-prod-b");
  EXPECT_EQ(*SubstituteVariables("${MISSING}", vars), "");
  EXPECT_EQ(*SubstituteVariables("${MISSING:=dflt}", vars), "dflt");
  EXPECT_EQ(*SubstituteVariables("${EMPTY:=dflt}", vars), "dflt");
  EXPECT_EQ(*SubstituteVariables("${EMPTY:-dflt}", vars), "dflt");
  EXPECT_EQ(*SubstituteVariables("${EMPTY=dflt}", vars), "");
  EXPECT_EQ(*SubstituteVariables("${MISSING-dflt}", vars), "dflt");
  EXPECT_EQ(*SubstituteVariables("${CLUSTER:+on}${MISSING:+on}", vars), "on");
  EXPECT_EQ(*SubstituteVariables("${MISSING:=${CLUSTER}-x}", vars), "prod-x");
  EXPECT_EQ(*SubstituteVariables("$${CLUSTER} $CLUSTER $5", vars), "${CLUSTER} $CLUSTER $5");
}

TEST(SubstituteVariablesTest, Errors) {
  EXPECT_EQ(SubstituteVariables("${UNCLOSED", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SubstituteVariables("${1BAD}", {}).status().code(), absl::StatusCode::kInvalidArgument);
  SubstitutionOptions strict;
  strict.strict = true;
  absl::StatusOr<std::string> missing = SubstituteVariables("${NOPE}", {}, strict);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("NOPE"));
}

TEST(SubstituteInObjectsTest, RetypesAndSkipsDisabled) {
  std::vector<Json> objects = {
      *ParseYaml("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-${ENV}\n"
                 "spec:\n  replicas: '${REPLICAS}'\n  paused: ${PAUSED:=false}\n"),
      *ParseYaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  annotations:\n"
                 "    kustomize.toolkit.fluxcd.io/substitute: disabled\n"
                 "data: {run: 'echo ${HOME}'}\n"),
  };
  ASSERT_TRUE(SubstituteInObjects(objects, {{"ENV", "prod"}, {"REPLICAS", "3"}}).ok());
  EXPECT_EQ(objects[0]["metadata"]["name"], "web-prod");
  // Like Flux: the YAML text is substituted, so an unquoted number becomes a number.
  EXPECT_EQ(objects[0]["spec"]["replicas"], 3);
  EXPECT_EQ(objects[0]["spec"]["paused"], false);
  EXPECT_EQ(objects[1]["data"]["run"], "echo ${HOME}");
}

TEST(SubstituteInObjectsTest, RefusesBadNames) {
  std::vector<Json> objects;
  EXPECT_EQ(SubstituteInObjects(objects, {{"bad-name", "x"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace todoke::renderer
