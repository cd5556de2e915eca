#include "services/renderer/core/kustomize/hash.h"

#include <cstdio>

#include "common/utf8.h"
#include "services/renderer/core/hashing.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {
namespace {

void AppendGoString(const std::string& text, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '<':
        case '>':
        case '&':
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (length == 3 && static_cast<unsigned char>(text[i]) == 0xE2 &&
        static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
         static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
      continue;
    }
    out.append(text, i, length);
    i += length;
  }
  out.push_back('"');
}

void AppendGoJson(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto& [key, item] : value.items()) {  // nlohmann keeps keys sorted
        if (!first) out.push_back(',');
        first = false;
        AppendGoString(key, out);
        out.push_back(':');
        AppendGoJson(item, out);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& item : value) {
        if (!first) out.push_back(',');
        first = false;
        AppendGoJson(item, out);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::string:
      AppendGoString(value.get_ref<const std::string&>(), out);
      return;
    default:
      out += value.dump();
  }
}

// Encodes the first ten hex digits as kustomize does (avoiding vowels and look-alikes).
std::string EncodeHash(const std::string& hex) {
  std::string encoded = hex.substr(0, 10);
  for (char& c : encoded) {
    switch (c) {
      case '0':
        c = 'g';
        break;
      case '1':
        c = 'h';
        break;
      case '3':
        c = 'k';
        break;
      case 'a':
        c = 'm';
        break;
      case 'e':
        c = 't';
        break;
      default:
        break;
    }
  }
  return encoded;
}

// Value at a top-level field as kustomize's hasher reads it: "" when absent, the string for
// scalars, the map for maps.
Json HashField(const Json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return "";
  if (it->is_object()) return *it;
  if (it->is_string()) return *it;
  return it->dump();
}

}  // namespace

std::string GoJsonMarshal(const Json& value) {
  std::string out;
  AppendGoJson(value, out);
  return out;
}

std::string KustomizeContentHash(const Json& object) {
  std::string kind = GetString(object, "kind");
  // kustomize looks the name up as a single field called "metadata/name", which never
  // exists: the name it hashes is always empty. Reproduce that.
  Json name = "";
  Json encoded;
  if (kind == "ConfigMap") {
    encoded = Json{{"kind", "ConfigMap"}, {"name", name}, {"data", HashField(object, "data")}};
    Json binary = HashField(object, "binaryData");
    if (binary.is_object()) encoded["binaryData"] = binary;
  } else if (kind == "Secret") {
    encoded = Json{{"kind", "Secret"},
                   {"type", HashField(object, "type")},
                   {"name", name},
                   {"data", HashField(object, "data")}};
    Json string_data = HashField(object, "stringData");
    if (string_data.is_object()) encoded["stringData"] = string_data;
  } else {
    encoded = object;
  }
  return EncodeHash(Sha256Hex(GoJsonMarshal(encoded)));
}

}  // namespace todoke::renderer::kustomize
