// Compact, read-only JSON trees for the hot paths that read many objects (the differ): every
// value is 16 bytes, and a document's values, keys and strings sit together in one JsonArena
// instead of one heap allocation per key, string and container as in nlohmann::json. A desired
// and a live Deployment (1.3 KB + 4.9 KB of JSON) take 11 KB here when their strings stay in the
// text (JsonNodeParser::ParseBorrowing), against 52 KB as nlohmann::json, and they are walked
// with far fewer cache misses (bench/differ).
//
// Values mean exactly what nlohmann::json::parse would make of the same text: the same number
// types, object members sorted by key in byte order (nlohmann's std::map order) with the later
// of duplicate keys winning, and the same equality.
#ifndef TODOKE_COMMON_JSON_TREE_H_
#define TODOKE_COMMON_JSON_TREE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/object.h"

namespace todoke {

struct JsonMember;

// One JSON value. Strings, items and members are views into the JsonArena that made the node:
// it must outlive the node. Trivially copyable; a default-constructed node is null.
class JsonNode {
 public:
  enum class Type : uint8_t { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject };

  constexpr JsonNode() = default;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const {
    return type_ == Type::kInt || type_ == Type::kUint || type_ == Type::kDouble;
  }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // Not an array nor an object.
  bool is_primitive() const { return type_ != Type::kArray && type_ != Type::kObject; }

  // The value of a node of that type; false, 0 or "" for a node of another type.
  bool bool_value() const { return type_ == Type::kBool && bool_; }
  int64_t int_value() const { return type_ == Type::kInt ? int_ : 0; }
  uint64_t uint_value() const { return type_ == Type::kUint ? uint_ : 0; }
  double double_value() const { return type_ == Type::kDouble ? double_ : 0.0; }
  std::string_view string() const {
    return type_ == Type::kString ? std::string_view(chars_, size_) : std::string_view();
  }

  // Items of an array or members of an object; 0 for anything else.
  size_t size() const { return is_primitive() ? 0 : size_; }
  bool empty() const { return size() == 0; }
  // An array's items (empty for anything else).
  std::span<const JsonNode> items() const {
    return is_array() ? std::span<const JsonNode>(items_, size_) : std::span<const JsonNode>();
  }
  // An object's members, sorted by key, keys unique (empty for anything else).
  std::span<const JsonMember> members() const;
  // Item `index` of an array; requires is_array() and index < size().
  const JsonNode& operator[](size_t index) const { return items_[index]; }
  // The value of member `key` of an object, or nullptr (also when this is not an object).
  const JsonNode* Find(std::string_view key) const;

  // nlohmann::json's equality: numbers compare by value across integer, unsigned and floating
  // types; objects by their members; 80 and "80" differ.
  friend bool operator==(const JsonNode& a, const JsonNode& b);

  // Node makers for builders; views must live in the arena the tree belongs to.
  static JsonNode Bool(bool value);
  static JsonNode Int(int64_t value);
  static JsonNode Uint(uint64_t value);
  static JsonNode Double(double value);
  static JsonNode String(const char* chars, uint32_t size);
  static JsonNode Array(const JsonNode* items, uint32_t size);
  static JsonNode Object(const JsonMember* members, uint32_t size);  // sorted, unique keys

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  uint32_t size_ = 0;  // string bytes, items or members
  union {
    int64_t int_ = 0;
    uint64_t uint_;
    double double_;
    const char* chars_;
    const JsonNode* items_;
    const JsonMember* members_;
  };
};

struct JsonMember {
  const char* key_chars = nullptr;
  uint32_t key_size = 0;
  JsonNode value;

  std::string_view key() const { return std::string_view(key_chars, key_size); }
};

inline std::span<const JsonMember> JsonNode::members() const {
  return is_object() ? std::span<const JsonMember>(members_, size_) : std::span<const JsonMember>();
}

// Memory for JSON trees: grows in blocks, frees everything at once when destroyed. Not
// thread-safe; move-only.
class JsonArena {
 public:
  JsonArena() = default;
  // The moved-from arena is left empty (it allocates new blocks if used again).
  JsonArena(JsonArena&& other) noexcept { *this = std::move(other); }
  JsonArena& operator=(JsonArena&& other) noexcept;
  JsonArena(const JsonArena&) = delete;
  JsonArena& operator=(const JsonArena&) = delete;

  // Uninitialised room for `count` values of trivially destructible T (nullptr for 0).
  template <typename T>
  T* AllocateArray(size_t count) {
    return static_cast<T*>(Allocate(sizeof(T) * count, alignof(T)));
  }
  // A copy of `text` in the arena.
  std::string_view CopyString(std::string_view text);
  // Makes the next block at least `bytes` large (a hint for a document of known size).
  void Reserve(size_t bytes);
  // Forgets every tree, keeping up to `keep_bytes` of memory as one block for the next ones:
  // an arena reused this way stops allocating (and page-faulting) once it has seen its largest
  // load. Every node made before is invalid afterwards.
  void Reset(size_t keep_bytes = size_t{16} << 20);
  // Bytes taken from the system, blocks included.
  size_t bytes_reserved() const { return reserved_; }

 private:
  void* Allocate(size_t bytes, size_t align);

  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  char* end_ = nullptr;
  size_t reserved_ = 0;
  size_t next_block_bytes_ = 4096;
};

// Parses JSON text into JsonNode trees. Reusable: keeps its working memory between documents,
// so parsing many objects with one parser allocates only in the arena.
class JsonNodeParser {
 public:
  JsonNodeParser();
  ~JsonNodeParser();
  JsonNodeParser(const JsonNodeParser&) = delete;
  JsonNodeParser& operator=(const JsonNodeParser&) = delete;

  // Parses one JSON value (surrounding whitespace allowed) into `arena`; the tree lives as long
  // as the arena. INVALID_ARGUMENT naming the byte offset for malformed JSON, invalid UTF-8,
  // nesting deeper than 512 or a string of 4 GiB or more; the same texts ParseJson refuses.
  absl::StatusOr<const JsonNode*> Parse(std::string_view text, JsonArena& arena);

  // As Parse, but strings and keys without escapes view `text` rather than being copied, so
  // `text` must outlive the tree too. Faster, and the tree takes less memory.
  absl::StatusOr<const JsonNode*> ParseBorrowing(std::string_view text, JsonArena& arena);

 private:
  absl::StatusOr<const JsonNode*> ParseInto(std::string_view text, JsonArena& arena, bool borrow);

  class Builder;
  std::unique_ptr<Builder> builder_;
};

// One-off form of JsonNodeParser::Parse.
absl::StatusOr<const JsonNode*> ParseJsonNode(std::string_view text, JsonArena& arena);

// A copy of `value` in `arena`. Strings longer than 4 GiB are cut (they cannot come from JSON
// text todoke accepts).
const JsonNode* CopyJson(const Json& value, JsonArena& arena);

// The same value as nlohmann::json (for outputs: patches, YAML).
Json ToJson(const JsonNode& node);

// Appends `node` as CanonicalJson(ToJson(node)) would print it, without building the Json.
void AppendCanonicalJson(std::string& out, const JsonNode& node);

// The identity fields `object` has (object.h), empty where absent or not strings.
ObjectKeyFields KeyFieldsOf(const JsonNode& object);

// KeyOf (object.h) for a compact tree: the same key and the same errors.
absl::StatusOr<ObjectKey> KeyOf(const JsonNode& object);

}  // namespace todoke

#endif  // TODOKE_COMMON_JSON_TREE_H_
