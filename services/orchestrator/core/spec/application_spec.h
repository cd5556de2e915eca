// The Application spec: YAML (and JSON) documents <-> todoke.orchestrator.v1.Application, the
// defaults, and validation. Pure: no I/O, no globals that change, safe from many threads.
//
// ## The YAML <-> proto mapping
//
// ```yaml
// apiVersion: todoke.dev/v1alpha1          # required, exactly this
// kind: Application                        # required, exactly this
// metadata:
//   name: guestbook                        # Application.name (DNS-1123 label, <= 63 chars)
//   labels: {team: web}                    # Application.labels (Kubernetes label syntax)
// spec:                                    # Application.spec (ApplicationSpec)
//   source:                                # .source (ApplicationSource)
//     repoURL: https://git.example.com/org/apps.git   # .repo_url (required)
//     targetRevision: main                 # .target_revision: branch, tag, commit, semver
//                                          #   range; default HEAD (the remote's default branch)
//     path: guestbook                      # .path, relative to the repository root; no "..",
//                                          #   not absolute; empty: the root
//     # At most one of kustomize, directory, plugin (.render.mode); none: AUTO (Kustomize when
//     # the folder holds a kustomization file, else a plain directory).
//     kustomize: {}                        # .render.mode = KUSTOMIZE (takes no options)
//     directory:                           # .render.mode = DIRECTORY, .render.directory
//       recurse: true                      #   .recurse
//       include: "*.yaml"                  #   .include (globs, several separated by ',')
//       exclude: "test/*"                  #   .exclude
//     plugin:                              # .render.mode = PLUGIN, .render.plugin
//       name: helm                         #   .name (required; a plugin the renderer allows)
//       args: [--set, replicas=2]          #   .args
//       env: {HELM_NAMESPACE: web}         #   .env
//     substitute: {CLUSTER: eu-1}          # .render.substitutions: ${VAR} / ${VAR:=default}
//                                          #   after build, as Flux's postBuild.substitute
//   destination:                           # .destination: exactly one of kubernetes, git
//     kubernetes:                          # .kubernetes
//       context: prod                      #   .context (kubeconfig context; empty: current)
//       namespace: guestbook               #   .namespace (default for namespaced objects)
//     git:                                 # .git (hydration into a branch)
//       repoURL: /srv/git/rendered.git     #   .repo_url (required)
//       branch: rendered                   #   .branch (required, a valid branch name)
//       path: guestbook                    #   .path (relative, no "..")
//       push: true                         #   .push
//       writeSecrets: false                #   .write_secrets
//   syncPolicy:                            # .sync_policy (SyncPolicy)
//     automated:                           # present: .automated = true ...
//       enabled: true                      #   ... unless enabled: false (keeps the options
//                                          #   below while automation is off, as Argo CD 3)
//       prune: true                        #   .prune
//       selfHeal: true                     #   .self_heal
//       allowEmpty: false                  #   .allow_empty
//     interval: 1m                         # .interval: Go-style duration (30s, 1m, 1h30m,
//                                          #   1.5h, 250ms); at least 1s; default 3m
//     retry:                               # .retry
//       limit: 5                           #   .limit: 0 not retried, -1 without limit
//       backoff:                           #   .backoff (defaults 5s, x2, 3m)
//         duration: 5s                     #     .duration
//         factor: 2                        #     .factor (a number >= 1)
//         maxDuration: 3m                  #     .max_duration
//   ignoreDifferences:                     # .ignore_differences (todoke.types.v1.IgnoreRule)
//     - group: apps                        #   .group  (empty: any)
//       kind: Deployment                   #   .kind   (empty: any)
//       name: web                          #   .name   (empty: any)
//       namespace: prod                    #   .namespace (empty: any)
//       jsonPointers: [/spec/replicas]     #   .json_pointers (RFC 6901)
//       managedFieldsManagers: [kube-controller-manager]   # .managed_fields_managers
//   suspend: false                         # .suspend
// ```
//
// Reading is strict, as kubectl's strict decoding: a key not listed above is an error naming
// its path (`spec.sorce: unknown field`), and so is a value of the wrong type
// (`spec.suspend: must be a boolean`). Strings must be YAML strings: `targetRevision: "1.0"`
// needs its quotes. A key whose value is null (`labels:` with nothing after it) counts as absent.
// Output-only keys are accepted and ignored, so what `ApplicationToYaml` prints with
// `include_status` can be applied again: `status`, `metadata.generation`,
// `metadata.creationTimestamp`.
//
// Writing prints the same shape with keys sorted (common/yaml.h's style), leaving out empty
// values, false booleans and the spec's unset messages. Durations print as absl formats them
// (`3m`, `1h30m`, `1.5s`), which reads back to the same value. With `include_status`:
//   metadata.generation, metadata.creationTimestamp (RFC 3339, UTC) and
//   status: {sync: Synced, health: Healthy, healthMessage, revision, revisionMessage,
//            syncedRevision, renderDigest, reconciledAt,
//            conditions: [{type, message, time}],
//            resources: [{group, version, kind, namespace, name, sync, health, message, action}],
//            operation: {id, phase, revision, message, startedAt, finishedAt, initiatedBy,
//                        dryRun, prune, force, hydratedCommit}}
// (the ApplicationStatus fields in camelCase; enums by their names below).
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_APPLICATION_SPEC_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_APPLICATION_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "nlohmann/json.hpp"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::orchestrator {

using Application = ::todoke::orchestrator::v1::Application;

inline constexpr absl::string_view kApplicationApiVersion = "todoke.dev/v1alpha1";
inline constexpr absl::string_view kApplicationKind = "Application";

// The defaults ApplyDefaults fills in.
inline constexpr absl::Duration kDefaultInterval = absl::Minutes(3);
inline constexpr absl::Duration kDefaultRetryBackoff = absl::Seconds(5);
inline constexpr double kDefaultRetryFactor = 2;
inline constexpr absl::Duration kDefaultRetryMaxBackoff = absl::Minutes(3);
inline constexpr absl::string_view kDefaultTargetRevision = "HEAD";

// The shortest interval ValidateApplication accepts.
inline constexpr absl::Duration kMinInterval = absl::Seconds(1);

// One document of a YAML file, read into an Application.
struct ApplicationDocument {
  Application application;
  // 1-based position of the document in the file (empty documents count too).
  int document = 1;
  // 1-based line where the document starts.
  int line = 1;
  // "apps.yaml: document 2 (line 14)": the prefix ParseApplicationsYaml puts on its errors,
  // for callers that validate the application afterwards and report against the file.
  std::string where;
};

// Reads every document of a YAML stream (`---` separated; JSON is YAML too) as an Application,
// in file order, skipping empty documents. Only reads: no defaults applied, not validated (call
// ApplyDefaults, then ValidateApplication). INVALID_ARGUMENT when the YAML does not parse
// (common/yaml.h's "file:line:column: message"), or when a document is not an Application of
// this shape: "apps.yaml: document 2 (line 14): spec.sorce: unknown field" (every problem of
// that document, joined by "; "). RESOURCE_EXHAUSTED when the YAML hits common/yaml.h's limits.
absl::StatusOr<std::vector<ApplicationDocument>> ParseApplicationsYaml(absl::string_view text,
                                                                       absl::string_view file_name);

// Reads one Application from its parsed JSON/YAML value. `where` prefixes the errors (may be
// empty). Same rules and errors as ParseApplicationsYaml.
absl::StatusOr<Application> ApplicationFromJson(const nlohmann::json& value,
                                                absl::string_view where = "");

struct SpecOutputOptions {
  // Print metadata.generation, metadata.creationTimestamp and status.
  bool include_status = false;
};

// The Application in the shape above, as a JSON value (keys sorted).
nlohmann::json ApplicationToJson(const Application& app, const SpecOutputOptions& options = {});

// The Application as one YAML document (no leading "---", ends with a newline). Parses back to
// the same Application with ParseApplicationsYaml (status aside).
std::string ApplicationToYaml(const Application& app, const SpecOutputOptions& options = {});

// The same shape for the pieces the CLI prints on their own (`app history -o yaml`):
//   spec as under `spec:` above; an operation as status.operation;
//   a history entry as {id, revision, revisionMessage, renderDigest, spec, operation,
//                       resources: [...as status.resources]}.
nlohmann::json ApplicationSpecToJson(const v1::ApplicationSpec& spec);
nlohmann::json OperationToJson(const v1::Operation& operation);
nlohmann::json HistoryEntryToJson(const v1::HistoryEntry& entry);

// Fills what the user left out, in place; idempotent:
//   spec.source.targetRevision: HEAD; spec.syncPolicy.interval: 3m;
//   spec.syncPolicy.retry.backoff (only when retry is given): duration 5s, factor 2,
//   maxDuration 3m, each where unset (0).
void ApplyDefaults(Application& app);

// OK when `app` may be stored and reconciled; otherwise INVALID_ARGUMENT whose message names
// the app (`application "web": `, its name C-escaped and cut at 64 bytes; nothing when it has
// none) and then each faulty field by its YAML path, joined by "; ", for example
//   "metadata.name: must be a DNS-1123 label of at most 63 characters"
//   "spec.source.repoURL: required"
//   "spec.destination: exactly one of kubernetes or git"
//   "spec.destination.git.branch: required"
//   "spec.source.path: must be a relative path inside the repository (no '..', not absolute,
//                   '/' as separator)"
//   "spec.syncPolicy.interval: must be at least 1s"
//   "spec.ignoreDifferences[0].jsonPointers[1]: not an RFC 6901 JSON pointer: \"spec/x\""
// Unset durations (interval, backoff) are accepted: ApplyDefaults gives them their value.
// Status, generation and creation time are not looked at.
absl::Status ValidateApplication(const Application& app);

// Go-style durations as the spec writes them: "30s", "1m", "1h30m", "1.5h", "250ms", "0".
// INVALID_ARGUMENT for anything else (including "inf" and values beyond protobuf's range).
absl::StatusOr<google::protobuf::Duration> ParseSpecDuration(absl::string_view text);
// "3m", "1h30m", "1.5s", "0": reads back with ParseSpecDuration.
std::string FormatSpecDuration(const google::protobuf::Duration& duration);

absl::Duration ToAbslDuration(const google::protobuf::Duration& duration);
google::protobuf::Duration ToProtoDuration(absl::Duration duration);

// Names used in the YAML/JSON output and by the CLI: "Synced", "OutOfSync", "Missing",
// "Extraneous", "Unknown" ("" for unspecified); "Healthy", "Progressing", "Degraded",
// "Suspended", "Missing", "Unknown" ("" for unspecified); "Running", "Succeeded", "Failed",
// "Interrupted", "Terminated", "Queued" ("" for unspecified).
absl::string_view SyncStatusName(types::v1::SyncStatus status);
absl::string_view HealthStatusName(types::v1::HealthStatus status);
absl::string_view OperationPhaseName(v1::OperationPhase phase);

// RFC 3339 in UTC with seconds ("2024-05-01T12:00:00Z"); "" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_APPLICATION_SPEC_H_
