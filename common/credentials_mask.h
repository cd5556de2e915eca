// Masking of credentials in text meant for a log, an error, an event or a condition.
#ifndef TODOKE_COMMON_CREDENTIALS_MASK_H_
#define TODOKE_COMMON_CREDENTIALS_MASK_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace todoke {

// Returns `text` fit for a log or an error, each secret replaced by "***":
//  - the user information of every "scheme://userinfo@host" (a token is often the whole
//    userinfo: "https://ghp_x@host", "https://user:pass@host", "ssh://git@host"): everything
//    from "://" to the last '@' before the authority ends (at a '/', a delimiter such as a space
//    or a quote, or the next "://");
//  - the user of every scp-like address "user@host:path";
//  - the value of every query parameter whose name looks like a credential (contains token,
//    pass, pwd, secret, key, sig, credential, auth, session, jwt, bearer, cookie or code, in
//    any case: "?access_token=", "&password=", ";X-Amz-Signature=", "private_token=", ...), up
//    to the next '&', ';', '#' or delimiter. A '/' does not end it, also in a URL without a
//    path: "https://h?token=a/b" becomes "https://h?token=***/***" (the '/' where the authority
//    ended is kept, so that masking again reads the same authority);
//  - every "Authorization:" / "Proxy-Authorization:" header value, up to the end of the line.
// URL-encoded structure counts as well ("%3Ftoken%3D...", "https%3A%2F%2Fu%3Ap%40host").
//
// One left-to-right pass: time and output size are linear in the text's size, and the result
// is a fixed point (MaskCredentials(MaskCredentials(x)) == MaskCredentials(x)): "***" never
// uncovers anything, and masked text never moves the boundaries the rules look at.
std::string MaskCredentials(absl::string_view text);

// As above; `*work` receives the number of symbols the pass examined, lookahead included (at
// most a small constant times text.size(): tests check that the pass is linear).
std::string MaskCredentials(absl::string_view text, size_t* work);

}  // namespace todoke

#endif  // TODOKE_COMMON_CREDENTIALS_MASK_H_
