#include "services/differ/core/health.h"

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace todoke::health {

std::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kHealthy:
      return "Healthy";
    case HealthStatus::kProgressing:
      return "Progressing";
    case HealthStatus::kDegraded:
      return "Degraded";
    case HealthStatus::kSuspended:
      return "Suspended";
    case HealthStatus::kMissing:
      return "Missing";
    case HealthStatus::kUnknown:
      return "Unknown";
    case HealthStatus::kUnspecified:
      break;
  }
  return "Unspecified";
}

namespace {

struct Verdict {
  HealthStatus status;
  std::string message;
};

Verdict Healthy(std::string message = "") { return {HealthStatus::kHealthy, std::move(message)}; }
Verdict Progressing(std::string message) {
  return {HealthStatus::kProgressing, std::move(message)};
}
Verdict Degraded(std::string message) { return {HealthStatus::kDegraded, std::move(message)}; }
Verdict Suspended(std::string message) { return {HealthStatus::kSuspended, std::move(message)}; }
Verdict Unknown(std::string message) { return {HealthStatus::kUnknown, std::move(message)}; }

// Null-safe navigation: the value at `path` or nullptr.
const Json* Find(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* node = &object;
  for (std::string_view field : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(field);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node->is_null() ? nullptr : node;
}

std::optional<int64_t> Int(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* value = Find(object, path);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->get<int64_t>();
}

int64_t IntOr(const Json& object, std::initializer_list<std::string_view> path, int64_t fallback) {
  return Int(object, path).value_or(fallback);
}

std::string String(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* value = Find(object, path);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

bool Bool(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* value = Find(object, path);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

// status.conditions[type == `type`], or nullptr.
const Json* Condition(const Json& object, std::string_view type) {
  const Json* conditions = Find(object, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& condition : *conditions) {
    if (condition.is_object() && String(condition, {"type"}) == type) return &condition;
  }
  return nullptr;
}

bool ConditionIs(const Json* condition, std::string_view status) {
  return condition != nullptr && String(*condition, {"status"}) == status;
}

std::string ConditionText(const Json& condition) {
  const std::string reason = String(condition, {"reason"});
  const std::string message = String(condition, {"message"});
  if (reason.empty()) return message;
  if (message.empty()) return reason;
  return absl::StrCat(reason, ": ", message);
}

int64_t Generation(const Json& object) { return IntOr(object, {"metadata", "generation"}, 0); }

// apps/v1 Deployment
Verdict DeploymentHealth(const Json& object) {
  if (Bool(object, {"spec", "paused"})) return Suspended("Deployment is paused");
  const int64_t observed = IntOr(object, {"status", "observedGeneration"}, 0);
  if (Generation(object) > observed) {
    return Progressing(
        "Waiting for rollout to finish: observed deployment generation less than desired "
        "generation");
  }
  const Json* progressing = Condition(object, "Progressing");
  if (progressing != nullptr && String(*progressing, {"reason"}) == "ProgressDeadlineExceeded") {
    return Degraded(absl::StrCat("Deployment \"", String(object, {"metadata", "name"}),
                                 "\" exceeded its progress deadline"));
  }
  const int64_t replicas = IntOr(object, {"spec", "replicas"}, 1);
  const int64_t updated = IntOr(object, {"status", "updatedReplicas"}, 0);
  const int64_t current = IntOr(object, {"status", "replicas"}, 0);
  const int64_t available = IntOr(object, {"status", "availableReplicas"}, 0);
  if (updated < replicas) {
    return Progressing(absl::StrCat("Waiting for rollout to finish: ", updated, " out of ",
                                    replicas, " new replicas have been updated..."));
  }
  if (current > updated) {
    return Progressing(absl::StrCat("Waiting for rollout to finish: ", current - updated,
                                    " old replicas are pending termination..."));
  }
  if (available < updated) {
    return Progressing(absl::StrCat("Waiting for rollout to finish: ", available, " of ", updated,
                                    " updated replicas are available..."));
  }
  return Healthy();
}

// apps/v1 StatefulSet
Verdict StatefulSetHealth(const Json& object) {
  const int64_t observed = IntOr(object, {"status", "observedGeneration"}, 0);
  if (observed == 0 || Generation(object) > observed) {
    return Progressing("Waiting for statefulset spec update to be observed...");
  }
  const int64_t replicas = IntOr(object, {"spec", "replicas"}, 1);
  const int64_t ready = IntOr(object, {"status", "readyReplicas"}, 0);
  const int64_t updated = IntOr(object, {"status", "updatedReplicas"}, 0);
  if (ready < replicas) {
    return Progressing(absl::StrCat("Waiting for ", replicas - ready, " pods to be ready..."));
  }
  const std::string strategy = String(object, {"spec", "updateStrategy", "type"});
  if (strategy == "OnDelete") {
    return Healthy(absl::StrCat("statefulset has ", ready, " ready pods"));
  }
  if (std::optional<int64_t> partition =
          Int(object, {"spec", "updateStrategy", "rollingUpdate", "partition"});
      partition.has_value() && (strategy.empty() || strategy == "RollingUpdate")) {
    const int64_t expected = replicas - *partition;
    if (updated < expected) {
      return Progressing(absl::StrCat("Waiting for partitioned roll out to finish: ", updated,
                                      " out of ", expected, " new pods have been updated..."));
    }
    return Healthy(
        absl::StrCat("partitioned roll out complete: ", updated, " new pods have been updated..."));
  }
  const std::string update_revision = String(object, {"status", "updateRevision"});
  const std::string current_revision = String(object, {"status", "currentRevision"});
  if (update_revision != current_revision) {
    return Progressing(absl::StrCat("waiting for statefulset rolling update to complete ", updated,
                                    " pods at revision ", update_revision, "..."));
  }
  return Healthy(absl::StrCat("statefulset rolling update complete ", ready, " pods at revision ",
                              current_revision, "..."));
}

// apps/v1 DaemonSet
Verdict DaemonSetHealth(const Json& object) {
  const int64_t observed = IntOr(object, {"status", "observedGeneration"}, 0);
  if (Generation(object) > observed) {
    return Progressing(
        "Waiting for rollout to finish: observed daemon set generation less than desired "
        "generation");
  }
  const int64_t desired = IntOr(object, {"status", "desiredNumberScheduled"}, 0);
  const int64_t updated = IntOr(object, {"status", "updatedNumberScheduled"}, 0);
  const int64_t available = IntOr(object, {"status", "numberAvailable"}, 0);
  const std::string name = String(object, {"metadata", "name"});
  if (String(object, {"spec", "updateStrategy", "type"}) == "OnDelete") {
    return Healthy(
        absl::StrCat("daemon set ", updated, " out of ", desired, " new pods have been updated"));
  }
  if (updated < desired) {
    return Progressing(absl::StrCat("Waiting for daemon set \"", name,
                                    "\" rollout to finish: ", updated, " out of ", desired,
                                    " new pods have been updated..."));
  }
  if (available < desired) {
    return Progressing(absl::StrCat("Waiting for daemon set \"", name, "\" rollout to finish: ",
                                    available, " of ", desired, " updated pods are available..."));
  }
  return Healthy();
}

// apps/v1 ReplicaSet
Verdict ReplicaSetHealth(const Json& object) {
  const int64_t observed = IntOr(object, {"status", "observedGeneration"}, 0);
  if (Generation(object) > observed) {
    return Progressing(
        "Waiting for rollout to finish: observed replica set generation less than desired "
        "generation");
  }
  const Json* failure = Condition(object, "ReplicaFailure");
  if (ConditionIs(failure, "True")) return Degraded(String(*failure, {"message"}));
  const int64_t replicas = IntOr(object, {"spec", "replicas"}, 1);
  const int64_t available = IntOr(object, {"status", "availableReplicas"}, 0);
  if (available < replicas) {
    return Progressing(absl::StrCat("Waiting for rollout to finish: ", available, " out of ",
                                    replicas, " new replicas are available..."));
  }
  return Healthy();
}

bool IsPodReady(const Json& pod) { return ConditionIs(Condition(pod, "Ready"), "True"); }

std::string ContainerFailure(const Json& container_status) {
  const Json* terminated = Find(container_status, {"state", "terminated"});
  if (terminated == nullptr) return "";
  const std::string message = String(*terminated, {"message"});
  if (!message.empty()) return message;
  if (String(*terminated, {"reason"}) == "OOMKilled") return "OOMKilled";
  const int64_t exit_code = IntOr(*terminated, {"exitCode"}, 0);
  if (exit_code != 0) {
    return absl::StrCat("container \"", String(container_status, {"name"}),
                        "\" failed with exit code ", exit_code);
  }
  return "";
}

// v1 Pod
Verdict PodHealth(const Json& pod) {
  std::string restart_policy = String(pod, {"spec", "restartPolicy"});
  if (restart_policy.empty()) restart_policy = "Always";
  const std::string message = String(pod, {"status", "message"});
  const Json* container_statuses = Find(pod, {"status", "containerStatuses"});
  // Waiting with an error reason (CrashLoopBackOff, ErrImagePull, CreateContainerConfigError...)
  // only counts for long-running pods: hook pods (OnFailure/Never) may recover.
  if (restart_policy == "Always" && container_statuses != nullptr &&
      container_statuses->is_array()) {
    std::vector<std::string> failures;
    for (const Json& status : *container_statuses) {
      const Json* waiting = Find(status, {"state", "waiting"});
      if (waiting == nullptr) continue;
      const std::string reason = String(*waiting, {"reason"});
      if (absl::StartsWith(reason, "Err") || absl::EndsWith(reason, "Error") ||
          absl::EndsWith(reason, "BackOff")) {
        const std::string waiting_message = String(*waiting, {"message"});
        failures.push_back(waiting_message.empty() ? reason : waiting_message);
      }
    }
    if (!failures.empty()) return Degraded(absl::StrJoin(failures, ", "));
  }
  const std::string phase = String(pod, {"status", "phase"});
  if (phase == "Pending") return Progressing(message);
  if (phase == "Succeeded") return Healthy(message);
  if (phase == "Failed") {
    if (!message.empty()) return Degraded(message);
    for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
      const Json* statuses = Find(pod, {"status", field});
      if (statuses == nullptr || !statuses->is_array()) continue;
      for (const Json& status : *statuses) {
        std::string failure = ContainerFailure(status);
        if (!failure.empty()) return Degraded(std::move(failure));
      }
    }
    return Degraded("");
  }
  if (phase == "Running") {
    if (restart_policy != "Always") return Progressing(message);  // hooks: finite life
    if (IsPodReady(pod)) return Healthy(message);
    if (container_statuses != nullptr && container_statuses->is_array()) {
      for (const Json& status : *container_statuses) {
        if (Find(status, {"lastState", "terminated"}) != nullptr) return Degraded(message);
      }
    }
    return Progressing(message);
  }
  return Unknown(message);
}

// batch/v1 Job
Verdict JobHealth(const Json& job) {
  const Json* failed = Condition(job, "Failed");
  if (ConditionIs(failed, "True")) return Degraded(String(*failed, {"message"}));
  const Json* complete = Condition(job, "Complete");
  if (ConditionIs(complete, "True")) return Healthy(String(*complete, {"message"}));
  const Json* suspended = Condition(job, "Suspended");
  if (ConditionIs(suspended, "True") || Bool(job, {"spec", "suspend"})) {
    return Suspended(suspended != nullptr ? String(*suspended, {"message"}) : "Job is suspended");
  }
  return Progressing(absl::StrCat("Job is running: ", IntOr(job, {"status", "active"}, 0),
                                  " active, ", IntOr(job, {"status", "succeeded"}, 0),
                                  " succeeded, ", IntOr(job, {"status", "failed"}, 0), " failed"));
}

// batch/v1 CronJob: suspended, or whether the last scheduled run succeeded. RFC 3339 timestamps
// from the API server compare correctly as strings (same format, UTC).
Verdict CronJobHealth(const Json& cron_job) {
  if (Bool(cron_job, {"spec", "suspend"})) return Suspended("CronJob is suspended");
  const std::string last_schedule = String(cron_job, {"status", "lastScheduleTime"});
  const std::string last_success = String(cron_job, {"status", "lastSuccessfulTime"});
  const Json* active = Find(cron_job, {"status", "active"});
  const bool running = active != nullptr && active->is_array() && !active->empty();
  if (last_schedule.empty()) return Healthy("CronJob has not been scheduled yet");
  if (running) return Healthy(absl::StrCat("CronJob has ", active->size(), " active job(s)"));
  if (last_success.empty() || last_success < last_schedule) {
    return Degraded(absl::StrCat("the job scheduled at ", last_schedule, " did not succeed"));
  }
  return Healthy(absl::StrCat("last run succeeded at ", last_success));
}

// v1 PersistentVolumeClaim
Verdict PvcHealth(const Json& pvc) {
  const std::string phase = String(pvc, {"status", "phase"});
  if (phase == "Bound") return Healthy();
  if (phase == "Pending") return Progressing("PersistentVolumeClaim is pending");
  if (phase == "Lost") return Degraded("PersistentVolumeClaim lost its volume");
  return Unknown(phase.empty() ? "PersistentVolumeClaim has no phase" : phase);
}

bool HasLoadBalancerIngress(const Json& object) {
  const Json* ingress = Find(object, {"status", "loadBalancer", "ingress"});
  if (ingress == nullptr || !ingress->is_array()) return false;
  for (const Json& entry : *ingress) {
    if (!String(entry, {"ip"}).empty() || !String(entry, {"hostname"}).empty()) return true;
  }
  return false;
}

// v1 Service
Verdict ServiceHealth(const Json& service) {
  if (String(service, {"spec", "type"}) != "LoadBalancer") return Healthy();
  if (HasLoadBalancerIngress(service)) return Healthy();
  return Progressing("Waiting for the load balancer to get an address");
}

// networking.k8s.io/v1 Ingress
Verdict IngressHealth(const Json& ingress) {
  if (HasLoadBalancerIngress(ingress)) return Healthy();
  return Progressing("Waiting for the ingress controller to publish an address");
}

// apiextensions.k8s.io/v1 CustomResourceDefinition
Verdict CrdHealth(const Json& crd) {
  if (ConditionIs(Condition(crd, "Terminating"), "True")) {
    return Progressing("CustomResourceDefinition is terminating");
  }
  const Json* names = Condition(crd, "NamesAccepted");
  if (ConditionIs(names, "False")) return Degraded(ConditionText(*names));
  const Json* non_structural = Condition(crd, "NonStructuralSchema");
  if (ConditionIs(non_structural, "True")) return Degraded(ConditionText(*non_structural));
  const Json* established = Condition(crd, "Established");
  if (ConditionIs(established, "True")) return Healthy();
  if (ConditionIs(established, "False")) return Degraded(ConditionText(*established));
  return Progressing("Waiting for the CustomResourceDefinition to be established");
}

// apiregistration.k8s.io/v1 APIService
Verdict ApiServiceHealth(const Json& api_service) {
  const Json* available = Condition(api_service, "Available");
  if (ConditionIs(available, "True")) return Healthy(ConditionText(*available));
  if (available != nullptr) return Progressing(ConditionText(*available));
  return Progressing("Waiting for the APIService to be available");
}

// v1 Namespace
Verdict NamespaceHealth(const Json& ns) {
  const std::string phase = String(ns, {"status", "phase"});
  if (phase == "Terminating") return Progressing("Namespace is terminating");
  return Healthy();
}

// autoscaling HorizontalPodAutoscaler (v1 keeps conditions in an annotation; v2 in status).
Verdict HpaHealth(const Json& hpa) {
  Json conditions;
  if (const Json* status_conditions = Find(hpa, {"status", "conditions"});
      status_conditions != nullptr && status_conditions->is_array()) {
    conditions = *status_conditions;
  } else if (const Json* annotation = Find(
                 hpa, {"metadata", "annotations", "autoscaling.alpha.kubernetes.io/conditions"});
             annotation != nullptr && annotation->is_string()) {
    conditions = Json::parse(annotation->get_ref<const std::string&>(), nullptr, false);
  }
  if (!conditions.is_array()) return Progressing("Waiting to Autoscale");
  static constexpr std::pair<std::string_view, std::string_view> kDegraded[] = {
      {"AbleToScale", "FailedGetScale"},
      {"AbleToScale", "FailedUpdateScale"},
      {"ScalingActive", "FailedGetResourceMetric"},
      {"ScalingActive", "InvalidSelector"}};
  static constexpr std::pair<std::string_view, std::string_view> kHealthy[] = {
      {"AbleToScale", "SucceededRescale"},
      {"ScalingLimited", "DesiredWithinRange"},
      {"ScalingLimited", "TooFewReplicas"},
      {"ScalingLimited", "TooManyReplicas"}};
  for (const Json& condition : conditions) {
    const std::string type = String(condition, {"type"});
    const std::string reason = String(condition, {"reason"});
    for (const auto& [t, r] : kDegraded) {
      if (type == t && reason == r) return Degraded(String(condition, {"message"}));
    }
    for (const auto& [t, r] : kHealthy) {
      if (type == t && reason == r) return Healthy(String(condition, {"message"}));
    }
  }
  return Progressing("Waiting to Autoscale");
}

// Everything else: kstatus-style conditions. Stale status (observedGeneration behind
// metadata.generation, at the top or on the deciding condition) is Progressing.
Verdict GenericHealth(const Json& object) {
  const Json* status = Find(object, {"status"});
  if (status == nullptr || !status->is_object()) return Healthy();
  const int64_t generation = Generation(object);
  const std::optional<int64_t> observed = Int(object, {"status", "observedGeneration"});
  if (observed.has_value() && generation > *observed) {
    return Progressing(absl::StrCat("Waiting for the controller to observe generation ", generation,
                                    " (observed ", *observed, ")"));
  }
  auto stale = [&](const Json& condition) {
    const std::optional<int64_t> condition_generation = Int(condition, {"observedGeneration"});
    return condition_generation.has_value() && generation > *condition_generation;
  };
  const Json* stalled = Condition(object, "Stalled");
  if (ConditionIs(stalled, "True")) return Degraded(ConditionText(*stalled));
  const Json* reconciling = Condition(object, "Reconciling");
  if (ConditionIs(reconciling, "True")) return Progressing(ConditionText(*reconciling));
  for (std::string_view type : {"Ready", "Available"}) {
    const Json* condition = Condition(object, type);
    if (condition == nullptr) continue;
    if (stale(*condition)) {
      return Progressing(absl::StrCat("Waiting for the controller to observe generation ",
                                      generation, " (", std::string(type), " condition is stale)"));
    }
    const std::string value = String(*condition, {"status"});
    if (value == "True") return Healthy(ConditionText(*condition));
    if (value == "False") {
      // A controller still working reports Ready=False with a progressing-looking reason.
      const std::string reason = String(*condition, {"reason"});
      if (reason == "Progressing" || reason == "Reconciling" || reason == "Pending") {
        return Progressing(ConditionText(*condition));
      }
      return Degraded(ConditionText(*condition));
    }
    return Progressing(ConditionText(*condition));
  }
  return Healthy();
}

Verdict AssessByKind(const ObjectKey& key, const Json& live) {
  const std::string& group = key.group;
  const std::string& kind = key.kind;
  if (group == "apps" || group == "extensions") {
    if (kind == "Deployment") return DeploymentHealth(live);
    if (kind == "StatefulSet") return StatefulSetHealth(live);
    if (kind == "DaemonSet") return DaemonSetHealth(live);
    if (kind == "ReplicaSet") return ReplicaSetHealth(live);
  }
  if (group.empty()) {
    if (kind == "Pod") return PodHealth(live);
    if (kind == "PersistentVolumeClaim") return PvcHealth(live);
    if (kind == "Service") return ServiceHealth(live);
    if (kind == "Namespace") return NamespaceHealth(live);
  }
  if (group == "batch") {
    if (kind == "Job") return JobHealth(live);
    if (kind == "CronJob") return CronJobHealth(live);
  }
  if ((group == "networking.k8s.io" || group == "extensions") && kind == "Ingress") {
    return IngressHealth(live);
  }
  if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") {
    return CrdHealth(live);
  }
  if (group == "apiregistration.k8s.io" && kind == "APIService") return ApiServiceHealth(live);
  if (group == "autoscaling" && kind == "HorizontalPodAutoscaler") return HpaHealth(live);
  return GenericHealth(live);
}

}  // namespace

ObjectHealth AssessHealth(const Json& live) {
  ObjectHealth health;
  absl::StatusOr<ObjectKey> key = KeyOf(live);
  if (!key.ok()) {
    health.status = HealthStatus::kUnknown;
    health.message = std::string(key.status().message());
    return health;
  }
  health.key = *std::move(key);
  if (Find(live, {"metadata", "deletionTimestamp"}) != nullptr) {
    health.status = HealthStatus::kProgressing;
    health.message = "Pending deletion";
    return health;
  }
  Verdict verdict;
  try {
    verdict = AssessByKind(health.key, live);
  } catch (const std::exception& e) {
    // Only reachable on numbers that do not fit int64: report rather than throw.
    verdict = Unknown(absl::StrCat("cannot assess health: ", e.what()));
  }
  health.status = verdict.status;
  health.message = std::move(verdict.message);
  return health;
}

int HealthSeverity(HealthStatus status) {
  switch (status) {
    case HealthStatus::kUnspecified:
    case HealthStatus::kHealthy:
      return 0;
    case HealthStatus::kSuspended:
      return 1;
    case HealthStatus::kProgressing:
      return 2;
    case HealthStatus::kMissing:
      return 3;
    case HealthStatus::kDegraded:
      return 4;
    case HealthStatus::kUnknown:
      return 5;
  }
  return 5;
}

AggregateHealth AggregateObjectHealth(const std::vector<ObjectHealth>& objects) {
  AggregateHealth aggregate;
  const ObjectHealth* first_worst = nullptr;
  size_t worst_count = 0;
  for (const ObjectHealth& object : objects) {
    const int severity = HealthSeverity(object.status);
    if (first_worst == nullptr || severity > HealthSeverity(first_worst->status)) {
      first_worst = &object;
      worst_count = 1;
    } else if (severity == HealthSeverity(first_worst->status)) {
      ++worst_count;
    }
  }
  if (first_worst == nullptr || HealthSeverity(first_worst->status) == 0) return aggregate;
  aggregate.status = first_worst->status;
  aggregate.message = absl::StrCat(worst_count, " of ", objects.size(), " objects ",
                                   std::string(HealthStatusName(first_worst->status)), ": ",
                                   first_worst->key.ToString());
  if (!first_worst->message.empty())
    absl::StrAppend(&aggregate.message, ": ", first_worst->message);
  return aggregate;
}

HealthReport AssessHealthAll(const std::vector<Json>& live, const std::vector<ObjectKey>& missing) {
  HealthReport report;
  report.objects.reserve(live.size() + missing.size());
  for (const Json& object : live) report.objects.push_back(AssessHealth(object));
  for (const ObjectKey& key : missing) {
    report.objects.push_back({key, HealthStatus::kMissing, "object does not exist"});
  }
  report.aggregate = AggregateObjectHealth(report.objects);
  return report;
}

}  // namespace todoke::health
