// Hashing for the renderer: SHA-256 (digests of rendered objects, cache keys, generated names)
// and SHA-1 (Git blob ids). Implemented here from FIPS 180-4 rather than taken from libcrypto:
// OpenSSL 3 spends about half of a small `todoke render`'s instructions initialising its
// providers on the first digest, and the renderer needs nothing else from it.
#ifndef TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
#define TODOKE_SERVICES_RENDERER_CORE_HASHING_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace todoke::renderer {

// The Merkle-Damgard frame SHA-1 and SHA-256 share: 64-byte blocks, a state of `kWords` 32-bit
// words, padding with the big-endian bit length. Not thread-safe; one instance per computation.
template <size_t kWords>
class BlockHash {
 public:
  using State = std::array<uint32_t, kWords>;
  using CompressFunction = void (*)(State& state, const unsigned char* block);

  void Update(absl::string_view data);
  // Lowercase hex of the digest of everything given so far. Call at most once.
  std::string HexDigest();

 protected:
  BlockHash(const State& initial, CompressFunction compress)
      : state_(initial), compress_(compress) {}

 private:
  State state_;
  CompressFunction compress_;
  unsigned char buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

extern template class BlockHash<5>;
extern template class BlockHash<8>;

// Incremental SHA-256.
class Sha256 : public BlockHash<8> {
 public:
  Sha256();
};

// Incremental SHA-1 (for Git object ids only; not for anything that needs collision resistance).
class Sha1 : public BlockHash<5> {
 public:
  Sha1();
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Lowercase hex SHA-1 of `prefix` followed by `data`.
std::string Sha1Hex(absl::string_view prefix, absl::string_view data);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_HASHING_H_
