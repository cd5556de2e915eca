#include "services/differ/core/quantity.h"

#include <cstdio>
#include <string>

namespace todoke::differ {
namespace {

using Uint128 = unsigned __int128;

// Multiplies by 10 unless that would overflow.
bool MultiplyBy10(Uint128& value) {
  constexpr Uint128 kMax = ~Uint128{0};
  if (value > kMax / 10) return false;
  value *= 10;
  return true;
}

bool ParseSignedExponent(std::string_view text, int& out) {
  if (text.empty()) return false;
  bool negative = false;
  if (text.front() == '+' || text.front() == '-') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 6) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = negative ? -value : value;
  return true;
}

}  // namespace

std::optional<Quantity> ParseQuantity(std::string_view text) {
  Quantity quantity;
  size_t pos = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    quantity.negative = text[pos] == '-';
    ++pos;
  }
  Uint128 mantissa = 0;
  int exponent10 = 0;
  int digits = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (mantissa == 0 && c == '0') {
        if (seen_point) --exponent10;
        continue;
      }
      if (++digits > 38 || !MultiplyBy10(mantissa)) return std::nullopt;
      mantissa += static_cast<unsigned>(c - '0');
      if (seen_point) --exponent10;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return std::nullopt;
  const std::string_view suffix = text.substr(pos);
  int exponent2 = 0;
  if (suffix.empty()) {
  } else if (suffix == "n") {
    exponent10 -= 9;
  } else if (suffix == "u") {
    exponent10 -= 6;
  } else if (suffix == "m") {
    exponent10 -= 3;
  } else if (suffix == "k") {
    exponent10 += 3;
  } else if (suffix == "M") {
    exponent10 += 6;
  } else if (suffix == "G") {
    exponent10 += 9;
  } else if (suffix == "T") {
    exponent10 += 12;
  } else if (suffix == "P") {
    exponent10 += 15;
  } else if (suffix == "E") {
    exponent10 += 18;
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    constexpr std::string_view kBinary = "KMGTPE";
    const size_t index = kBinary.find(suffix[0]);
    if (index == std::string_view::npos) return std::nullopt;
    exponent2 = 10 * static_cast<int>(index + 1);
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    int exponent = 0;
    if (!ParseSignedExponent(suffix.substr(1), exponent)) return std::nullopt;
    exponent10 += exponent;
  } else {
    return std::nullopt;
  }
  if (mantissa == 0) return Quantity{};  // every spelling of zero is the same quantity
  quantity.exponent2 = exponent2 + exponent10;
  quantity.exponent5 = exponent10;
  while (mantissa % 2 == 0) {
    mantissa /= 2;
    ++quantity.exponent2;
  }
  while (mantissa % 5 == 0) {
    mantissa /= 5;
    ++quantity.exponent5;
  }
  quantity.remainder = mantissa;
  return quantity;
}

bool QuantitiesEqual(const JsonNode& a, const JsonNode& b) {
  auto as_quantity = [](const JsonNode& value) -> std::optional<Quantity> {
    switch (value.type()) {
      case JsonNode::Type::kString:
        return ParseQuantity(value.string());
      case JsonNode::Type::kInt:
        return ParseQuantity(std::to_string(value.int_value()));
      case JsonNode::Type::kUint:
        return ParseQuantity(std::to_string(value.uint_value()));
      case JsonNode::Type::kDouble: {
        char buffer[64];
        std::snprintf(buffer, sizeof(buffer), "%.15g", value.double_value());
        return ParseQuantity(buffer);
      }
      default:
        return std::nullopt;
    }
  };
  const std::optional<Quantity> left = as_quantity(a);
  if (!left) return false;
  const std::optional<Quantity> right = as_quantity(b);
  return right && *left == *right;
}

}  // namespace todoke::differ
