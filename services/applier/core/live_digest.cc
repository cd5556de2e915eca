#include "services/applier/core/live_digest.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/renderer/core/hashing.h"

namespace todoke::applier {

std::string LiveDigest(const LiveSet& live) {
  std::vector<std::string> lines;
  lines.reserve(live.objects.size() + live.absent.size());
  for (const LiveObject& object : live.objects) {
    lines.push_back(absl::StrCat(object.key.ApiVersion(), "/", object.key.kind, "/", object.key.ns,
                                 "/", object.key.name, " ", object.resource_version));
  }
  for (const ObjectKey& key : live.absent) {
    lines.push_back(
        absl::StrCat(key.ApiVersion(), "/", key.kind, "/", key.ns, "/", key.name, " -"));
  }
  std::sort(lines.begin(), lines.end());
  renderer::Sha256 hash;
  for (const std::string& line : lines) {
    hash.Update(line);
    hash.Update("\n");
  }
  return hash.HexDigest();
}

}  // namespace todoke::applier
