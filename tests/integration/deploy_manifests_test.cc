// deploy/kubernetes must start what it describes. Rendered with todoke's own renderer, each
// container's command line starts the real binary, which serves and stops on SIGTERM with exit 0.
// Only what a pod gives it differs: addresses (--listen, --metrics-listen, --webhook-listen) move
// to loopback port 0, and a flag naming a path inside one of the container's volumes gets a
// temporary folder for an emptyDir or a claim, and the file itself, written from the rendered
// Secret, for a Secret volume. A path flag outside every volume fails the test (the root
// filesystem is read-only). The ports the flags name are the ones the container declares
// (`grpc`, `metrics`, `webhook`), its probes check, its Prometheus annotation names and its
// Service targets. The orchestrator refuses the shipped placeholder tokens, and with real ones
// requires a token on its API.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "tests/deploy/json_field.h"
#include "tests/integration/process.h"

namespace todoke::testing {
namespace {

using test_json::Field;
using test_json::StringField;

// The port of an address "host:port", or -1.
int PortOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  return std::atoi(address.c_str() + colon + 1);
}

// The container port named `name`, or -1.
int NamedPort(const Json& container, const std::string& name) {
  const Json& ports = Field(container, {"ports"});
  if (!ports.is_array()) return -1;
  for (const Json& port : ports) {
    if (StringField(port, {"name"}) == name) return Field(port, {"containerPort"}).get<int>();
  }
  return -1;
}

const Json* FindObject(const std::vector<Json>& objects, const std::string& kind,
                       const std::string& name) {
  for (const Json& object : objects) {
    if (StringField(object, {"kind"}) == kind &&
        StringField(object, {"metadata", "name"}) == name) {
      return &object;
    }
  }
  return nullptr;
}

bool WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// Runs the todoke CLI and returns its exit status (waitpid's), bounded by 20 s.
int RunCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinaryPath("todoke")};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv);
  if (!child.ok()) return -1;
  // The marker never appears: this returns when the CLI exits (closing stdout) or at the bound.
  (void)child->WaitForLine("\x01", absl::Seconds(20));
  absl::StatusOr<int> exit = child->Stop(SIGKILL, absl::Seconds(5));
  return exit.ok() ? *exit : -1;
}

class DeployManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    renderer::DiskFileSource files(".");  // tests run from the repository root
    renderer::RenderOptions options;
    options.mode = renderer::RenderMode::kKustomize;
    absl::StatusOr<renderer::RenderResult> rendered =
        renderer::Render(files, "deploy/kubernetes", options);
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    objects_ = std::move(rendered->objects);
    temp_ = std::filesystem::temp_directory_path() / absl::StrCat("todoke-deploy-test-", getpid());
  }
  void TearDown() override { std::filesystem::remove_all(temp_); }

  // A container's command line as the test runs it: see the file comment. Records the ports
  // the address flags name in `ports` (by flag name, e.g. "--listen").
  std::vector<std::string> LocalCommandLine(const std::string& deployment, const Json& pod,
                                            const Json& container, const std::string& binary,
                                            std::map<std::string, int>* ports) {
    std::map<std::string, const Json*> volumes;  // by name
    for (const Json& volume : Field(pod, {"volumes"})) {
      volumes[StringField(volume, {"name"})] = &volume;
    }
    std::vector<std::string> argv = {BinaryPath(binary)};
    for (const Json& arg_json : Field(container, {"args"})) {
      std::string arg = arg_json.get<std::string>();
      const size_t equals = arg.find('=');
      if (!absl::StartsWith(arg, "--") || equals == std::string::npos) {
        argv.push_back(arg);
        continue;
      }
      const std::string flag = arg.substr(0, equals);
      const std::string value = arg.substr(equals + 1);
      if (flag == "--listen" || flag == "--metrics-listen" || flag == "--webhook-listen") {
        (*ports)[flag] = PortOf(value);
        argv.push_back(flag + "=127.0.0.1:0");
        continue;
      }
      if (!absl::StartsWith(value, "/")) {
        argv.push_back(arg);
        continue;
      }
      // A path: it must lie in one of the container's volumes (the longest mount path wins).
      const Json* mount = nullptr;
      std::string mount_path;
      for (const Json& m : Field(container, {"volumeMounts"})) {
        const std::string path = StringField(m, {"mountPath"});
        if ((value == path || absl::StartsWith(value, path + "/")) &&
            path.size() > mount_path.size()) {
          mount = &m;
          mount_path = path;
        }
      }
      if (mount == nullptr) {
        ADD_FAILURE() << arg << " names a path in no volume: the root filesystem is read-only";
        argv.push_back(arg);
        continue;
      }
      const std::string volume_name = StringField(*mount, {"name"});
      const std::string relative = value.substr(mount_path.size());
      const std::filesystem::path local =
          std::filesystem::path(absl::StrCat(temp_.string(), "/", deployment, "/", volume_name)) /
          std::filesystem::path(relative).relative_path();
      auto volume = volumes.find(volume_name);
      if (volume == volumes.end()) {
        ADD_FAILURE() << "volumeMount " << volume_name << " has no volume";
      } else if (Field(*volume->second, {"secret"}).is_object()) {
        EXPECT_EQ(Field(*mount, {"readOnly"}), true)
            << "Secret " << volume_name << " mounted writable";
        // The file the kubelet would write: the Secret's key named by the relative path.
        const std::string secret_name = StringField(*volume->second, {"secret", "secretName"});
        const Json* secret = FindObject(objects_, "Secret", secret_name);
        const std::string key = std::filesystem::path(relative).relative_path().string();
        const Json& data = secret != nullptr ? Field(*secret, {"data", key.c_str()}) : Json();
        std::string decoded;
        if (!data.is_string() || !absl::Base64Unescape(data.get<std::string>(), &decoded)) {
          ADD_FAILURE() << arg << ": Secret " << secret_name << " has no key " << key;
        }
        EXPECT_TRUE(WriteFile(local, decoded)) << local;
      } else if (Field(*volume->second, {"emptyDir"}).is_object() ||
                 Field(*volume->second, {"persistentVolumeClaim"}).is_object()) {
        std::filesystem::create_directories(local);
      } else {
        ADD_FAILURE() << arg << ": volume " << volume_name << " is neither a Secret, an "
                      << "emptyDir nor a claim";
      }
      argv.push_back(flag + "=" + local.string());
    }
    return argv;
  }

  std::vector<Json> objects_;
  std::filesystem::path temp_;
};

