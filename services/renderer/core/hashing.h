// Hashing for the renderer: SHA-256 (digests of rendered objects, cache keys) and SHA-1 (Git
// blob ids), from OpenSSL's libcrypto.
#ifndef TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
#define TODOKE_SERVICES_RENDERER_CORE_HASHING_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace todoke::renderer {

// Incremental SHA-256. Not thread-safe; one instance per computation.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // Lowercase hex of the digest of everything given so far. Call at most once.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Lowercase hex SHA-1 of `prefix` followed by `data`.
std::string Sha1Hex(absl::string_view prefix, absl::string_view data);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
