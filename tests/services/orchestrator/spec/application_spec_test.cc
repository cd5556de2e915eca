// The Application spec: YAML documents in, the same shape out, defaults and validation errors
// naming the field a user has to fix.
#include "services/orchestrator/core/spec/application_spec.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFullSpec[] = R"(apiVersion: todoke.dev/v1alpha1
kind: Application
metadata:
  name: guestbook
  labels:
    team: web
    todoke.dev/tier: frontend
spec:
  source:
    repoURL: https://git.example.com/org/apps.git
    targetRevision: main
    path: apps/guestbook
    plugin:
      name: helm
      args: [--set, replicas=2]
      env: {HELM_NAMESPACE: web}
    substitute:
      CLUSTER: eu-1
      REPLICAS: "3"
  destination:
    kubernetes: {context: prod, namespace: guestbook}
  syncPolicy:
    automated: {prune: true, selfHeal: true, allowEmpty: true}
    interval: 1h30m
    retry:
      limit: 5
      backoff: {duration: 5s, factor: 2.5, maxDuration: 3m}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      name: web
      namespace: prod
      jsonPointers: [/spec/replicas, /metadata/annotations/a~1b]
      managedFieldsManagers: [kube-controller-manager]
    - {kind: ConfigMap, jsonPointers: [/data]}
  suspend: true
)";

Application ParseOne(absl::string_view text) {
  absl::StatusOr<std::vector<ApplicationDocument>> documents =
      ParseApplicationsYaml(text, "app.yaml");
  EXPECT_TRUE(documents.ok()) << documents.status();
  if (!documents.ok() || documents->size() != 1) {
    ADD_FAILURE() << "expected one document";
    return Application();
  }
  return (*documents)[0].application;
}

