// Table-driven tests of the health rules, one table row per situation and kind.
#include "services/differ/core/health.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::health {
namespace {

using ::testing::HasSubstr;

struct HealthCase {
  std::string name;
  std::string object_json;
  HealthStatus want;
  std::string message_contains;
};

void PrintTo(const HealthCase& c, std::ostream* os) { *os << c.name; }

class HealthTableTest : public ::testing::TestWithParam<HealthCase> {};

TEST_P(HealthTableTest, Assess) {
  const HealthCase& c = GetParam();
  const Json object = Json::parse(c.object_json);
  const ObjectHealth health = AssessHealth(object);
  EXPECT_EQ(HealthStatusName(health.status), HealthStatusName(c.want)) << health.message;
  EXPECT_THAT(health.message, HasSubstr(c.message_contains));
}

#define OBJ(api, kind, rest)                       \
  R"({"apiVersion": ")" api R"(", "kind": ")" kind \
  R"(", "metadata": {"name": "x", "namespace": "ns", "generation": 2}, )" rest "}"

const HealthCase
    kCases
        [] =
            {
                // Deployment
                {"DeploymentHealthy",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2})"),
                 HealthStatus::kHealthy, ""},
                {"DeploymentPaused",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2, "paused": true}, "status": {"observedGeneration": 2})"),
                 HealthStatus::kSuspended, "paused"},
                {"DeploymentGenerationNotObserved",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2})"),
                 HealthStatus::kProgressing, "observed deployment generation less than desired"},
                {"DeploymentUpdating",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 3}, "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3})"),
                 HealthStatus::kProgressing, "1 out of 3 new replicas have been updated"},
                {"DeploymentOldPending",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})"),
                 HealthStatus::kProgressing, "1 old replicas are pending termination"},
                {"DeploymentNotAvailable",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1})"),
                 HealthStatus::kProgressing, "1 of 2 updated replicas are available"},
                {"DeploymentDeadlineExceeded",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})"),
                 HealthStatus::kDegraded, "exceeded its progress deadline"},
                {"DeploymentScaledToZero",
                 OBJ("apps/v1", "Deployment",
                     R"("spec": {"replicas": 0}, "status": {"observedGeneration": 2})"),
                 HealthStatus::kHealthy, ""},
                // StatefulSet
                {"StatefulSetHealthy",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "web-1", "updateRevision": "web-1"})"),
                 HealthStatus::kHealthy, "rolling update complete 2 pods at revision web-1"},
                {"StatefulSetNotObserved",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 1})"),
                 HealthStatus::kProgressing, "spec update to be observed"},
                {"StatefulSetPodsNotReady",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 3}, "status": {"observedGeneration": 2, "readyReplicas": 1})"),
                 HealthStatus::kProgressing, "Waiting for 2 pods to be ready"},
                {"StatefulSetRollingUpdate",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 1, "currentRevision": "web-1", "updateRevision": "web-2"})"),
                 HealthStatus::kProgressing, "rolling update to complete 1 pods at revision web-2"},
                {"StatefulSetPartitionPending",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}, "status": {"observedGeneration": 2, "readyReplicas": 4, "updatedReplicas": 1})"),
                 HealthStatus::kProgressing, "1 out of 2 new pods"},
                {"StatefulSetPartitionDone",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}, "status": {"observedGeneration": 2, "readyReplicas": 4, "updatedReplicas": 2})"),
                 HealthStatus::kHealthy, "partitioned roll out complete"},
                {"StatefulSetOnDelete",
                 OBJ("apps/v1", "StatefulSet",
                     R"("spec": {"replicas": 1, "updateStrategy": {"type": "OnDelete"}}, "status": {"observedGeneration": 2, "readyReplicas": 1, "currentRevision": "a", "updateRevision": "b"})"),
                 HealthStatus::kHealthy, "statefulset has 1 ready pods"},
                // DaemonSet
                {"DaemonSetHealthy",
                 OBJ("apps/v1", "DaemonSet",
                     R"("status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3})"),
                 HealthStatus::kHealthy, ""},
                {"DaemonSetNotObserved",
                 OBJ("apps/v1", "DaemonSet", R"("status": {"observedGeneration": 1})"),
                 HealthStatus::kProgressing, "observed daemon set generation less than desired"},
                {"DaemonSetUpdating",
                 OBJ("apps/v1", "DaemonSet",
                     R"("status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 3})"),
                 HealthStatus::kProgressing, "1 out of 3 new pods have been updated"},
                {"DaemonSetUnavailable",
                 OBJ("apps/v1", "DaemonSet",
                     R"("status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2})"),
                 HealthStatus::kProgressing, "2 of 3 updated pods are available"},
                {"DaemonSetOnDelete",
                 OBJ("apps/v1", "DaemonSet",
                     R"("spec": {"updateStrategy": {"type": "OnDelete"}}, "status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1})"),
                 HealthStatus::kHealthy, "1 out of 3 new pods"},
                // ReplicaSet
                {"ReplicaSetHealthy",
                 OBJ("apps/v1", "ReplicaSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "availableReplicas": 2})"),
                 HealthStatus::kHealthy, ""},
                {"ReplicaSetFailure",
                 OBJ("apps/v1", "ReplicaSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "conditions": [{"type": "ReplicaFailure", "status": "True", "message": "pods \"x\" is forbidden: exceeded quota"}]})"),
                 HealthStatus::kDegraded, "exceeded quota"},
                {"ReplicaSetScaling",
                 OBJ("apps/v1", "ReplicaSet",
                     R"("spec": {"replicas": 2}, "status": {"observedGeneration": 2, "availableReplicas": 1})"),
                 HealthStatus::kProgressing, "1 out of 2 new replicas are available"},
                // Pod
                {"PodRunningReady",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Always"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})"),
                 HealthStatus::kHealthy, ""},
                {"PodPending",
                 OBJ("v1", "Pod",
                     R"("spec": {}, "status": {"phase": "Pending", "message": "0/3 nodes are available"})"),
                 HealthStatus::kProgressing, "0/3 nodes"},
                {"PodCrashLoop",
                 OBJ("v1", "Pod",
                     R"("spec": {}, "status": {"phase": "Running", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}}]})"),
                 HealthStatus::kDegraded, "back-off 5m0s"},
                {"PodImagePull",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Always"}, "status": {"phase": "Pending", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ErrImagePull", "message": "pull access denied"}}}]})"),
                 HealthStatus::kDegraded, "pull access denied"},
                {"PodHookImagePullIsNotDegraded",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Never"}, "status": {"phase": "Pending", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ErrImagePull"}}}]})"),
                 HealthStatus::kProgressing, ""},
                {"PodSucceeded",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"})"),
                 HealthStatus::kHealthy, ""},
                {"PodFailedExitCode",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Never"}, "status": {"phase": "Failed", "containerStatuses": [{"name": "job", "state": {"terminated": {"exitCode": 3}}}]})"),
                 HealthStatus::kDegraded, "container \"job\" failed with exit code 3"},
                {"PodFailedOom",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "Never"}, "status": {"phase": "Failed", "containerStatuses": [{"name": "job", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})"),
                 HealthStatus::kDegraded, "OOMKilled"},
                {"PodRunningNotReadyRestarted",
                 OBJ("v1", "Pod",
                     R"("spec": {}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "web", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}}]})"),
                 HealthStatus::kDegraded, ""},
                {"PodRunningNotReadyYet",
                 OBJ("v1", "Pod",
                     R"("spec": {}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})"),
                 HealthStatus::kProgressing, ""},
                {"PodRunningHook",
                 OBJ("v1", "Pod",
                     R"("spec": {"restartPolicy": "OnFailure"}, "status": {"phase": "Running"})"),
                 HealthStatus::kProgressing, ""},
                {"PodUnknownPhase",
                 OBJ("v1", "Pod", R"("spec": {}, "status": {"phase": "Unknown"})"),
                 HealthStatus::kUnknown, ""},
                {"PodDeleting",
                 R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Running"}})",
                 HealthStatus::kProgressing, "Pending deletion"},
                // Job
                {"JobComplete",
                 OBJ("batch/v1", "Job",
                     R"("status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True", "message": "done"}]})"),
                 HealthStatus::kHealthy, "done"},
                {"JobFailed",
                 OBJ("batch/v1", "Job",
                     R"("status": {"failed": 6, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})"),
                 HealthStatus::kDegraded, "backoff limit"},
                {"JobSuspended",
                 OBJ("batch/v1", "Job",
                     R"("spec": {"suspend": true}, "status": {"conditions": [{"type": "Suspended", "status": "True", "message": "Job suspended"}]})"),
                 HealthStatus::kSuspended, "Job suspended"},
                {"JobRunning", OBJ("batch/v1", "Job", R"("status": {"active": 1})"),
                 HealthStatus::kProgressing, "1 active"},
                // CronJob
                {"CronJobSuspended", OBJ("batch/v1", "CronJob", R"("spec": {"suspend": true})"),
                 HealthStatus::kSuspended, "suspended"},
                {"CronJobNeverRan",
                 OBJ("batch/v1", "CronJob", R"("spec": {"schedule": "* * * * *"}, "status": {})"),
                 HealthStatus::kHealthy, "not been scheduled"},
                {"CronJobLastRunSucceeded",
                 OBJ("batch/v1", "CronJob",
                     R"("spec": {}, "status": {"lastScheduleTime": "2025-01-01T10:00:00Z", "lastSuccessfulTime": "2025-01-01T10:00:42Z"})"),
                 HealthStatus::kHealthy, "succeeded"},
                {"CronJobLastRunFailed",
                 OBJ("batch/v1", "CronJob",
                     R"("spec": {}, "status": {"lastScheduleTime": "2025-01-01T11:00:00Z", "lastSuccessfulTime": "2025-01-01T10:00:42Z"})"),
                 HealthStatus::kDegraded, "did not succeed"},
                {"CronJobRunning",
                 OBJ("batch/v1", "CronJob",
                     R"("spec": {}, "status": {"lastScheduleTime": "2025-01-01T11:00:00Z", "active": [{"name": "x-1"}]})"),
                 HealthStatus::kHealthy, "1 active"},
                // PVC
                {"PvcBound", OBJ("v1", "PersistentVolumeClaim", R"("status": {"phase": "Bound"})"),
                 HealthStatus::kHealthy, ""},
                {"PvcPending",
                 OBJ("v1", "PersistentVolumeClaim", R"("status": {"phase": "Pending"})"),
                 HealthStatus::kProgressing, "pending"},
                {"PvcLost", OBJ("v1", "PersistentVolumeClaim", R"("status": {"phase": "Lost"})"),
                 HealthStatus::kDegraded, "lost"},
                // Service
                {"ServiceClusterIp",
                 OBJ("v1", "Service",
                     R"("spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}})"),
                 HealthStatus::kHealthy, ""},
                {"ServiceLoadBalancerPending",
                 OBJ("v1", "Service",
                     R"("spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}})"),
                 HealthStatus::kProgressing, "load balancer"},
                {"ServiceLoadBalancerReady",
                 OBJ("v1", "Service",
                     R"("spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})"),
                 HealthStatus::kHealthy, ""},
                // Ingress
                {"IngressPending",
                 OBJ("networking.k8s.io/v1", "Ingress", R"("status": {"loadBalancer": {}})"),
                 HealthStatus::kProgressing, "address"},
                {"IngressReady",
                 OBJ("networking.k8s.io/v1", "Ingress",
                     R"("status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})"),
                 HealthStatus::kHealthy, ""},
                // CRD
                {"CrdEstablished",
                 R"({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "things.example.com"}, "status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}})",
                 HealthStatus::kHealthy, ""},
                {"CrdNamesConflict",
                 R"({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "things.example.com"}, "status": {"conditions": [{"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict", "message": "\"ThingList\" is already in use"}]}})",
                 HealthStatus::kDegraded, "ListKindConflict"},
                {"CrdNonStructural",
                 R"({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "things.example.com"}, "status": {"conditions": [{"type": "NonStructuralSchema", "status": "True", "message": "spec.versions[0].schema.openAPIV3Schema.type: Required value"}, {"type": "Established", "status": "True"}]}})",
                 HealthStatus::kDegraded, "Required value"},
                {"CrdNotYetEstablished",
                 R"({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "things.example.com"}, "status": {"conditions": []}})",
                 HealthStatus::kProgressing, "established"},
                // APIService
                {"ApiServiceAvailable",
                 R"({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"}, "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}]}})",
                 HealthStatus::kHealthy, "all checks passed"},
                {"ApiServiceUnavailable", R"({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"}, "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"}]}})",
                 HealthStatus::kProgressing, "MissingEndpoints: endpoints"},
                // Namespace
                {"NamespaceActive",
                 R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}, "status": {"phase": "Active"}})",
                 HealthStatus::kHealthy, ""},
                {"NamespaceTerminating",
                 R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}, "status": {"phase": "Terminating"}})",
                 HealthStatus::kProgressing, "terminating"},
                // HPA
                {"HpaHealthy",
                 OBJ("autoscaling/v2", "HorizontalPodAutoscaler",
                     R"("status": {"conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}, {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"}]})"),
                 HealthStatus::kHealthy, "acceptable range"},
                {"HpaMetricsFailing",
                 OBJ("autoscaling/v2", "HorizontalPodAutoscaler",
                     R"("status": {"conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "unable to get metrics for resource cpu"}]})"),
                 HealthStatus::kDegraded, "unable to get metrics"},
                {"HpaNoConditions",
                 OBJ("autoscaling/v2", "HorizontalPodAutoscaler", R"("status": {})"),
                 HealthStatus::kProgressing, "Waiting to Autoscale"},
                {"HpaV1Annotation",
                 R"({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{\"type\":\"AbleToScale\",\"status\":\"False\",\"reason\":\"FailedGetScale\",\"message\":\"no scale subresource\"}]"}}, "status": {}})",
                 HealthStatus::kDegraded, "no scale subresource"},
                // Generic conditions
                {"GenericNoStatus",
                 R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}})",
                 HealthStatus::kHealthy, ""},
                {"GenericReadyTrue",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True", "message": "all good"}]})"),
                 HealthStatus::kHealthy, "all good"},
                {"GenericReadyFalse",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "chart not found"}]})"),
                 HealthStatus::kDegraded, "InstallFailed: chart not found"},
                {"GenericReadyFalseProgressing",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Progressing", "message": "reconciling"}]})"),
                 HealthStatus::kProgressing, "reconciling"},
                {"GenericReadyUnknown",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Ready", "status": "Unknown"}]})"),
                 HealthStatus::kProgressing, ""},
                {"GenericAvailable",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Available", "status": "True"}]})"),
                 HealthStatus::kHealthy, ""},
                {"GenericStalled",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Stalled", "status": "True", "message": "invalid spec"}, {"type": "Ready", "status": "False"}]})"),
                 HealthStatus::kDegraded, "invalid spec"},
                {"GenericReconciling",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Reconciling", "status": "True", "reason": "Progressing"}]})"),
                 HealthStatus::kProgressing, "Progressing"},
                {"GenericStaleObservedGeneration",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]})"),
                 HealthStatus::kProgressing, "observe generation 2 (observed 1)"},
                {"GenericStaleCondition",
                 OBJ("example.com/v1", "Thing",
                     R"("status": {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]})"),
                 HealthStatus::kProgressing, "Ready condition is stale"},
                // Bad input
                {"NotAnObject", R"({"kind": "Deployment"})", HealthStatus::kUnknown, "apiVersion"},
};

