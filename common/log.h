// Structured logging: one line per event on stderr, as text or JSON, with key=value fields.
// Thread-safe. Never logs credentials: callers pass URLs and foreign error text through
// MaskCredentials() (common/credentials_mask.h, included here for them) first.
#ifndef TODOKE_COMMON_LOG_H_
#define TODOKE_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/credentials_mask.h"

namespace todoke {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// One key/value of a log event; any value absl::StrCat accepts.
struct LogField {
  template <typename T>
  LogField(absl::string_view k, const T& v) : key(k), value(absl::StrCat(v)) {}
  LogField(absl::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  std::string key;
  std::string value;
};

struct LogOptions {
  std::string component;  // e.g. "source-fetcher"; printed on every line
  LogLevel min_level = LogLevel::kInfo;
  bool json = false;
};

// Sets the process-wide logging options. Call once at start-up (main.cc).
void InitLogging(const LogOptions& options);

// "debug", "info", "warning"/"warn", "error" (case-insensitive).
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

// Writes one event if `level` is at or above the minimum.
void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarning(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarning, m, f);
}
inline void LogError(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}
inline void LogDebug(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, m, f);
}

// Formats an event without writing it (for tests and for the CLI).
std::string FormatLogLine(const LogOptions& options, LogLevel level, absl::string_view message,
                          std::initializer_list<LogField> fields, absl::string_view timestamp);

}  // namespace todoke

#endif  // TODOKE_COMMON_LOG_H_
