// Variable substitution after build, as Flux's Kustomization postBuild.substitute does.
#ifndef TODOKE_SERVICES_RENDERER_CORE_SUBSTITUTION_H_
#define TODOKE_SERVICES_RENDERER_CORE_SUBSTITUTION_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::renderer {

using Variables = std::map<std::string, std::string, std::less<>>;

struct SubstitutionOptions {
  // A reference to an unset variable without a default is an error (Flux's strict mode);
  // otherwise it becomes "".
  bool strict = false;
};

// Expands in `text`: `${VAR}`; `${VAR:=default}` and `${VAR:-default}` (default when unset or
// empty); `${VAR=default}` and `${VAR-default}` (default when unset); `${VAR:+alt}` (alt when
// set and non-empty). Defaults may hold references. `$${` escapes: it gives a literal `${`.
// `$VAR` without braces and a lone `$` stay as they are. INVALID_ARGUMENT for an unterminated
// `${`, a bad variable name, or (strict) an unset variable.
absl::StatusOr<std::string> SubstituteVariables(absl::string_view text, const Variables& variables,
                                                const SubstitutionOptions& options = {});

// Substitutes in every object, as Flux does: the object is printed as YAML, the text expanded,
// and the result parsed again (so `replicas: ${N}` becomes a number). Objects annotated or
// labelled `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone. Variable names
// must match [_a-zA-Z][_a-zA-Z0-9]*. Errors name the object.
absl::Status SubstituteInObjects(std::vector<Json>& objects, const Variables& variables,
                                 const SubstitutionOptions& options = {});

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_SUBSTITUTION_H_
