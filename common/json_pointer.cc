#include "common/json_pointer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace todoke {

absl::StatusOr<std::vector<std::string>> ParseJsonPointer(absl::string_view pointer,
                                                          JsonPointerEscapes escapes) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON pointer \"", pointer, "\": must be empty or start with '/'"));
  }
  std::string token;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (pointer[i] == '~') {
      if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
        token.push_back(pointer[i + 1] == '0' ? '~' : '/');
        ++i;
        continue;
      }
      if (escapes == JsonPointerEscapes::kStrict) {
        return absl::InvalidArgumentError(absl::StrCat("invalid JSON pointer \"", pointer,
                                                       "\": '~' must be followed by '0' or '1'"));
      }
    }
    token.push_back(pointer[i]);
  }
  return tokens;
}

void AppendPointerToken(std::string& pointer, absl::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~') {
      pointer.append("~0");
    } else if (c == '/') {
      pointer.append("~1");
    } else {
      pointer.push_back(c);
    }
  }
}

}  // namespace todoke
