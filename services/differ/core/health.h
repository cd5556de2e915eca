// Health of live Kubernetes objects, per kind, after the rules of Argo CD's gitops-engine
// (pkg/health) and kstatus: Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, CronJob,
// PersistentVolumeClaim, Service (LoadBalancer), Ingress, CustomResourceDefinition, APIService,
// Namespace, HorizontalPodAutoscaler, and for every other kind the generic Ready / Available /
// Stalled / Reconciling conditions with observedGeneration. Kinds without status (ConfigMap,
// Secret, RBAC...) are Healthy once they exist.
//
// A separate library (todoke_health) so the applier can wait on the same rules. Pure; thread-safe.
// Mirrors todoke.types.v1.HealthStatus and todoke.differ.v1.ObjectHealth.
#ifndef TODOKE_SERVICES_DIFFER_CORE_HEALTH_H_
#define TODOKE_SERVICES_DIFFER_CORE_HEALTH_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/object.h"

namespace todoke::health {

// Same numbering as todoke.types.v1.HealthStatus.
enum class HealthStatus {
  kUnspecified = 0,
  kHealthy = 1,
  kProgressing = 2,
  kDegraded = 3,
  kSuspended = 4,
  kMissing = 5,
  kUnknown = 6,
};

// "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", "Unspecified".
std::string_view HealthStatusName(HealthStatus status);

struct ObjectHealth {
  ObjectKey key;
  HealthStatus status = HealthStatus::kUnknown;
  std::string message;
};

// The health of one live object. An object that is not a valid Kubernetes object (no
// apiVersion/kind/name) is Unknown with the reason in `message`. An object being deleted
// (metadata.deletionTimestamp) is Progressing. Never throws.
ObjectHealth AssessHealth(const Json& live);

// Orders statuses from best to worst as the aggregate sees them:
// Healthy < Suspended < Progressing < Missing < Degraded < Unknown (Argo CD's order).
// Unspecified ranks as Healthy.
int HealthSeverity(HealthStatus status);

struct AggregateHealth {
  HealthStatus status = HealthStatus::kHealthy;
  // Empty when Healthy; otherwise "<n> of <total> objects <status>: <first object>: <message>".
  std::string message;
};

// The worst status among `objects` (Healthy when empty).
AggregateHealth AggregateObjectHealth(const std::vector<ObjectHealth>& objects);

struct HealthReport {
  std::vector<ObjectHealth> objects;  // live objects in input order, then the missing keys
  AggregateHealth aggregate;
};

// Assesses every live object, adds `missing` keys (desired but absent) as Missing, and
// aggregates: the whole of the AssessHealth RPC.
HealthReport AssessHealthAll(const std::vector<Json>& live, const std::vector<ObjectKey>& missing);

}  // namespace todoke::health

#endif  // TODOKE_SERVICES_DIFFER_CORE_HEALTH_H_