TEST_F(DeployManifestsTest, EveryContainerCommandLineStartsItsService) {
  std::set<std::string> started;
  for (const Json& object : objects_) {
    if (StringField(object, {"kind"}) != "Deployment") continue;
    const std::string name = StringField(object, {"metadata", "name"});
    const Json& pod = Field(object, {"spec", "template", "spec"});
    for (const Json& container : Field(pod, {"containers"})) {
      SCOPED_TRACE(name + "/" + StringField(container, {"name"}));
      ASSERT_TRUE(Field(container, {"command"}).is_array() && container["command"].size() == 1);
      const std::string binary = container["command"][0].get<std::string>();
      std::map<std::string, int> ports;
      std::vector<std::string> argv = LocalCommandLine(name, pod, container, binary, &ports);

      // The ports the flags name are the ones the container declares, its probes check, its
      // Prometheus annotation names and its Service targets.
      ASSERT_GT(ports["--listen"], 0) << "no --listen";
      EXPECT_EQ(NamedPort(container, "grpc"), ports["--listen"]);
      for (const char* probe : {"readinessProbe", "livenessProbe"}) {
        EXPECT_EQ(Field(container, {probe, "grpc", "port"}), ports["--listen"]) << probe;
      }
      ASSERT_GT(ports["--metrics-listen"], 0) << "no --metrics-listen";
      EXPECT_EQ(NamedPort(container, "metrics"), ports["--metrics-listen"]);
      EXPECT_EQ(StringField(object,
                            {"spec", "template", "metadata", "annotations", "prometheus.io/port"}),
                std::to_string(ports["--metrics-listen"]));
      if (ports.count("--webhook-listen")) {
        EXPECT_EQ(NamedPort(container, "webhook"), ports["--webhook-listen"]);
      }
      const Json* service = FindObject(objects_, "Service", name);
      ASSERT_NE(service, nullptr) << "no Service " << name;
      for (const Json& port : Field(*service, {"spec", "ports"})) {
        const Json& target = Field(port, {"targetPort"});
        EXPECT_TRUE(target.is_string() && NamedPort(container, target.get<std::string>()) > 0)
            << "Service port " << port.dump() << " targets no port of the container";
      }
      auto it = std::find_if(argv.begin(), argv.end(), [](const std::string& arg) {
        return absl::StartsWith(arg, "--tokens-file=");
      });
      // The shipped tokens and webhook secret are placeholders the orchestrator refuses (exit
      // 2), each in turn, until replaced as README "Deploying" says.
      const std::vector<std::pair<std::string, std::string>> replacements = {
          {"--tokens-file=", "# replaced as README \"Deploying\" says\ndeploy-test-token admin\n"},
          {"--webhook-secret-file=", "# replaced\ndeploy-test-webhook-secret-0123456789\n"}};
      for (const auto& [flag, content] : replacements) {
        auto file = std::find_if(argv.begin(), argv.end(), [&flag](const std::string& arg) {
          return absl::StartsWith(arg, flag);
        });
        if (file == argv.end()) continue;
        absl::StatusOr<ChildProcess> refused = ChildProcess::Start(argv);
        ASSERT_TRUE(refused.ok()) << refused.status();
        EXPECT_FALSE(refused->WaitForLine("listening on ", absl::Seconds(20)).ok())
            << "the orchestrator served with the placeholder of " << flag;
        absl::StatusOr<int> exit = refused->Stop(SIGKILL, absl::Seconds(15));
        ASSERT_TRUE(exit.ok()) << exit.status();
        EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 2)
            << flag << " placeholder: exit status " << *exit;
        ASSERT_TRUE(WriteFile(file->substr(flag.size()), content));
      }

      absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv);
      ASSERT_TRUE(child.ok()) << child.status();
      // In the order the services print them.
      if (ports.count("--webhook-listen")) {
        absl::StatusOr<std::string> line =
            child->WaitForLine("webhook receiver at ", absl::Seconds(20));
        EXPECT_TRUE(line.ok()) << binary << " started no webhook receiver: " << line.status();
      }
      absl::StatusOr<std::string> metrics = child->WaitForLine("metrics at ", absl::Seconds(20));
      EXPECT_TRUE(metrics.ok()) << binary << " serves no metrics: " << metrics.status();
      absl::StatusOr<std::string> line = child->WaitForLine("listening on ", absl::Seconds(20));
      EXPECT_TRUE(line.ok()) << binary
                             << " did not start with the manifest's flags: " << line.status();
      if (line.ok() && it != argv.end()) {
        // With tokens, the API answers only a caller with one.
        const std::string address = line->substr(line->rfind(' ') + 1);
        const int without = RunCli({"--server", address, "--timeout", "10s", "app", "list"});
        EXPECT_TRUE(WIFEXITED(without) && WEXITSTATUS(without) == 1) << "status " << without;
        const int with = RunCli({"--server", address, "--timeout", "10s", "--token",
                                 "deploy-test-token", "app", "list"});
        EXPECT_TRUE(WIFEXITED(with) && WEXITSTATUS(with) == 0) << "status " << with;
      }
      absl::StatusOr<int> exit = child->Stop(SIGTERM, absl::Seconds(15));
      ASSERT_TRUE(exit.ok()) << exit.status();
      EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << "exit status " << *exit;
      started.insert(binary);
    }
  }
  EXPECT_EQ(started,
            (std::set<std::string>{"todoke-source-fetcher", "todoke-renderer", "todoke-differ",
                                   "todoke-applier", "todoke-orchestrator"}));
}

}  // namespace
}  // namespace todoke::testing
