// deploy/kubernetes, rendered by todoke's renderer, grants each stage the least it needs:
// - its own ServiceAccount; only the applier is bound to a role (writes, escalate and bind) and
//   has a token mounted;
// - every pod meets the `restricted` Pod Security Standard (its namespace enforces it), writes
//   only to volumes (the root filesystem is read-only), and has resource requests and limits;
// - NetworkPolicies: a reachability model of them (below) lets exactly the flows of the table in
//   network-policies.yaml through, and nothing else;
// - the orchestrator's store sits on a claim (strategy Recreate) and its API needs tokens from a
//   Secret; Prometheus scrapes every pod; PodDisruptionBudgets and HorizontalPodAutoscalers.
// The API server's own view of these manifests (pod security admission, RBAC, a server-side dry
// run) is checked by tests/deploy/kubernetes_test.sh.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "tests/deploy/json_field.h"

namespace todoke {
namespace {

const char* const kComponents[] = {"source-fetcher", "renderer", "differ", "applier",
                                   "orchestrator"};

using test_json::Field;
using test_json::StringField;

// The elements of an array field (none when missing).
const std::vector<Json>& Items(const Json& object, std::initializer_list<const char*> path) {
  static const std::vector<Json> kNone;
  const Json& value = Field(object, path);
  return value.is_array() ? value.get_ref<const Json::array_t&>() : kNone;
}

// A string map (labels, annotations); entries that are not strings are left out.
std::map<std::string, std::string> StringMap(const Json& object) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

// An integer field, or `otherwise`.
int Int(const Json& value, int otherwise = -1) {
  return value.is_number_integer() ? value.get<int>() : otherwise;
}

bool Contains(const Json& array, const std::string& value) {
  if (!array.is_array()) return false;
  return std::any_of(array.begin(), array.end(),
                     [&](const Json& item) { return item.is_string() && item == value; });
}

// A Kubernetes quantity with a binary suffix (Ki, Mi, Gi, Ti) or none, in bytes; -1 otherwise.
int64_t Bytes(const std::string& quantity) {
  static const std::pair<const char*, int> kSuffixes[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}};
  int shift = 0;
  absl::string_view digits = quantity;
  for (const auto& [suffix, bits] : kSuffixes) {
    if (absl::ConsumeSuffix(&digits, suffix)) shift = bits;
  }
  int64_t value;
  if (!absl::SimpleAtoi(digits, &value)) return -1;
  return value << shift;
}

// The value of a `--flag=value` argument of a container, or "" (and `found` false).
std::string FlagValue(const Json& container, const std::string& flag, bool* found = nullptr) {
  if (found != nullptr) *found = false;
  for (const Json& arg : Items(container, {"args"})) {
    if (!arg.is_string()) continue;
    const std::string text = arg.get<std::string>();
    if (absl::StartsWith(text, flag + "=")) {
      if (found != nullptr) *found = true;
      return text.substr(flag.size() + 1);
    }
  }
  return "";
}

bool SelectorMatches(const Json& selector, const std::map<std::string, std::string>& labels) {
  if (!selector.is_object()) return false;  // a missing selector is handled by the caller
  for (const auto& [key, value] : Field(selector, {"matchLabels"}).items()) {
    auto it = labels.find(key);
    if (it == labels.end() || !value.is_string() || it->second != value.get<std::string>()) {
      return false;
    }
  }
  for (const Json& expression : Items(selector, {"matchExpressions"})) {
    const std::string key = StringField(expression, {"key"});
    const std::string op = StringField(expression, {"operator"});
    auto it = labels.find(key);
    const bool in = it != labels.end() && Contains(Field(expression, {"values"}), it->second);
    if ((op == "In" && !in) || (op == "NotIn" && in) || (op == "Exists" && it == labels.end()) ||
        (op == "DoesNotExist" && it != labels.end())) {
      return false;
    }
    if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") return false;
  }
  return true;
}

// Whether an address lies in a CIDR block (either family; never across families).
bool InCidr(const std::string& address, const std::string& cidr) {
  const std::vector<std::string> parts = absl::StrSplit(cidr, '/');
  int bits;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &bits)) return false;
  unsigned char a[16], b[16];
  const int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
  const int cidr_family = parts[0].find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (family != cidr_family || inet_pton(family, address.c_str(), a) != 1 ||
      inet_pton(family, parts[0].c_str(), b) != 1) {
    return false;
  }
  for (int i = 0; i < bits; ++i) {
    const int mask = 0x80 >> (i % 8);
    if ((a[i / 8] & mask) != (b[i / 8] & mask)) return false;
  }
  return true;
}

