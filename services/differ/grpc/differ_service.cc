#include "services/differ/grpc/differ_service.h"

#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "common/proto_convert.h"
#include "services/differ/core/differ.h"
#include "services/differ/core/health.h"

namespace todoke::differ {
namespace {

prometheus::Counter& ObjectsCompared(const std::string& status) {
  return MetricCounter("todoke_differ_objects_total", "objects compared, by the status found",
                       {{"status", status}});
}

}  // namespace

namespace {

IgnoreRule FromProto(const types::v1::IgnoreRule& rule) {
  IgnoreRule out;
  out.group = rule.group();
  out.kind = rule.kind();
  out.name = rule.name();
  out.ns = rule.namespace_();
  out.json_pointers.assign(rule.json_pointers().begin(), rule.json_pointers().end());
  out.managed_fields_managers.assign(rule.managed_fields_managers().begin(),
                                     rule.managed_fields_managers().end());
  return out;
}

std::vector<std::string_view> JsonTexts(
    const google::protobuf::RepeatedPtrField<types::v1::KubeObject>& objects) {
  std::vector<std::string_view> texts;
  texts.reserve(objects.size());
  for (const auto& object : objects) texts.emplace_back(object.json());
  return texts;
}

}  // namespace

grpc::Status DifferService::Diff(grpc::ServerContext*, const v1::DiffRequest* request,
                                 v1::DiffResponse* response) {
  DiffOptions options;
  for (const auto& rule : request->ignore_differences()) {
    options.ignore_differences.push_back(FromProto(rule));
  }
  if (!request->field_manager().empty()) options.field_manager = request->field_manager();
  options.default_namespace = request->default_namespace();
  DiffResult result =
      DiffJsonText(JsonTexts(request->desired()), JsonTexts(request->live()), options);
  for (ObjectDiff& object : result.objects) {
    v1::ObjectDiff* out = response->add_objects();
    *out->mutable_key() = ToProto(object.key);
    out->set_status(static_cast<types::v1::SyncStatus>(object.status));
    out->set_json_patch(std::move(object.json_patch));
    out->set_unified_diff(std::move(object.unified_diff));
    out->set_error(std::move(object.error));
  }
  v1::DiffSummary* summary = response->mutable_summary();
  summary->set_synced(result.summary.synced);
  summary->set_out_of_sync(result.summary.out_of_sync);
  summary->set_missing(result.summary.missing);
  summary->set_extraneous(result.summary.extraneous);
  summary->set_unknown(result.summary.unknown);
  summary->set_status(static_cast<types::v1::SyncStatus>(result.summary.status));
  response->set_engine_version(kDiffEngineVersion);
  static prometheus::Counter& synced = ObjectsCompared("Synced");
  static prometheus::Counter& out_of_sync = ObjectsCompared("OutOfSync");
  static prometheus::Counter& missing = ObjectsCompared("Missing");
  static prometheus::Counter& extraneous = ObjectsCompared("Extraneous");
  static prometheus::Counter& unknown = ObjectsCompared("Unknown");
  synced.Increment(result.summary.synced);
  out_of_sync.Increment(result.summary.out_of_sync);
  missing.Increment(result.summary.missing);
  extraneous.Increment(result.summary.extraneous);
  unknown.Increment(result.summary.unknown);
  static prometheus::Counter& bytes =
      MetricCounter("todoke_differ_input_bytes_total", "bytes of desired and live JSON compared");
  bytes.Increment(static_cast<double>(request->ByteSizeLong()));
  return grpc::Status::OK;
}

grpc::Status DifferService::AssessHealth(grpc::ServerContext*,
                                         const v1::AssessHealthRequest* request,
                                         v1::AssessHealthResponse* response) {
  std::vector<Json> live;
  std::vector<health::ObjectHealth> invalid;
  live.reserve(request->live_size());
  for (const auto& object : request->live()) {
    absl::StatusOr<Json> parsed = ParseKubeObject(object);
    if (!parsed.ok()) {
      invalid.push_back({todoke::FromProto(object.key()), health::HealthStatus::kUnknown,
                         std::string(parsed.status().message())});
      continue;
    }
    live.push_back(std::move(parsed).value());
  }
  std::vector<ObjectKey> missing;
  for (const auto& key : request->missing()) missing.push_back(todoke::FromProto(key));
  health::HealthReport report = health::AssessHealthAll(live, missing);
  report.objects.insert(report.objects.end(), invalid.begin(), invalid.end());
  if (!invalid.empty()) report.aggregate = health::AggregateObjectHealth(report.objects);
  for (const health::ObjectHealth& object : report.objects) {
    v1::ObjectHealth* out = response->add_objects();
    *out->mutable_key() = ToProto(object.key);
    out->set_status(static_cast<types::v1::HealthStatus>(object.status));
    out->set_message(object.message);
  }
  response->set_aggregate(static_cast<types::v1::HealthStatus>(report.aggregate.status));
  response->set_message(report.aggregate.message);
  return grpc::Status::OK;
}

}  // namespace todoke::differ
