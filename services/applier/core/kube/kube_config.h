// How to reach and authenticate to one Kubernetes API server: a kubeconfig context or the
// in-cluster service account, resolved into a KubeConfig that KubeClient (kube_client.h) uses.
//
// Loading resolves every file a kubeconfig names (relative to the kubeconfig's folder) and
// decodes every -data field, except the token file (re-read by the client whenever it changes,
// so a rotated service-account token is picked up) and exec plugins (run by the client when a
// credential is needed, cached until it expires).
//
// Credentials (tokens, passwords, client keys, exec output) never appear in an error message or
// a log line; errors name the file, the context and the field instead.
#ifndef TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CONFIG_H_
#define TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace todoke::applier::kube {

// An exec credential plugin (users[].user.exec), run as kubectl runs it: the command with its
// args and env (added to the applier's environment), no shell, KUBERNETES_EXEC_INFO set, stdin
// not connected. Its stdout must be an ExecCredential (client.authentication.k8s.io/v1 or
// v1beta1) whose status carries `token`, or `clientCertificateData` and `clientKeyData`, and
// optionally `expirationTimestamp` (RFC 3339).
struct ExecCredentialConfig {
  // As written in the kubeconfig; a path with a '/' that is not absolute is resolved against
  // the kubeconfig's folder, a bare name is looked up in PATH.
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  // "client.authentication.k8s.io/v1" (default) or ".../v1beta1".
  std::string api_version = "client.authentication.k8s.io/v1";
  // Passes the cluster (server, CA, insecure flag) in KUBERNETES_EXEC_INFO.
  bool provide_cluster_info = false;
  // The plugin is killed and the request fails UNAVAILABLE after this long.
  absl::Duration timeout = absl::Seconds(30);
};

struct KubeConfig {
  // "https://host:port" (a path prefix is kept; no trailing '/'). "http://" only for tests.
  std::string server;
  // PEM bundle of the CAs that may sign the server's certificate (certificate-authority file or
  // certificate-authority-data). Empty: the system's CA store.
  std::string ca_pem;
  // tls-server-name: the name the server's certificate must carry (and sent as SNI) when it is
  // not the host of `server`, e.g. a server given by IP. Empty: the host of `server`.
  std::string tls_server_name;
  // insecure-skip-tls-verify: no verification of the server's certificate or name. Verification
  // is on unless the kubeconfig says this.
  bool insecure_skip_tls_verify = false;
  // Static bearer token (user.token). Wins over token_file, as in client-go.
  std::string token;
  // user.tokenFile, or the service-account token in-cluster: absolute path, read by the client
  // before the first request and again whenever its modification time or size changes.
  std::string token_file;
  // Client certificate and key in PEM (client-certificate / -key files or -data).
  std::string client_cert_pem;
  std::string client_key_pem;
  // Basic auth (user.username / user.password), rarely used.
  std::string username;
  std::string password;
  // users[].user.exec, when present (has_exec).
  bool has_exec = false;
  ExecCredentialConfig exec;
  // The context's namespace (in-cluster: the service account's). Empty when not set; the client
  // never applies it on its own.
  std::string ns;
  // "kubeconfig /path context ctx" or "in-cluster": where this came from, for messages.
  std::string source;
};

// Reads the kubeconfig file `path` and resolves `context` (empty: its current-context).
// INVALID_ARGUMENT naming the file and the context when the file cannot be read or parsed, the
// context (or its cluster or user) is missing, a field has the wrong type, base64 data does not
// decode, a referenced file cannot be read, the user uses an auth-provider (unsupported: use
// exec), or the cluster has no server.
absl::StatusOr<KubeConfig> LoadKubeconfig(absl::string_view path, absl::string_view context);

// Same, from kubeconfig text; `path` is used for messages and to resolve relative file paths.
absl::StatusOr<KubeConfig> ParseKubeconfig(absl::string_view text, absl::string_view path,
                                           absl::string_view context);

// The names of the contexts in the kubeconfig file `path` and its current-context
// (INVALID_ARGUMENT as LoadKubeconfig).
struct KubeconfigContexts {
  std::vector<std::string> names;
  std::string current;
};
absl::StatusOr<KubeconfigContexts> ListKubeconfigContexts(absl::string_view path);

inline constexpr absl::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

// The in-cluster config: server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
// (IPv6 hosts bracketed), CA from `service_account_dir`/ca.crt, token_file
// `service_account_dir`/token (re-read on rotation), ns from `service_account_dir`/namespace
// (optional). FAILED_PRECONDITION when the variables are unset or the token or CA is missing.
absl::StatusOr<KubeConfig> InClusterConfig(
    absl::string_view service_account_dir = kServiceAccountDir);

}  // namespace todoke::applier::kube

#endif  // TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CONFIG_H_
