#include "services/applier/core/kube/exec_credential.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "common/object.h"
#include "common/status.h"

extern char** environ;

namespace todoke::applier::kube {
namespace {

constexpr size_t kMaxOutputBytes = 1 << 20;

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

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

  std::vector<char*> argv, envp;
  argv.push_back(const_cast<char*>(exec.command.c_str()));
  for (const std::string& arg : exec.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (std::string& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot create a pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const bool search_path = exec.command.find('/') == std::string::npos;
  const int spawn_error =
      search_path
          ? posix_spawnp(&pid, exec.command.c_str(), &actions, &attr, argv.data(), envp.data())
          : posix_spawn(&pid, exec.command.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  CloseIfOpen(out_pipe[1]);
  if (spawn_error != 0) {
    CloseIfOpen(out_pipe[0]);
    return absl::UnavailableError(absl::StrCat(where, ": cannot start: ", strerror(spawn_error)));
  }

  const absl::Time stop = std::min(deadline, absl::Now() + exec.timeout);
  std::string output;
  absl::Status failure;
  char buffer[16384];
  while (out_pipe[0] >= 0) {
    const absl::Duration left = stop - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::UnavailableError(absl::StrCat(where, ": no answer within its timeout (",
                                                    absl::FormatDuration(exec.timeout),
                                                    ") or the request's deadline"));
      break;
    }
    pollfd p = {out_pipe[0], POLLIN, 0};
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(&p, 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = absl::UnavailableError(absl::StrCat(where, ": poll: ", strerror(errno)));
      break;
    }
    if (ready == 0) continue;
    const ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      CloseIfOpen(out_pipe[0]);
      break;
    }
    output.append(buffer, static_cast<size_t>(n));
    if (output.size() > kMaxOutputBytes) {
      failure = absl::InternalError(absl::StrCat(where, ": output larger than 1 MiB"));
      break;
    }
  }
  CloseIfOpen(out_pipe[0]);
  if (!failure.ok()) kill(-pid, SIGKILL);
  int status = 0;
  // The plugin closed stdout; give it until `stop` to exit, then kill its group.
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (absl::Now() >= stop) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (failure.ok()) {
        failure = absl::UnavailableError(absl::StrCat(where, ": did not exit in time"));
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  RETURN_IF_ERROR(failure);
  if (WIFSIGNALED(status)) {
    return absl::UnavailableError(absl::StrCat(where, ": killed by signal ", WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 127) {
      return absl::UnavailableError(absl::StrCat(where, ": command not found"));
    }
    return absl::UnavailableError(absl::StrCat(where, ": exited with status ", code));
  }
  return output;
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
