#include "services/renderer/core/glob.h"

#include "absl/strings/ascii.h"

namespace todoke::renderer {
namespace {

// Expands the first top-level {a,b} group of `pattern` into alternatives, recursively.
void ExpandBraces(absl::string_view pattern, std::vector<std::string>& out) {
  size_t open = absl::string_view::npos;
  int depth = 0;
  std::vector<size_t> commas;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '{') {
      if (depth == 0) open = i;
      ++depth;
    } else if (c == '}' && depth > 0) {
      --depth;
      if (depth == 0) {
        absl::string_view prefix = pattern.substr(0, open);
        absl::string_view suffix = pattern.substr(i + 1);
        size_t start = open + 1;
        commas.push_back(i);
        for (size_t end : commas) {
          std::string alternative(prefix);
          alternative.append(std::string(pattern.substr(start, end - start)));
          alternative.append(std::string(suffix));
          ExpandBraces(alternative, out);
          start = end + 1;
        }
        return;
      }
    } else if (c == ',' && depth == 1) {
      commas.push_back(i);
    }
  }
  out.emplace_back(pattern);
}

bool MatchClass(absl::string_view pattern, size_t& p, char c) {
  // pattern[p] == '['
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char low = pattern[i];
    if (low == '\\' && i + 1 < pattern.size()) low = pattern[++i];
    char high = low;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      high = pattern[i + 2];
      if (high == '\\' && i + 3 < pattern.size()) high = pattern[++i + 2];
      i += 2;
    }
    if (c >= low && c <= high) matched = true;
    ++i;
  }
  p = i < pattern.size() ? i + 1 : i;  // past ']'
  return matched != negate;
}

bool MatchSimple(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0;
  size_t star_p = absl::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char c = pattern[p];
      if (c == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        star_p = p;
        star_t = t;
        continue;
      }
      if (c == '?') {
        ++p;
        ++t;
        continue;
      }
      if (c == '[') {
        size_t next = p;
        if (MatchClass(pattern, next, text[t])) {
          p = next;
          ++t;
          continue;
        }
      } else {
        char literal = c;
        size_t next = p + 1;
        if (c == '\\' && p + 1 < pattern.size()) {
          literal = pattern[p + 1];
          next = p + 2;
        }
        if (literal == text[t]) {
          p = next;
          ++t;
          continue;
        }
      }
    }
    if (star_p == absl::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view path) {
  std::vector<std::string> alternatives;
  ExpandBraces(pattern, alternatives);
  for (const std::string& alternative : alternatives) {
    if (MatchSimple(alternative, path)) return true;
  }
  return false;
}

std::vector<std::string> SplitGlobList(absl::string_view patterns) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (size_t i = 0; i < patterns.size(); ++i) {
    const char c = patterns[i];
    if (c == '\\' && i + 1 < patterns.size()) {
      current += c;
      current += patterns[++i];
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      std::string piece(absl::StripAsciiWhitespace(current));
      if (!piece.empty()) out.push_back(std::move(piece));
      current.clear();
      continue;
    }
    current += c;
  }
  std::string piece(absl::StripAsciiWhitespace(current));
  if (!piece.empty()) out.push_back(std::move(piece));
  return out;
}

bool GlobMatchAny(const std::vector<std::string>& patterns, absl::string_view path) {
  for (const std::string& pattern : patterns) {
    if (GlobMatch(pattern, path)) return true;
  }
  return false;
}

}  // namespace todoke::renderer