INSTANTIATE_TEST_SUITE_P(Kinds, HealthTableTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<HealthCase>& info) {
                           return info.param.name;
                         });

TEST(AggregateHealthTest, WorstWins) {
  std::vector<ObjectHealth> objects = {
      {{"apps", "v1", "Deployment", "ns", "a"}, HealthStatus::kHealthy, ""},
      {{"apps", "v1", "Deployment", "ns", "b"}, HealthStatus::kProgressing, "rolling"},
      {{"", "v1", "Service", "ns", "c"}, HealthStatus::kSuspended, ""},
      {{"apps", "v1", "Deployment", "ns", "d"}, HealthStatus::kProgressing, "waiting"},
  };
  AggregateHealth aggregate = AggregateObjectHealth(objects);
  EXPECT_EQ(aggregate.status, HealthStatus::kProgressing);
  EXPECT_EQ(aggregate.message, "2 of 4 objects Progressing: Deployment.apps b -n ns: rolling");
  objects.push_back({{"", "v1", "Pod", "ns", "e"}, HealthStatus::kDegraded, "crash"});
  EXPECT_EQ(AggregateObjectHealth(objects).status, HealthStatus::kDegraded);
  objects.push_back({{"", "v1", "Pod", "ns", "f"}, HealthStatus::kMissing, ""});
  EXPECT_EQ(AggregateObjectHealth(objects).status, HealthStatus::kDegraded);
  EXPECT_EQ(AggregateObjectHealth({}).status, HealthStatus::kHealthy);
  EXPECT_EQ(AggregateObjectHealth({objects[0]}).message, "");
}

