#include "common/credentials_mask.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace todoke {
namespace {

// The text is read as symbols: a delimiter (white space, quotes, brackets, ','), a structural
// character of a URL (":/@?&;=#", also URL-encoded as "%3A", "%2F", ...) or any other byte
// (an atom character; a run of them is an atom). Every rule below starts and ends a masked
// span at a symbol boundary next to a structural symbol, a delimiter or the end of a region,
// so "***" (three atom characters) always stands as an atom of its own and the symbols around
// it read as before: masking the output again takes the same decisions.
enum class Kind {
  kAtom,
  kDelimiter,
  kColon,
  kSlash,
  kAt,
  kQuestion,
  kAmpersand,
  kSemicolon,
  kEquals,
  kHash
};

struct Symbol {
  Kind kind = Kind::kAtom;
  bool encoded = false;  // written as %XX
  size_t size = 1;
};

bool IsDelimiter(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' ||
         c == '>' || c == '`' || c == '(' || c == ')' || c == '[' || c == ']' || c == ',';
}

Kind StructuralKind(char c) {
  switch (c) {
    case ':':
      return Kind::kColon;
    case '/':
      return Kind::kSlash;
    case '@':
      return Kind::kAt;
    case '?':
      return Kind::kQuestion;
    case '&':
      return Kind::kAmpersand;
    case ';':
      return Kind::kSemicolon;
    case '=':
      return Kind::kEquals;
    case '#':
      return Kind::kHash;
    default:
      return Kind::kAtom;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte a "%XX" at `p` stands for, or -1.
int PercentDecoded(absl::string_view text, size_t p) {
  if (text[p] != '%' || p + 2 >= text.size()) return -1;
  const int high = HexValue(text[p + 1]);
  const int low = HexValue(text[p + 2]);
  if (high < 0 || low < 0) return -1;
  return high * 16 + low;
}

// The lower-cased name with its "%XX" escapes decoded.
std::string DecodedLowerName(absl::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    const int decoded = PercentDecoded(name, i);
    if (decoded >= 0) {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(decoded)));
      i += 2;
    } else {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(name[i])));
    }
  }
  return out;
}

// Query parameter names whose values are secrets, as services name them: token, access_token,
// private_token, password, client_secret, api_key, X-Amz-Signature, X-Amz-Credential, ...
bool IsCredentialLikeName(absl::string_view name) {
  const std::string lower = DecodedLowerName(name);
  for (absl::string_view part : {"token", "pass", "pwd", "secret", "key", "sig", "credential",
                                 "auth", "session", "jwt", "bearer", "cookie", "code"}) {
    if (absl::StrContains(lower, part)) return true;
  }
  return false;
}

class Masker {
 public:
  explicit Masker(absl::string_view text) : text_(text) { out_.reserve(text.size() + 16); }

  std::string Run();
  size_t work() const { return work_; }

 private:
  // The symbol at `p` (< text size). Symbol boundaries only depend on the text from `p` on.
  Symbol At(size_t p) {
    ++work_;
    Symbol s;
    const char c = text_[p];
    if (IsDelimiter(c)) {
      s.kind = Kind::kDelimiter;
      return s;
    }
    const int decoded = PercentDecoded(text_, p);
    if (decoded >= 0 && StructuralKind(static_cast<char>(decoded)) != Kind::kAtom) {
      s.kind = StructuralKind(static_cast<char>(decoded));
      s.encoded = true;
      s.size = 3;
      return s;
    }
    s.kind = StructuralKind(c);
    return s;
  }

  // The end of the atom starting at `p` (`p` itself when none starts there), before `limit`.
  size_t AtomEnd(size_t p, size_t limit) {
    while (p < limit && At(p).kind == Kind::kAtom) ++p;
    return p;
  }

  // Whether "://" (each character raw or encoded) starts at `p` before `limit`: its size, and
  // whether any of it is encoded. 0 when not.
  size_t SchemeSeparator(size_t p, size_t limit, bool* encoded) {
    size_t q = p;
    *encoded = false;
    for (Kind want : {Kind::kColon, Kind::kSlash, Kind::kSlash}) {
      if (q >= limit) return 0;
      const Symbol s = At(q);
      if (s.kind != want) return 0;
      *encoded = *encoded || s.encoded;
      q += s.size;
    }
    return q - p;
  }

  // Rules starting at an atom [p, end): an Authorization header's name, or the user of an
  // scp-like "user@host:". Returns the position to go on from (after emitting), or npos.
  size_t AtomRule(size_t p, size_t end, size_t limit);
  // A "://": masks the authority's user information and bounds the authority's region.
  size_t SchemeRule(size_t p, size_t size, bool encoded, size_t* limit);
  // A '?', '&' or ';' (`trigger`) at p: masks a credential-like parameter's value.
  size_t QueryRule(size_t p, const Symbol& trigger, size_t limit);

  absl::string_view text_;
  std::string out_;
  size_t work_ = 0;
};

