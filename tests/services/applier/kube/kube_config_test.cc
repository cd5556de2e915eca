// Kubeconfig and in-cluster config loading, the exec credential plugin runner, the client-side
// rate limiter and the watch stream splitter: no API server needed.
#include "services/applier/core/kube/kube_config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_parse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/applier/core/kube/exec_credential.h"
#include "services/applier/core/kube/json_stream.h"
#include "services/applier/core/kube/kube_client.h"
#include "services/applier/core/kube/token_bucket.h"

namespace todoke::applier::kube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";
constexpr char kSecret[] = "s3cr3t-t0ken-value";

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kube-config-test.XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& content, bool executable = false) {
    std::filesystem::path p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    if (executable) chmod(p.c_str(), 0755);
    return p.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string B64(const std::string& text) { return absl::Base64Escape(text); }

TEST(KubeconfigTest, CurrentContextWithTokenAndRelativeCaFile) {
  TempDir dir;
  dir.Write("pki/ca.crt", kCaPem);
  const std::string path = dir.Write("config", absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: apps}
users:
- name: dev-user
  user:
    token: )",
                                                            kSecret, "\n"));
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->token, kSecret);
  EXPECT_EQ(config->ns, "apps");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_FALSE(config->has_exec);
  EXPECT_THAT(config->source, HasSubstr(path));
  EXPECT_THAT(config->source, HasSubstr("dev"));
  EXPECT_THAT(config->source, Not(HasSubstr(kSecret)));
}

constexpr char kMultiContext[] = R"(apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://a.example:443", insecure-skip-tls-verify: true}
- name: cb
  cluster:
    server: https://b.example:6443
    certificate-authority-data: CA_DATA
    tls-server-name: api.b.example
contexts:
- {name: a, context: {cluster: ca, user: ua}}
- {name: b, context: {cluster: cb, user: ub}}
- {name: files, context: {cluster: cb, user: ufiles}}
- {name: exec, context: {cluster: cb, user: uexec}}
- {name: tokenfile, context: {cluster: cb, user: utokenfile}}
- {name: both, context: {cluster: cb, user: uboth}}
- {name: nouser, context: {cluster: cb, user: missing}}
- {name: basic, context: {cluster: cb, user: ubasic}}
users:
- {name: ua, user: {token: TOKEN}}
- name: ub
  user:
    client-certificate-data: CERT_DATA
    client-key-data: KEY_DATA
- name: ufiles
  user:
    client-certificate: certs/client.crt
    client-key: /ABS/certs/client.key
- name: uexec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [--cluster, b]
      env:
      - {name: MODE, value: fast}
      provideClusterInfo: true
      interactiveMode: Never
- name: utokenfile
  user: {tokenFile: tokens/sa}
- name: uboth
  user: {token: TOKEN, tokenFile: tokens/sa}
- name: ubasic
  user: {username: admin, password: pw}
)";

class MultiContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Relative paths are relative to the kubeconfig's folder (kube/), not the working folder.
    dir_.Write("kube/certs/client.crt", kCertPem);
    dir_.Write("certs/client.key", kKeyPem);
    dir_.Write("kube/tokens/sa", "file-token\n");
    std::string text = kMultiContext;
    auto replace = [&](const std::string& from, const std::string& to) {
      text.replace(text.find(from), from.size(), to);
    };
    replace("CA_DATA", B64(kCaPem));
    replace("CERT_DATA", B64(kCertPem));
    replace("KEY_DATA", B64(kKeyPem));
    replace("/ABS", dir_.path());
    replace("TOKEN", kSecret);
    replace("TOKEN", kSecret);
    path_ = dir_.Write("kube/config", text);
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(MultiContextTest, CurrentContextInsecure) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://a.example:443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(config->ca_pem.empty());
  EXPECT_EQ(config->token, kSecret);
}

TEST_F(MultiContextTest, NamedContextWithDataFields) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "b");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://b.example:6443");
  EXPECT_EQ(config->tls_server_name, "api.b.example");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
  EXPECT_TRUE(config->token.empty());
}

TEST_F(MultiContextTest, ClientCertificateFilesRelativeAndAbsolute) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "files");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
}

TEST_F(MultiContextTest, ExecPlugin) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "exec");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->has_exec);
  EXPECT_EQ(config->exec.command, dir_.path() + "/kube/bin/get-token");
  EXPECT_THAT(config->exec.args, ::testing::ElementsAre("--cluster", "b"));
  ASSERT_EQ(config->exec.env.size(), 1u);
  EXPECT_EQ(config->exec.env[0].first, "MODE");
  EXPECT_EQ(config->exec.env[0].second, "fast");
  EXPECT_TRUE(config->exec.provide_cluster_info);
  EXPECT_EQ(config->exec.api_version, "client.authentication.k8s.io/v1");
}

