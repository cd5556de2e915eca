#include "test_namespace.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>
#include <utility>

extern char** environ;

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace todoke::testing {
namespace {

// Strips one level of matching single or double quotes (start.sh writes plain
// values; this keeps hand-written env files working too).
std::string Unquote(absl::string_view v) {
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return std::string(v);
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with argv, no shell, no stdin; collects both
// output streams.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return ErrnoError("pipe");
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  // posix_spawn, not fork: safe in multi-threaded test programs.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string RandomSuffix() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 6; ++i) s.push_back(kAlphabet[rd() % (sizeof kAlphabet - 1)]);
  return s;
}

bool ValidPrefix(absl::string_view p) {
  if (p.empty() || p.size() > 30 || p.front() == '-') return false;
  for (char c : p) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<ClusterInfo> LoadClusterFromFile(const std::string& env_file) {
  std::ifstream in{env_file};
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read cluster env file ", env_file,
                                            " (is the cluster started? tests/cluster/start.sh)"));
  }
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l.front() == '#') continue;
    absl::ConsumePrefix(&l, "export ");
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(l, absl::MaxSplits('=', 1));
    vars[std::string(absl::StripAsciiWhitespace(kv.first))] = Unquote(kv.second);
  }
  ClusterInfo info;
  info.env_file = env_file;
  std::vector<std::string> missing;
  auto take = [&](absl::string_view key, std::string* field) {
    auto it = vars.find(std::string(key));
    if (it == vars.end() || it->second.empty()) {
      missing.emplace_back(key);
    } else {
      *field = it->second;
    }
  };
  take("TODOKE_K8S_SERVER", &info.server);
  take("TODOKE_K8S_TOKEN", &info.token);
  take("TODOKE_K8S_CA", &info.ca_file);
  take("KUBECONFIG", &info.kubeconfig);
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster env file ", env_file, " lacks ", absl::StrJoin(missing, ", ")));
  }
  auto it = vars.find("TODOKE_K8S_KUBECTL");
  info.kubectl = (it != vars.end() && !it->second.empty()) ? it->second : "kubectl";
  it = vars.find("KUBECACHEDIR");
  if (it != vars.end()) info.cache_dir = it->second;
  return info;
}

absl::StatusOr<ClusterInfo> LoadClusterFromEnv() {
  const char* path = std::getenv("TODOKE_K8S_ENV");
  if (path == nullptr || *path == '\0') {
    return absl::FailedPreconditionError(
        "TODOKE_K8S_ENV is not set: run under the CTest fixture 'k8s' "
        "(todoke_k8s_test() in tests/cluster/CMakeLists.txt) or set it to DIR/env of "
        "tests/cluster/start.sh DIR");
  }
  return LoadClusterFromFile(path);
}

bool RequireAll() {
  const char* value = std::getenv("TODOKE_REQUIRE_ALL");
  return value != nullptr && std::string(value) == "1";
}

absl::StatusOr<ClusterInfo> ClusterForTest(bool* skip) {
  *skip = false;
  absl::StatusOr<ClusterInfo> cluster = LoadClusterFromEnv();
  if (cluster.ok()) return cluster;
  if (absl::IsFailedPrecondition(cluster.status())) {  // TODOKE_K8S_ENV is unset
    *skip = !RequireAll();
    return absl::FailedPreconditionError(
        absl::StrCat(*skip ? "" : "TODOKE_REQUIRE_ALL=1 and ",
                     "this test needs the Kubernetes control plane: ", cluster.status().message()));
  }
  return absl::Status(
      cluster.status().code(),
      absl::StrCat("the Kubernetes control plane of TODOKE_K8S_ENV: ", cluster.status().message()));
}

absl::Status K8sFixtureForTest(bool* skip) {
  *skip = false;
  const char* path = std::getenv("TODOKE_K8S_ENV");
  if (path != nullptr && *path != '\0') return absl::OkStatus();
  *skip = !RequireAll();
  return absl::FailedPreconditionError(absl::StrCat(
      *skip ? "" : "TODOKE_REQUIRE_ALL=1 and ",
      "this test starts a control plane of its own from the binaries the CTest fixture 'k8s' "
      "built, and TODOKE_K8S_ENV is not set: run it under the fixture (ctest -L k8s) or set "
      "TODOKE_K8S_ENV to DIR/env of tests/cluster/start.sh DIR"));
}

absl::StatusOr<std::string> RunKubectl(const ClusterInfo& cluster,
                                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {cluster.kubectl, "--kubeconfig=" + cluster.kubeconfig,
                                   "--request-timeout=30s"};
  if (!cluster.cache_dir.empty()) argv.push_back("--cache-dir=" + cluster.cache_dir);
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> r = RunCommand(argv);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat("kubectl ", absl::StrJoin(args, " "), " exited with ",
                                            r->exit_code, ": ",
                                            absl::StripAsciiWhitespace(r->err)));
  }
  return std::move(r->out);
}

