// JsonNode trees must mean what nlohmann::json means: ParseJsonNode accepts and refuses exactly
// what nlohmann::json::parse does and gives the same values (number types, key order, the later
// duplicate winning); equality, canonical text and object keys agree with nlohmann's.
#include "common/json_tree.h"

#include <string>
#include <vector>

#include "common/json_parse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/random_json.h"

namespace todoke {
namespace {

using ::testing::HasSubstr;

// Parses `text` both ways and checks that they agree; returns the node (null when refused).
const JsonNode* ExpectSameAsNlohmann(const std::string& text, JsonArena& arena) {
  const Json reference = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<const JsonNode*> node = ParseJsonNode(text, arena);
  if (reference.is_discarded()) {
    EXPECT_FALSE(node.ok()) << "accepted what nlohmann refuses: " << text;
    // The same message as ParseJson, offset included.
    if (!node.ok()) {
      EXPECT_THAT(std::string(node.status().message()), HasSubstr("invalid JSON at byte")) << text;
    }
    return nullptr;
  }
  EXPECT_TRUE(node.ok()) << node.status() << " for: " << text;
  if (!node.ok()) return nullptr;
  // dump() tells 1 from 1.0, SameTypes a signed from an unsigned 1.
  EXPECT_EQ(ToJson(**node).dump(), reference.dump()) << text;
  EXPECT_TRUE(testing::RandomJson::SameTypes(ToJson(**node), reference)) << text;
  std::string canonical;
  AppendCanonicalJson(canonical, **node);
  EXPECT_EQ(canonical, CanonicalJson(reference)) << text;
  return *node;
}

TEST(JsonTreeTest, AgreesWithNlohmannOnEdgeCases) {
  JsonArena arena;
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
           "-1.5e+3",
           "0.1",
           "true",
           "false",
           "null",
           "\"\"",
           "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001\"",
           "\"\\u00e9\\u65e5\\ud83d\\ude00\"",
           "\"é日本😀\"",
           " { \"b\" : 1 , \"a\" : [ 1 , 2 ] } ",
           "{\"a\":1,\"a\":2}",
           "\xEF\xBB\xBF[1]",
           "1e-400",
           "{\"b\":1,\"a\":2,\"b\":3,\"c\":{\"z\":[],\"y\":{}}}",
           // refused
           "",
           " ",
           "{",
           "[1,]",
           "{\"a\":1,}",
           "01",
           "1.",
           "-",
           "tru",
           "\"abc",
           "\"\\x\"",
           "\"\\ud800\"",
           "\"a\x01\"",
           "\"\xff\"",
           "\"\xed\xa0\x80\"",
           "{1:2}",
           "[1 2]",
           "{} {}",
           "1e400",
       }) {
    ExpectSameAsNlohmann(text, arena);
  }
}

TEST(JsonTreeTest, AgreesWithNlohmannOnRandomDocumentsAndCorruptions) {
  testing::RandomJson random(7);
  JsonArena arena;  // one arena for every document: earlier trees stay intact
  std::vector<std::pair<const JsonNode*, Json>> kept;
  JsonNodeParser parser;  // one parser for many documents, as the differ uses it
  for (int round = 0; round < 2000; ++round) {
    const Json value = random.Value();
    const std::string text = round % 2 == 0 ? random.ShuffledText(value) : value.dump(2);
    const JsonNode* node = ExpectSameAsNlohmann(text, arena);
    if (node != nullptr && round % 50 == 0) kept.emplace_back(node, value);
    if (node != nullptr) {  // borrowing the text's strings gives the same tree
      absl::StatusOr<const JsonNode*> borrowed = parser.ParseBorrowing(text, arena);
      ASSERT_TRUE(borrowed.ok()) << text;
      EXPECT_TRUE(**borrowed == *node) << text;
    }
    ExpectSameAsNlohmann(random.Corrupt(text), arena);
  }
  for (const auto& [node, value] : kept) EXPECT_EQ(ToJson(*node).dump(), value.dump());
}

