// The JSON scanner behind ParseJson (nlohmann::json values) and ParseJsonNode (compact trees):
// one pass over the text that reports what it reads to a Handler, so both builders share one
// validating reader. Internal to common/; callers use json_parse.h or json_tree.h.
//
// Handler interface (each call returns void):
//   Null(); Bool(bool); Int(int64_t); Uint(uint64_t); Double(double);
//   String(std::string_view);  // a string value, unescaped; the view dies with the call
//   StartObject(); Key(std::string_view); EndObject(size_t members_read);
//   StartArray(); EndArray(size_t items_read);
// Numbers follow nlohmann::json::parse: integers without sign are unsigned, negative ones signed,
// fractional, exponent or out-of-range ones double.
#ifndef TODOKE_COMMON_JSON_READER_H_
#define TODOKE_COMMON_JSON_READER_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace todoke::json_internal {

inline constexpr int kMaxJsonDepth = 512;

template <typename Handler>
class JsonReader {
 public:
  // `scratch` holds strings with escapes while they are unescaped; a caller parsing many
  // documents passes the same one to keep its memory.
  JsonReader(std::string_view text, Handler& handler, std::string& scratch)
      : text_(text), handler_(handler), scratch_(scratch) {}

  // Reads one value surrounded by optional whitespace. INVALID_ARGUMENT naming the byte offset
  // for malformed JSON, invalid UTF-8, or nesting deeper than kMaxJsonDepth. After an error the
  // handler has seen an unfinished document.
  absl::Status Document() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark, as nlohmann
    SkipWhitespace();
    if (!Value(0)) return Error();
    SkipWhitespace();
    if (pos_ != text_.size()) {
      problem_ = "unexpected text after the value";
      return Error();
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error() const {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", pos_, ": ", problem_));
  }

  bool Fail(const char* problem) {
    problem_ = problem;
    return false;
  }

  void SkipWhitespace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool Value(int depth) {
    if (pos_ >= text_.size()) return Fail("unexpected end of input");
    switch (text_[pos_]) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"': {
        std::string_view value;
        if (!String(value)) return false;
        handler_.String(value);
        return true;
      }
      case 't':
        if (!Literal("true")) return false;
        handler_.Bool(true);
        return true;
      case 'f':
        if (!Literal("false")) return false;
        handler_.Bool(false);
        return true;
      case 'n':
        if (!Literal("null")) return false;
        handler_.Null();
        return true;
      default:
        return Number();
    }
  }

  bool Object(int depth) {
    if (depth > kMaxJsonDepth) return Fail("nesting too deep");
    ++pos_;  // '{'
    handler_.StartObject();
    SkipWhitespace();
    size_t members = 0;
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      handler_.EndObject(members);
      return true;
    }
    while (true) {  // at a key: whitespace before it is already skipped
      if (pos_ >= text_.size() || text_[pos_] != '"') return Fail("expected a string key");
      std::string_view key;
      if (!String(key)) return false;
      handler_.Key(key);
      SkipWhitespace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return Fail("expected ':'");
      ++pos_;
      SkipWhitespace();
      if (!Value(depth)) return false;
      ++members;
      SkipWhitespace();
      if (pos_ >= text_.size()) return Fail("unexpected end of input in an object");
      if (text_[pos_] == ',') {
        ++pos_;
        SkipWhitespace();
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        handler_.EndObject(members);
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool Array(int depth) {
    if (depth > kMaxJsonDepth) return Fail("nesting too deep");
    ++pos_;  // '['
    handler_.StartArray();
    SkipWhitespace();
    size_t items = 0;
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      handler_.EndArray(items);
      return true;
    }
    while (true) {  // at an item: whitespace before it is already skipped
      if (!Value(depth)) return false;
      ++items;
      SkipWhitespace();
      if (pos_ >= text_.size()) return Fail("unexpected end of input in an array");
      if (text_[pos_] == ',') {
        ++pos_;
        SkipWhitespace();
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        handler_.EndArray(items);
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(uint32_t& code) {
    if (pos_ + 4 > text_.size()) return Fail("truncated \\u escape");
    code = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = HexDigit(text_[pos_ + i]);
      if (digit < 0) return Fail("invalid \\u escape");
      code = code * 16 + static_cast<uint32_t>(digit);
    }
    pos_ += 4;
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string& out) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // Checks one multi-byte UTF-8 sequence starting at pos_ (common/utf8.h) and steps over it.
  bool Utf8Sequence() {
    const size_t length = Utf8SequenceLength(text_, pos_);
    if (length == 0) return Fail("invalid UTF-8");
    pos_ += length;
    return true;
  }

#if !defined(__SSE2__)
  // True if any of the 8 bytes at `p` ends or interrupts a run of a string: '"', '\\', a
  // control character or a non-ASCII byte (SWAR: each test sets a byte's high bit).
  static bool HasSpecialByte(const char* p) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHighs = 0x8080808080808080ULL;
    uint64_t v;
    std::memcpy(&v, p, 8);
    auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
    return ((zero_byte(v ^ (kOnes * '"')) | zero_byte(v ^ (kOnes * '\\')) |
             ((v - kOnes * 0x20) & ~v & kHighs) | (v & kHighs)) != 0);
  }
#endif

#if defined(__SSE2__)
  // How many of the 16 bytes at `p` come before the first byte that ends or interrupts a run of
  // a string: '"', '\\', a control character or a non-ASCII byte.
  static size_t OrdinaryPrefix16(const char* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')),
                                  _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
                     // A signed compare: below 0x20, and 0x80 and above (negative as signed bytes).
                     _mm_cmplt_epi8(bytes, _mm_set1_epi8(0x20)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
    return mask == 0 ? 16 : static_cast<size_t>(__builtin_ctz(mask));
  }
#endif

  // Reads a string starting at its opening quote. `out` views the text itself when the string
  // holds no escape (the common case), else the reader's scratch buffer; valid until the next
  // String call.
  bool String(std::string_view& out) {
    ++pos_;  // opening quote
    const size_t start = pos_;
    bool escaped = false;  // once true, the string so far is in scratch_
    while (true) {
      // Step over the run of ordinary characters, many bytes at a time.
      size_t run = pos_;
      bool special_found = false;  // run is at a special byte
#if defined(__SSE2__)
      while (run + 16 <= text_.size()) {
        const size_t ordinary = OrdinaryPrefix16(text_.data() + run);
        run += ordinary;
        if (ordinary < 16) {
          special_found = true;
          break;
        }
      }
#else
      while (run + 8 <= text_.size() && !HasSpecialByte(text_.data() + run)) run += 8;
#endif
      while (!special_found && run < text_.size()) {
        const unsigned char c = static_cast<unsigned char>(text_[run]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++run;
      }
      if (escaped) scratch_.append(text_.data() + pos_, run - pos_);
      pos_ = run;
      if (pos_ >= text_.size()) return Fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        out = escaped ? std::string_view(scratch_) : text_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string");
      if (c >= 0x80) {
        const size_t sequence_start = pos_;
        if (!Utf8Sequence()) return false;
        if (escaped) scratch_.append(text_.data() + sequence_start, pos_ - sequence_start);
        continue;
      }
      // Backslash escape: from here on the string is built in scratch_.
      if (!escaped) {
        scratch_.assign(text_.data() + start, pos_ - start);
        escaped = true;
      }
      if (++pos_ >= text_.size()) return Fail("unterminated escape");
      const char escape = text_[pos_++];
      switch (escape) {
        case '"':
          scratch_.push_back('"');
          break;
        case '\\':
          scratch_.push_back('\\');
          break;
        case '/':
          scratch_.push_back('/');
          break;
        case 'b':
          scratch_.push_back('\b');
          break;
        case 'f':
          scratch_.push_back('\f');
          break;
        case 'n':
          scratch_.push_back('\n');
          break;
        case 'r':
          scratch_.push_back('\r');
          break;
        case 't':
          scratch_.push_back('\t');
          break;
        case 'u': {
          uint32_t code;
          if (!Hex4(code)) return false;
          if (code >= 0xD800 && code <= 0xDBFF) {
            uint32_t low;
            if (text_.substr(pos_, 2) != "\\u" || (pos_ += 2, !Hex4(low)) || low < 0xDC00 ||
                low > 0xDFFF) {
              return Fail("unpaired UTF-16 surrogate");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return Fail("unpaired UTF-16 surrogate");
          }
          AppendUtf8(code, scratch_);
          break;
        }
        default:
          return Fail("invalid escape");
      }
    }
  }

  bool Number() {
    const size_t start = pos_;
    bool negative = false;
    if (text_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    const size_t int_start = pos_;
    const size_t int_digits = digits();
    if (int_digits == 0) return Fail("invalid value");
    if (int_digits > 1 && text_[int_start] == '0') return Fail("leading zero in a number");
    bool integral = true;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Fail("expected digits after '.'");
      integral = false;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Fail("expected digits in the exponent");
      integral = false;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      if (negative) {
        int64_t value;
        if (std::from_chars(first, last, value).ec == std::errc()) {
          handler_.Int(value);
          return true;
        }
      } else {
        uint64_t value;
        if (std::from_chars(first, last, value).ec == std::errc()) {
          handler_.Uint(value);
          return true;
        }
      }
    }
    // Fractions, exponents and integers out of 64-bit range are doubles, as in nlohmann.
    double value = 0;
    const std::from_chars_result parsed = std::from_chars(first, last, value);
    if (parsed.ec == std::errc::result_out_of_range) {
      // Underflow reads as 0 or a denormal (as strtod gives nlohmann); overflow is refused.
      value = std::strtod(std::string(first, last).c_str(), nullptr);
    } else if (parsed.ec != std::errc() || parsed.ptr != last) {
      return Fail("invalid number");
    }
    if (!std::isfinite(value)) return Fail("number out of range");
    handler_.Double(value);
    return true;
  }

  std::string_view text_;
  Handler& handler_;
  size_t pos_ = 0;
  const char* problem_ = "";
  std::string& scratch_;
};

}  // namespace todoke::json_internal

#endif  // TODOKE_COMMON_JSON_READER_H_
