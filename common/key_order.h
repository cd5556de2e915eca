// The order of Json object keys (std::string's, byte by byte as unsigned char), computed inline:
// the differ compares many short keys that differ early, where a call to memcmp costs more than
// the comparison itself.
#ifndef TODOKE_COMMON_KEY_ORDER_H_
#define TODOKE_COMMON_KEY_ORDER_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace todoke {

// Negative, zero or positive as `a` sorts before, equal to or after `b`; same sign as a.compare(b).
inline int CompareKeys(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= common; i += 8) {  // eight bytes at a time, compared as big-endian numbers
      uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
  }
  for (; i < common; ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

}  // namespace todoke

#endif  // TODOKE_COMMON_KEY_ORDER_H_