TEST(JsonTreeTest, CopyJsonGivesTheSameTree) {
  testing::RandomJson random(11);
  JsonArena arena;
  for (int round = 0; round < 500; ++round) {
    const Json value = random.Value();
    const JsonNode* copy = CopyJson(value, arena);
    EXPECT_EQ(ToJson(*copy).dump(), value.dump());
    absl::StatusOr<const JsonNode*> parsed = ParseJsonNode(random.ShuffledText(value), arena);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(**parsed == *copy) << value.dump();
  }
}

TEST(JsonTreeTest, CanonicalTextOfInvalidUtf8IsNlohmannsReplacement) {
  // Only a tree copied from nlohmann::json can hold invalid UTF-8; its text must still be
  // exactly what CanonicalJson prints (U+FFFD for the bad byte).
  const Json value = {{"k\xff", "bad\xff é \"q\""}, {"ok", "é\t"}};
  JsonArena arena;
  std::string text;
  AppendCanonicalJson(text, *CopyJson(value, arena));
  EXPECT_EQ(text, CanonicalJson(value));
}

// Equality follows nlohmann's operator==, mixed number types included.
TEST(JsonTreeTest, EqualityAgreesWithNlohmann) {
  const std::vector<std::string> values = {"null",
                                           "true",
                                           "false",
                                           "0",
                                           "1",
                                           "-1",
                                           "1.0",
                                           "0.0",
                                           "-0.0",
                                           "1.5",
                                           "18446744073709551615",
                                           "-9223372036854775808",
                                           "\"1\"",
                                           "\"\"",
                                           "[]",
                                           "{}",
                                           "[1]",
                                           "[1.0]",
                                           "{\"a\":1}",
                                           "{\"a\":1.0}",
                                           "{\"b\":1}",
                                           "{\"a\":1,\"b\":2}",
                                           "[1,2]",
                                           "[2,1]",
                                           "\"a\"",
                                           "\"b\""};
  JsonArena arena;
  for (const std::string& a : values) {
    for (const std::string& b : values) {
      const bool want = Json::parse(a) == Json::parse(b);
      EXPECT_EQ(**ParseJsonNode(a, arena) == **ParseJsonNode(b, arena), want) << a << " vs " << b;
    }
  }
}

TEST(JsonTreeTest, MembersAreSortedUniqueAndFound) {
  JsonArena arena;
  // More than the insertion-sort threshold, in reverse order, with duplicates.
  std::string text = "{";
  for (int i = 40; i >= 0; --i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"k7\":\"last\",\"\":0}";
  const JsonNode& node = **ParseJsonNode(text, arena);
  ASSERT_EQ(node.size(), 42u);
  for (size_t i = 1; i < node.members().size(); ++i) {
    EXPECT_LT(node.members()[i - 1].key(), node.members()[i].key());
  }
  ASSERT_NE(node.Find("k7"), nullptr);
  EXPECT_EQ(node.Find("k7")->string(), "last");
  EXPECT_EQ(node.Find("k40")->uint_value(), 40u);
  ASSERT_NE(node.Find(""), nullptr);
  EXPECT_EQ(node.Find("k41"), nullptr);
  EXPECT_EQ(node.Find("k"), nullptr);
  EXPECT_EQ(node.Find("k7")->Find("x"), nullptr);  // not an object
  // Accessors of the wrong type give empty values rather than garbage.
  EXPECT_EQ(node.string(), "");
  EXPECT_TRUE(node.items().empty());
  EXPECT_TRUE(node.Find("k3")->members().empty());
}

TEST(JsonTreeTest, KeyOfAgreesWithTheJsonForm) {
  JsonArena arena;
  for (
      const char* text :
      {R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"}})",
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"job-"}})",
       R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})",
       R"({"kind":"Pod","metadata":{"name":"a"}})",
       R"({"apiVersion":"v1","metadata":{"name":"a"}})",
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":7}})",
       R"({"apiVersion":1,"kind":"Pod","metadata":{"name":"a"}})", R"([])"}) {
    absl::StatusOr<ObjectKey> want = KeyOf(Json::parse(text));
    absl::StatusOr<ObjectKey> got = KeyOf(**ParseJsonNode(text, arena));
    ASSERT_EQ(got.ok(), want.ok()) << text;
    if (want.ok()) {
      EXPECT_EQ(got->ToString(), want->ToString());
      EXPECT_EQ(got->ApiVersion(), want->ApiVersion());
    } else {
      EXPECT_EQ(got.status(), want.status());
    }
  }
}