TEST(AggregateHealthTest, OrderMatchesArgoCd) {
  EXPECT_LT(HealthSeverity(HealthStatus::kHealthy), HealthSeverity(HealthStatus::kSuspended));
  EXPECT_LT(HealthSeverity(HealthStatus::kSuspended), HealthSeverity(HealthStatus::kProgressing));
  EXPECT_LT(HealthSeverity(HealthStatus::kProgressing), HealthSeverity(HealthStatus::kMissing));
  EXPECT_LT(HealthSeverity(HealthStatus::kMissing), HealthSeverity(HealthStatus::kDegraded));
  EXPECT_LT(HealthSeverity(HealthStatus::kDegraded), HealthSeverity(HealthStatus::kUnknown));
}

TEST(AssessHealthAllTest, MissingKeysCount) {
  const Json config_map =
      Json::parse(R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})");
  HealthReport report = AssessHealthAll({config_map}, {{"apps", "v1", "Deployment", "ns", "web"}});
  ASSERT_EQ(report.objects.size(), 2u);
  EXPECT_EQ(report.objects[0].status, HealthStatus::kHealthy);
  EXPECT_EQ(report.objects[1].status, HealthStatus::kMissing);
  EXPECT_EQ(report.aggregate.status, HealthStatus::kMissing);
  EXPECT_THAT(report.aggregate.message, HasSubstr("Deployment.apps web -n ns"));
}

}  // namespace
}  // namespace todoke::health
