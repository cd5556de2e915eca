#include "common/log.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace todoke {
namespace {

absl::Mutex log_mu;
LogOptions& Options() {
  static LogOptions* options = new LogOptions();
  return *options;
}

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuoting(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

void InitLogging(const LogOptions& options) {
  absl::MutexLock lock(&log_mu);
  Options() = options;
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", text, "\" (want debug, info, warning or error)"));
}

std::string FormatLogLine(const LogOptions& options, LogLevel level, absl::string_view message,
                          std::initializer_list<LogField> fields, absl::string_view timestamp) {
  if (options.json) {
    nlohmann::json line = {{"time", timestamp},
                           {"level", LevelName(level)},
                           {"component", options.component},
                           {"msg", message}};
    for (const LogField& f : fields) line[f.key] = f.value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out = absl::StrCat(timestamp, " ", absl::AsciiStrToUpper(LevelName(level)), " ",
                                 options.component, ": ", message);
  for (const LogField& f : fields) {
    absl::StrAppend(&out, " ", f.key, "=");
    if (NeedsQuoting(f.value)) {
      absl::StrAppend(&out, nlohmann::json(f.value).dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace));
    } else {
      absl::StrAppend(&out, f.value);
    }
  }
  return out;
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  absl::MutexLock lock(&log_mu);
  const LogOptions& options = Options();
  if (level < options.min_level) return;
  const std::string timestamp =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line = FormatLogLine(options, level, message, fields, timestamp);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace todoke
