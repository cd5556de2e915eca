// Fuzz target "render": a whole render (Kustomize or plain directory, then ${VAR} substitution)
// of a small in-memory repository tree written as one text (ParseFuzzTree).
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzRender(absl::string_view data) {
  using renderer::MemoryFileSource;
  using renderer::TreeFileEntry;
  std::vector<TreeFileEntry> entries;
  const FuzzTree tree = ParseFuzzTree(data);
  for (const auto& [path, content] : tree.files) entries.push_back({path, content, ""});
  renderer::RenderOptions options;
  options.substitutions = {{"APP", "demo"}, {"REPLICAS", "3"}};
  const MemoryFileSource files(entries);
  absl::StatusOr<renderer::RenderResult> result = renderer::Render(files, tree.render_dir, options);
  if (!result.ok()) return absl::OkStatus();
  if (result->keys.size() != result->objects.size() ||
      result->canonical_json.size() != result->objects.size()) {
    return Broken("render",
                  absl::StrCat(result->objects.size(), " objects but ", result->keys.size(),
                               " keys and ", result->canonical_json.size(), " canonical texts"),
                  data);
  }
  // Rendering is a function of the tree: the same tree renders to the same digest.
  const MemoryFileSource again_files(entries);
  absl::StatusOr<renderer::RenderResult> again =
      renderer::Render(again_files, tree.render_dir, options);
  if (!again.ok() || again->digest != result->digest) {
    return Broken("render",
                  absl::StrCat("a second render differs: ",
                               again.ok() ? again->digest : again.status().ToString(), " vs ",
                               result->digest),
                  data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz
