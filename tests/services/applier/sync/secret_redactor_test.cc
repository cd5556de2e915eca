// SecretRedactor: a Secret's values, in every form an API server error may quote them, and the
// destination's credentials never survive in a message; the rest of the message does.
#include "services/applier/core/sync/secret_redactor.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::applier::sync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Json Secret(const std::string& data_value, const std::string& string_data_value) {
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "db"}}},
                 {"data", {{"token", absl::Base64Escape(data_value)}, {"short", "YWI="}}},
                 {"stringData", {{"password", string_data_value}}}};
  return secret;
}

TEST(SecretRedactorTest, RedactsEveryFormOfASecretsValues) {
  SecretRedactor redactor;
  redactor.AddSecret(Secret("canary-data-1", "canary \"quoted\"\nline-two-of-it"));
  const std::string message = absl::StrCat(
      "secrets \"db\" is forbidden: ValidatingAdmissionPolicy 'deny' with binding 'deny' denied "
      "request: token canary-data-1 (",
      absl::Base64Escape("canary-data-1"),
      "), password \"canary \\\"quoted\\\"\\nline-two-of-it\" (",
      absl::Base64Escape("canary \"quoted\"\nline-two-of-it"), "), line-two-of-it, ab");
  const std::string redacted = redactor.Redact(message);
  EXPECT_THAT(redacted, Not(HasSubstr("canary")));
  EXPECT_THAT(redacted, Not(HasSubstr(absl::Base64Escape("canary-data-1"))));
  EXPECT_THAT(redacted, Not(HasSubstr("line-two-of-it")));
  // The object and the policy are still named; values under 4 bytes ("ab") are kept.
  EXPECT_THAT(redacted, HasSubstr("secrets \"db\" is forbidden: ValidatingAdmissionPolicy 'deny'"));
  EXPECT_THAT(redacted, HasSubstr(", ab"));
}

TEST(SecretRedactorTest, OnlySecretsAddValues) {
  SecretRedactor redactor;
  Json config_map = Secret("canary-data-1", "canary-string-1");
  config_map["kind"] = "ConfigMap";
  redactor.AddSecret(config_map);
  EXPECT_EQ(redactor.Redact("canary-data-1 canary-string-1"), "canary-data-1 canary-string-1");
}

TEST(SecretRedactorTest, RedactsBearerTokensJwtsAndTheDestinationsCredentials) {
  SecretRedactor redactor;
  redactor.AddValue("static-destination-token-42");
  EXPECT_EQ(redactor.Redact("token static-destination-token-42 refused"), "token *** refused");
  EXPECT_EQ(redactor.Redact("sent Authorization: Bearer abc.def\nnext"),
            "sent Authorization: ***\nnext");
  EXPECT_EQ(redactor.Redact("header bearer sometoken123 rejected"), "header bearer *** rejected");
  EXPECT_EQ(redactor.Redact("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl expired"),
            "jwt *** expired");
  EXPECT_EQ(redactor.Redact("https://user:pw@h/x?access_token=t"),
            "https://***@h/x?access_token=***");
  EXPECT_EQ(redactor.Redact("nothing to hide"), "nothing to hide");
}

}  // namespace
}  // namespace todoke::applier::sync
