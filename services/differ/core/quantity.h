// Kubernetes resource quantities ("500m", "1Gi", "1e3"), compared by value the way the API server
// canonicalises them: "1000m" and "1" are the same quantity, "1Gi" and "1024Mi" too.
#ifndef TODOKE_SERVICES_DIFFER_CORE_QUANTITY_H_
#define TODOKE_SERVICES_DIFFER_CORE_QUANTITY_H_

#include <optional>
#include <string_view>

#include "common/json_tree.h"

namespace todoke::differ {

// An exact quantity: sign * mantissa * 2^exponent2 * 5^exponent5 * remainder, where `remainder`
// has no factor 2 or 5. Two quantities are equal iff all fields are equal.
struct Quantity {
  bool negative = false;
  unsigned __int128 remainder = 0;  // 0 for the zero quantity (other fields then 0 too)
  int exponent2 = 0;
  int exponent5 = 0;

  friend bool operator==(const Quantity&, const Quantity&) = default;
};

// Parses the Kubernetes quantity grammar: <signedNumber><suffix> where suffix is one of
// n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei, or e<int>/E<int>. Returns nullopt for anything
// else, including mantissas too long to represent exactly (more than 38 digits).
std::optional<Quantity> ParseQuantity(std::string_view text);

// True if `a` and `b` (JSON strings or numbers) are the same quantity. False when either does not
// parse as a quantity.
bool QuantitiesEqual(const JsonNode& a, const JsonNode& b);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_QUANTITY_H_
