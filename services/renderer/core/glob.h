// Glob patterns over relative file paths, as Argo CD's directory include/exclude use them.
#ifndef TODOKE_SERVICES_RENDERER_CORE_GLOB_H_
#define TODOKE_SERVICES_RENDERER_CORE_GLOB_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace todoke::renderer {

// True if `path` matches `pattern`: `*` any run of characters (including '/', as Argo CD's
// matcher has no separators), `**` the same, `?` one character, `[abc]`/`[a-z]`/`[!a]` a class,
// `{a,b}` alternatives, `\x` a literal x.
bool GlobMatch(absl::string_view pattern, absl::string_view path);

// A comma-separated list of patterns ("*.yaml,base/*"); commas inside braces do not split.
// Empty pieces are dropped.
std::vector<std::string> SplitGlobList(absl::string_view patterns);

// True if `path` matches any pattern of `patterns`.
bool GlobMatchAny(const std::vector<std::string>& patterns, absl::string_view path);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_GLOB_H_
