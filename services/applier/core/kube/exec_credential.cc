#include "services/applier/core/kube/exec_credential.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "common/object.h"
#include "common/status.h"
#include "common/subprocess.h"

extern char** environ;

namespace todoke::applier::kube {
namespace {

constexpr size_t kMaxOutputBytes = 1 << 20;

std::string ExecInfo(const KubeConfig& config) {
  Json info = {{"apiVersion", config.exec.api_version},
               {"kind", "ExecCredential"},
               {"spec", {{"interactive", false}}}};
  if (config.exec.provide_cluster_info) {
    Json cluster = {{"server", config.server}};
    if (!config.ca_pem.empty()) {
      cluster["certificate-authority-data"] = absl::Base64Escape(config.ca_pem);
    }
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    info["spec"]["cluster"] = std::move(cluster);
  }
  return CanonicalJson(info);
}

// Output of the plugin: stdout, or an error naming the command.
absl::StatusOr<std::string> RunPlugin(const KubeConfig& config, absl::Time deadline) {
  const ExecCredentialConfig& exec = config.exec;
  const std::string where = absl::StrCat("exec credential plugin ", exec.command);
  std::vector<std::string> env_entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    bool overridden = absl::StartsWith(entry, "KUBERNETES_EXEC_INFO=");
    for (const auto& [name, value] : exec.env) {
      if (absl::StartsWith(entry, absl::StrCat(name, "="))) overridden = true;
    }
    if (!overridden) env_entries.emplace_back(entry);
  }
  for (const auto& [name, value] : exec.env) env_entries.push_back(absl::StrCat(name, "=", value));
  env_entries.push_back(absl::StrCat("KUBERNETES_EXEC_INFO=", ExecInfo(config)));

  SubprocessSpec spec;
  spec.argv.push_back(exec.command);
  spec.argv.insert(spec.argv.end(), exec.args.begin(), exec.args.end());
  spec.env = std::move(env_entries);
  spec.timeout = exec.timeout;
  spec.deadline = deadline;
  spec.max_stdout_bytes = kMaxOutputBytes;
  spec.stderr_tail_bytes = 0;  // discarded: it may hold a credential
  absl::StatusOr<SubprocessResult> run = RunSubprocess(spec);
  if (!run.ok()) {
    // RunSubprocess's messages name the command only, never its arguments or output.
    switch (run.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return absl::UnavailableError(absl::StrCat(where, ": no answer within its timeout (",
                                                   absl::FormatDuration(exec.timeout),
                                                   ") or the request's deadline"));
      case absl::StatusCode::kResourceExhausted:
        return absl::InternalError(absl::StrCat(where, ": output larger than 1 MiB"));
      default:
        return absl::UnavailableError(
            absl::StrCat(where, ": cannot start: ", run.status().message()));
    }
  }
  if (run->signal != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": killed by signal ", run->signal));
  }
  if (run->exit_code != 0) {
    if (run->exit_code == 127) {
      return absl::UnavailableError(absl::StrCat(where, ": command not found"));
    }
    return absl::UnavailableError(absl::StrCat(where, ": exited with status ", run->exit_code));
  }
  return std::move(run->stdout_data);
}

}  // namespace

absl::StatusOr<ExecCredential> RunExecCredentialPlugin(const KubeConfig& config,
                                                       absl::Time deadline) {
  if (!config.has_exec) return absl::InvalidArgumentError("no exec credential plugin configured");
  const std::string where = absl::StrCat("exec credential plugin ", config.exec.command);
  ASSIGN_OR_RETURN(std::string output, RunPlugin(config, deadline));
  absl::StatusOr<Json> parsed = ParseJson(output);
  // The output may hold a credential: never quote it.
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::InternalError(absl::StrCat(where, ": output is not a JSON object"));
  }
  const Json& cred = *parsed;
  auto kind = cred.find("kind");
  if (kind == cred.end() || *kind != "ExecCredential") {
    return absl::InternalError(absl::StrCat(where, ": output is not an ExecCredential"));
  }
  auto api_version = cred.find("apiVersion");
  if (api_version == cred.end() || *api_version != config.exec.api_version) {
    return absl::InternalError(
        absl::StrCat(where, ": output's apiVersion is not ", config.exec.api_version));
  }
  auto status = cred.find("status");
  if (status == cred.end() || !status->is_object()) {
    return absl::InternalError(absl::StrCat(where, ": ExecCredential has no status"));
  }
  ExecCredential out;
  auto str = [&](absl::string_view field) -> std::string {
    auto it = status->find(std::string(field));
    return it != status->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.token = str("token");
  out.client_cert_pem = str("clientCertificateData");
  out.client_key_pem = str("clientKeyData");
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    return absl::InternalError(absl::StrCat(
        where, ": ExecCredential has a client certificate without a key, or a key without one"));
  }
  if (out.token.empty() && out.client_cert_pem.empty()) {
    return absl::InternalError(
        absl::StrCat(where, ": ExecCredential has neither a token nor a client certificate"));
  }
  const std::string expiry = str("expirationTimestamp");
  if (!expiry.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, expiry, &out.expiry, &error)) {
      return absl::InternalError(
          absl::StrCat(where, ": expirationTimestamp \"", expiry, "\" is not RFC 3339"));
    }
  }
  return out;
}

}  // namespace todoke::applier::kube
