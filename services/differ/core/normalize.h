// Normalisation applied before comparison: fields the API server or tools own, Secret
// stringData, and Secret value masking for every output.
#ifndef TODOKE_SERVICES_DIFFER_CORE_NORMALIZE_H_
#define TODOKE_SERVICES_DIFFER_CORE_NORMALIZE_H_

#include <string_view>

#include "common/json_tree.h"
#include "common/object.h"
#include "services/differ/core/json_pointer.h"

namespace todoke::differ {

// The annotation kubectl client-side apply writes.
inline constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

// Paths never compared nor shown: /status, /metadata/{managedFields, resourceVersion, uid,
// creationTimestamp, generation, selfLink}, the last-applied annotation, and todoke's own stamps
// (common/tracking.h: the annotation todoke.dev/tracking-id and the label todoke.dev/app). The
// applier adds the stamps to every object it applies, owned by its field manager, and the desired
// objects need not carry them: they are never drift, neither as values nor as fields todoke owns
// that desired no longer sets.
const PointerTrie& NormalizedAwayPaths();

// Removes NormalizedAwayPaths() from `object`, and metadata.annotations and metadata.labels if
// that leaves them empty: the object as outputs show it.
void RemoveNormalizedAwayPaths(Json& object);

// True for core/v1 Secrets.
bool IsSecret(const Json& object);
bool IsSecret(const JsonNode& object);

// For a Secret: merges `stringData` into `data` as base64 (stringData wins, as the API server
// does) and drops `stringData`. Non-string stringData values are left as they are (the server
// would reject them). No-op for other objects.
void NormalizeSecretStringData(Json& secret);

// Replaces the values of `data` (and any remaining `stringData`) in both Secrets with masks made
// of '+': per key, the first distinct value seen gets "++++++++", the next a mask four '+' longer,
// and so on (desired first, then live), so equal values get equal masks and different values
// different masks: comparing masked Secrets gives the same answer as comparing the originals.
// Every value is masked whatever its shape (a nested map or a list under a key is one value); a
// `data` or `stringData` that is not a map (a string, a list, a number) is masked whole. Either
// pointer may be null.
void MaskSecretValues(Json* desired, Json* live);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_NORMALIZE_H_
