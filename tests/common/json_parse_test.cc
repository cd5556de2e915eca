// ParseJson must give what nlohmann::json::parse gives, value and number type alike, on every
// document and refuse exactly what it refuses: checked on hand-picked edge cases and on random
// documents and random corruptions of them.
#include "common/json_parse.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke {
namespace {

// Both parsers agree: same validity, and for valid input the same value with the same types
// (dump() prints 1 and 1.0 differently, and nlohmann's == ignores the difference).
void ExpectSameAsNlohmann(const std::string& text) {
  const Json reference = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<Json> ours = ParseJson(text);
  if (reference.is_discarded()) {
    EXPECT_FALSE(ours.ok()) << "accepted what nlohmann refuses: " << text;
    return;
  }
  ASSERT_TRUE(ours.ok()) << ours.status() << " for: " << text;
  EXPECT_EQ(ours->dump(), reference.dump()) << text;
  EXPECT_EQ(*ours, reference) << text;
}

TEST(JsonParseTest, AgreesWithNlohmannOnEdgeCases) {
  for (const char* text : {
           "{}", "[]", "0", "-0", "1", "-1", "18446744073709551615", "18446744073709551616",
           "-9223372036854775808", "-9223372036854775809", "1.0", "1e2", "1E-2", "-1.5e+3",
           "0.1", "true", "false", "null", "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
           "\"\\u00e9\\u65e5\\ud83d\\ude00\"", "\"é日本😀\"", " { \"b\" : 1 , \"a\" : [ 1 , 2 ] } ",
           "{\"a\":1,\"a\":2}", "{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}",
           // refused
           "", " ", "{", "}", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "tru",
           "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\x01\"",
           "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{1:2}", "[1 2]", "{} {}", "nan",
           "1e400", "[\"a\" \"b\"]", "{\"a\" 1}",
       }) {
    ExpectSameAsNlohmann(text);
  }
}

TEST(JsonParseTest, AgreesWithNlohmannOnRandomDocumentsAndCorruptions) {
  uint64_t seed = 1;
  auto next = [&seed]() {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(seed >> 33);
  };
  const std::vector<std::string> strings = {"", "a", "name", "é", "日本", "q\"uote", "back\\slash",
                                            "tab\there", "line\nbreak", "\x7f", "😀"};
  std::function<Json(int)> random_value = [&](int depth) -> Json {
    switch (next() % (depth > 4 ? 5 : 7)) {
      case 0: return nullptr;
      case 1: return next() % 2 == 0;
      case 2: return static_cast<int64_t>(next()) - (1LL << 30);
      case 3: return static_cast<double>(next() % 100000) / 64.0;
      case 4: return strings[next() % strings.size()];
      case 5: {
        Json array = Json::array();
        for (size_t i = next() % 5; i > 0; --i) array.push_back(random_value(depth + 1));
        return array;
      }
      default: {
        Json object = Json::object();
        for (size_t i = next() % 5; i > 0; --i) {
          object[strings[next() % strings.size()] + std::to_string(next() % 3)] =
              random_value(depth + 1);
        }
        return object;
      }
    }
  };
  for (int round = 0; round < 2000; ++round) {
    const std::string text = random_value(0).dump(next() % 2 == 0 ? -1 : 2);
    ExpectSameAsNlohmann(text);
    std::string corrupted = text;
    const size_t at = next() % (corrupted.size() + 1);
    switch (next() % 3) {
      case 0: corrupted.insert(at, 1, "{}[],:\"\\ 0e-.x\xc3"[next() % 15]); break;
      case 1: if (at < corrupted.size()) corrupted.erase(at, 1); break;
      default: corrupted = corrupted.substr(0, at); break;
    }
    ExpectSameAsNlohmann(corrupted);
  }
}

TEST(JsonParseTest, ErrorsNameTheOffsetAndDeepNestingIsRefused) {
  absl::StatusOr<Json> bad = ParseJson("{\"a\": tru}");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("at byte 6"));
  EXPECT_FALSE(ParseJson(std::string(600, '[') + std::string(600, ']')).ok());
  EXPECT_TRUE(ParseJson(std::string(500, '[') + std::string(500, ']')).ok());
}

}  // namespace
}  // namespace todoke