// One end of a connection in the model: a pod (namespace, labels, its pod spec for named ports)
// or an address outside the cluster (no namespace). Pods have addresses too, since an ipBlock
// may match pod addresses in some network plugins: the model assumes it does.
struct Peer {
  std::string name;
  std::string ns;
  std::map<std::string, std::string> labels;
  std::string ip;
  const Json* pod_spec = nullptr;
};

// NetworkPolicy semantics (networking.k8s.io/v1) over a fixed set of namespaces and policies.
class NetworkModel {
 public:
  NetworkModel(std::vector<const Json*> policies,
               std::map<std::string, std::map<std::string, std::string>> namespace_labels)
      : policies_(std::move(policies)), namespace_labels_(std::move(namespace_labels)) {}

  // Whether `from` may open a connection to `to` on `port`/`protocol`: both its egress and
  // the destination's ingress must allow it.
  bool Allowed(const Peer& from, const Peer& to, int port, const std::string& protocol) const {
    return EgressAllows(from, to, port, protocol) && IngressAllows(from, to, port, protocol);
  }
  // Each side on its own: the policies selecting `from` (egress) or `to` (ingress).
  bool EgressAllows(const Peer& from, const Peer& to, int port, const std::string& protocol) const {
    return Direction(from, "Egress", "egress", "to", to, to, port, protocol);
  }
  bool IngressAllows(const Peer& from, const Peer& to, int port,
                     const std::string& protocol) const {
    return Direction(to, "Ingress", "ingress", "from", from, to, port, protocol);
  }

 private:
  static std::vector<std::string> PolicyTypes(const Json& policy) {
    std::vector<std::string> types;
    for (const Json& type : Items(policy, {"spec", "policyTypes"})) {
      if (type.is_string()) types.push_back(type.get<std::string>());
    }
    if (types.empty()) {  // the API server's default
      types.push_back("Ingress");
      if (Field(policy, {"spec", "egress"}).is_array()) types.push_back("Egress");
    }
    return types;
  }

  // Whether `subject`'s policies of `type` let it talk with `other` (`destination` resolves
  // named ports).
  bool Direction(const Peer& subject, const char* type, const char* rules_key,
                 const char* peers_key, const Peer& other, const Peer& destination, int port,
                 const std::string& protocol) const {
    if (subject.ns.empty()) return true;  // outside the cluster: no policy applies
    bool isolated = false;
    for (const Json* policy : policies_) {
      if (StringField(*policy, {"metadata", "namespace"}) != subject.ns) continue;
      if (!SelectorMatches(Field(*policy, {"spec", "podSelector"}), subject.labels)) continue;
      const std::vector<std::string> types = PolicyTypes(*policy);
      if (std::find(types.begin(), types.end(), type) == types.end()) continue;
      isolated = true;
      for (const Json& rule : Items(*policy, {"spec", rules_key})) {
        if (!PortsMatch(Field(rule, {"ports"}), destination, port, protocol)) continue;
        const Json& peers = Field(rule, {peers_key});
        if (!peers.is_array() || peers.empty()) return true;  // every peer
        for (const Json& peer : peers) {
          if (PeerMatches(peer, subject.ns, other)) return true;
        }
      }
    }
    return !isolated;
  }

  bool PeerMatches(const Json& peer, const std::string& policy_ns, const Peer& other) const {
    if (Field(peer, {"ipBlock"}).is_object()) {
      if (!InCidr(other.ip, StringField(peer, {"ipBlock", "cidr"}))) return false;
      for (const Json& except : Items(peer, {"ipBlock", "except"})) {
        if (except.is_string() && InCidr(other.ip, except.get<std::string>())) return false;
      }
      return true;
    }
    if (other.ns.empty()) return false;  // selectors select pods only
    const Json& ns_selector = Field(peer, {"namespaceSelector"});
    if (ns_selector.is_object()) {
      auto labels = namespace_labels_.find(other.ns);
      if (labels == namespace_labels_.end() || !SelectorMatches(ns_selector, labels->second)) {
        return false;
      }
    } else if (other.ns != policy_ns) {
      return false;
    }
    const Json& pod_selector = Field(peer, {"podSelector"});
    return !pod_selector.is_object() || SelectorMatches(pod_selector, other.labels);
  }