absl::StatusOr<TestNamespace> TestNamespace::Create(const ClusterInfo& cluster,
                                                    const std::string& prefix) {
  if (!ValidPrefix(prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("namespace prefix must be 1-30 of [a-z0-9-]: '", prefix, "'"));
  }
  static std::atomic<int> counter{0};
  std::string name =
      absl::StrCat(prefix, "-", getpid(), "-", counter.fetch_add(1), "-", RandomSuffix());
  absl::StatusOr<std::string> created = RunKubectl(cluster, {"create", "namespace", name});
  if (!created.ok()) return created.status();
  TestNamespace ns(cluster, name);  // from here on, the destructor cleans up

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    if (RunKubectl(cluster, {"get", "serviceaccount", "default", "-n", name, "-o", "name"}).ok()) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no default ServiceAccount in namespace ", name, " after 30 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return ns;
}

TestNamespace::TestNamespace(ClusterInfo cluster, std::string name)
    : cluster_(std::move(cluster)), name_(std::move(name)) {}

TestNamespace::TestNamespace(TestNamespace&& other) noexcept
    : cluster_(std::move(other.cluster_)), name_(std::exchange(other.name_, std::string())) {}

TestNamespace& TestNamespace::operator=(TestNamespace&& other) noexcept {
  if (this != &other) {
    (void)Delete();
    cluster_ = std::move(other.cluster_);
    name_ = std::exchange(other.name_, std::string());
  }
  return *this;
}

TestNamespace::~TestNamespace() {
  absl::Status s = Delete();
  if (!s.ok()) std::fprintf(stderr, "TestNamespace: %s\n", s.ToString().c_str());
}

absl::Status TestNamespace::Delete() {
  if (name_.empty()) return absl::OkStatus();
  std::string name = std::exchange(name_, std::string());
  return RunKubectl(cluster_, {"delete", "namespace", name, "--wait=false", "--ignore-not-found"})
      .status();
}

namespace {

// kubectl `verb` -f <a temporary file holding `yaml`>.
absl::Status KubectlWithFile(const ClusterInfo& cluster, std::vector<std::string> verb,
                             const std::string& yaml) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/todoke-kubectl-XXXXXX.yaml");
  const int fd = mkstemps(path.data(), 5);
  if (fd < 0) return absl::InternalError(absl::StrCat("mkstemps: ", std::strerror(errno)));
  close(fd);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << yaml;
    if (!out.good()) return absl::InternalError("cannot write " + path);
  }
  verb.insert(verb.end(), {"-f", path});
  absl::Status status = RunKubectl(cluster, verb).status();
  std::remove(path.c_str());
  return status;
}

}  // namespace

absl::StatusOr<std::string> InstallSecretEchoPolicy(const ClusterInfo& cluster,
                                                    const std::string& ns) {
  const std::string policy = "deny-secret-" + ns;
  absl::Status installed = KubectlWithFile(cluster, {"apply"},
                                           absl::StrCat(R"(
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: )",
                                                        policy, R"(}
spec:
  failurePolicy: Fail
  matchConstraints:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: )",
                                                        ns, R"(}
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [secrets]
  validations:
  - expression: "false"
    messageExpression: >-
      'refused: token=' + string(object.data.token) + ' password=' +
      string(object.data.password)
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: )",
                                                        policy, R"(}
spec:
  policyName: )",
                                                        policy, R"(
  validationActions: [Deny]
)"));
  if (!installed.ok()) return installed;
  const std::string probe =
      absl::StrCat("apiVersion: v1\nkind: Secret\nmetadata: {name: probe, namespace: ", ns,
                   "}\nstringData: {token: probe-value, password: probe-value}\n");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    absl::Status status = KubectlWithFile(cluster, {"apply", "--dry-run=server"}, probe);
    if (!status.ok() && absl::StrContains(status.message(), policy)) return policy;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  DeleteSecretEchoPolicy(cluster, policy);
  return absl::DeadlineExceededError(
      absl::StrCat("ValidatingAdmissionPolicy ", policy, " not in force after 60 s"));
}

void DeleteSecretEchoPolicy(const ClusterInfo& cluster, const std::string& policy) {
  (void)RunKubectl(cluster,
                   {"delete", "validatingadmissionpolicybinding", policy, "--ignore-not-found"});
  (void)RunKubectl(cluster, {"delete", "validatingadmissionpolicy", policy, "--ignore-not-found"});
}

}  // namespace todoke::testing
