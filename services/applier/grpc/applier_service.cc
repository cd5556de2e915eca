#include "services/applier/grpc/applier_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "common/json_parse.h"
#include "common/metrics.h"
#include "common/proto_convert.h"
#include "common/status.h"
#include "services/applier/core/live_digest.h"

namespace todoke::applier {
namespace {

v1::ObjectResult ToProto(const ObjectResult& result) {
  v1::ObjectResult proto;
  *proto.mutable_key() = todoke::ToProto(result.key);
  proto.set_action(static_cast<v1::ApplyAction>(result.action));
  proto.set_message(result.message);
  proto.set_resource_version(result.resource_version);
  proto.set_phase(result.phase);
  proto.set_wave(result.wave);
  return proto;
}

PropagationPolicy PropagationFromProto(v1::PropagationPolicy policy) {
  switch (policy) {
    case v1::PROPAGATION_POLICY_BACKGROUND:
      return PropagationPolicy::kBackground;
    case v1::PROPAGATION_POLICY_ORPHAN:
      return PropagationPolicy::kOrphan;
    default:
      return PropagationPolicy::kForeground;
  }
}

absl::Duration DurationFromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// todoke_applier_objects_total{action}: what Apply and Prune did to each object.
void CountObject(ApplyAction action) {
  static prometheus::Counter* counters[7] = {};
  static absl::once_flag once;
  absl::call_once(once, [] {
    const char* names[7] = {"unspecified", "created", "configured", "unchanged",
                            "pruned",      "failed",  "skipped"};
    for (int i = 0; i < 7; ++i) {
      counters[i] =
          &MetricCounter("todoke_applier_objects_total",
                         "objects applied or pruned, by what was done", {{"action", names[i]}});
    }
  });
  int i = static_cast<int>(action);
  if (i >= 0 && i < 7) counters[i]->Increment();
}

// Adds one object's action to the summary's counts and to the metrics.
void Tally(ApplyAction action, v1::ApplySummary* summary) {
  CountObject(action);
  switch (action) {
    case ApplyAction::kCreated:
      summary->set_created(summary->created() + 1);
      break;
    case ApplyAction::kConfigured:
      summary->set_configured(summary->configured() + 1);
      break;
    case ApplyAction::kUnchanged:
      summary->set_unchanged(summary->unchanged() + 1);
      break;
    case ApplyAction::kPruned:
      summary->set_pruned(summary->pruned() + 1);
      break;
    case ApplyAction::kFailed:
      summary->set_failed(summary->failed() + 1);
      break;
    case ApplyAction::kSkipped:
      summary->set_skipped(summary->skipped() + 1);
      break;
    default:
      break;
  }
}

}  // namespace

absl::StatusOr<DestinationTarget> TargetFromProto(const types::v1::Destination& destination) {
  switch (destination.target_case()) {
    case types::v1::Destination::kKubernetes:
      return KubernetesTarget{destination.kubernetes().context()};
    case types::v1::Destination::kGit: {
      const auto& git = destination.git();
      if (git.repo_url().empty()) {
        return absl::InvalidArgumentError("destination.git.repo_url: required");
      }
      if (git.branch().empty())
        return absl::InvalidArgumentError("destination.git.branch: required");
      return GitTarget{git.repo_url(), git.branch(), git.path(), git.push(), git.write_secrets()};
    }
    default:
      return absl::InvalidArgumentError("destination: one of kubernetes or git is required");
  }
}

std::string DefaultNamespaceOf(const types::v1::Destination& destination) {
  return destination.has_kubernetes() ? destination.kubernetes().namespace_() : "";
}

ApplierService::ApplierService(std::shared_ptr<DestinationRegistry> registry,
                               ApplierServiceOptions options)
    : registry_(std::move(registry)), options_(options) {}

grpc::Status ApplierService::ReadLive(grpc::ServerContext* context,
                                      const v1::ReadLiveRequest* request,
                                      v1::ReadLiveResponse* response) {
  if (request->app_name().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("app_name: required"));
  }
  absl::StatusOr<DestinationTarget> target = TargetFromProto(request->destination());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<std::shared_ptr<Destination>> destination = registry_->Get(*target);
  if (!destination.ok()) return ToGrpcStatus(destination.status());
  ReadLiveQuery query;
  query.app = request->app_name();
  query.default_namespace = DefaultNamespaceOf(request->destination());
  query.keys.reserve(request->keys_size());
  for (const auto& key : request->keys()) query.keys.push_back(FromProto(key));
  query.if_digest_differs = request->if_digest_differs();
  absl::StatusOr<LiveSet> live =
      (*destination)->ReadLive(query, DeadlineOf(*context, options_.default_timeout));
  if (!live.ok()) {
    return ToGrpcStatus(Annotate(live.status(), absl::StrCat("app ", request->app_name())));
  }
  // The destination found the caller's digest without reading the objects.
  if (live->objects_omitted) {
    response->set_live_digest(live->digest);
    response->set_objects_omitted(true);
    return grpc::Status::OK;
  }
  // The digest first: when it is the caller's, nothing is converted or sent.
  response->set_live_digest(LiveDigest(*live));
  if (!request->if_digest_differs().empty() &&
      request->if_digest_differs() == response->live_digest()) {
    response->set_objects_omitted(true);
    return grpc::Status::OK;
  }
  response->mutable_objects()->Reserve(live->objects.size());
  for (const LiveObject& object : live->objects) {
    types::v1::KubeObject* proto = response->add_objects();
    *proto->mutable_key() = todoke::ToProto(object.key);
    proto->set_json(object.json);
    response->add_resource_versions(object.resource_version);
  }
  for (const ObjectKey& key : live->absent) *response->add_absent() = todoke::ToProto(key);
  return grpc::Status::OK;
}

