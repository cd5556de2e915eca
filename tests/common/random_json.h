// Random JSON documents for the parser tests: values of every type, awkward strings, and texts
// whose object keys come in random order with duplicates, as an API server or a hand-written
// file may give them.
#ifndef TODOKE_TESTS_COMMON_RANDOM_JSON_H_
#define TODOKE_TESTS_COMMON_RANDOM_JSON_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/object.h"

namespace todoke::testing {

// A deterministic generator (PCG-style LCG) of random JSON.
class RandomJson {
 public:
  explicit RandomJson(uint64_t seed) : seed_(seed) {}

  size_t Next() {
    seed_ = seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(seed_ >> 33);
  }

  // A random value nested at most a few levels deep.
  Json Value(int depth = 0) {
    static const std::vector<std::string> kStrings = {
        "",          "a",           "name", "é", "日本",   "q\"uote", "back\\slash",
        "tab\there", "line\nbreak", "\x7f", "😀", "ctl\x01"};
    switch (Next() % (depth > 4 ? 6 : 8)) {
      case 0:
        return nullptr;
      case 1:
        return Next() % 2 == 0;
      case 2: {  // small, and near the ends of the 64-bit ranges
        const int64_t small = static_cast<int64_t>(Next()) - (1LL << 30);
        if (Next() % 4 != 0) return small;
        return Next() % 2 == 0 ? std::numeric_limits<int64_t>::min() + (small & 0xff)
                               : std::numeric_limits<int64_t>::max() - (small & 0xff);
      }
      case 3: {  // short fractions, and full-precision values across exponents
        if (Next() % 2 == 0) return static_cast<double>(Next() % 100000) / 64.0;
        const double mantissa = static_cast<double>(Next()) / static_cast<double>(1ULL << 31);
        return std::ldexp(Next() % 2 == 0 ? mantissa : -mantissa,
                          static_cast<int>(Next() % 400) - 200);
      }
      case 4: {
        if (Next() % 2 == 0) return static_cast<uint64_t>(Next() % 3);
        return std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(Next() % 1000);
      }
      case 5:
        return kStrings[Next() % kStrings.size()];
      case 6: {
        Json array = Json::array();
        for (size_t i = Next() % 5; i > 0; --i) array.push_back(Value(depth + 1));
        return array;
      }
      default: {
        Json object = Json::object();
        for (size_t i = Next() % 6; i > 0; --i) {
          object[kStrings[Next() % kStrings.size()] + std::to_string(Next() % 3)] =
              Value(depth + 1);
        }
        return object;
      }
    }
  }

  // `value` as JSON text with each object's keys in random order, and sometimes a key given
  // twice (first with a decoy value, so the later one must win). Parsing the text gives `value`.
  std::string ShuffledText(const Json& value) {
    if (value.is_object()) {
      std::vector<std::string> members;
      for (auto it = value.begin(); it != value.end(); ++it) {
        members.push_back(Json(it.key()).dump() + ":" + ShuffledText(it.value()));
      }
      for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[Next() % i]);
      // Decoys go anywhere before the member they precede, which keeps that member last.
      for (size_t i = members.size(); i-- > 0;) {
        if (Next() % 4 != 0) continue;
        const std::string key = members[i].substr(0, members[i].find(':', KeyEnd(members[i])));
        members.insert(members.begin() + static_cast<long>(Next() % (i + 1)),
                       key + ":" + ShuffledText(Value(3)));
      }
      std::string text = "{";
      for (size_t i = 0; i < members.size(); ++i) text += (i ? "," : "") + members[i];
      return text + "}";
    }
    if (value.is_array()) {
      std::string text = "[";
      for (size_t i = 0; i < value.size(); ++i) text += (i ? ", " : "") + ShuffledText(value[i]);
      return text + "]";
    }
    return value.dump();
  }

  // True if `a` and `b` hold the same values with the same number types at every level (nlohmann's
  // == and dump() do not tell an unsigned 1 from a signed 1).
  static bool SameTypes(const Json& a, const Json& b) {
    if (a.type() != b.type() || a.size() != b.size()) return false;
    if (a.is_object()) {
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !SameTypes(it.value(), *other)) return false;
      }
    } else if (a.is_array()) {
      for (size_t i = 0; i < a.size(); ++i) {
        if (!SameTypes(a[i], b[i])) return false;
      }
    }
    return true;
  }

  // `text` with one random byte inserted or deleted, or cut short.
  std::string Corrupt(std::string text) {
    const size_t at = Next() % (text.size() + 1);
    switch (Next() % 3) {
      case 0:
        text.insert(at, 1, "{}[],:\"\\ 0e-.x\xc3"[Next() % 15]);
        break;
      case 1:
        if (at < text.size()) text.erase(at, 1);
        break;
      default:
        text = text.substr(0, at);
        break;
    }
    return text;
  }

 private:
  // The offset of the closing quote of the key a member's text starts with.
  static size_t KeyEnd(const std::string& member) {
    size_t i = 1;
    while (member[i] != '"') i += member[i] == '\\' ? 2 : 1;
    return i;
  }

  uint64_t seed_;
};

}  // namespace todoke::testing

#endif  // TODOKE_TESTS_COMMON_RANDOM_JSON_H_
