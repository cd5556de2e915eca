// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cc).
#ifndef TODOKE_TESTS_FUZZ_FUZZ_UTIL_H_
#define TODOKE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::fuzz {

// nlohmann's equality, except that NaN equals NaN (YAML's .nan reads back as NaN).
bool SameValue(const Json& a, const Json& b);

// `value` as one-line JSON for a message, invalid UTF-8 replaced, cut to 300 bytes.
std::string Describe(const Json& value);

// `data` for a message: cut to 300 bytes, non-printable bytes escaped.
std::string Describe(absl::string_view data);

// INTERNAL: "<target>: <what>" followed by the input, for a broken invariant.
absl::Status Broken(absl::string_view target, absl::string_view what, absl::string_view input);

}  // namespace todoke::fuzz

#endif  // TODOKE_TESTS_FUZZ_FUZZ_UTIL_H_
