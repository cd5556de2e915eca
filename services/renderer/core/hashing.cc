// The low-level digest functions are deprecated in OpenSSL 3 in favour of EVP, whose provider
// start-up is what this file avoids (see hashing.h).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "services/renderer/core/hashing.h"

namespace todoke::renderer {
namespace {

std::string Hex(const unsigned char* digest, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

Sha256::Sha256() { SHA256_Init(&state_); }

void Sha256::Update(absl::string_view data) { SHA256_Update(&state_, data.data(), data.size()); }

std::string Sha256::HexDigest() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &state_);
  return Hex(digest, sizeof(digest));
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.HexDigest();
}

std::string Sha1Hex(absl::string_view prefix, absl::string_view data) {
  SHA_CTX state;
  SHA1_Init(&state);
  SHA1_Update(&state, prefix.data(), prefix.size());
  SHA1_Update(&state, data.data(), data.size());
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1_Final(digest, &state);
  return Hex(digest, sizeof(digest));
}

}  // namespace todoke::renderer
