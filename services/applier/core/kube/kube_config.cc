#include "services/applier/core/kube/kube_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/object.h"
#include "common/status.h"
#include "common/yaml.h"

namespace todoke::applier::kube {
namespace {

// Kubeconfigs are small; anything larger is not one.
constexpr size_t kMaxConfigBytes = 4 << 20;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  std::string text = std::move(out).str();
  if (text.size() > kMaxConfigBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is larger than 4 MiB"));
  }
  return text;
}

// Reads kubeconfig fields with a prefix naming the file and context in every error.
class Reader {
 public:
  Reader(absl::string_view path, absl::string_view context) : path_(path), context_(context) {
    std::filesystem::path p(path_);
    dir_ = p.has_parent_path() ? p.parent_path().string() : std::string();
  }

  std::string Where() const {
    std::string where = absl::StrCat("kubeconfig ", path_.empty() ? "<text>" : path_);
    if (!context_.empty()) absl::StrAppend(&where, " context \"", context_, "\"");
    return where;
  }
  void set_context(absl::string_view context) { context_ = std::string(context); }

  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": ", message));
  }

  // A string field; absent or null gives "".
  absl::StatusOr<std::string> String(const Json& object, absl::string_view field,
                                     absl::string_view what) const {
    auto it = object.find(std::string(field));
    if (it == object.end() || it->is_null()) return std::string();
    if (!it->is_string()) {
      return Error(absl::StrCat(what, ".", field, " must be a string"));
    }
    return it->get<std::string>();
  }

  absl::StatusOr<bool> Bool(const Json& object, absl::string_view field,
                            absl::string_view what) const {
    auto it = object.find(std::string(field));
    if (it == object.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    return Error(absl::StrCat(what, ".", field, " must be a boolean"));
  }

  // `path` relative to the kubeconfig's folder.
  std::string Resolve(const std::string& file) const {
    if (file.empty() || std::filesystem::path(file).is_absolute() || dir_.empty()) return file;
    return (std::filesystem::path(dir_) / file).lexically_normal().string();
  }

  // The PEM from `<field>-data` (base64), else the file `<field>`. Never echoes the content.
  absl::StatusOr<std::string> PemFrom(const Json& object, absl::string_view field,
                                      absl::string_view what) const {
    ASSIGN_OR_RETURN(std::string data, String(object, absl::StrCat(field, "-data"), what));
    if (!data.empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(data, &decoded)) {
        return Error(absl::StrCat(what, ".", field, "-data is not valid base64"));
      }
      return decoded;
    }
    ASSIGN_OR_RETURN(std::string file, String(object, field, what));
    if (file.empty()) return std::string();
    std::string resolved = Resolve(file);
    absl::StatusOr<std::string> content = ReadWholeFile(resolved);
    if (!content.ok()) {
      return Error(absl::StrCat(what, ".", field, ": ", content.status().message()));
    }
    return *std::move(content);
  }

  // The entry of the named list (clusters, users, contexts) called `name`.
  absl::StatusOr<const Json*> Named(const Json& config, absl::string_view list,
                                    absl::string_view name, absl::string_view member) const {
    auto it = config.find(std::string(list));
    if (it != config.end() && !it->is_null() && !it->is_array()) {
      return Error(absl::StrCat(list, " must be a list"));
    }
    if (it != config.end() && it->is_array()) {
      for (const Json& entry : *it) {
        if (!entry.is_object()) return Error(absl::StrCat(list, " entries must be mappings"));
        auto n = entry.find("name");
        if (n == entry.end() || !n->is_string() || n->get_ref<const std::string&>() != name)
          continue;
        auto m = entry.find(std::string(member));
        if (m == entry.end() || m->is_null()) return &kEmptyObject;
        if (!m->is_object()) {
          return Error(absl::StrCat(list, " entry \"", name, "\": ", member, " must be a mapping"));
        }
        return &*m;
      }
    }
    return Error(absl::StrCat(member, " \"", name, "\" not found in ", list));
  }

  const std::string& path() const { return path_; }

 private:
  static const Json kEmptyObject;
  std::string path_;
  std::string context_;
  std::string dir_;
};

const Json Reader::kEmptyObject = Json::object();

absl::StatusOr<Json> ParseConfigText(absl::string_view text, Reader& reader) {
  // Errors from the YAML wrapper name line and column only, never the content.
  absl::StatusOr<Json> config = ParseYaml(text, reader.path());
  if (!config.ok()) {
    return reader.Error(absl::StrCat("does not parse: ", config.status().message()));
  }
  if (config->is_null()) return Json::object();
  if (!config->is_object()) return reader.Error("is not a mapping");
  return *std::move(config);
}