grpc::Status ApplierService::Apply(grpc::ServerContext* context, const v1::ApplyRequest* request,
                                   grpc::ServerWriter<v1::ApplyProgress>* writer) {
  if (request->app_name().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("app_name: required"));
  }
  absl::StatusOr<DestinationTarget> target = TargetFromProto(request->destination());
  if (!target.ok()) return ToGrpcStatus(target.status());
  ApplyPlan plan;
  plan.app = request->app_name();
  plan.default_namespace = DefaultNamespaceOf(request->destination());
  plan.objects.reserve(request->objects_size());
  for (const auto& object : request->objects()) {
    absl::StatusOr<Json> parsed = ParseJson(object.json());
    if (!parsed.ok()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("app ", request->app_name(), ": object ", FromProto(object.key()).ToString(),
                       ": ", parsed.status().message())));
    }
    plan.objects.push_back(*std::move(parsed));
  }
  for (const auto& key : request->prune()) plan.prune.push_back(FromProto(key));
  const v1::ApplyOptions& options = request->options();
  plan.options.dry_run = options.dry_run();
  plan.options.force = options.force();
  plan.options.prune = options.prune();
  plan.options.wait = options.wait();
  if (options.has_timeout()) plan.options.timeout = DurationFromProto(options.timeout());
  plan.options.allow_cluster_critical = options.allow_cluster_critical();
  plan.options.allow_empty = options.allow_empty();
  plan.options.propagation = PropagationFromProto(options.propagation());
  plan.source = SourceInfo{request->source().repo_url(), request->source().commit(),
                           request->source().path(), request->source().message()};
  plan.operation_id = request->operation_id();

  absl::StatusOr<std::shared_ptr<Destination>> destination = registry_->Get(*target);
  if (!destination.ok()) return ToGrpcStatus(destination.status());

  // Progress is written from the destination's threads; the writer is not thread-safe, and a
  // client that went away must stop the apply (cancel flag), never block it.
  absl::Mutex write_mu;
  CancelFlag cancel{false};
  ProgressCallback progress = [&](const ObjectResult& result) {
    v1::ApplyProgress message;
    *message.mutable_object() = ToProto(result);
    absl::MutexLock lock(&write_mu);
    if (cancel.load() || context->IsCancelled() || !writer->Write(message)) cancel.store(true);
  };
  absl::Duration budget = options_.apply_timeout;
  if (plan.options.wait) budget = std::max(budget, plan.options.timeout + absl::Minutes(1));
  absl::StatusOr<ApplyOutcome> outcome =
      (*destination)->Apply(plan, progress, DeadlineOf(*context, budget), &cancel);
  if (!outcome.ok()) {
    return ToGrpcStatus(Annotate(outcome.status(), absl::StrCat("app ", request->app_name())));
  }
  v1::ApplyProgress last;
  v1::ApplySummary* summary = last.mutable_summary();
  summary->set_succeeded(outcome->succeeded);
  summary->set_message(outcome->message);
  summary->set_commit(outcome->commit);
  for (const ObjectResult& result : outcome->results) Tally(result.action, summary);
  absl::MutexLock lock(&write_mu);
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status ApplierService::Prune(grpc::ServerContext* context, const v1::PruneRequest* request,
                                   v1::PruneResponse* response) {
  if (request->app_name().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("app_name: required"));
  }
  absl::StatusOr<DestinationTarget> target = TargetFromProto(request->destination());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<std::shared_ptr<Destination>> destination = registry_->Get(*target);
  if (!destination.ok()) return ToGrpcStatus(destination.status());
  PruneRequest prune;
  prune.app = request->app_name();
  prune.default_namespace = DefaultNamespaceOf(request->destination());
  for (const auto& key : request->keys()) prune.keys.push_back(FromProto(key));
  prune.dry_run = request->dry_run();
  prune.allow_cluster_critical = request->allow_cluster_critical();
  prune.propagation = PropagationFromProto(request->propagation());
  absl::StatusOr<PruneOutcome> outcome =
      (*destination)->Prune(prune, DeadlineOf(*context, options_.default_timeout));
  if (!outcome.ok()) {
    return ToGrpcStatus(Annotate(outcome.status(), absl::StrCat("app ", request->app_name())));
  }
  for (const ObjectResult& result : outcome->results) {
    CountObject(result.action);
    *response->add_results() = ToProto(result);
  }
  response->set_commit(outcome->commit);
  return grpc::Status::OK;
}