  static bool PortsMatch(const Json& ports, const Peer& destination, int port,
                         const std::string& protocol) {
    if (!ports.is_array() || ports.empty()) return true;
    for (const Json& entry : ports) {
      const std::string entry_protocol =
          Field(entry, {"protocol"}).is_string() ? StringField(entry, {"protocol"}) : "TCP";
      if (entry_protocol != protocol) continue;
      const Json& value = Field(entry, {"port"});
      if (value.is_null()) return true;
      if (value.is_number_integer()) {
        const int end = Int(Field(entry, {"endPort"}), value.get<int>());
        if (port >= value.get<int>() && port <= end) return true;
      } else if (value.is_string() && destination.pod_spec != nullptr) {
        for (const Json& container : Items(*destination.pod_spec, {"containers"})) {
          for (const Json& declared : Items(container, {"ports"})) {
            const std::string declared_protocol = Field(declared, {"protocol"}).is_string()
                                                      ? StringField(declared, {"protocol"})
                                                      : "TCP";
            if (StringField(declared, {"name"}) == value.get<std::string>() &&
                Field(declared, {"containerPort"}) == port && declared_protocol == protocol) {
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  std::vector<const Json*> policies_;
  std::map<std::string, std::map<std::string, std::string>> namespace_labels_;
};

class DeployHardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    renderer::DiskFileSource files(".");  // tests run from the repository root
    renderer::RenderOptions options;
    options.mode = renderer::RenderMode::kKustomize;
    absl::StatusOr<renderer::RenderResult> rendered =
        renderer::Render(files, "deploy/kubernetes", options);
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    objects_ = new std::vector<Json>(std::move(rendered->objects));
  }
  static void TearDownTestSuite() {
    delete objects_;
    objects_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(objects_, nullptr) << "deploy/kubernetes did not render"; }

  static std::vector<const Json*> OfKind(const std::string& kind) {
    std::vector<const Json*> out;
    for (const Json& object : *objects_) {
      if (StringField(object, {"kind"}) == kind) out.push_back(&object);
    }
    return out;
  }
  static const Json* Find(const std::string& kind, const std::string& name) {
    for (const Json* object : OfKind(kind)) {
      if (StringField(*object, {"metadata", "name"}) == name) return object;
    }
    return nullptr;
  }
  // The Deployment of a component (a test failure when it is missing).
  static const Json& DeploymentOf(const std::string& component) {
    static const Json kEmpty = Json::object();
    const Json* found = Find("Deployment", "todoke-" + component);
    if (found == nullptr) ADD_FAILURE() << "no Deployment todoke-" << component;
    return found != nullptr ? *found : kEmpty;
  }
  static const Json& PodSpecOf(const std::string& component) {
    return Field(DeploymentOf(component), {"spec", "template", "spec"});
  }
  static std::map<std::string, std::string> PodLabelsOf(const std::string& component) {
    return StringMap(Field(DeploymentOf(component), {"spec", "template", "metadata", "labels"}));
  }
  // The volume a container path lies in (longest mount path), or null; `read_only` set from
  // the mount.
  static const Json* VolumeOf(const Json& pod, const Json& container, const std::string& path,
                              bool* read_only) {
    const Json* mount = nullptr;
    size_t longest = 0;
    for (const Json& m : Items(container, {"volumeMounts"})) {
      const std::string mount_path = StringField(m, {"mountPath"});
      if ((path == mount_path || absl::StartsWith(path, mount_path + "/")) &&
          mount_path.size() > longest) {
        mount = &m;
        longest = mount_path.size();
      }
    }
    if (mount == nullptr) return nullptr;
    *read_only = Field(*mount, {"readOnly"}) == true;
    for (const Json& volume : Items(pod, {"volumes"})) {
      if (StringField(volume, {"name"}) == StringField(*mount, {"name"})) return &volume;
    }
    return nullptr;
  }

  static std::vector<Json>* objects_;
};

std::vector<Json>* DeployHardeningTest::objects_ = nullptr;

TEST_F(DeployHardeningTest, EachStageRunsAsItsOwnServiceAccount) {
  std::set<std::string> accounts;
  for (const std::string component : kComponents) {
    SCOPED_TRACE(component);
    const Json& pod = PodSpecOf(component);
    const std::string account = StringField(pod, {"serviceAccountName"});
    EXPECT_EQ(account, "todoke-" + component);
    EXPECT_TRUE(accounts.insert(account).second) << "shared ServiceAccount " << account;
    const Json* service_account = Find("ServiceAccount", account);
    ASSERT_NE(service_account, nullptr) << "no ServiceAccount " << account;
    // Only the applier talks to the Kubernetes API: no other pod gets a token.
    if (component == "applier") {
      EXPECT_NE(Field(pod, {"automountServiceAccountToken"}), false);
      EXPECT_NE(Field(*service_account, {"automountServiceAccountToken"}), false);
    } else {
      EXPECT_EQ(Field(pod, {"automountServiceAccountToken"}), false);
      EXPECT_EQ(Field(*service_account, {"automountServiceAccountToken"}), false);
    }
  }
  EXPECT_EQ(OfKind("ServiceAccount").size(), 5u);
}

TEST_F(DeployHardeningTest, OnlyTheApplierHoldsKubernetesRights) {
  std::set<std::string> bound_roles;
  for (const char* kind : {"RoleBinding", "ClusterRoleBinding"}) {
    for (const Json* binding : OfKind(kind)) {
      SCOPED_TRACE(StringField(*binding, {"metadata", "name"}));
      for (const Json& subject : Items(*binding, {"subjects"})) {
        EXPECT_EQ(StringField(subject, {"kind"}), "ServiceAccount");
        EXPECT_EQ(StringField(subject, {"name"}), "todoke-applier");
        EXPECT_EQ(StringField(subject, {"namespace"}), "todoke");
      }
      bound_roles.insert(StringField(*binding, {"roleRef", "name"}));
    }
  }
  EXPECT_EQ(bound_roles, std::set<std::string>{"todoke-applier"});
  const Json* role = Find("ClusterRole", "todoke-applier");
  ASSERT_NE(role, nullptr);
  // Read, apply and prune anything an Application holds; escalate and bind for RBAC objects.
  // No wildcard verb, so nothing beyond that (impersonate, approve, sign, ...).
  std::set<std::string> everything_verbs;
  std::set<std::string> rbac_verbs;
  for (const Json& rule : Items(*role, {"rules"})) {
    EXPECT_FALSE(Contains(Field(rule, {"verbs"}), "*")) << rule.dump();
    EXPECT_FALSE(Field(rule, {"nonResourceURLs"}).is_array()) << rule.dump();
    const bool all_kinds =
        Contains(Field(rule, {"apiGroups"}), "*") && Contains(Field(rule, {"resources"}), "*");
    const bool rbac_roles = Contains(Field(rule, {"apiGroups"}), "rbac.authorization.k8s.io") &&
                            Contains(Field(rule, {"resources"}), "roles") &&
                            Contains(Field(rule, {"resources"}), "clusterroles");
    for (const Json& verb : Items(rule, {"verbs"})) {
      if (!verb.is_string()) continue;
      if (all_kinds) everything_verbs.insert(verb.get<std::string>());
      if (rbac_roles || all_kinds) rbac_verbs.insert(verb.get<std::string>());
    }
  }
  EXPECT_EQ(everything_verbs,
            (std::set<std::string>{"get", "list", "watch", "create", "update", "patch", "delete"}));
  EXPECT_TRUE(rbac_verbs.count("escalate") && rbac_verbs.count("bind"));
}

TEST_F(DeployHardeningTest, EveryPodMeetsTheRestrictedPodSecurityStandard) {
  const Json* ns = Find("Namespace", "todoke");
  ASSERT_NE(ns, nullptr);
  for (const char* mode : {"enforce", "warn", "audit"}) {
    EXPECT_EQ(StringField(*ns, {"metadata", "labels",
                                absl::StrCat("pod-security.kubernetes.io/", mode).c_str()}),
              "restricted")
        << mode;
  }
  EXPECT_EQ(OfKind("Deployment").size(), 5u);
  for (const Json* deployment : OfKind("Deployment")) {
    const Json& pod = Field(*deployment, {"spec", "template", "spec"});
    SCOPED_TRACE(StringField(*deployment, {"metadata", "name"}));
    EXPECT_EQ(Field(pod, {"securityContext", "runAsNonRoot"}), true);
    EXPECT_EQ(Field(pod, {"securityContext", "runAsUser"}), 65534);  // the image's user
    EXPECT_EQ(StringField(pod, {"securityContext", "seccompProfile", "type"}), "RuntimeDefault");
    for (const char* host : {"hostNetwork", "hostPID", "hostIPC"}) {
      EXPECT_NE(Field(pod, {host}), true) << host;
    }
    for (const Json& volume : Items(pod, {"volumes"})) {
      EXPECT_FALSE(Field(volume, {"hostPath"}).is_object()) << volume.dump();
    }
    std::vector<Json> containers = Items(pod, {"containers"});
    for (const Json& init : Items(pod, {"initContainers"})) containers.push_back(init);
    for (const Json& container : containers) {
      SCOPED_TRACE(StringField(container, {"name"}));
      const Json& context = Field(container, {"securityContext"});
      EXPECT_EQ(Field(context, {"allowPrivilegeEscalation"}), false);
      EXPECT_EQ(Field(context, {"readOnlyRootFilesystem"}), true);
      EXPECT_NE(Field(context, {"privileged"}), true);
      EXPECT_TRUE(Contains(Field(context, {"capabilities", "drop"}), "ALL"));
      EXPECT_TRUE(Items(context, {"capabilities", "add"}).empty());
      EXPECT_NE(Field(context, {"runAsNonRoot"}), false);
      EXPECT_NE(Field(context, {"runAsUser"}), 0);
      const Json& seccomp = Field(context, {"seccompProfile", "type"});
      EXPECT_TRUE(seccomp.is_null() || seccomp == "RuntimeDefault");
      for (const Json& port : Items(container, {"ports"})) {
        EXPECT_FALSE(Field(port, {"hostPort"}).is_number()) << port.dump();
      }
    }
  }
}

TEST_F(DeployHardeningTest, EveryPathAServiceWritesIsAVolume) {
  // The folders each service writes besides /tmp, by flag.
  const std::map<std::string, std::string> written = {{"source-fetcher", "--cache-dir"},
                                                      {"renderer", "--plugin-temp-dir"},
                                                      {"applier", "--git-work-dir"},
                                                      {"orchestrator", "--data-dir"}};
  for (const std::string component : kComponents) {
    SCOPED_TRACE(component);
    const Json& pod = PodSpecOf(component);
    for (const Json& volume : Items(pod, {"volumes"})) {
      if (Field(volume, {"emptyDir"}).is_object()) {
        EXPECT_TRUE(Field(volume, {"emptyDir", "sizeLimit"}).is_string())
            << "emptyDir without sizeLimit: " << volume.dump();
      }
    }
    for (const Json& container : Items(pod, {"containers"})) {
      bool read_only = true;
      const Json* tmp = VolumeOf(pod, container, "/tmp", &read_only);
      ASSERT_NE(tmp, nullptr) << "/tmp is no volume";
      EXPECT_TRUE(Field(*tmp, {"emptyDir"}).is_object());
      EXPECT_FALSE(read_only);
      // Every path a flag names lies in a volume; the written ones in a writable one.
      for (const Json& arg : Items(container, {"args"})) {
        const std::string text = arg.is_string() ? arg.get<std::string>() : "";
        const size_t equals = text.find('=');
        if (equals == std::string::npos || text.compare(equals + 1, 1, "/") != 0) continue;
        const Json* volume = VolumeOf(pod, container, text.substr(equals + 1), &read_only);
        EXPECT_NE(volume, nullptr) << text << ": in no volume";
      }
      auto flag = written.find(component);
      if (flag == written.end()) continue;
      bool found = false;
      const std::string path = FlagValue(container, flag->second, &found);
      EXPECT_TRUE(found) << "no " << flag->second;
      const Json* volume = VolumeOf(pod, container, path, &read_only);
      ASSERT_NE(volume, nullptr) << flag->second << "=" << path << ": in no volume";
      EXPECT_FALSE(read_only) << flag->second;
      EXPECT_TRUE(Field(*volume, {"emptyDir"}).is_object() ||
                  Field(*volume, {"persistentVolumeClaim"}).is_object())
          << flag->second << " on " << volume->dump();
    }
  }
}

TEST_F(DeployHardeningTest, EveryContainerHasRequestsAndLimitsItsCachesFitIn) {
  for (const std::string component : kComponents) {
    SCOPED_TRACE(component);
    const Json& pod = PodSpecOf(component);
    for (const Json& container : Items(pod, {"containers"})) {
      for (const char* kind : {"requests", "limits"}) {
        for (const char* resource : {"cpu", "memory"}) {
          EXPECT_TRUE(Field(container, {"resources", kind, resource}).is_string())
              << kind << "." << resource;
        }
      }
      const int64_t request = Bytes(StringField(container, {"resources", "requests", "memory"}));
      const int64_t limit = Bytes(StringField(container, {"resources", "limits", "memory"}));
      EXPECT_GT(request, 0);
      EXPECT_LE(request, limit);
      // The renderer's in-memory cache leaves room under the memory limit; the source-fetcher's
      // mirrors are evicted before their volume is full (a full emptyDir evicts the pod).
      if (component == "renderer") {
        int64_t cache;
        ASSERT_TRUE(absl::SimpleAtoi(FlagValue(container, "--cache-max-bytes"), &cache));
        EXPECT_LE(cache, limit / 2);
      }
      if (component == "source-fetcher") {
        int64_t cache;
        ASSERT_TRUE(absl::SimpleAtoi(FlagValue(container, "--cache-max-bytes"), &cache));
        bool read_only;
        const Json* volume =
            VolumeOf(pod, container, FlagValue(container, "--cache-dir"), &read_only);
        ASSERT_NE(volume, nullptr);
        EXPECT_LT(cache, Bytes(StringField(*volume, {"emptyDir", "sizeLimit"})));
      }
    }
  }
}

TEST_F(DeployHardeningTest, PrometheusScrapesEveryPod) {
  for (const std::string component : kComponents) {
    SCOPED_TRACE(component);
    const Json& deployment = DeploymentOf(component);
    const Json& annotations = Field(deployment, {"spec", "template", "metadata", "annotations"});
    EXPECT_EQ(StringField(annotations, {"prometheus.io/scrape"}), "true");
    EXPECT_EQ(StringField(annotations, {"prometheus.io/port"}), "9090");
    EXPECT_EQ(StringField(annotations, {"prometheus.io/path"}), "/metrics");
    for (const Json& container : Items(PodSpecOf(component), {"containers"})) {
      EXPECT_EQ(FlagValue(container, "--metrics-listen"), "0.0.0.0:9090");
      bool declared = false;
      for (const Json& port : Items(container, {"ports"})) {
        if (StringField(port, {"name"}) == "metrics") {
          declared = Field(port, {"containerPort"}) == 9090;
        }
      }
      EXPECT_TRUE(declared) << "no port `metrics` 9090";
    }
  }
}

TEST_F(DeployHardeningTest, TheOrchestratorKeepsItsStoreOnAClaimAndRequiresTokens) {
  const Json& deployment = DeploymentOf("orchestrator");
  EXPECT_EQ(Field(deployment, {"spec", "replicas"}), 1);
  EXPECT_EQ(StringField(deployment, {"spec", "strategy", "type"}), "Recreate");
  const Json& pod = PodSpecOf("orchestrator");
  ASSERT_EQ(Items(pod, {"containers"}).size(), 1u);
  const Json& container = Items(pod, {"containers"})[0];
  bool read_only = true;
  const Json* data = VolumeOf(pod, container, FlagValue(container, "--data-dir"), &read_only);
  ASSERT_NE(data, nullptr);
  const std::string claim = StringField(*data, {"persistentVolumeClaim", "claimName"});
  const Json* pvc = Find("PersistentVolumeClaim", claim);
  ASSERT_NE(pvc, nullptr) << "--data-dir is not on a PersistentVolumeClaim";
  EXPECT_TRUE(Contains(Field(*pvc, {"spec", "accessModes"}), "ReadWriteOnce"));
  EXPECT_GT(Bytes(StringField(*pvc, {"spec", "resources", "requests", "storage"})), 0);
  // API tokens and the webhook secret come from a Secret mounted read-only.
  for (const char* flag : {"--tokens-file", "--webhook-secret-file"}) {
    bool found = false;
    const std::string path = FlagValue(container, flag, &found);
    ASSERT_TRUE(found) << flag;
    const Json* volume = VolumeOf(pod, container, path, &read_only);
    ASSERT_NE(volume, nullptr) << flag;
    EXPECT_TRUE(read_only) << flag;
    const Json* secret = Find("Secret", StringField(*volume, {"secret", "secretName"}));
    ASSERT_NE(secret, nullptr) << flag << " is not from a Secret of the manifests";
    const std::string key = path.substr(path.rfind('/') + 1);
    EXPECT_TRUE(Field(*secret, {"data", key.c_str()}).is_string()) << "no key " << key;
  }
  EXPECT_FALSE(FlagValue(container, "--webhook-listen").empty());
  for (const Json* each : OfKind("Deployment")) {
    for (const Json& c : Items(*each, {"spec", "template", "spec", "containers"})) {
      bool insecure = false;
      FlagValue(c, "--insecure-listen-any", &insecure);
      for (const Json& arg : Items(c, {"args"})) insecure |= arg == "--insecure-listen-any";
      EXPECT_FALSE(insecure) << StringField(*each, {"metadata", "name"});
    }
  }
}

TEST_F(DeployHardeningTest, DisruptionBudgetsAndAutoscalers) {
  // Every replicated stage keeps all but one pod through voluntary disruptions; the orchestrator
  // (one replica) has no budget, which would block every drain.
  for (const std::string component : kComponents) {
    SCOPED_TRACE(component);
    const std::map<std::string, std::string> labels = PodLabelsOf(component);
    int budgets = 0;
    for (const Json* pdb : OfKind("PodDisruptionBudget")) {
      if (!SelectorMatches(Field(*pdb, {"spec", "selector"}), labels)) continue;
      ++budgets;
      EXPECT_EQ(Field(*pdb, {"spec", "maxUnavailable"}), 1);
    }
    EXPECT_EQ(budgets, component == "orchestrator" ? 0 : 1);
  }
  std::set<std::string> scaled;
  for (const Json* hpa : OfKind("HorizontalPodAutoscaler")) {
    const std::string target = StringField(*hpa, {"spec", "scaleTargetRef", "name"});
    SCOPED_TRACE(target);
    EXPECT_EQ(StringField(*hpa, {"apiVersion"}), "autoscaling/v2");
    EXPECT_EQ(StringField(*hpa, {"spec", "scaleTargetRef", "kind"}), "Deployment");
    EXPECT_EQ(StringField(*hpa, {"spec", "scaleTargetRef", "apiVersion"}), "apps/v1");
    const Json* deployment = Find("Deployment", target);
    ASSERT_NE(deployment, nullptr);
    scaled.insert(target);
    const Json& min = Field(*hpa, {"spec", "minReplicas"});
    ASSERT_TRUE(min.is_number_integer());
    EXPECT_GE(min.get<int>(), 2);
    EXPECT_GT(Int(Field(*hpa, {"spec", "maxReplicas"})), min.get<int>());
    const Json& metrics = Field(*hpa, {"spec", "metrics"});
    ASSERT_TRUE(metrics.is_array() && metrics.size() == 1);
    EXPECT_EQ(StringField(metrics[0], {"resource", "name"}), "cpu");
    EXPECT_EQ(StringField(metrics[0], {"resource", "target", "type"}), "Utilization");
    // The autoscaler owns the replica count: a manifest value would be reset by every apply.
    EXPECT_TRUE(Field(*deployment, {"spec", "replicas"}).is_null());
  }
  EXPECT_EQ(scaled, (std::set<std::string>{"todoke-renderer", "todoke-differ"}));
}

TEST_F(DeployHardeningTest, NetworkPoliciesLetExactlyTheStagesFlowsThrough) {
  std::vector<const Json*> policies = OfKind("NetworkPolicy");
  ASSERT_FALSE(policies.empty());
  const Json* ns = Find("Namespace", "todoke");
  ASSERT_NE(ns, nullptr);
  std::map<std::string, std::map<std::string, std::string>> namespaces;
  namespaces["todoke"] = StringMap(Field(*ns, {"metadata", "labels"}));
  for (const char* name : {"todoke", "kube-system", "monitoring", "apps"}) {
    namespaces[name]["kubernetes.io/metadata.name"] = name;  // set by the API server
  }
  NetworkModel model(policies, namespaces);

  std::vector<Peer> stages;
  int host = 10;
  for (const std::string component : kComponents) {
    stages.push_back(Peer{component, "todoke", PodLabelsOf(component),
                          absl::StrCat("10.0.0.", host++), &PodSpecOf(component)});
  }
  const Peer intruder{"intruder", "todoke", {{"app", "intruder"}}, "10.0.0.50", nullptr};
  const Peer prometheus{"prometheus", "monitoring", {{"app", "prometheus"}}, "10.0.1.1", nullptr};
  const Peer app_pod{"app-pod", "apps", {{"app", "web"}}, "10.0.2.1", nullptr};
  const Peer kube_dns{"kube-dns", "kube-system", {{"k8s-app", "kube-dns"}}, "10.0.3.1", nullptr};
  const Peer git_v4{"git-v4", "", {}, "140.82.112.3", nullptr};
  const Peer git_v6{"git-v6", "", {}, "2606:50c0:8000::153", nullptr};
  const Peer api_server{"api-server", "", {}, "192.168.1.10", nullptr};
  const Peer user{"user", "", {}, "203.0.113.7", nullptr};

  // Into the todoke pods: every declared port, from every peer; each side's policies alone too
  // (a pod's ingress does not rely on the other pods' egress, nor the reverse).
  std::vector<Peer> sources = stages;
  for (const Peer& peer : {intruder, prometheus, app_pod, user}) sources.push_back(peer);
  std::set<std::string> allowed, ingress;
  for (const Peer& to : stages) {
    for (const Json& container : Items(*to.pod_spec, {"containers"})) {
      for (const Json& port : Items(container, {"ports"})) {
        const int number = Int(Field(port, {"containerPort"}));
        for (const Peer& from : sources) {
          if (from.name == to.name) continue;
          const std::string flow =
              absl::StrCat(from.name, " -> ", to.name, ":", StringField(port, {"name"}));
          if (model.Allowed(from, to, number, "TCP")) allowed.insert(flow);
          if (model.IngressAllows(from, to, number, "TCP")) ingress.insert(flow);
        }
      }
    }
  }
  const std::set<std::string> stage_flows = {
      "orchestrator -> source-fetcher:grpc", "renderer -> source-fetcher:grpc",
      "orchestrator -> renderer:grpc",       "orchestrator -> differ:grpc",
      "orchestrator -> applier:grpc",
  };
  // End to end: the stage flows, and from outside the namespace the orchestrator's API and
  // webhook and every pod's metrics.
  std::set<std::string> expected = stage_flows;
  for (const char* outside : {"prometheus", "app-pod", "user"}) {
    expected.insert(absl::StrCat(outside, " -> orchestrator:grpc"));
    expected.insert(absl::StrCat(outside, " -> orchestrator:webhook"));
    for (const std::string component : kComponents) {
      expected.insert(absl::StrCat(outside, " -> ", component, ":metrics"));
    }
  }
  EXPECT_EQ(absl::StrJoin(allowed, "\n"), absl::StrJoin(expected, "\n"));
  // Ingress alone: a stage's gRPC port admits only its callers, whatever the source's egress.
  std::set<std::string> expected_ingress = stage_flows;
  for (const Peer& from : sources) {
    for (const std::string component : kComponents) {
      if (from.name == component) continue;
      expected_ingress.insert(absl::StrCat(from.name, " -> ", component, ":metrics"));
      if (component == "orchestrator") {
        expected_ingress.insert(absl::StrCat(from.name, " -> orchestrator:grpc"));
        expected_ingress.insert(absl::StrCat(from.name, " -> orchestrator:webhook"));
      }
    }
  }
  EXPECT_EQ(absl::StrJoin(ingress, "\n"), absl::StrJoin(expected_ingress, "\n"));

  // Out of the todoke pods (egress alone), to every peer outside the namespace on the ports that
  // matter. The model lets an ipBlock match pod addresses too, as several network plugins do, so
  // Git egress (22, 443) reaches any peer on those ports.
  const std::vector<const Peer*> targets = {&kube_dns, &git_v4,     &git_v6, &api_server,
                                            &app_pod,  &prometheus, &user};
  const int kPorts[] = {22,   53,   80,   443,  2379, 6443, 7100, 7200,
                        7300, 7400, 7401, 7500, 8080, 9090, 9418};
  std::set<std::string> egress, expected_egress;
  for (const Peer& from : stages) {
    const std::string& c = from.name;
    for (const Peer* to : targets) {
      for (const int port : kPorts) {
        for (const char* protocol : {"TCP", "UDP"}) {
          const std::string flow = absl::StrCat(c, " -> ", to->name, ":", port, "/", protocol);
          if (model.EgressAllows(from, *to, port, protocol)) egress.insert(flow);
          const bool dns = to == &kube_dns && port == 53 && c != "differ";
          const bool git = (c == "source-fetcher" || c == "applier") &&
                           (port == 22 || port == 443) && std::string(protocol) == "TCP";
          const bool api = c == "applier" && port == 6443 && std::string(protocol) == "TCP";
          if (dns || git || api) expected_egress.insert(flow);
        }
      }
    }
    // Inside the namespace, egress reaches only the stages' callees (on the ports todoke
    // serves; the ipBlocks of Git egress match pods too, see above).
    for (const Peer& to : stages) {
      if (to.name == from.name) continue;
      for (const int port : {7100, 7200, 7300, 7400, 7401, 7500, 9090}) {
        if (model.EgressAllows(from, to, port, "TCP")) {
          egress.insert(absl::StrCat(c, " -> ", to.name, ":", port, "/TCP"));
        }
      }
    }
  }
  expected_egress.insert({"orchestrator -> source-fetcher:7100/TCP",
                          "renderer -> source-fetcher:7100/TCP",
                          "orchestrator -> renderer:7200/TCP", "orchestrator -> differ:7300/TCP",
                          "orchestrator -> applier:7500/TCP"});
  EXPECT_EQ(absl::StrJoin(egress, "\n"), absl::StrJoin(expected_egress, "\n"));
  // An unknown pod in the namespace reaches nothing and is reached by nothing but scrapes.
  for (const Peer& stage : stages) {
    EXPECT_FALSE(model.EgressAllows(intruder, stage, 7100, "TCP"));
    EXPECT_FALSE(model.IngressAllows(stage, intruder, 8080, "TCP"));
  }
}

}  // namespace
}  // namespace todoke