absl::Status ReadExec(const Json& exec, const Reader& r, KubeConfig& out) {
  constexpr absl::string_view kWhat = "user.exec";
  out.has_exec = true;
  ExecCredentialConfig& e = out.exec;
  ASSIGN_OR_RETURN(e.command, r.String(exec, "command", kWhat));
  if (e.command.empty()) return r.Error("user.exec.command is empty");
  if (e.command.find('/') != std::string::npos) e.command = r.Resolve(e.command);
  ASSIGN_OR_RETURN(std::string api_version, r.String(exec, "apiVersion", kWhat));
  if (!api_version.empty()) {
    if (api_version != "client.authentication.k8s.io/v1" &&
        api_version != "client.authentication.k8s.io/v1beta1") {
      return r.Error(absl::StrCat("user.exec.apiVersion \"", api_version,
                                  "\" is not supported (client.authentication.k8s.io/v1 or "
                                  "v1beta1)"));
    }
    e.api_version = api_version;
  }
  auto args = exec.find("args");
  if (args != exec.end() && !args->is_null()) {
    if (!args->is_array()) return r.Error("user.exec.args must be a list");
    for (const Json& a : *args) {
      if (!a.is_string()) return r.Error("user.exec.args must be strings");
      e.args.push_back(a.get<std::string>());
    }
  }
  auto env = exec.find("env");
  if (env != exec.end() && !env->is_null()) {
    if (!env->is_array()) return r.Error("user.exec.env must be a list");
    for (const Json& v : *env) {
      if (!v.is_object()) return r.Error("user.exec.env entries must be mappings");
      ASSIGN_OR_RETURN(std::string name, r.String(v, "name", "user.exec.env"));
      ASSIGN_OR_RETURN(std::string value, r.String(v, "value", "user.exec.env"));
      if (name.empty() || name.find('=') != std::string::npos) {
        return r.Error("user.exec.env entry has an empty or invalid name");
      }
      e.env.emplace_back(std::move(name), std::move(value));
    }
  }
  ASSIGN_OR_RETURN(e.provide_cluster_info, r.Bool(exec, "provideClusterInfo", kWhat));
  ASSIGN_OR_RETURN(std::string mode, r.String(exec, "interactiveMode", kWhat));
  if (mode == "Always") {
    return r.Error("user.exec.interactiveMode Always needs a terminal, which the applier has not");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KubeConfig> ParseKubeconfig(absl::string_view text, absl::string_view path,
                                           absl::string_view context) {
  Reader r(path, context);
  ASSIGN_OR_RETURN(Json config, ParseConfigText(text, r));

  std::string name(context);
  if (name.empty()) {
    ASSIGN_OR_RETURN(name, r.String(config, "current-context", "kubeconfig"));
    if (name.empty()) return r.Error("no context given and no current-context set");
    r.set_context(name);
  }
  ASSIGN_OR_RETURN(const Json* ctx, r.Named(config, "contexts", name, "context"));
  ASSIGN_OR_RETURN(std::string cluster_name, r.String(*ctx, "cluster", "context"));
  ASSIGN_OR_RETURN(std::string user_name, r.String(*ctx, "user", "context"));
  KubeConfig out;
  ASSIGN_OR_RETURN(out.ns, r.String(*ctx, "namespace", "context"));
  if (cluster_name.empty()) return r.Error("context names no cluster");
  ASSIGN_OR_RETURN(const Json* cluster, r.Named(config, "clusters", cluster_name, "cluster"));

  ASSIGN_OR_RETURN(out.server, r.String(*cluster, "server", "cluster"));
  if (out.server.empty())
    return r.Error(absl::StrCat("cluster \"", cluster_name, "\" has no server"));
  while (absl::EndsWith(out.server, "/")) out.server.pop_back();
  if (!absl::StartsWith(out.server, "https://") && !absl::StartsWith(out.server, "http://")) {
    return r.Error(absl::StrCat("cluster \"", cluster_name, "\" server ",
                                MaskCredentials(out.server), " is not an http(s) URL"));
  }
  ASSIGN_OR_RETURN(out.ca_pem, r.PemFrom(*cluster, "certificate-authority", "cluster"));
  ASSIGN_OR_RETURN(out.insecure_skip_tls_verify,
                   r.Bool(*cluster, "insecure-skip-tls-verify", "cluster"));
  if (out.insecure_skip_tls_verify && !out.ca_pem.empty()) {
    // client-go refuses this combination too: it is almost always a mistake.
    return r.Error("cluster sets both insecure-skip-tls-verify and a certificate authority");
  }
  ASSIGN_OR_RETURN(out.tls_server_name, r.String(*cluster, "tls-server-name", "cluster"));
  ASSIGN_OR_RETURN(std::string proxy, r.String(*cluster, "proxy-url", "cluster"));
  if (!proxy.empty()) return r.Error("cluster.proxy-url is not supported");

  if (!user_name.empty()) {
    ASSIGN_OR_RETURN(const Json* user, r.Named(config, "users", user_name, "user"));
    ASSIGN_OR_RETURN(out.token, r.String(*user, "token", "user"));
    ASSIGN_OR_RETURN(std::string token_file, r.String(*user, "tokenFile", "user"));
    if (out.token.empty() && !token_file.empty()) {
      out.token_file = r.Resolve(token_file);
      std::error_code ec;
      if (!std::filesystem::is_regular_file(out.token_file, ec)) {
        return r.Error(absl::StrCat("user.tokenFile ", out.token_file, " is not a readable file"));
      }
    }
    ASSIGN_OR_RETURN(out.client_cert_pem, r.PemFrom(*user, "client-certificate", "user"));
    ASSIGN_OR_RETURN(out.client_key_pem, r.PemFrom(*user, "client-key", "user"));
    if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
      return r.Error(
          "user sets a client certificate without a key, or a key without a certificate");
    }
    ASSIGN_OR_RETURN(out.username, r.String(*user, "username", "user"));
    ASSIGN_OR_RETURN(out.password, r.String(*user, "password", "user"));
    auto exec = user->find("exec");
    if (exec != user->end() && !exec->is_null()) {
      if (!exec->is_object()) return r.Error("user.exec must be a mapping");
      RETURN_IF_ERROR(ReadExec(*exec, r, out));
    }
    auto provider = user->find("auth-provider");
    if (provider != user->end() && !provider->is_null()) {
      return r.Error("user.auth-provider is not supported; use an exec credential plugin");
    }
  }
  out.source = r.Where();
  return out;
}

absl::StatusOr<KubeConfig> LoadKubeconfig(absl::string_view path, absl::string_view context) {
  Reader r(path, context);
  absl::StatusOr<std::string> text = ReadWholeFile(std::string(path));
  if (!text.ok()) return r.Error(text.status().message());
  return ParseKubeconfig(*text, path, context);
}

absl::StatusOr<KubeconfigContexts> ListKubeconfigContexts(absl::string_view path) {
  Reader r(path, "");
  absl::StatusOr<std::string> text = ReadWholeFile(std::string(path));
  if (!text.ok()) return r.Error(text.status().message());
  ASSIGN_OR_RETURN(Json config, ParseConfigText(*text, r));
  KubeconfigContexts out;
  ASSIGN_OR_RETURN(out.current, r.String(config, "current-context", "kubeconfig"));
  auto it = config.find("contexts");
  if (it != config.end() && it->is_array()) {
    for (const Json& entry : *it) {
      if (!entry.is_object()) continue;
      auto n = entry.find("name");
      if (n != entry.end() && n->is_string()) out.names.push_back(n->get<std::string>());
    }
  }
  return out;
}

absl::StatusOr<KubeConfig> InClusterConfig(absl::string_view service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not "
        "running in a pod?)");
  }
  std::string h = host;
  if (h.find(':') != std::string::npos && !absl::StartsWith(h, "[")) h = absl::StrCat("[", h, "]");
  KubeConfig out;
  out.server = absl::StrCat("https://", h, ":", port);
  std::filesystem::path dir{std::string(service_account_dir)};
  out.token_file = (dir / "token").string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out.token_file, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("in-cluster: service account token ", out.token_file, " is missing"));
  }
  absl::StatusOr<std::string> ca = ReadWholeFile((dir / "ca.crt").string());
  if (!ca.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("in-cluster: ", ca.status().message()));
  }
  out.ca_pem = *std::move(ca);
  absl::StatusOr<std::string> ns = ReadWholeFile((dir / "namespace").string());
  if (ns.ok()) out.ns = std::string(absl::StripAsciiWhitespace(*ns));
  out.source = "in-cluster";
  return out;
}

}  // namespace todoke::applier::kube
