#include "services/applier/core/sync/secret_redactor.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/credentials_mask.h"

namespace todoke::applier::sync {
namespace {

// Text a message could quote: no control bytes but tab and line breaks.
bool IsPrintable(absl::string_view bytes) {
  for (char c : bytes) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) return false;
  }
  return true;
}

// `value` as a JSON string or a Go %q shows it, without the quotes.
std::string Escaped(absl::string_view value) {
  std::string out;
  for (char c : value) {
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
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '+' || c == '/' || c == '=';
}

// Replaces "Bearer <token>" (any case) by "Bearer ***" and every JSON Web Token by "***".
std::string RedactTokens(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (i + 7 <= text.size() && absl::EqualsIgnoreCase(text.substr(i, 6), "bearer") &&
        (text[i + 6] == ' ' || text[i + 6] == '\t') &&
        (i == 0 || !absl::ascii_isalnum(static_cast<unsigned char>(text[i - 1])))) {
      size_t token = i + 6;
      while (token < text.size() && (text[token] == ' ' || text[token] == '\t')) ++token;
      size_t end = token;
      while (end < text.size() && IsTokenChar(text[end])) ++end;
      out.append(text.data() + i, token - i);
      if (end > token) out += "***";
      i = end;
      continue;
    }
    if (absl::StartsWith(text.substr(i), "eyJ") && (i == 0 || !IsTokenChar(text[i - 1]))) {
      size_t end = i;
      int dots = 0;
      while (end < text.size() && IsTokenChar(text[end]) && text[end] != '/' && text[end] != '+') {
        if (text[end] == '.') ++dots;
        ++end;
      }
      if (dots >= 2) {
        out += "***";
        i = end;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

}  // namespace

void SecretRedactor::AddValue(absl::string_view value) {
  if (value.size() < kMinRedactedValueBytes) return;
  auto add = [&](std::string v) {
    if (v.size() < kMinRedactedValueBytes) return;
    auto at = std::lower_bound(values_.begin(), values_.end(), v, [](const auto& a, const auto& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    if (at == values_.end() || *at != v) values_.insert(at, std::move(v));
  };
  add(std::string(value));
  add(Escaped(value));
  // A multi-line value (a key, a certificate) may be quoted a line at a time.
  if (absl::StrContains(value, '\n')) {
    for (absl::string_view line : absl::StrSplit(value, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.size() >= 2 * kMinRedactedValueBytes) add(std::string(line));
    }
  }
}

void SecretRedactor::AddSecret(const Json& object) {
  if (!object.is_object() || object.value("kind", std::string()) != "Secret" ||
      object.value("apiVersion", std::string()) != "v1") {
    return;
  }
  if (auto data = object.find("data"); data != object.end() && data->is_object()) {
    for (const auto& [key, value] : data->items()) {
      if (!value.is_string()) continue;
      const std::string& encoded = value.get_ref<const std::string&>();
      AddValue(encoded);
      std::string decoded;
      if (absl::Base64Unescape(encoded, &decoded)) {
        AddValue(absl::Base64Escape(decoded));
        if (IsPrintable(decoded)) AddValue(decoded);
      }
    }
  }
  if (auto data = object.find("stringData"); data != object.end() && data->is_object()) {
    for (const auto& [key, value] : data->items()) {
      if (!value.is_string()) continue;
      const std::string& text = value.get_ref<const std::string&>();
      AddValue(text);
      AddValue(absl::Base64Escape(text));
    }
  }
}

std::string SecretRedactor::Redact(absl::string_view text) const {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    for (const std::string& value : values_) {  // longest first
      if (value[0] == text[i] && text.substr(i, value.size()) == value) {
        out += "***";
        i += value.size();
        matched = true;
        break;
      }
    }
    if (!matched) {
      out.push_back(text[i]);
      ++i;
    }
  }
  return MaskCredentials(RedactTokens(out));
}

absl::Status SecretRedactor::Redact(const absl::Status& status) const {
  if (status.ok()) return status;
  return absl::Status(status.code(), Redact(status.message()));
}

}  // namespace todoke::applier::sync
