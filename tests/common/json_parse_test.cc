// ParseJson must give what nlohmann::json::parse gives, value and number type alike, on every
// document and refuse exactly what it refuses: checked on hand-picked edge cases and on random
// documents and random corruptions of them.
#include "common/json_parse.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/random_json.h"

namespace todoke {
namespace {

// Both parsers agree: same validity, and for valid input the same value with the same types
// (dump() tells 1 from 1.0 and SameTypes a signed from an unsigned 1; nlohmann's == tells neither).
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
  EXPECT_TRUE(testing::RandomJson::SameTypes(*ours, reference)) << text;
}

TEST(JsonParseTest, AgreesWithNlohmannOnEdgeCases) {
  for (const char* text : {
           "{}",
           "[]",
           "0",
           "-0",
           "1",
           "-1",
           "18446744073709551615",
           "18446744073709551616",
           "-9223372036854775808",
           "-9223372036854775809",
           "1.0",
           "1e2",
           "1E-2",
           "-1.5e+3",
           "0.1",
           "true",
           "false",
           "null",
           "\"\"",
           "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
           "\"\\u00e9\\u65e5\\ud83d\\ude00\"",
           "\"é日本😀\"",
           " { \"b\" : 1 , \"a\" : [ 1 , 2 ] } ",
           "{\"a\":1,\"a\":2}",
           "\xEF\xBB\xBF{\"bom\":1}",
           "1e-400",
           "5e-324",
           "{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}",
           // refused
           "",
           " ",
           "{",
           "}",
           "[1,]",
           "{\"a\":1,}",
           "01",
           "1.",
           ".5",
           "-",
           "1e",
           "+1",
           "tru",
           "nul",
           "\"abc",
           "\"\\x\"",
           "\"\\u12\"",
           "\"\\ud800\"",
           "\"\\udc00\"",
           "\"a\x01\"",
           "\"\xff\"",
           "\"\xc0\xaf\"",
           "\"\xed\xa0\x80\"",
           "{1:2}",
           "[1 2]",
           "{} {}",
           "nan",
           "1e400",
           "\xEF\xBB{}",
           "{} \xEF\xBB\xBF",
           "[\"a\" \"b\"]",
           "{\"a\" 1}",
       }) {
    ExpectSameAsNlohmann(text);
  }
}

TEST(JsonParseTest, AgreesWithNlohmannOnRandomDocumentsAndCorruptions) {
  testing::RandomJson random(1);
  for (int round = 0; round < 2000; ++round) {
    const Json value = random.Value();
    const std::string text =
        round % 3 == 0 ? random.ShuffledText(value) : value.dump(round % 3 == 1 ? -1 : 2);
    ExpectSameAsNlohmann(text);
    ExpectSameAsNlohmann(random.Corrupt(text));
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
