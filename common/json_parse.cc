#include "common/json_parse.h"

#include <string>
#include <string_view>
#include <vector>

#include "common/json_reader.h"

namespace todoke {
namespace {

// Builds nlohmann::json values from the reader's events, in place: each value is written into
// the slot its parent made for it.
class NlohmannBuilder {
 public:
  void Null() { Slot() = nullptr; }
  void Bool(bool value) { Slot() = value; }
  void Int(int64_t value) { Slot() = value; }
  void Uint(uint64_t value) { Slot() = value; }
  void Double(double value) { Slot() = value; }
  void String(std::string_view value) { Slot() = Json::string_t(value); }

  void StartObject() {
    Json& object = Slot();
    object = Json::object();
    open_.push_back(&object);
  }
  void Key(std::string_view key) {
    Json::object_t& object = *open_.back()->get_ptr<Json::object_t*>();
    // Sorted keys (canonical JSON) go at the end without a search.
    if (object.empty() || std::string_view(object.rbegin()->first) < key) {
      key_slot_ = &object.emplace_hint(object.end(), Json::string_t(key), Json())->second;
    } else {
      key_slot_ = &object[Json::string_t(key)];  // out of order, or a duplicate: later wins
    }
  }
  void EndObject(size_t) { open_.pop_back(); }

  void StartArray() {
    Json& array = Slot();
    array = Json::array();
    open_.push_back(&array);
  }
  void EndArray(size_t) { open_.pop_back(); }

  Json& root() { return root_; }

 private:
  // Where the next value goes: the root, a new array item, or the member whose key was just read.
  Json& Slot() {
    if (open_.empty()) return root_;
    Json* parent = open_.back();
    if (parent->is_array()) return parent->get_ptr<Json::array_t*>()->emplace_back();
    return *key_slot_;
  }

  Json root_;
  // Open containers, innermost last. Only the innermost one grows, and none of its items is
  // open then, so growing an array never moves a container on this stack.
  std::vector<Json*> open_;
  Json* key_slot_ = nullptr;
};

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text) {
  NlohmannBuilder builder;
  std::string scratch;
  json_internal::JsonReader<NlohmannBuilder> reader(std::string_view(text.data(), text.size()),
                                                    builder, scratch);
  absl::Status status = reader.Document();
  if (!status.ok()) return status;
  return std::move(builder.root());
}

}  // namespace todoke
