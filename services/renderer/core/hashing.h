// Hashing for the renderer: SHA-256 (digests of rendered objects, cache keys, generated names)
// and SHA-1 (Git blob ids), through libcrypto's one-shot digest functions (SHA256_Init & co.).
// Those run the CPU's hashing instructions without OpenSSL 3's provider machinery, whose start-up
// (EVP_Digest* on the first call) costs about half of a small `todoke render`'s instructions.
#ifndef TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
#define TODOKE_SERVICES_RENDERER_CORE_HASHING_H_

#include <openssl/sha.h>

#include <string>

#include "absl/strings/string_view.h"

namespace todoke::renderer {

// Incremental SHA-256. Not thread-safe; one instance per computation.
class Sha256 {
 public:
  Sha256();

  void Update(absl::string_view data);
  // Lowercase hex of the digest of everything given so far. Call at most once.
  std::string HexDigest();

 private:
  SHA256_CTX state_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Lowercase hex SHA-1 of `prefix` followed by `data` (Git object ids only; not for anything that
// needs collision resistance).
std::string Sha1Hex(absl::string_view prefix, absl::string_view data);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
