#include "common/version.h"

#ifndef TODOKE_VERSION
#define TODOKE_VERSION "0.0.0-dev"
#endif

namespace todoke {

absl::string_view TodokeVersion() { return TODOKE_VERSION; }

}  // namespace todoke