size_t Masker::AtomRule(size_t p, size_t end, size_t limit) {
  const absl::string_view atom = text_.substr(p, end - p);
  // "Authorization: Bearer x", "Proxy-Authorization: Basic y": the rest of the line.
  if (end < limit && text_[end] == ':' && atom.size() >= 13 &&
      absl::EqualsIgnoreCase(atom.substr(atom.size() - 13), "authorization")) {
    size_t value = end + 1;
    while (value < limit && (text_[value] == ' ' || text_[value] == '\t')) ++value;
    size_t value_end = value;
    while (value_end < limit && text_[value_end] != '\r' && text_[value_end] != '\n' &&
           text_[value_end] != '"' && text_[value_end] != '\'') {
      ++value_end;
      ++work_;
    }
    out_.append(text_.data() + p, value - p);
    out_.append("***");
    return value_end;
  }
  // "user@host:path" (scp-like ssh): the user, a single atom, goes.
  if (end < limit) {
    const Symbol at = At(end);
    if (at.kind == Kind::kAt) {
      const size_t host = end + at.size;
      const size_t host_end = AtomEnd(host, limit);
      if (host_end > host && host_end < limit && At(host_end).kind == Kind::kColon) {
        out_.append("***");
        return end;
      }
    }
  }
  return absl::string_view::npos;
}

size_t Masker::SchemeRule(size_t p, size_t size, bool encoded, size_t* limit) {
  // The authority runs to the first '/' (an encoded one too after an encoded "://"), delimiter
  // or next "://". It ends neither at '?' nor at '#': some parsers (ours included) take the last
  // '@' before the first '/' as the end of the user information, so "https://u:p?x@h/" hides
  // "u:p?x" too.
  const size_t begin = p + size;
  size_t end = begin;
  size_t last_at = absl::string_view::npos;
  bool unused = false;
  while (end < *limit) {
    const Symbol s = At(end);
    if (s.kind == Kind::kDelimiter) break;
    if (s.kind == Kind::kSlash && (encoded || !s.encoded)) break;
    if (s.kind == Kind::kColon && SchemeSeparator(end, *limit, &unused) > 0) break;
    if (s.kind == Kind::kAt) last_at = end;
    end += s.size;
  }
  out_.append(text_.data() + p, size);
  // The rest of the authority (the host, or all of it when it has no user information) goes
  // through the other rules, none of which may reach past its end: a query value swallowing the
  // '/' would let the authority of the output reach further, up to an '@' this pass kept.
  *limit = end;
  if (last_at == absl::string_view::npos) return begin;
  out_.append("***");
  return last_at;
}

size_t Masker::QueryRule(size_t p, const Symbol& trigger, size_t limit) {
  const size_t name = p + trigger.size;
  const size_t name_end = AtomEnd(name, limit);
  if (name_end == name || name_end >= limit) return absl::string_view::npos;
  const Symbol equals = At(name_end);
  if (equals.kind != Kind::kEquals || !IsCredentialLikeName(text_.substr(name, name_end - name))) {
    return absl::string_view::npos;
  }
  // After a raw '?', '&' or ';' only raw separators end the value ("?token=a%26b" hides
  // "a%26b"); after an encoded one, encoded ones as well.
  auto value_end_before = [&](size_t from, size_t end) {
    while (from < end) {
      const Symbol s = At(from);
      if (s.kind == Kind::kDelimiter) break;
      if ((s.kind == Kind::kAmpersand || s.kind == Kind::kSemicolon || s.kind == Kind::kHash) &&
          (trigger.encoded || !s.encoded)) {
        break;
      }
      from += s.size;
    }
    return from;
  };
  const size_t value = name_end + equals.size;
  const size_t value_end = value_end_before(value, limit);
  out_.append(text_.data() + p, value - p);
  out_.append("***");
  if (value_end < limit || limit >= text_.size()) return value_end;
  // The value reaches the end of the authority region ("https://h?token=a/b": no path, and the
  // query holds a '/'): it goes on to the end of the query parameter, and all of it is hidden.
  // The output keeps a '/' where the authority ended ("https://h?token=***/***"), so the
  // authority of the output ends where this pass saw it end and masking it again decides the
  // same; without it, "https://h?token=a/b#x@y" would read as the userinfo "h?token=***#x" the
  // next time.
  const Symbol boundary = At(limit);
  if (boundary.kind == Kind::kDelimiter) return value_end;
  if (boundary.kind == Kind::kSlash) {
    out_.append(text_.data() + limit, boundary.size);
  } else {
    out_.push_back('/');  // the authority ended at the "://" of another URL
  }
  out_.append("***");
  return value_end_before(limit + boundary.size, text_.size());
}

std::string Masker::Run() {
  const size_t n = text_.size();
  size_t limit = n;  // the end of the authority being read, or of the text
  size_t p = 0;
  while (p < n) {
    if (p >= limit) limit = n;
    const Symbol s = At(p);
    if (s.kind == Kind::kAtom) {
      const size_t end = AtomEnd(p, limit);
      const size_t next = AtomRule(p, end, limit);
      if (next != absl::string_view::npos) {
        p = next;
      } else {
        out_.append(text_.data() + p, end - p);
        p = end;
      }
      continue;
    }
    if (s.kind == Kind::kColon) {
      bool encoded = false;
      if (const size_t size = SchemeSeparator(p, limit, &encoded); size > 0) {
        p = SchemeRule(p, size, encoded, &limit);
        continue;
      }
    }
    if (s.kind == Kind::kQuestion || s.kind == Kind::kAmpersand || s.kind == Kind::kSemicolon) {
      if (const size_t next = QueryRule(p, s, limit); next != absl::string_view::npos) {
        p = next;
        continue;
      }
    }
    out_.append(text_.data() + p, s.size);
    p += s.size;
  }
  return std::move(out_);
}

}  // namespace

std::string MaskCredentials(absl::string_view text, size_t* work) {
  Masker masker(text);
  std::string out = masker.Run();
  if (work != nullptr) *work = masker.work();
  return out;
}

std::string MaskCredentials(absl::string_view text) { return MaskCredentials(text, nullptr); }

}  // namespace todoke
