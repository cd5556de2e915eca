// Redaction of Secret values and credentials from the text the applier passes on (object
// results, outcome messages, logs): the API server may echo an object's values in an error (a
// ValidatingAdmissionPolicy's messageExpression, a validation error quoting a field), and such
// text reaches conditions, events, history, logs and the CLI.
#ifndef TODOKE_SERVICES_APPLIER_CORE_SYNC_SECRET_REDACTOR_H_
#define TODOKE_SERVICES_APPLIER_CORE_SYNC_SECRET_REDACTOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::applier::sync {

// Values shorter than this are not redacted (they would hide ordinary words and numbers).
inline constexpr size_t kMinRedactedValueBytes = 4;

class SecretRedactor {
 public:
  // Adds the values of `object` when it is a v1 Secret (anything else adds nothing): every
  // `data` value as written (base64), as the server encodes it, and decoded when the bytes are
  // printable text; every `stringData` value and its base64 encoding. Each also in the forms a
  // quoted message shows it (JSON / Go %q escapes).
  void AddSecret(const Json& object);
  // Adds one value (nothing when shorter than kMinRedactedValueBytes).
  void AddValue(absl::string_view value);

  // `text` with every added value replaced by "***", then every "Bearer <token>" and JSON Web
  // Token (a service-account token: "eyJ....eyJ....sig"), then what MaskCredentials masks
  // (URL user information, credential-like query values, Authorization headers).
  std::string Redact(absl::string_view text) const;
  // The same status with its message redacted.
  absl::Status Redact(const absl::Status& status) const;

 private:
  std::vector<std::string> values_;  // longest first
};

}  // namespace todoke::applier::sync

#endif  // TODOKE_SERVICES_APPLIER_CORE_SYNC_SECRET_REDACTOR_H_