grpc::Status ApplierService::WatchDrift(grpc::ServerContext* context,
                                        const v1::WatchDriftRequest* request,
                                        grpc::ServerWriter<v1::DriftEvent>* writer) {
  absl::StatusOr<DestinationTarget> target = TargetFromProto(request->destination());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<std::shared_ptr<Destination>> destination = registry_->Get(*target);
  if (!destination.ok()) return ToGrpcStatus(destination.status());

  // Events are queued by the destination's watch threads and written here, so a slow client
  // never blocks the watch. The queue is bounded: a client that falls far behind is cut off
  // (RESOURCE_EXHAUSTED) and reconnects.
  constexpr size_t kMaxQueued = 100000;
  absl::Mutex mu;
  std::deque<DriftEvent> queue;
  bool overflow = false;
  absl::StatusOr<std::unique_ptr<Destination::Subscription>> subscription =
      (*destination)->WatchDrift([&](const DriftEvent& event) {
        absl::MutexLock lock(&mu);
        if (queue.size() >= kMaxQueued) {
          overflow = true;
          return;
        }
        queue.push_back(event);
      });
  if (!subscription.ok()) return ToGrpcStatus(subscription.status());
  v1::DriftEvent ready;
  ready.set_ready(true);
  if (!writer->Write(ready)) return grpc::Status::OK;
  while (!context->IsCancelled()) {
    std::deque<DriftEvent> batch;
    {
      absl::MutexLock lock(&mu);
      mu.AwaitWithTimeout(absl::Condition(
                              +[](std::deque<DriftEvent>* q) { return !q->empty(); }, &queue),
                          absl::Milliseconds(200));
      if (overflow) {
        return ToGrpcStatus(absl::ResourceExhaustedError(
            "drift stream fell too far behind; reconnect to continue"));
      }
      batch.swap(queue);
    }
    for (const DriftEvent& event : batch) {
      v1::DriftEvent message;
      message.set_app_name(event.app);
      *message.mutable_key() = todoke::ToProto(event.key);
      message.set_resource_version(event.resource_version);
      message.set_deleted(event.deleted);
      if (!writer->Write(message)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

}  // namespace todoke::applier