TEST(JsonTreeTest, ArenaHoldsLargeStringsAndManyDocuments) {
  JsonArena arena;
  const std::string big(3 << 20, 'x');  // larger than any block
  absl::StatusOr<const JsonNode*> node = ParseJsonNode("[\"" + big + "\", 1]", arena);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((**node)[0].string(), big);
  EXPECT_EQ((**node)[1].uint_value(), 1u);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(ParseJsonNode(R"({"a":[1,2,{"b":"c"}]})", arena).ok());
  EXPECT_EQ((**node)[0].string(), big);  // earlier trees are untouched
  // The parser reserves about twice the text for a document: never much more.
  EXPECT_LT(arena.bytes_reserved(), 2 * big.size() + (2 << 20));
}

TEST(JsonTreeTest, BorrowingViewsTheTextExceptForEscapedStrings) {
  const std::string text = R"({"plain": "value", "esc\"aped": "a\nb", "list": ["x"]})";
  JsonArena arena;
  JsonNodeParser parser;
  const JsonNode& node = **parser.ParseBorrowing(text, arena);
  auto in_text = [&](std::string_view view) {
    return view.data() >= text.data() && view.data() + view.size() <= text.data() + text.size();
  };
  EXPECT_TRUE(in_text(node.Find("plain")->string()));
  EXPECT_TRUE(in_text(node.Find("list")->items()[0].string()));
  EXPECT_TRUE(in_text(node.members()[1].key()));  // "list"
  ASSERT_NE(node.Find("esc\"aped"), nullptr);
  EXPECT_EQ(node.Find("esc\"aped")->string(), "a\nb");
  EXPECT_FALSE(in_text(node.Find("esc\"aped")->string()));
  EXPECT_FALSE(in_text(node.members()[0].key()));  // esc"aped
  // Without borrowing nothing views the text.
  const JsonNode& copied = **parser.Parse(text, arena);
  EXPECT_FALSE(in_text(copied.Find("plain")->string()));
  EXPECT_TRUE(copied == node);
}

TEST(JsonTreeTest, AMovedArenaKeepsItsTreesAndTheOldOneStartsAfresh) {
  JsonArena first;
  const JsonNode* kept = *ParseJsonNode(R"({"keep":"this value"})", first);
  const size_t reserved = first.bytes_reserved();
  JsonArena second = std::move(first);
  EXPECT_EQ(second.bytes_reserved(), reserved);
  // The moved-from arena owns nothing, so it cannot write into the block `second` now owns: what
  // it parses next goes into a block of its own.
  EXPECT_EQ(first.bytes_reserved(), 0u);
  ASSERT_TRUE(ParseJsonNode(R"({"other":"xxxxxxxxxxxxxxxx"})", first).ok());
  EXPECT_GT(first.bytes_reserved(), 0u);
  EXPECT_EQ(second.bytes_reserved(), reserved);
  EXPECT_EQ(kept->Find("keep")->string(), "this value");
}

TEST(JsonTreeTest, ErrorsNameTheOffsetAndDeepNestingIsRefused) {
  JsonArena arena;
  absl::StatusOr<const JsonNode*> bad = ParseJsonNode("{\"a\": tru}", arena);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("at byte 6"));
  EXPECT_FALSE(ParseJsonNode(std::string(600, '[') + std::string(600, ']'), arena).ok());
  EXPECT_TRUE(ParseJsonNode(std::string(500, '[') + std::string(500, ']'), arena).ok());
}

}  // namespace
}  // namespace todoke
