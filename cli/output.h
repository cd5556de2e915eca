// How the todoke CLI prints: aligned tables, status names as users read them (Synced, Healthy),
// short revisions, ages as kubectl shows them, and protobuf messages as JSON or YAML.
#ifndef TODOKE_CLI_OUTPUT_H_
#define TODOKE_CLI_OUTPUT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"
#include "todoke/types/v1/types.pb.h"

namespace todoke::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// A protobuf message as JSON (indented, proto field names in lowerCamelCase, enums by name) or
// YAML (the same value, emitted as kustomize emits YAML). kTable gives YAML. Never fails: a
// message protobuf cannot print (invalid UTF-8 in a string field) gives "{}".
std::string FormatMessage(const google::protobuf::Message& message, OutputFormat format);

// Columns separated by three spaces and padded to the widest cell (counted in code points), as
// kubectl prints; the last column is not padded. Cells with a line break show only their first
// line. An empty header prints no header line.
class Table {
 public:
  explicit Table(std::vector<std::string> header = {}) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "Synced", "OutOfSync", "Missing", "Extraneous", "Unknown" ("Unknown" for unspecified too).
std::string SyncName(types::v1::SyncStatus status);
// "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown".
std::string HealthName(types::v1::HealthStatus status);
// "Queued", "Running", "Succeeded", "Failed", "Interrupted", "Terminated" ("" for unspecified).
std::string PhaseName(orchestrator::v1::OperationPhase phase);
// True for Succeeded, Failed, Interrupted and Terminated.
bool IsFinished(orchestrator::v1::OperationPhase phase);

// The first 7 characters of a 40 or 64 hex digit commit id; anything else as it is.
std::string ShortRevision(absl::string_view revision);

// An object as people name it: "apps/Deployment web/frontend", "ConfigMap web/config",
// "Namespace web" (no group for the core group, no namespace for cluster-scoped objects).
std::string KeyText(const types::v1::ObjectKey& key);

// How long ago `time` was, as kubectl's AGE column: "45s", "12m", "5h", "3d" ("-" when unset,
// "0s" for the future).
std::string Age(const google::protobuf::Timestamp& time, absl::Time now);

// RFC 3339 in UTC, seconds precision; "-" when unset.
std::string TimeText(const google::protobuf::Timestamp& time);

absl::Time ToTime(const google::protobuf::Timestamp& time);

// A duration as Go prints it ("1m30s", "250ms").
std::string DurationText(absl::Duration duration);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_OUTPUT_H_