// The error of parsing `text` as app.yaml ("" when it parses).
std::string ParseError(absl::string_view text) {
  absl::StatusOr<std::vector<ApplicationDocument>> documents =
      ParseApplicationsYaml(text, "app.yaml");
  if (documents.ok()) return "";
  EXPECT_EQ(documents.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(documents.status().message());
}

std::string Doc(absl::string_view body) {
  return absl::StrCat("apiVersion: todoke.dev/v1alpha1\nkind: Application\n", body);
}

TEST(ApplicationSpecTest, FullSpecReadsIntoEveryProtoField) {
  const Application app = ParseOne(kFullSpec);
  EXPECT_EQ(app.name(), "guestbook");
  EXPECT_EQ(app.labels().at("team"), "web");
  EXPECT_EQ(app.labels().at("todoke.dev/tier"), "frontend");
  const v1::ApplicationSource& source = app.spec().source();
  EXPECT_EQ(source.repo_url(), "https://git.example.com/org/apps.git");
  EXPECT_EQ(source.target_revision(), "main");
  EXPECT_EQ(source.path(), "apps/guestbook");
  EXPECT_EQ(source.render().mode(), renderer::v1::RENDER_MODE_PLUGIN);
  EXPECT_EQ(source.render().plugin().name(), "helm");
  EXPECT_THAT(source.render().plugin().args(), ElementsAre("--set", "replicas=2"));
  EXPECT_EQ(source.render().plugin().env().at("HELM_NAMESPACE"), "web");
  EXPECT_EQ(source.render().substitutions().at("CLUSTER"), "eu-1");
  EXPECT_EQ(source.render().substitutions().at("REPLICAS"), "3");
  ASSERT_TRUE(app.spec().destination().has_kubernetes());
  EXPECT_EQ(app.spec().destination().kubernetes().context(), "prod");
  EXPECT_EQ(app.spec().destination().kubernetes().namespace_(), "guestbook");
  const v1::SyncPolicy& policy = app.spec().sync_policy();
  EXPECT_TRUE(policy.automated());
  EXPECT_TRUE(policy.prune());
  EXPECT_TRUE(policy.self_heal());
  EXPECT_TRUE(policy.allow_empty());
  EXPECT_EQ(ToAbslDuration(policy.interval()), absl::Minutes(90));
  EXPECT_EQ(policy.retry().limit(), 5);
  EXPECT_EQ(ToAbslDuration(policy.retry().backoff().duration()), absl::Seconds(5));
  EXPECT_EQ(policy.retry().backoff().factor(), 2.5);
  EXPECT_EQ(ToAbslDuration(policy.retry().backoff().max_duration()), absl::Minutes(3));
  ASSERT_EQ(app.spec().ignore_differences_size(), 2);
  const types::v1::IgnoreRule& rule = app.spec().ignore_differences(0);
  EXPECT_EQ(rule.group(), "apps");
  EXPECT_EQ(rule.kind(), "Deployment");
  EXPECT_EQ(rule.name(), "web");
  EXPECT_EQ(rule.namespace_(), "prod");
  EXPECT_THAT(rule.json_pointers(), ElementsAre("/spec/replicas", "/metadata/annotations/a~1b"));
  EXPECT_THAT(rule.managed_fields_managers(), ElementsAre("kube-controller-manager"));
  EXPECT_TRUE(app.spec().suspend());
  EXPECT_TRUE(ValidateApplication(app).ok()) << ValidateApplication(app);
}

TEST(ApplicationSpecTest, FullSpecRoundTripsThroughYamlAndJson) {
  const Application app = ParseOne(kFullSpec);
  const std::string yaml = ApplicationToYaml(app);
  const Application again = ParseOne(yaml);
  EXPECT_TRUE(MessageDifferencer::Equals(app, again)) << yaml;

  // The printed shape, pinned: what `todoke app get -o yaml` shows users.
  EXPECT_EQ(yaml, R"(apiVersion: todoke.dev/v1alpha1
kind: Application
metadata:
  labels:
    team: web
    todoke.dev/tier: frontend
  name: guestbook
spec:
  destination:
    kubernetes:
      context: prod
      namespace: guestbook
  ignoreDifferences:
  - group: apps
    jsonPointers:
    - /spec/replicas
    - /metadata/annotations/a~1b
    kind: Deployment
    managedFieldsManagers:
    - kube-controller-manager
    name: web
    namespace: prod
  - jsonPointers:
    - /data
    kind: ConfigMap
  source:
    path: apps/guestbook
    plugin:
      args:
      - --set
      - replicas=2
      env:
        HELM_NAMESPACE: web
      name: helm
    repoURL: https://git.example.com/org/apps.git
    substitute:
      CLUSTER: eu-1
      REPLICAS: "3"
    targetRevision: main
  suspend: true
  syncPolicy:
    automated:
      allowEmpty: true
      prune: true
      selfHeal: true
    interval: 1h30m
    retry:
      backoff:
        duration: 5s
        factor: 2.5
        maxDuration: 3m
      limit: 5
)");

  // JSON is YAML too: the JSON form reads back the same.
  const Application from_json = ParseOne(ApplicationToJson(app).dump(2));
  EXPECT_TRUE(MessageDifferencer::Equals(app, from_json));
}

TEST(ApplicationSpecTest, EveryRenderModeAndDestinationRoundTrips) {
  const std::vector<std::string> sources = {
      "  source: {repoURL: r, kustomize: {}}\n",
      "  source: {repoURL: r, directory: {}}\n",
      "  source: {repoURL: r, directory: {recurse: true, include: '*.yaml', exclude: 'x/*'}}\n",
      "  source: {repoURL: r}\n",
  };
  const std::vector<std::string> destinations = {
      "  destination: {kubernetes: {}}\n",
      "  destination: {git: {repoURL: /srv/out.git, branch: rendered, path: a/b, push: true, "
      "writeSecrets: true}}\n",
  };
  for (const std::string& source : sources) {
    for (const std::string& destination : destinations) {
      const Application app =
          ParseOne(Doc(absl::StrCat("metadata: {name: a}\nspec:\n", source, destination)));
      const std::string yaml = ApplicationToYaml(app);
      EXPECT_TRUE(MessageDifferencer::Equivalent(app, ParseOne(yaml))) << yaml;
      EXPECT_TRUE(ValidateApplication(app).ok()) << yaml << ValidateApplication(app);
    }
  }
  const Application kustomize = ParseOne(Doc("spec: {source: {kustomize: {}}}"));
  EXPECT_EQ(kustomize.spec().source().render().mode(), renderer::v1::RENDER_MODE_KUSTOMIZE);
  const Application directory = ParseOne(Doc("spec: {source: {directory: {recurse: true}}}"));
  EXPECT_EQ(directory.spec().source().render().mode(), renderer::v1::RENDER_MODE_DIRECTORY);
  EXPECT_TRUE(directory.spec().source().render().directory().recurse());
  const Application git =
      ParseOne(Doc("spec: {destination: {git: {repoURL: u, branch: b, path: p, push: true}}}"));
  ASSERT_TRUE(git.spec().destination().has_git());
  EXPECT_EQ(git.spec().destination().git().repo_url(), "u");
  EXPECT_EQ(git.spec().destination().git().branch(), "b");
  EXPECT_EQ(git.spec().destination().git().path(), "p");
  EXPECT_TRUE(git.spec().destination().git().push());
  EXPECT_FALSE(git.spec().destination().git().write_secrets());
}

TEST(ApplicationSpecTest, AutomatedDisabledKeepsItsOptions) {
  // A rollback turns automation off and keeps prune/selfHeal for when it is turned back on.
  const Application app =
      ParseOne(Doc("spec: {syncPolicy: {automated: {enabled: false, prune: true}}}"));
  EXPECT_FALSE(app.spec().sync_policy().automated());
  EXPECT_TRUE(app.spec().sync_policy().prune());
  const std::string yaml = ApplicationToYaml(app);
  EXPECT_THAT(yaml, HasSubstr("    automated:\n      enabled: false\n      prune: true\n"));
  EXPECT_TRUE(MessageDifferencer::Equals(app, ParseOne(yaml)));

  const Application on = ParseOne(Doc("spec: {syncPolicy: {automated: {}}}"));
  EXPECT_TRUE(on.spec().sync_policy().automated());
  EXPECT_FALSE(on.spec().sync_policy().prune());
  EXPECT_THAT(ApplicationToYaml(on), HasSubstr("    automated: {}\n"));

  const Application manual = ParseOne(Doc("spec: {syncPolicy: {interval: 30s}}"));
  EXPECT_FALSE(manual.spec().sync_policy().automated());
  EXPECT_THAT(ApplicationToYaml(manual), Not(HasSubstr("automated")));
}

TEST(ApplicationSpecTest, MultiDocumentFileGivesEveryApplicationWithItsPosition) {
  const std::string text =
      absl::StrCat(Doc("metadata: {name: one}\n"), "---\n", "# nothing here\n", "---\n",
                   Doc("metadata: {name: two}\n"), "---\n", Doc("metadata:\n  name: three\n"));
  absl::StatusOr<std::vector<ApplicationDocument>> documents =
      ParseApplicationsYaml(text, "apps.yaml");
  ASSERT_TRUE(documents.ok()) << documents.status();
  ASSERT_EQ(documents->size(), 3u);
  EXPECT_EQ((*documents)[0].application.name(), "one");
  EXPECT_EQ((*documents)[0].document, 1);
  EXPECT_EQ((*documents)[0].line, 1);
  EXPECT_EQ((*documents)[1].application.name(), "two");
  EXPECT_EQ((*documents)[1].document, 3);
  EXPECT_EQ((*documents)[1].line, 7);
  EXPECT_EQ((*documents)[1].where, "apps.yaml: document 3 (line 7)");
  EXPECT_EQ((*documents)[2].application.name(), "three");
  EXPECT_EQ((*documents)[2].document, 4);
  EXPECT_EQ((*documents)[2].line, 11);

  EXPECT_TRUE(ParseApplicationsYaml("", "empty.yaml")->empty());
}

TEST(ApplicationSpecTest, ErrorsNameFileDocumentLineAndField) {
  const std::string text =
      absl::StrCat(Doc("metadata: {name: one}\n"), "---\n", Doc("spec:\n  sorce: {}\n"));
  absl::StatusOr<std::vector<ApplicationDocument>> documents =
      ParseApplicationsYaml(text, "apps.yaml");
  ASSERT_FALSE(documents.ok());
  EXPECT_EQ(documents.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(documents.status().message(),
            "apps.yaml: document 2 (line 5): spec.sorce: unknown field");

  // Broken YAML: common/yaml.h's file:line:column.
  absl::StatusOr<std::vector<ApplicationDocument>> broken =
      ParseApplicationsYaml("metadata: {name: [\n", "broken.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(broken.status().message(), HasSubstr("broken.yaml:"));
}

TEST(ApplicationSpecTest, StrictReadingNamesEveryUnknownOrMistypedField) {
  struct Case {
    std::string body;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"spec: {sorce: {}}", "spec.sorce: unknown field"},
      {"metadata: {name: a, annotations: {x: y}}", "metadata.annotations: unknown field"},
      {"spec: {source: {repoUrl: x}}", "spec.source.repoUrl: unknown field"},
      {"spec: {source: {kustomize: {namePrefix: x}}}",
       "spec.source.kustomize.namePrefix: unknown field"},
      {"spec: {source: {directory: {recursive: true}}}",
       "spec.source.directory.recursive: unknown field"},
      {"spec: {source: {plugin: {name: helm, command: sh}}}",
       "spec.source.plugin.command: unknown field"},
      {"spec: {destination: {kubernetes: {server: x}}}",
       "spec.destination.kubernetes.server: unknown field"},
      {"spec: {destination: {git: {branch: b, ref: x}}}",
       "spec.destination.git.ref: unknown field"},
      {"spec: {syncPolicy: {automated: {prune: true, selfheal: true}}}",
       "spec.syncPolicy.automated.selfheal: unknown field"},
      {"spec: {syncPolicy: {retry: {limit: 1, backoff: {max: 3m}}}}",
       "spec.syncPolicy.retry.backoff.max: unknown field"},
      {"spec: {ignoreDifferences: [{kind: A, jsonPointers: [/a]}, {jqPathExpressions: [x]}]}",
       "spec.ignoreDifferences[1].jqPathExpressions: unknown field"},
      {"extra: 1", "extra: unknown field"},
      {"spec: {suspend: yes}", "spec.suspend: must be a boolean (true or false)"},
      {"spec: {source: {targetRevision: 1.0}}",
       "spec.source.targetRevision: must be a string (quote it: \"1.0\")"},
      {"metadata: {name: a, labels: {tier: 1}}",
       "metadata.labels.tier: must be a string (quote it: \"1\")"},
      {"spec: {syncPolicy: {interval: 60}}",
       "spec.syncPolicy.interval: must be a duration such as 30s, 1m or 1h30m"},
      {"spec: {syncPolicy: {interval: 1x}}",
       "spec.syncPolicy.interval: invalid duration \"1x\": use Go-style durations such as 30s, "
       "1m, 1h30m"},
      {"spec: {syncPolicy: {retry: {limit: many}}}",
       "spec.syncPolicy.retry.limit: must be an integer"},
      {"spec: {syncPolicy: {retry: {limit: 99999999999}}}",
       "spec.syncPolicy.retry.limit: out of range"},
      {"spec: {syncPolicy: {retry: {backoff: {factor: two}}}}",
       "spec.syncPolicy.retry.backoff.factor: must be a number"},
      {"spec: {syncPolicy: {automated: true}}", "spec.syncPolicy.automated: must be a mapping"},
      {"spec: {ignoreDifferences: {kind: A}}", "spec.ignoreDifferences: must be a list"},
      {"spec: {ignoreDifferences: [{jsonPointers: /a}]}",
       "spec.ignoreDifferences[0].jsonPointers: must be a list of strings"},
      {"spec: {source: {plugin: {name: helm, args: [a, 2]}}}",
       "spec.source.plugin.args[1]: must be a string (quote it: \"2\")"},
      {"spec: {source: {kustomize: {}, directory: {}}}",
       "spec.source: at most one of kustomize, directory or plugin (found kustomize and "
       "directory)"},
      {"spec: {destination: {kubernetes: {}, git: {}}}",
       "spec.destination: exactly one of kubernetes or git"},
      {"spec: []", "spec: must be a mapping"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseError(Doc(c.body)), absl::StrCat("app.yaml: document 1 (line 1): ", c.error))
        << c.body;
  }
  // Every problem of a document at once, in a stable order.
  EXPECT_EQ(ParseError(Doc("spec: {sorce: {}, destnation: {}}")),
            "app.yaml: document 1 (line 1): spec.destnation: unknown field; spec.sorce: unknown "
            "field");
}

TEST(ApplicationSpecTest, ApiVersionAndKindAreChecked) {
  EXPECT_EQ(ParseError("kind: Application\nmetadata: {name: a}\n"),
            "app.yaml: document 1 (line 1): apiVersion: required (todoke.dev/v1alpha1)");
  EXPECT_EQ(ParseError("apiVersion: argoproj.io/v1alpha1\nkind: Application\n"),
            "app.yaml: document 1 (line 1): apiVersion: must be todoke.dev/v1alpha1, not "
            "\"argoproj.io/v1alpha1\"");
  EXPECT_EQ(ParseError("apiVersion: todoke.dev/v1alpha1\nkind: Deployment\n"),
            "app.yaml: document 1 (line 1): kind: must be Application, not \"Deployment\"");
  EXPECT_EQ(ParseError("- a\n- b\n"),
            "app.yaml: document 1 (line 1): must be a mapping (an Application document)");
}

TEST(ApplicationSpecTest, NullValuesCountAsAbsentAndOutputOnlyFieldsAreIgnored) {
  const Application app =
      ParseOne(Doc("metadata:\n  name: a\n  labels:\n  generation: 7\n  creationTimestamp: x\n"
                   "spec:\n  source:\n    path:\n  syncPolicy:\nstatus: {sync: Synced}\n"));
  EXPECT_EQ(app.name(), "a");
  EXPECT_TRUE(app.labels().empty());
  EXPECT_EQ(app.generation(), 0);
  EXPECT_FALSE(app.has_status());
  EXPECT_TRUE(app.spec().has_source());
  EXPECT_FALSE(app.spec().has_sync_policy());
}

Application ValidApp() {
  Application app = ParseOne(Doc(R"(metadata: {name: web, labels: {team: a}}
spec:
  source: {repoURL: https://example.com/r.git, path: apps/web}
  destination: {git: {repoURL: /srv/out.git, branch: rendered, path: web}}
  syncPolicy:
    interval: 1m
    retry: {limit: 2, backoff: {duration: 5s, factor: 2, maxDuration: 1m}}
  ignoreDifferences: [{kind: Deployment, jsonPointers: [/spec/replicas]}]
)"));
  return app;
}

TEST(ApplicationSpecTest, ValidationNamesEachFaultyFieldExactly) {
  ASSERT_TRUE(ValidateApplication(ValidApp()).ok()) << ValidateApplication(ValidApp());
  struct Case {
    std::string what;
    std::function<void(Application&)> change;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"no name", [](Application& a) { a.clear_name(); }, "metadata.name: required"},
      {"upper-case name", [](Application& a) { a.set_name("Web"); },
       "metadata.name: must be a DNS-1123 label of at most 63 characters"},
      {"64-character name", [](Application& a) { a.set_name(std::string(64, 'a')); },
       "metadata.name: must be a DNS-1123 label of at most 63 characters"},
      {"name ending in -", [](Application& a) { a.set_name("web-"); },
       "metadata.name: must be a DNS-1123 label of at most 63 characters"},
      {"label key", [](Application& a) { (*a.mutable_labels())["bad key"] = "x"; },
       "metadata.labels: invalid label key \"bad key\": the name must be at most 63 characters "
       "of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"},
      {"label prefix", [](Application& a) { (*a.mutable_labels())["Todoke.dev/x"] = "x"; },
       "metadata.labels: invalid label key \"Todoke.dev/x\": the prefix must be a DNS-1123 "
       "subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)"},
      {"label value", [](Application& a) { (*a.mutable_labels())["team"] = "a b"; },
       "metadata.labels.team: invalid label value \"a b\": must be empty or at most 63 "
       "characters of letters, digits, '-', '_' and '.', starting and ending with a letter or "
       "digit"},
      {"no repoURL", [](Application& a) { a.mutable_spec()->mutable_source()->clear_repo_url(); },
       "spec.source.repoURL: required"},
      {"no source", [](Application& a) { a.mutable_spec()->clear_source(); },
       "spec.source.repoURL: required"},
      {"path with backslashes",
       [](Application& a) { a.mutable_spec()->mutable_source()->set_path("apps\\..\\..\\etc"); },
       "spec.source.path: must be a relative path inside the repository (no '..', not "
       "absolute, '/' as separator)"},
      {"a name with a slash, too long, with a NUL",
       [](Application& a) {
         a.set_name(std::string("../x/") + std::string(1, '\0') + std::string(80, 'y'));
       },
       "metadata.name: must be a DNS-1123 label of at most 63 characters"},
      {"path with ..",
       [](Application& a) { a.mutable_spec()->mutable_source()->set_path("apps/../../etc"); },
       "spec.source.path: must be a relative path inside the repository (no '..', not "
       "absolute, '/' as separator)"},
      {"absolute path",
       [](Application& a) { a.mutable_spec()->mutable_source()->set_path("/etc"); },
       "spec.source.path: must be a relative path inside the repository (no '..', not "
       "absolute, '/' as separator)"},
      {"plugin without name",
       [](Application& a) {
         a.mutable_spec()->mutable_source()->mutable_render()->set_mode(
             renderer::v1::RENDER_MODE_PLUGIN);
       },
       "spec.source.plugin.name: required"},
      {"directory options in auto mode",
       [](Application& a) {
         a.mutable_spec()->mutable_source()->mutable_render()->mutable_directory()->set_recurse(
             true);
       },
       "spec.source.directory: options given without the directory mode"},
      {"substitution name",
       [](Application& a) {
         (*a.mutable_spec()->mutable_source()->mutable_render()->mutable_substitutions())["1X"] =
             "v";
       },
       "spec.source.substitute: invalid variable name \"1X\" (letters, digits and '_', not "
       "starting with a digit)"},
      {"no destination", [](Application& a) { a.mutable_spec()->clear_destination(); },
       "spec.destination: exactly one of kubernetes or git"},
      {"no branch",
       [](Application& a) {
         a.mutable_spec()->mutable_destination()->mutable_git()->clear_branch();
       },
       "spec.destination.git.branch: required"},
      {"bad branch",
       [](Application& a) {
         a.mutable_spec()->mutable_destination()->mutable_git()->set_branch("a..b");
       },
       "spec.destination.git.branch: not a valid branch name: \"a..b\""},
      {"no git repoURL",
       [](Application& a) {
         a.mutable_spec()->mutable_destination()->mutable_git()->clear_repo_url();
       },
       "spec.destination.git.repoURL: required"},
      {"git path with ..",
       [](Application& a) {
         a.mutable_spec()->mutable_destination()->mutable_git()->set_path("../other");
       },
       "spec.destination.git.path: must be a relative path inside the repository (no '..', "
       "not absolute, '/' as separator)"},
      {"namespace",
       [](Application& a) {
         a.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_("Prod");
       },
       "spec.destination.kubernetes.namespace: must be a DNS-1123 label of at most 63 "
       "characters"},
      {"interval below 1s",
       [](Application& a) {
         *a.mutable_spec()->mutable_sync_policy()->mutable_interval() =
             ToProtoDuration(absl::Milliseconds(500));
       },
       "spec.syncPolicy.interval: must be at least 1s"},
      {"zero interval",
       [](Application& a) {
         *a.mutable_spec()->mutable_sync_policy()->mutable_interval() =
             ToProtoDuration(absl::ZeroDuration());
       },
       "spec.syncPolicy.interval: must be at least 1s"},
      {"retry limit",
       [](Application& a) {
         a.mutable_spec()->mutable_sync_policy()->mutable_retry()->set_limit(-2);
       },
       "spec.syncPolicy.retry.limit: must be -1 (no limit), 0 (no retry) or more"},
      {"negative backoff",
       [](Application& a) {
         *a.mutable_spec()
              ->mutable_sync_policy()
              ->mutable_retry()
              ->mutable_backoff()
              ->mutable_duration() = ToProtoDuration(absl::Seconds(-1));
       },
       "spec.syncPolicy.retry.backoff.duration: must be positive"},
      {"max below duration",
       [](Application& a) {
         *a.mutable_spec()
              ->mutable_sync_policy()
              ->mutable_retry()
              ->mutable_backoff()
              ->mutable_max_duration() = ToProtoDuration(absl::Seconds(1));
       },
       "spec.syncPolicy.retry.backoff.maxDuration: must not be shorter than duration"},
      {"factor below 1",
       [](Application& a) {
         a.mutable_spec()->mutable_sync_policy()->mutable_retry()->mutable_backoff()->set_factor(
             0.5);
       },
       "spec.syncPolicy.retry.backoff.factor: must be between 1 and 1000"},
      {"rule that ignores nothing",
       [](Application& a) {
         a.mutable_spec()->mutable_ignore_differences(0)->clear_json_pointers();
       },
       "spec.ignoreDifferences[0]: needs jsonPointers or managedFieldsManagers"},
      {"pointer without /",
       [](Application& a) {
         a.mutable_spec()->mutable_ignore_differences(0)->add_json_pointers("spec/x");
       },
       "spec.ignoreDifferences[0].jsonPointers[1]: not an RFC 6901 JSON pointer: \"spec/x\" (it "
       "starts with '/'; '~' only as ~0 or ~1)"},
      {"pointer with a bad escape",
       [](Application& a) {
         a.mutable_spec()->mutable_ignore_differences(0)->set_json_pointers(0, "/metadata/a~2b");
       },
       "spec.ignoreDifferences[0].jsonPointers[0]: not an RFC 6901 JSON pointer: "
       "\"/metadata/a~2b\" (it starts with '/'; '~' only as ~0 or ~1)"},
  };
  for (const Case& c : cases) {
    Application app = ValidApp();
    c.change(app);
    const absl::Status status = ValidateApplication(app);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    // The message names the app (escaped and cut: the name may be the problem) when it has one.
    std::string named = c.error;
    if (!app.name().empty()) {
      named = absl::StrCat("application \"", absl::CHexEscape(app.name().substr(0, 64)),
                           app.name().size() > 64 ? "..." : "", "\": ", c.error);
    }
    EXPECT_EQ(status.message(), named) << c.what;
  }
}

TEST(ApplicationSpecTest, ValidationReportsEveryProblemAtOnce) {
  Application app;
  const absl::Status status = ValidateApplication(app);
  EXPECT_EQ(status.message(),
            "metadata.name: required; spec.source.repoURL: required; spec.destination: exactly "
            "one of kubernetes or git");
}

TEST(ApplicationSpecTest, ValidationAcceptsWhatUsersWrite) {
  for (const char* path : {"", ".", "apps/web", "a/b/c..d", "..x/y", "apps/./web"}) {
    Application app = ValidApp();
    app.mutable_spec()->mutable_source()->set_path(path);
    EXPECT_TRUE(ValidateApplication(app).ok()) << path << ": " << ValidateApplication(app);
  }
  for (const char* branch : {"main", "release/1.2", "feature-x_y", "rendered/prod"}) {
    Application app = ValidApp();
    app.mutable_spec()->mutable_destination()->mutable_git()->set_branch(branch);
    EXPECT_TRUE(ValidateApplication(app).ok()) << branch << ": " << ValidateApplication(app);
  }
  for (const char* branch : {"-x", "a b", "a.lock", "a/", "x:y", ".hidden", "a@{1}", "@"}) {
    Application app = ValidApp();
    app.mutable_spec()->mutable_destination()->mutable_git()->set_branch(branch);
    EXPECT_FALSE(ValidateApplication(app).ok()) << branch;
  }
  Application semver = ValidApp();
  semver.mutable_spec()->mutable_source()->set_target_revision(">=1.2.0 <2.0.0");
  EXPECT_TRUE(ValidateApplication(semver).ok());
  Application unlimited = ValidApp();
  unlimited.mutable_spec()->mutable_sync_policy()->mutable_retry()->set_limit(-1);
  EXPECT_TRUE(ValidateApplication(unlimited).ok());
  Application managers = ValidApp();
  managers.mutable_spec()->mutable_ignore_differences(0)->clear_json_pointers();
  managers.mutable_spec()->mutable_ignore_differences(0)->add_managed_fields_managers("hpa");
  EXPECT_TRUE(ValidateApplication(managers).ok());
  Application name63 = ValidApp();
  name63.set_name(std::string(63, 'a'));
  EXPECT_TRUE(ValidateApplication(name63).ok());
}

TEST(ApplicationSpecTest, DefaultsFillOnlyWhatIsUnsetAndAreIdempotent) {
  Application app = ParseOne(
      Doc("metadata: {name: a}\nspec: {source: {repoURL: r}, destination: {kubernetes: {}}, "
          "syncPolicy: {retry: {limit: 3}}}"));
  ApplyDefaults(app);
  EXPECT_EQ(app.spec().source().target_revision(), "HEAD");
  EXPECT_EQ(ToAbslDuration(app.spec().sync_policy().interval()), absl::Minutes(3));
  const v1::RetryBackoff& backoff = app.spec().sync_policy().retry().backoff();
  EXPECT_EQ(ToAbslDuration(backoff.duration()), absl::Seconds(5));
  EXPECT_EQ(backoff.factor(), 2);
  EXPECT_EQ(ToAbslDuration(backoff.max_duration()), absl::Minutes(3));
  EXPECT_EQ(app.spec().sync_policy().retry().limit(), 3);
  EXPECT_TRUE(ValidateApplication(app).ok()) << ValidateApplication(app);

  Application twice = app;
  ApplyDefaults(twice);
  EXPECT_TRUE(MessageDifferencer::Equals(app, twice));

  Application given =
      ParseOne(Doc("spec: {source: {targetRevision: v1}, syncPolicy: {interval: 10s, "
                   "retry: {backoff: {duration: 1s, factor: 3, maxDuration: 10s}}}}"));
  ApplyDefaults(given);
  EXPECT_EQ(given.spec().source().target_revision(), "v1");
  EXPECT_EQ(ToAbslDuration(given.spec().sync_policy().interval()), absl::Seconds(10));
  EXPECT_EQ(ToAbslDuration(given.spec().sync_policy().retry().backoff().duration()),
            absl::Seconds(1));
  EXPECT_EQ(given.spec().sync_policy().retry().backoff().factor(), 3);
  EXPECT_EQ(ToAbslDuration(given.spec().sync_policy().retry().backoff().max_duration()),
            absl::Seconds(10));

  // No retry policy given: none invented (a failed sync is not retried).
  Application no_retry = ParseOne(Doc("metadata: {name: a}"));
  ApplyDefaults(no_retry);
  EXPECT_FALSE(no_retry.spec().sync_policy().has_retry());
  // An explicit zero interval is the user's mistake, not a default to fill.
  Application zero = ParseOne(Doc("spec: {syncPolicy: {interval: 0s}}"));
  ApplyDefaults(zero);
  EXPECT_EQ(ToAbslDuration(zero.spec().sync_policy().interval()), absl::ZeroDuration());
}

TEST(ApplicationSpecTest, GoStyleDurations) {
  struct Case {
    const char* text;
    absl::Duration value;
    const char* printed;
  };
  for (const Case& c : std::vector<Case>{{"30s", absl::Seconds(30), "30s"},
                                         {"1m", absl::Minutes(1), "1m"},
                                         {"1h30m", absl::Minutes(90), "1h30m"},
                                         {"1.5h", absl::Minutes(90), "1h30m"},
                                         {"250ms", absl::Milliseconds(250), "250ms"},
                                         {"90s", absl::Seconds(90), "1m30s"},
                                         {"0", absl::ZeroDuration(), "0"}}) {
    absl::StatusOr<google::protobuf::Duration> parsed = ParseSpecDuration(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status();
    EXPECT_EQ(ToAbslDuration(*parsed), c.value) << c.text;
    EXPECT_EQ(FormatSpecDuration(*parsed), c.printed) << c.text;
    EXPECT_EQ(ToAbslDuration(*ParseSpecDuration(FormatSpecDuration(*parsed))), c.value);
  }
  for (const char* bad : {"", "1", "1x", "inf", "-inf", "1 m", "m", "99999999999999h"}) {
    EXPECT_EQ(ParseSpecDuration(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  const google::protobuf::Duration negative = *ParseSpecDuration("-1.5s");
  EXPECT_EQ(negative.seconds(), -1);
  EXPECT_EQ(negative.nanos(), -500000000);
}

TEST(ApplicationSpecTest, StatusIsPrintedOnlyWhenAsked) {
  Application app = ValidApp();
  app.set_generation(4);
  app.mutable_created_at()->set_seconds(1714564800);  // 2024-05-01T12:00:00Z
  v1::ApplicationStatus* status = app.mutable_status();
  status->set_sync(types::v1::SYNC_STATUS_OUT_OF_SYNC);
  status->set_health(types::v1::HEALTH_STATUS_PROGRESSING);
  status->set_revision("abc123");
  status->set_render_digest("sha256:00");
  v1::Condition* condition = status->add_conditions();
  condition->set_type("RenderFailed");
  condition->set_message("kustomization.yaml: bad");
  v1::ResourceStatus* resource = status->add_resources();
  resource->mutable_key()->set_group("apps");
  resource->mutable_key()->set_version("v1");
  resource->mutable_key()->set_kind("Deployment");
  resource->mutable_key()->set_namespace_("prod");
  resource->mutable_key()->set_name("web");
  resource->set_sync(types::v1::SYNC_STATUS_OUT_OF_SYNC);
  status->mutable_operation()->set_id(9);
  status->mutable_operation()->set_phase(v1::OPERATION_PHASE_INTERRUPTED);

  EXPECT_THAT(ApplicationToYaml(app), Not(HasSubstr("status")));
  EXPECT_THAT(ApplicationToYaml(app), Not(HasSubstr("generation")));
  const nlohmann::json json = ApplicationToJson(app, {.include_status = true});
  EXPECT_EQ(json["metadata"]["generation"], 4);
  EXPECT_EQ(json["metadata"]["creationTimestamp"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(json["status"]["sync"], "OutOfSync");
  EXPECT_EQ(json["status"]["health"], "Progressing");
  EXPECT_EQ(json["status"]["revision"], "abc123");
  EXPECT_EQ(json["status"]["conditions"][0]["type"], "RenderFailed");
  EXPECT_EQ(json["status"]["resources"][0]["kind"], "Deployment");
  EXPECT_EQ(json["status"]["resources"][0]["sync"], "OutOfSync");
  EXPECT_EQ(json["status"]["operation"]["phase"], "Interrupted");
  EXPECT_EQ(json["status"]["operation"]["id"], 9);

  // What `get -o yaml` prints applies again: output-only fields are ignored on the way in.
  const std::string yaml = ApplicationToYaml(app, {.include_status = true});
  Application back = ParseOne(yaml);
  Application expected = app;
  expected.clear_status();
  expected.clear_generation();
  expected.clear_created_at();
  EXPECT_TRUE(MessageDifferencer::Equivalent(back, expected)) << yaml;
}

TEST(ApplicationSpecTest, HistoryEntriesPrintInTheSameShape) {
  v1::HistoryEntry entry;
  entry.set_id(12);
  entry.set_revision("abc");
  entry.set_revision_message("fix replicas");
  *entry.mutable_spec() = ValidApp().spec();
  entry.mutable_operation()->set_phase(v1::OPERATION_PHASE_SUCCEEDED);
  entry.mutable_operation()->set_initiated_by("webhook");
  entry.mutable_operation()->mutable_started_at()->set_seconds(1714564800);
  entry.add_resources()->set_action("configured");
  const nlohmann::json json = HistoryEntryToJson(entry);
  EXPECT_EQ(json["id"], 12);
  EXPECT_EQ(json["revisionMessage"], "fix replicas");
  EXPECT_EQ(json["spec"]["source"]["repoURL"], "https://example.com/r.git");
  EXPECT_EQ(json["operation"]["phase"], "Succeeded");
  EXPECT_EQ(json["operation"]["initiatedBy"], "webhook");
  EXPECT_EQ(json["operation"]["startedAt"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(json["resources"][0]["action"], "configured");
}

}  // namespace
}  // namespace todoke::orchestrator
