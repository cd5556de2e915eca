#include "common/json_tree.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_reader.h"
#include "common/key_order.h"
#include "common/utf8.h"

namespace todoke {

// ---------------------------------------------------------------------------------------------
// JsonNode

JsonNode JsonNode::Bool(bool value) {
  JsonNode node;
  node.type_ = Type::kBool;
  node.bool_ = value;
  return node;
}

JsonNode JsonNode::Int(int64_t value) {
  JsonNode node;
  node.type_ = Type::kInt;
  node.int_ = value;
  return node;
}

JsonNode JsonNode::Uint(uint64_t value) {
  JsonNode node;
  node.type_ = Type::kUint;
  node.uint_ = value;
  return node;
}

JsonNode JsonNode::Double(double value) {
  JsonNode node;
  node.type_ = Type::kDouble;
  node.double_ = value;
  return node;
}

JsonNode JsonNode::String(const char* chars, uint32_t size) {
  JsonNode node;
  node.type_ = Type::kString;
  node.size_ = size;
  node.chars_ = chars;
  return node;
}

JsonNode JsonNode::Array(const JsonNode* items, uint32_t size) {
  JsonNode node;
  node.type_ = Type::kArray;
  node.size_ = size;
  node.items_ = items;
  return node;
}

JsonNode JsonNode::Object(const JsonMember* members, uint32_t size) {
  JsonNode node;
  node.type_ = Type::kObject;
  node.size_ = size;
  node.members_ = members;
  return node;
}

const JsonNode* JsonNode::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  size_t low = 0, high = size_;
  while (low < high) {  // binary search over the sorted keys
    const size_t middle = (low + high) / 2;
    const int order = CompareKeys(members_[middle].key(), key);
    if (order == 0) return &members_[middle].value;
    if (order < 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return nullptr;
}

bool operator==(const JsonNode& a, const JsonNode& b) {
  using Type = JsonNode::Type;
  if (a.type_ == b.type_) {
    switch (a.type_) {
      case Type::kNull:
        return true;
      case Type::kBool:
        return a.bool_ == b.bool_;
      case Type::kInt:
        return a.int_ == b.int_;
      case Type::kUint:
        return a.uint_ == b.uint_;
      case Type::kDouble:
        return a.double_ == b.double_;
      case Type::kString:
        return a.size_ == b.size_ && std::memcmp(a.chars_, b.chars_, a.size_) == 0;
      case Type::kArray:
        if (a.size_ != b.size_) return false;
        for (uint32_t i = 0; i < a.size_; ++i) {
          if (!(a.items_[i] == b.items_[i])) return false;
        }
        return true;
      case Type::kObject:
        if (a.size_ != b.size_) return false;
        for (uint32_t i = 0; i < a.size_; ++i) {
          if (a.members_[i].key() != b.members_[i].key() ||
              !(a.members_[i].value == b.members_[i].value)) {
            return false;
          }
        }
        return true;
    }
    return false;
  }
  // Mixed number types, converted as nlohmann::json's operator== converts them.
  switch (a.type_) {
    case Type::kInt:
      if (b.type_ == Type::kDouble) return static_cast<double>(a.int_) == b.double_;
      if (b.type_ == Type::kUint) return a.int_ == static_cast<int64_t>(b.uint_);
      return false;
    case Type::kUint:
      if (b.type_ == Type::kDouble) return static_cast<double>(a.uint_) == b.double_;
      if (b.type_ == Type::kInt) return static_cast<int64_t>(a.uint_) == b.int_;
      return false;
    case Type::kDouble:
      if (b.type_ == Type::kInt) return a.double_ == static_cast<double>(b.int_);
      if (b.type_ == Type::kUint) return a.double_ == static_cast<double>(b.uint_);
      return false;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// JsonArena

namespace {
constexpr size_t kMaxBlockBytes = size_t{1} << 20;
}  // namespace

JsonArena& JsonArena::operator=(JsonArena&& other) noexcept {
  blocks_ = std::move(other.blocks_);
  other.blocks_.clear();
  next_ = std::exchange(other.next_, nullptr);
  end_ = std::exchange(other.end_, nullptr);
  reserved_ = std::exchange(other.reserved_, 0);
  next_block_bytes_ = std::exchange(other.next_block_bytes_, 4096);
  return *this;
}

void* JsonArena::Allocate(size_t bytes, size_t align) {
  if (bytes == 0) return nullptr;  // empty arrays and objects ({} is common in fieldsV1)
  uintptr_t at = (reinterpret_cast<uintptr_t>(next_) + align - 1) & ~(uintptr_t{align} - 1);
  if (next_ == nullptr || at + bytes > reinterpret_cast<uintptr_t>(end_)) {
    // A new block: at least twice the last one (up to 1 MiB), and large enough for the request.
    const size_t block = std::max(next_block_bytes_, bytes + align);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(block));
    reserved_ += block;
    next_ = blocks_.back().get();
    end_ = next_ + block;
    next_block_bytes_ = std::min(kMaxBlockBytes, std::max(next_block_bytes_, block) * 2);
    at = (reinterpret_cast<uintptr_t>(next_) + align - 1) & ~(uintptr_t{align} - 1);
  }
  next_ = reinterpret_cast<char*>(at + bytes);
  return reinterpret_cast<void*>(at);
}

std::string_view JsonArena::CopyString(std::string_view text) {
  if (text.empty()) return std::string_view("", 0);
  char* copy = AllocateArray<char>(text.size());
  std::memcpy(copy, text.data(), text.size());
  return std::string_view(copy, text.size());
}

void JsonArena::Reset(size_t keep_bytes) {
  const size_t used = reserved_;
  const bool reuse_block = blocks_.size() == 1 && used <= keep_bytes;
  if (!reuse_block) {
    blocks_.clear();
    reserved_ = 0;
    next_ = end_ = nullptr;
    if (used > 0 && keep_bytes > 0) {  // one block for what the last round needed
      const size_t block = std::min(used, keep_bytes);
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(block));
      reserved_ = block;
      end_ = blocks_.back().get() + block;
    }
  }
  if (!blocks_.empty()) next_ = blocks_.front().get();
  next_block_bytes_ = 4096;
}

void JsonArena::Reserve(size_t bytes) {
  if (static_cast<size_t>(end_ - next_) >= bytes) return;
  next_block_bytes_ = std::max(next_block_bytes_, bytes);
}

// ---------------------------------------------------------------------------------------------
// Parsing

namespace {

// Puts an object's members in key order and keeps the last of equal keys, as nlohmann does;
// returns how many members remain. Objects usually arrive sorted (canonical JSON), or small.
uint32_t SortMembers(JsonMember* members, uint32_t size) {
  bool sorted = true;
  for (uint32_t i = 1; i < size && sorted; ++i) {
    sorted = CompareKeys(members[i - 1].key(), members[i].key()) < 0;
  }
  if (sorted) return size;
  auto before = [](const JsonMember& a, const JsonMember& b) {
    return CompareKeys(a.key(), b.key()) < 0;
  };
  if (size <= 24) {  // insertion sort: stable, and fast at the sizes of Kubernetes objects
    for (uint32_t i = 1; i < size; ++i) {
      const JsonMember moving = members[i];
      uint32_t j = i;
      for (; j > 0 && before(moving, members[j - 1]); --j) members[j] = members[j - 1];
      members[j] = moving;
    }
  } else {
    std::stable_sort(members, members + size, before);
  }
  // Equal keys sit together in input order: keep the last of each run.
  uint32_t kept = 0;
  for (uint32_t i = 0; i < size; ++i) {
    if (i + 1 < size && members[i].key() == members[i + 1].key()) continue;
    members[kept++] = members[i];
  }
  return kept;
}

}  // namespace

// Builds the tree bottom-up: finished values wait on a stack until their container closes, then
// move into the arena side by side.
class JsonNodeParser::Builder {
 public:
  // `borrowed`: the text strings may view instead of being copied (empty: copy them all).
  void Reset(JsonArena* arena, std::string_view borrowed) {
    arena_ = arena;
    borrowed_begin_ = reinterpret_cast<uintptr_t>(borrowed.data());
    borrowed_end_ = borrowed_begin_ + borrowed.size();
    values_.clear();
    keys_.clear();
    too_long_ = false;
  }

  void Null() { values_.emplace_back(); }
  void Bool(bool value) { values_.push_back(JsonNode::Bool(value)); }
  void Int(int64_t value) { values_.push_back(JsonNode::Int(value)); }
  void Uint(uint64_t value) { values_.push_back(JsonNode::Uint(value)); }
  void Double(double value) { values_.push_back(JsonNode::Double(value)); }
  void String(std::string_view value) {
    const std::string_view copy = Copy(value);
    values_.push_back(JsonNode::String(copy.data(), static_cast<uint32_t>(copy.size())));
  }
  void StartObject() {}
  void Key(std::string_view key) { keys_.push_back(Copy(key)); }
  void EndObject(size_t count) {
    JsonMember* members = arena_->AllocateArray<JsonMember>(count);
    const size_t first_value = values_.size() - count;
    const size_t first_key = keys_.size() - count;
    for (size_t i = 0; i < count; ++i) {
      const std::string_view key = keys_[first_key + i];
      members[i].key_chars = key.data();
      members[i].key_size = static_cast<uint32_t>(key.size());
      members[i].value = values_[first_value + i];
    }
    values_.resize(first_value);
    keys_.resize(first_key);
    const uint32_t kept = SortMembers(members, static_cast<uint32_t>(count));
    values_.push_back(JsonNode::Object(members, kept));
  }
  void StartArray() {}
  void EndArray(size_t count) {
    JsonNode* items = arena_->AllocateArray<JsonNode>(count);
    const size_t first = values_.size() - count;
    std::copy(values_.begin() + first, values_.end(), items);
    values_.resize(first);
    values_.push_back(JsonNode::Array(items, static_cast<uint32_t>(count)));
  }

  bool too_long() const { return too_long_; }
  // The reader's buffer for unescaping, kept between documents.
  std::string& scratch() { return scratch_; }
  // The finished document, moved into the arena.
  const JsonNode* Root() {
    JsonNode* root = arena_->AllocateArray<JsonNode>(1);
    *root = values_.back();
    return root;
  }

 private:
  std::string_view Copy(std::string_view text) {
    if (text.size() > std::numeric_limits<uint32_t>::max()) {
      too_long_ = true;
      text = text.substr(0, 0);
    }
    const uintptr_t begin = reinterpret_cast<uintptr_t>(text.data());
    if (begin >= borrowed_begin_ && begin + text.size() <= borrowed_end_) return text;
    return arena_->CopyString(text);
  }

  std::string scratch_;
  uintptr_t borrowed_begin_ = 0;
  uintptr_t borrowed_end_ = 0;

  JsonArena* arena_ = nullptr;
  std::vector<JsonNode> values_;
  std::vector<std::string_view> keys_;
  bool too_long_ = false;
};

JsonNodeParser::JsonNodeParser() : builder_(std::make_unique<Builder>()) {}
JsonNodeParser::~JsonNodeParser() = default;

absl::StatusOr<const JsonNode*> JsonNodeParser::Parse(std::string_view text, JsonArena& arena) {
  return ParseInto(text, arena, /*borrow=*/false);
}

absl::StatusOr<const JsonNode*> JsonNodeParser::ParseBorrowing(std::string_view text,
                                                               JsonArena& arena) {
  return ParseInto(text, arena, /*borrow=*/true);
}

absl::StatusOr<const JsonNode*> JsonNodeParser::ParseInto(std::string_view text, JsonArena& arena,
                                                          bool borrow) {
  builder_->Reset(&arena, borrow ? text : std::string_view());
  arena.Reserve(text.size() * 2 + 256);  // a document's tree takes about twice its text
  json_internal::JsonReader<Builder> reader(text, *builder_, builder_->scratch());
  absl::Status status = reader.Document();
  if (!status.ok()) return status;
  if (builder_->too_long()) {
    return absl::InvalidArgumentError("invalid JSON: a string of 4 GiB or more");
  }
  return builder_->Root();
}

absl::StatusOr<const JsonNode*> ParseJsonNode(std::string_view text, JsonArena& arena) {
  JsonNodeParser parser;
  return parser.Parse(text, arena);
}

// ---------------------------------------------------------------------------------------------
// Conversions

namespace {

uint32_t ClampedSize(size_t size) {
  return static_cast<uint32_t>(std::min<size_t>(size, std::numeric_limits<uint32_t>::max()));
}

JsonNode CopyValue(const Json& value, JsonArena& arena) {
  switch (value.type()) {
    case Json::value_t::boolean:
      return JsonNode::Bool(value.get<bool>());
    case Json::value_t::number_integer:
      return JsonNode::Int(value.get<int64_t>());
    case Json::value_t::number_unsigned:
      return JsonNode::Uint(value.get<uint64_t>());
    case Json::value_t::number_float:
      return JsonNode::Double(value.get<double>());
    case Json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      const std::string_view copy =
          arena.CopyString(std::string_view(text).substr(0, ClampedSize(text.size())));
      return JsonNode::String(copy.data(), static_cast<uint32_t>(copy.size()));
    }
    case Json::value_t::array: {
      const uint32_t size = ClampedSize(value.size());
      JsonNode* items = arena.AllocateArray<JsonNode>(size);
      for (uint32_t i = 0; i < size; ++i) items[i] = CopyValue(value[i], arena);
      return JsonNode::Array(items, size);
    }
    case Json::value_t::object: {
      // std::map order is the byte order JsonNode keeps, and keys are unique.
      const Json::object_t& object = value.get_ref<const Json::object_t&>();
      const uint32_t size = ClampedSize(object.size());
      JsonMember* members = arena.AllocateArray<JsonMember>(size);
      uint32_t i = 0;
      for (const auto& [key, member_value] : object) {
        if (i == size) break;
        const std::string_view copy = arena.CopyString(key);
        members[i].key_chars = copy.data();
        members[i].key_size = ClampedSize(copy.size());
        members[i].value = CopyValue(member_value, arena);
        ++i;
      }
      return JsonNode::Object(members, size);
    }
    default:  // null, discarded, binary
      return JsonNode();
  }
}

}  // namespace

const JsonNode* CopyJson(const Json& value, JsonArena& arena) {
  JsonNode* root = arena.AllocateArray<JsonNode>(1);
  *root = CopyValue(value, arena);
  return root;
}

Json ToJson(const JsonNode& node) {
  switch (node.type()) {
    case JsonNode::Type::kNull:
      return Json();
    case JsonNode::Type::kBool:
      return node.bool_value();
    case JsonNode::Type::kInt:
      return node.int_value();
    case JsonNode::Type::kUint:
      return node.uint_value();
    case JsonNode::Type::kDouble:
      return node.double_value();
    case JsonNode::Type::kString:
      return Json::string_t(node.string());
    case JsonNode::Type::kArray: {
      Json array = Json::array();
      Json::array_t& items = *array.get_ptr<Json::array_t*>();
      items.reserve(node.size());
      for (const JsonNode& item : node.items()) items.push_back(ToJson(item));
      return array;
    }
    case JsonNode::Type::kObject: {
      Json object = Json::object();
      Json::object_t& members = *object.get_ptr<Json::object_t*>();
      for (const JsonMember& member : node.members()) {
        members.emplace_hint(members.end(), Json::string_t(member.key()), ToJson(member.value));
      }
      return object;
    }
  }
  return Json();
}

namespace {

// A JSON string as nlohmann's serializer writes it (no ASCII escaping of other characters).
void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (!IsValidUtf8(text)) {  // only trees copied from nlohmann::json can hold it
    out.append(CanonicalJson(Json::string_t(text)));  // which replaces the bad bytes
    return;
  }
  out.push_back('"');
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void AppendCanonicalJson(std::string& out, const JsonNode& node) {
  switch (node.type()) {
    case JsonNode::Type::kNull:
      out.append("null");
      return;
    case JsonNode::Type::kBool:
      out.append(node.bool_value() ? "true" : "false");
      return;
    case JsonNode::Type::kInt:
      absl::StrAppend(&out, node.int_value());
      return;
    case JsonNode::Type::kUint:
      absl::StrAppend(&out, node.uint_value());
      return;
    case JsonNode::Type::kDouble:
      out.append(CanonicalJson(Json(node.double_value())));
      return;
    case JsonNode::Type::kString:
      AppendJsonString(out, node.string());
      return;
    case JsonNode::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const JsonNode& item : node.items()) {
        if (!first) out.push_back(',');
        first = false;
        AppendCanonicalJson(out, item);
      }
      out.push_back(']');
      return;
    }
    case JsonNode::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const JsonMember& member : node.members()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, member.key());
        out.push_back(':');
        AppendCanonicalJson(out, member.value);
      }
      out.push_back('}');
      return;
    }
  }
}

ObjectKeyFields KeyFieldsOf(const JsonNode& object) {
  auto string_at = [](const JsonNode& parent, std::string_view field) -> absl::string_view {
    const JsonNode* value = parent.Find(field);
    if (value == nullptr) return {};
    const std::string_view text = value->string();
    return absl::string_view(text.data(), text.size());
  };
  ObjectKeyFields fields;
  fields.api_version = string_at(object, "apiVersion");
  fields.kind = string_at(object, "kind");
  if (const JsonNode* meta = object.Find("metadata"); meta != nullptr) {
    fields.name = string_at(*meta, "name");
    fields.generate_name = string_at(*meta, "generateName");
    fields.ns = string_at(*meta, "namespace");
  }
  return fields;
}

absl::StatusOr<ObjectKey> KeyOf(const JsonNode& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("object is not a mapping");
  return KeyFromFields(KeyFieldsOf(object));
}

}  // namespace todoke
