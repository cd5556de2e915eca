// The version of this build of todoke, shared by the services and the CLI.
#ifndef TODOKE_COMMON_VERSION_H_
#define TODOKE_COMMON_VERSION_H_

#include "absl/strings/string_view.h"

namespace todoke {

// The project version from CMake ("0.1.0").
absl::string_view TodokeVersion();

}  // namespace todoke

#endif  // TODOKE_COMMON_VERSION_H_
