#include "cli/output.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "common/object.h"
#include "common/yaml.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "services/orchestrator/core/spec/application_spec.h"

namespace todoke::cli {
namespace {

namespace orch = ::todoke::orchestrator::v1;

std::string MessageJson(const google::protobuf::Message& message, bool indent) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  options.add_whitespace = indent;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

// Code points in `text` (the width of a cell, near enough for names and messages).
size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

}  // namespace

std::string FormatMessage(const google::protobuf::Message& message, OutputFormat format) {
  const std::string json = MessageJson(message, /*indent=*/format == OutputFormat::kJson);
  if (format == OutputFormat::kJson) return json + "\n";
  absl::StatusOr<Json> parsed = ParseJson(json);
  if (!parsed.ok()) return "{}\n";
  return EmitYaml(*parsed);
}

void Table::Print(std::ostream& out) const {
  std::vector<std::vector<std::string>> cells = rows_;
  size_t columns = 0;
  for (auto& row : cells) {
    columns = std::max(columns, row.size());
    for (std::string& cell : row) {
      const size_t line_break = cell.find_first_of("\r\n");
      if (line_break != std::string::npos) cell = cell.substr(0, line_break) + " ...";
    }
  }
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  for (const auto& row : cells) {
    if (row.empty()) continue;  // no header
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string SyncName(types::v1::SyncStatus status) {
  const absl::string_view name = orchestrator::SyncStatusName(status);
  return name.empty() ? "Unknown" : std::string(name);
}

std::string HealthName(types::v1::HealthStatus status) {
  const absl::string_view name = orchestrator::HealthStatusName(status);
  return name.empty() ? "Unknown" : std::string(name);
}

std::string PhaseName(orch::OperationPhase phase) {
  return std::string(orchestrator::OperationPhaseName(phase));
}

bool IsFinished(orch::OperationPhase phase) {
  return phase == orch::OPERATION_PHASE_SUCCEEDED || phase == orch::OPERATION_PHASE_FAILED ||
         phase == orch::OPERATION_PHASE_INTERRUPTED || phase == orch::OPERATION_PHASE_TERMINATED;
}

std::string ShortRevision(absl::string_view revision) {
  const bool commit_id =
      (revision.size() == 40 || revision.size() == 64) &&
      std::all_of(revision.begin(), revision.end(), [](char c) { return absl::ascii_isxdigit(c); });
  return std::string(commit_id ? revision.substr(0, 7) : revision);
}

std::string KeyText(const types::v1::ObjectKey& key) {
  std::string text = key.group().empty() ? key.kind() : absl::StrCat(key.group(), "/", key.kind());
  absl::StrAppend(&text, " ");
  if (!key.namespace_().empty()) absl::StrAppend(&text, key.namespace_(), "/");
  absl::StrAppend(&text, key.name());
  return text;
}

absl::Time ToTime(const google::protobuf::Timestamp& time) {
  return absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
}

std::string Age(const google::protobuf::Timestamp& time, absl::Time now) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  const int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(now - ToTime(time)));
  if (seconds < 120) return absl::StrCat(seconds, "s");
  if (seconds < 120 * 60) return absl::StrCat(seconds / 60, "m");
  if (seconds < 48 * 3600) return absl::StrCat(seconds / 3600, "h");
  return absl::StrCat(seconds / 86400, "d");
}

std::string TimeText(const google::protobuf::Timestamp& time) {
  const std::string text = orchestrator::FormatTimestamp(time);
  return text.empty() ? "-" : text;
}

std::string DurationText(absl::Duration duration) { return absl::FormatDuration(duration); }

}  // namespace todoke::cli