TEST_F(MultiContextTest, TokenFileResolvedAndTokenWinsOverIt) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "tokenfile");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token_file, dir_.path() + "/kube/tokens/sa");
  EXPECT_TRUE(config->token.empty());
}

TEST_F(MultiContextTest, BothTokenAndTokenFile) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "both");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token, kSecret);
  EXPECT_TRUE(config->token_file.empty());
}

TEST_F(MultiContextTest, BasicAuth) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "basic");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->username, "admin");
  EXPECT_EQ(config->password, "pw");
}

TEST_F(MultiContextTest, MissingContextNamesFileAndContext) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "prod");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path_));
  EXPECT_THAT(config.status().message(), HasSubstr("\"prod\""));
  EXPECT_THAT(config.status().message(), HasSubstr("not found"));
}

TEST_F(MultiContextTest, MissingUserNamesIt) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path_, "nouser");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("user \"missing\" not found"));
  EXPECT_THAT(config.status().message(), HasSubstr("\"nouser\""));
}

TEST_F(MultiContextTest, ListsContexts) {
  absl::StatusOr<KubeconfigContexts> contexts = ListKubeconfigContexts(path_);
  ASSERT_TRUE(contexts.ok()) << contexts.status();
  EXPECT_EQ(contexts->current, "a");
  EXPECT_THAT(contexts->names, ::testing::ElementsAre("a", "b", "files", "exec", "tokenfile",
                                                      "both", "nouser", "basic"));
}

TEST(KubeconfigTest, TokenFileRelativeToKubeconfig) {
  TempDir dir;
  dir.Write("tokens/sa", "abc\n");
  const std::string path = dir.Write("config", R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {tokenFile: tokens/sa}}]
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token_file, dir.path() + "/tokens/sa");
}

TEST(KubeconfigTest, FileThatDoesNotExist) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig("/nonexistent/kubeconfig", "ctx");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/kubeconfig"));
  EXPECT_THAT(config.status().message(), HasSubstr("\"ctx\""));
}

TEST(KubeconfigTest, FileThatDoesNotParseNamesFileAndContextNotItsContent) {
  TempDir dir;
  const std::string path = dir.Write("config", absl::StrCat(R"(users:
- name: u
  user: {token: )",
                                                            kSecret, R"(
contexts: [
)"));
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path, "prod");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path));
  EXPECT_THAT(config.status().message(), HasSubstr("\"prod\""));
  EXPECT_THAT(config.status().message(), HasSubstr("does not parse"));
  EXPECT_THAT(config.status().message(), Not(HasSubstr(kSecret)));
}

struct BadCase {
  const char* name;
  const char* user_or_cluster;  // YAML spliced in
  const char* expected;
};

class BadKubeconfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadKubeconfigTest, InvalidArgumentNamingTheProblemNeverTheSecret) {
  TempDir dir;
  const std::string path =
      dir.Write("config", absl::StrCat("current-context: x\n"
                                       "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                                       GetParam().user_or_cluster));
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(path, "");
  ASSERT_FALSE(config.ok()) << GetParam().name;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path));
  EXPECT_THAT(config.status().message(), HasSubstr("context \"x\""));
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().expected));
  EXPECT_THAT(config.status().message(), Not(HasSubstr(kSecret)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadKubeconfigTest,
    ::testing::Values(
        BadCase{"no server", "clusters: [{name: c, cluster: {}}]\nusers: [{name: u, user: {}}]\n",
                "has no server"},
        BadCase{"bad base64",
                "clusters: [{name: c, cluster: {server: 'https://h', "
                "certificate-authority-data: '!!s3cr3t-t0ken-value'}}]\n"
                "users: [{name: u, user: {}}]\n",
                "certificate-authority-data is not valid base64"},
        BadCase{"missing ca file",
                "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: "
                "/nonexistent/ca.crt}}]\nusers: [{name: u, user: {}}]\n",
                "/nonexistent/ca.crt"},
        BadCase{"missing cluster", "users: [{name: u, user: {}}]\n", "cluster \"c\" not found"},
        BadCase{"token not a string",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {token: [s3cr3t-t0ken-value]}}]\n",
                "user.token must be a string"},
        BadCase{"auth provider",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
                "auth-provider is not supported"},
        BadCase{"insecure with ca",
                "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: "
                "true, certificate-authority-data: Q0E=}}]\nusers: [{name: u, user: {}}]\n",
                "both insecure-skip-tls-verify and a certificate authority"},
        BadCase{"cert without key",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\n",
                "client certificate without a key"},
        BadCase{"exec without command",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1}}}]\n",
                "user.exec.command is empty"},
        BadCase{"exec old api",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {exec: {command: x, apiVersion: "
                "client.authentication.k8s.io/v1alpha1}}}]\n",
                "is not supported"},
        BadCase{"exec interactive",
                "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                "users: [{name: u, user: {exec: {command: x, interactiveMode: Always}}}]\n",
                "interactiveMode Always"},
        BadCase{"server not http",
                "clusters: [{name: c, cluster: {server: 'ftp://user:s3cr3t-t0ken-value@h'}}]\n"
                "users: [{name: u, user: {}}]\n",
                "is not an http(s) URL"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string name = info.param.name;
      for (char& c : name) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(KubeconfigTest, NoContextAndNoCurrentContext) {
  absl::StatusOr<KubeConfig> config = ParseKubeconfig("clusters: []\n", "/etc/kube/config", "");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("/etc/kube/config"));
  EXPECT_THAT(config.status().message(), HasSubstr("no current-context"));
}

// ---- in-cluster ----

class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    const char* old = getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~EnvVar() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(InClusterConfigTest, ReadsServiceAccount) {
  TempDir dir;
  dir.Write("token", "sa-token");
  dir.Write("ca.crt", kCaPem);
  dir.Write("namespace", "todoke-system\n");
  EnvVar host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "443");
  absl::StatusOr<KubeConfig> config = InClusterConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir.path() + "/token");
  EXPECT_TRUE(config->token.empty());
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->ns, "todoke-system");
}

TEST(InClusterConfigTest, BracketsIpv6) {
  TempDir dir;
  dir.Write("token", "sa-token");
  dir.Write("ca.crt", kCaPem);
  EnvVar host("KUBERNETES_SERVICE_HOST", "fd00::1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "6443");
  absl::StatusOr<KubeConfig> config = InClusterConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_TRUE(config->ns.empty());
}

TEST(InClusterConfigTest, NotInAPod) {
  EnvVar host("KUBERNETES_SERVICE_HOST", nullptr);
  absl::StatusOr<KubeConfig> config = InClusterConfig("/nonexistent");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(InClusterConfigTest, MissingToken) {
  TempDir dir;
  dir.Write("ca.crt", kCaPem);
  EnvVar host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  EnvVar port("KUBERNETES_SERVICE_PORT", "443");
  absl::StatusOr<KubeConfig> config = InClusterConfig(dir.path());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), HasSubstr("token"));
}

// ---- exec credential plugin ----

KubeConfig ExecConfig(const std::string& command, std::vector<std::string> args = {}) {
  KubeConfig config;
  config.server = "https://127.0.0.1:1";
  config.ca_pem = kCaPem;
  config.has_exec = true;
  config.exec.command = command;
  config.exec.args = std::move(args);
  return config;
}

TEST(ExecCredentialTest, TokenWithExpiryArgsEnvAndClusterInfo) {
  TempDir dir;
  // Echoes what it was given inside the token, so the test can check args, env and exec info.
  const std::string plugin = dir.Write("plugin.sh", R"(#!/bin/sh
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | tr -d '"{}:,' )
cat <<EOF
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 "status":{"token":"tok-$1-$MODE-$info","expirationTimestamp":"2099-01-02T03:04:05Z"}}
EOF
)",
                                       /*executable=*/true);
  KubeConfig config = ExecConfig(plugin, {"first"});
  config.exec.env.emplace_back("MODE", "fast");
  config.exec.provide_cluster_info = true;
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(config, absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(cred.ok()) << cred.status();
  EXPECT_THAT(cred->token, HasSubstr("tok-first-fast-"));
  EXPECT_THAT(cred->token, HasSubstr("ExecCredential"));
  EXPECT_THAT(cred->token, HasSubstr("https//127.0.0.11"));  // the server, stripped of ':'
  EXPECT_THAT(cred->token, HasSubstr("interactivefalse"));
  EXPECT_EQ(cred->expiry,
            absl::FromCivil(absl::CivilSecond(2099, 1, 2, 3, 4, 5), absl::UTCTimeZone()));
}

