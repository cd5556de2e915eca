// Signing hydration commits the way `git commit -S` does, by running the signing program on the
// commit object's text (the buffer libgit2's git_commit_create_buffer makes); the signature goes
// into the commit's `gpgsig` header, so `git verify-commit` checks it.
//
//   ssh (git's gpg.format=ssh, the supported form): `ssh-keygen -Y sign -n git -f KEY`, the buffer
//       on stdin, the armored SSH signature on stdout. KEY is a private key file without a
//       passphrase (or a public key file whose private half an ssh-agent holds: SSH_AUTH_SOCK
//       is passed through). Verify with gpg.ssh.allowedSignersFile.
//   openpgp (git's default gpg.format): `gpg --status-fd=2 -bsau KEY`, KEY a key id or
//       fingerprint of the applier's keyring (GNUPGHOME is passed through), unprotected or
//       unlocked by a running gpg-agent.
//
// The program is run without a shell (posix_spawn), in its own process group, with the applier's
// environment, killed at the timeout or the call's deadline.
#ifndef TODOKE_SERVICES_APPLIER_CORE_GIT_COMMIT_SIGNER_H_
#define TODOKE_SERVICES_APPLIER_CORE_GIT_COMMIT_SIGNER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace todoke::applier {

enum class CommitSigningFormat { kSsh, kOpenPgp };

struct CommitSigning {
  // Empty: commits are not signed. ssh: a key file; openpgp: a key id or fingerprint.
  std::string key;
  CommitSigningFormat format = CommitSigningFormat::kSsh;
  // The signing program: empty = "ssh-keygen" (ssh) or "gpg" (openpgp), looked up in PATH.
  std::string program;
  // Bound of one signing run (the call's deadline bounds it too).
  absl::Duration timeout = absl::Seconds(30);
};

// "ssh" or "openpgp" to a format; INVALID_ARGUMENT naming the value otherwise.
absl::StatusOr<CommitSigningFormat> ParseCommitSigningFormat(absl::string_view name);

// Checks `signing` before any commit is made: for ssh, the key file exists and is a readable
// regular file. INVALID_ARGUMENT naming the key file otherwise. OK when signing is off.
absl::Status CheckCommitSigning(const CommitSigning& signing);

// The armored signature of `payload` (a commit object's text), without a trailing newline.
// FAILED_PRECONDITION naming the key (and the program's last stderr line) when the program
// cannot start, exits non-zero, prints nothing or is killed at the bound. Thread-safe.
absl::StatusOr<std::string> SignCommitPayload(const CommitSigning& signing,
                                              absl::string_view payload, absl::Time deadline);

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_COMMIT_SIGNER_H_
