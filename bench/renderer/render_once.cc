// render_once: what `todoke render <dir>` does, in a binary that links only the renderer core
// (no gRPC), so its start-up is not the measured cost. Used by run.sh as the per-process side.
//
//   render_once <repo-root> <path>     render once and print YAML; exit 1 on error
#include <iostream>

#include "common/yaml.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: render_once <repo-root> <path>\n";
    return 2;
  }
  todoke::renderer::DiskFileSource files(argv[1]);
  absl::StatusOr<todoke::renderer::RenderResult> result = todoke::renderer::Render(files, argv[2]);
  if (!result.ok()) {
    std::cerr << "error: " << result.status().message() << "\n";
    return 1;
  }
  std::cout << todoke::EmitYamlStream(result->objects);
  return 0;
}
