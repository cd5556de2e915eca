#include "services/applier/core/git/commit_signer.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/subprocess.h"

namespace todoke::applier {
namespace {

constexpr size_t kMaxSignatureBytes = 64 << 10;
constexpr size_t kStderrTailBytes = 2048;

std::string ProgramOf(const CommitSigning& signing) {
  if (!signing.program.empty()) return signing.program;
  return signing.format == CommitSigningFormat::kSsh ? "ssh-keygen" : "gpg";
}

// The last non-empty line of a program's stderr, for an error message.
std::string LastLine(const std::string& text) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(text, absl::ByAnyChar("\r\n"), absl::SkipWhitespace());
  if (lines.empty()) return "";
  std::string line(absl::StripAsciiWhitespace(lines.back()));
  if (line.size() > 300) line.resize(300);
  return line;
}

}  // namespace

absl::StatusOr<CommitSigningFormat> ParseCommitSigningFormat(absl::string_view name) {
  if (name == "ssh") return CommitSigningFormat::kSsh;
  if (name == "openpgp" || name == "gpg") return CommitSigningFormat::kOpenPgp;
  return absl::InvalidArgumentError(
      absl::StrCat("commit signing format \"", name, "\" is neither ssh nor openpgp"));
}

absl::Status CheckCommitSigning(const CommitSigning& signing) {
  if (signing.key.empty()) return absl::OkStatus();
  if (signing.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("commit signing: the timeout must be positive");
  }
  if (signing.format != CommitSigningFormat::kSsh) return absl::OkStatus();
  struct stat st;
  if (stat(signing.key.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": ", strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": not a regular file"));
  }
  if (access(signing.key.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignCommitPayload(const CommitSigning& signing,
                                              absl::string_view payload, absl::Time deadline) {
  const std::string program = ProgramOf(signing);
  const bool ssh = signing.format == CommitSigningFormat::kSsh;
  const std::string where =
      absl::StrCat("signing the commit with ", ssh ? "SSH key " : "OpenPGP key ", signing.key);
  std::vector<std::string> args =
      ssh ? std::vector<std::string>{program, "-Y", "sign", "-n", "git", "-f", signing.key}
          : std::vector<std::string>{program, "--status-fd=2", "-bsau", signing.key};
  SubprocessSpec spec;
  spec.argv = std::move(args);  // the applier's environment (SSH_AUTH_SOCK, GNUPGHOME)
  spec.stdin_data = std::string(payload);
  spec.timeout = signing.timeout;
  spec.deadline = deadline;
  spec.max_stdout_bytes = kMaxSignatureBytes;
  spec.stderr_tail_bytes = kStderrTailBytes;
  absl::StatusOr<SubprocessResult> run = RunSubprocess(spec);
  if (!run.ok()) {
    switch (run.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": ", program, " gave no answer in time (killed)"));
      case absl::StatusCode::kResourceExhausted:
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": ", program, " printed more than 64 KiB (killed)"));
      default:  // not found, cannot start: the message names the program
        return absl::FailedPreconditionError(absl::StrCat(where, ": ", run.status().message()));
    }
  }
  if (run->exit_code != 0) {
    const std::string why = run->signal != 0 ? absl::StrCat("killed by signal ", run->signal)
                                             : absl::StrCat("exited with status ", run->exit_code);
    const std::string last = LastLine(run->stderr_tail);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", program, " ", why, last.empty() ? "" : ": ", last));
  }
  std::string signature = std::move(run->stdout_data);
  while (!signature.empty() && (signature.back() == '\n' || signature.back() == '\r')) {
    signature.pop_back();
  }
  const char* begin = ssh ? "-----BEGIN SSH SIGNATURE-----" : "-----BEGIN PGP SIGNATURE-----";
  if (signature.find(begin) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", program, " printed no ", ssh ? "SSH" : "PGP", " signature"));
  }
  return signature;
}

}  // namespace todoke::applier