TEST(ExecCredentialTest, ClientCertificateFromPathLookup) {
  TempDir dir;
  dir.Write("bin/kube-cred", absl::StrCat(R"(#!/bin/sh
printf '%s' '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'
)"),
            true);
  std::string path = absl::StrCat(dir.path(), "/bin:", getenv("PATH") ? getenv("PATH") : "");
  EnvVar env_path("PATH", path.c_str());
  KubeConfig config = ExecConfig("kube-cred");
  config.exec.api_version = "client.authentication.k8s.io/v1beta1";
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(config, absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(cred.ok()) << cred.status();
  EXPECT_EQ(cred->client_cert_pem, "CERT");
  EXPECT_EQ(cred->client_key_pem, "KEY");
  EXPECT_TRUE(cred->token.empty());
  EXPECT_EQ(cred->expiry, absl::InfiniteFuture());
}

TEST(ExecCredentialTest, TimeoutKillsThePluginWithinTheBound) {
  TempDir dir;
  const std::string plugin = dir.Write("slow.sh", "#!/bin/sh\nsleep 30\n", true);
  KubeConfig config = ExecConfig(plugin);
  config.exec.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(config, absl::Now() + absl::Seconds(20));
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(ExecCredentialTest, FailureNeverEchoesOutputOrArguments) {
  TempDir dir;
  const std::string plugin = dir.Write(
      "fail.sh", absl::StrCat("#!/bin/sh\necho ", kSecret, "\necho ", kSecret, " >&2\nexit 3\n"),
      true);
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(ExecConfig(plugin, {kSecret}), absl::Now() + absl::Seconds(20));
  ASSERT_EQ(cred.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(cred.status().message(), HasSubstr("exited with status 3"));
  EXPECT_THAT(cred.status().message(), HasSubstr(plugin));
  EXPECT_THAT(cred.status().message(), Not(HasSubstr(kSecret)));
}

TEST(ExecCredentialTest, OutputThatIsNotACredential) {
  TempDir dir;
  const std::string not_json =
      dir.Write("a.sh", absl::StrCat("#!/bin/sh\necho ", kSecret, "\n"), true);
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(ExecConfig(not_json), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(cred.status().message(), Not(HasSubstr(kSecret)));

  const std::string wrong_version = dir.Write("b.sh", R"(#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}}'
)",
                                              true);
  cred = RunExecCredentialPlugin(ExecConfig(wrong_version), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(cred.status().message(), HasSubstr("apiVersion"));

  const std::string empty = dir.Write("c.sh", R"(#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}'
)",
                                      true);
  cred = RunExecCredentialPlugin(ExecConfig(empty), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(cred.status().message(), HasSubstr("neither a token nor a client certificate"));
}

TEST(ExecCredentialTest, MissingCommand) {
  absl::StatusOr<ExecCredential> cred =
      RunExecCredentialPlugin(ExecConfig("todoke-no-such-plugin"), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(cred.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(cred.status().message(), HasSubstr("todoke-no-such-plugin"));
}

// ---- rate limiter ----

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket bucket(/*qps=*/20, /*burst=*/5);
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<absl::Duration> waited = bucket.Take(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(waited.ok());
    EXPECT_EQ(*waited, absl::ZeroDuration());
  }
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(50));
  // 10 more at 20/s: about half a second.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bucket.Take(absl::Now() + absl::Seconds(5)).ok());
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(440));
  EXPECT_LT(took, absl::Milliseconds(1500));
}

TEST(TokenBucketTest, SharedAcrossThreads) {
  TokenBucket bucket(/*qps=*/50, /*burst=*/1);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) ASSERT_TRUE(bucket.Take(absl::Now() + absl::Seconds(5)).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  // 20 tokens, 1 at once, 50/s: at least 19/50 s.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(360));
}

TEST(TokenBucketTest, RefusesAtOnceWhenTheTokenComesAfterTheDeadline) {
  TokenBucket bucket(/*qps=*/1, /*burst=*/1);
  ASSERT_TRUE(bucket.Take(absl::Now() + absl::Seconds(1)).ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<absl::Duration> waited = bucket.Take(absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(50));
}

TEST(TokenBucketTest, ZeroQpsIsUnlimited) {
  TokenBucket bucket(0, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.Take(absl::Now()).ok());
}

// ---- watch stream splitter ----

std::vector<std::string> SplitAll(const std::vector<std::string>& chunks) {
  JsonObjectSplitter splitter;
  std::vector<std::string> out;
  for (const std::string& chunk : chunks) {
    absl::Status status = splitter.Feed(chunk, [&](absl::string_view object) {
      out.emplace_back(object);
      return true;
    });
    EXPECT_TRUE(status.ok()) << status;
  }
  return out;
}

TEST(JsonObjectSplitterTest, SplitsAcrossChunksWithTrickyStrings) {
  const std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"a\":\"}{\\\"\\\\\",\"b\":[1,{\"c\":2}]}}\n"
      "{\"type\":\"BOOKMARK\",\"object\":{}}{\"type\":\"DELETED\",\"object\":{\"d\":\"]\"}}\n";
  const std::vector<std::string> whole = SplitAll({stream});
  ASSERT_EQ(whole.size(), 3u);
  for (const std::string& object : whole) EXPECT_TRUE(ParseJson(object).ok()) << object;
  // Every split point gives the same objects.
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    EXPECT_EQ(SplitAll({stream.substr(0, cut), stream.substr(cut)}), whole) << cut;
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(SplitAll(bytes), whole);
}

TEST(JsonObjectSplitterTest, StopsWhenAsked) {
  JsonObjectSplitter splitter;
  int seen = 0;
  ASSERT_TRUE(splitter.Feed("{}{}{}", [&](absl::string_view) { return ++seen < 2; }).ok());
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(splitter.stopped());
}

TEST(JsonObjectSplitterTest, GarbageBetweenObjectsAndSizeBound) {
  JsonObjectSplitter splitter;
  EXPECT_EQ(splitter.Feed("{} x", [](absl::string_view) { return true; }).code(),
            absl::StatusCode::kInvalidArgument);
  JsonObjectSplitter small(/*max_object_bytes=*/8);
  EXPECT_EQ(small.Feed("{\"aaaaaaaaaaaa", [](absl::string_view) { return true; }).code(),
            absl::StatusCode::kResourceExhausted);
}

// ---- status mapping and paths ----

TEST(KubeStatusErrorTest, MapsCodesAndKeepsMessageAndReason) {
  const std::string conflict =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Apply failed with 1 conflict: conflict with \"kubectl\": .data.a","reason":"Conflict","code":409})";
  absl::Status status = KubeStatusError(409, conflict, "PATCH /api/v1/namespaces/a/configmaps/b");
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(status.message(),
            "PATCH /api/v1/namespaces/a/configmaps/b: Apply failed with 1 conflict: conflict "
            "with \"kubectl\": .data.a (HTTP 409 Conflict)");
  EXPECT_EQ(KubeHttpCode(status), 409);
  EXPECT_EQ(KubeReason(status), "Conflict");

  struct Case {
    int http;
    absl::StatusCode code;
  };
  for (const Case& c :
       {Case{400, absl::StatusCode::kInvalidArgument},
        Case{401, absl::StatusCode::kUnauthenticated},
        Case{403, absl::StatusCode::kPermissionDenied}, Case{404, absl::StatusCode::kNotFound},
        Case{410, absl::StatusCode::kOutOfRange}, Case{422, absl::StatusCode::kInvalidArgument},
        Case{429, absl::StatusCode::kUnavailable}, Case{500, absl::StatusCode::kUnavailable},
        Case{503, absl::StatusCode::kUnavailable}}) {
    absl::Status s = KubeStatusError(c.http, "not json", "GET /x");
    EXPECT_EQ(s.code(), c.code) << c.http;
    EXPECT_EQ(KubeHttpCode(s), c.http);
    EXPECT_EQ(KubeReason(s), "");
    EXPECT_THAT(s.message(), HasSubstr("not json"));
  }
  EXPECT_EQ(KubeHttpCode(absl::UnavailableError("x")), 0);
}

TEST(ResourcePathTest, CoreGroupsScopesAndEscaping) {
  ApiResource cm{"", "v1", "ConfigMap", "configmaps", true, {}, {}};
  EXPECT_EQ(ResourcePath(cm, "ns", "a"), "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(ResourcePath(cm, "", ""), "/api/v1/configmaps");
  EXPECT_EQ(ResourcePath(cm, "ns", ""), "/api/v1/namespaces/ns/configmaps");
  ApiResource crb{"rbac.authorization.k8s.io",
                  "v1",
                  "ClusterRoleBinding",
                  "clusterrolebindings",
                  false,
                  {},
                  {}};
  EXPECT_EQ(ResourcePath(crb, "ignored", "system:admin"),
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system%3Aadmin");
}

}  // namespace
}  // namespace todoke::applier::kube
