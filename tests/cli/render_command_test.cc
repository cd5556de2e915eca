// `todoke render`: the CLI renders a local checkout in-process, gives the bytes `kubectl
// kustomize` gives, bounds reads by the repository root and names the file in every error. The
// byte comparisons (against recorded `kubectl kustomize` output) run the real `todoke` binary
// (static by default), so they also prove the shipped binary works on its own.
#include "cli/render_command.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"

namespace todoke::cli {
namespace {

using ::todoke::test_files::ReadFile;

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with sh, capturing stdout (stderr too if `with_stderr`).
CommandResult RunShell(const std::string& command, bool with_stderr = false) {
  CommandResult result;
  FILE* pipe = popen((command + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << content;
}

std::string TodokeBinary() {
  const char* dir = std::getenv("TODOKE_BIN_DIR");
  return std::string(dir != nullptr ? dir : "build/bin") + "/todoke";
}

// testdata/checkout: a base, an overlay that patches, prefixes and generates a ConfigMap (whose
// hashed name is rewritten into the Deployment), and a plain-manifests folder. Each test works
// on its own copy, marked as a Git checkout. testdata/expected_*.yaml are what
// `kubectl kustomize` (v5.5) printed for base/ and overlays/prod/.
constexpr char kTestdata[] = "tests/cli/testdata";

class RenderCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("render_cli_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::copy(fs::path(kTestdata) / "checkout", root_, fs::copy_options::recursive);
    fs::create_directories(root_ / ".git");
  }

  fs::path root_;
};

TEST_F(RenderCommandTest, OverlayOutputIsByteIdenticalToKubectlKustomize) {
  const std::string expected = ReadFile(fs::path(kTestdata) / "expected_overlay_prod.yaml");
  ASSERT_THAT(expected, HasSubstr("prod-web-config-"));
  const CommandResult actual =
      RunShell(TodokeBinary() + " render " + (root_ / "overlays/prod").string());
  ASSERT_EQ(actual.exit_code, 0);
  EXPECT_EQ(actual.output, expected);
}

TEST_F(RenderCommandTest, RendersTheCurrentFolderByDefault) {
  const std::string expected = ReadFile(fs::path(kTestdata) / "expected_base.yaml");
  ASSERT_THAT(expected, HasSubstr("kind: Deployment"));
  const CommandResult actual = RunShell("cd " + (root_ / "base").string() + " && " +
                                        fs::absolute(TodokeBinary()).string() + " render");
  ASSERT_EQ(actual.exit_code, 0);
  EXPECT_EQ(actual.output, expected);
}

TEST_F(RenderCommandTest, ShippedBinaryNeedsOnlyTheCLibrary) {
  const char* mode = std::getenv("TODOKE_STATIC_BINARIES");
  if (mode != nullptr && std::string(mode) == "OFF") {
    GTEST_SKIP() << "configured with -DTODOKE_STATIC_BINARIES=OFF";
  }
  const CommandResult needed = RunShell("readelf -d " + TodokeBinary() + " | grep NEEDED");
  ASSERT_EQ(needed.exit_code, 0);
  std::istringstream lines(needed.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_THAT(line, ::testing::ContainsRegex("\\[(libc|libm|ld-linux[-.a-z0-9_]*)\\.so"))
        << "the todoke CLI should link everything but glibc statically";
  }
}

TEST_F(RenderCommandTest, DirectoryModeRecursesAndSubstitutes) {
  std::ostringstream out, err;
  ASSERT_EQ(RenderCommand({(root_ / "plain").string(), "--recurse", "--set", "REGION=us-east-2"},
                          /*json=*/false, out, err),
            0)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("region: us-east-2"));
  EXPECT_THAT(out.str(), HasSubstr("name: extra"));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr("just:")));

  std::ostringstream flat, flat_err;
  ASSERT_EQ(RenderCommand({(root_ / "plain").string()}, /*json=*/false, flat, flat_err), 0);
  // As Flux's postBuild: no values given, no substitution at all.
  EXPECT_THAT(flat.str(), HasSubstr("region: ${REGION:=eu-west-1}"));
  EXPECT_THAT(flat.str(), ::testing::Not(HasSubstr("name: extra")));

  std::ostringstream off, off_err;
  ASSERT_EQ(RenderCommand({(root_ / "plain").string(), "--recurse=false"}, false, off, off_err), 0)
      << off_err.str();
  EXPECT_THAT(off.str(), ::testing::Not(HasSubstr("name: extra")));
}

TEST_F(RenderCommandTest, JsonOutputIsAList) {
  std::ostringstream out, err;
  ASSERT_EQ(RenderCommand({(root_ / "base").string()}, /*json=*/true, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"kind\": \"List\""));
  EXPECT_THAT(out.str(), HasSubstr("\"kind\": \"Deployment\""));
}

TEST_F(RenderCommandTest, YamlErrorNamesFileLineAndColumn) {
  WriteFile(root_ / "base/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n");
  std::ostringstream out, err;
  EXPECT_EQ(RenderCommand({(root_ / "overlays/prod").string()}, false, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("base/service.yaml:"));
  EXPECT_TRUE(out.str().empty());
}

// Issue 15 item 7: invalid UTF-8 used to abort `todoke render -o json` (SIGABRT from an uncaught
// nlohmann exception). kustomize refuses such a file ("invalid trailing UTF-8 octet"); so does
// todoke, in both output formats, naming the file, line and column.
TEST_F(RenderCommandTest, InvalidUtf8IsOneClearErrorNotAnAbort) {
  WriteFile(root_ / "plain/bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latin1\ndata:\n  city: \"Sa\xEF"
            "da\"\n");
  for (const char* format : {"json", "yaml"}) {
    const CommandResult result =
        RunShell(TodokeBinary() + " render " + (root_ / "plain").string() + " -o " + format, true);
    EXPECT_EQ(result.exit_code, 1) << format << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr("bad.yaml:6:12: not valid UTF-8 (byte 0xEF;")) << format;
    EXPECT_THAT(result.output, HasSubstr("ConfigMap latin1 at /data/city")) << format;
    EXPECT_THAT(result.output, ::testing::Not(HasSubstr("terminate called"))) << format;
  }
  // A key, in a kustomization, in-process.
  WriteFile(root_ / "base/kustomization.yaml", ReadFile(root_ / "base/kustomization.yaml") +
                                                   "commonLabels:\n  \"te\xFF"
                                                   "am\": web\n");
  std::ostringstream out, err;
  EXPECT_EQ(RenderCommand({(root_ / "base").string()}, /*json=*/true, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("base/kustomization.yaml:"));
  EXPECT_THAT(err.str(), HasSubstr("not valid UTF-8 (byte 0xFF;"));
  EXPECT_EQ(out.str(), "");
  // A --set value is checked before anything is read.
  EXPECT_EQ(RenderCommand({(root_ / "plain").string(), "--set", "A=\xC3"}, false, out, err), 2);
}

TEST_F(RenderCommandTest, NothingOutsideTheRepositoryRootIsRead) {
  WriteFile(root_ / "escape/kustomization.yaml", "resources:\n- ../../outside\n");
  std::ostringstream out, err;
  EXPECT_EQ(RenderCommand({(root_ / "escape").string()}, false, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("outside the repository root"));
}

// A kustomization.yaml symlinked out of the checkout fails the render naming it (the folder was
// rendered as plain files, exit 0); a file over the size limit is refused before it is read
// (a 1 TiB sparse file), naming the file and the limit.
TEST_F(RenderCommandTest, RefusedKustomizationAndOversizedFileAreErrors) {
  const fs::path outside = root_.string() + "-outside.yaml";
  WriteFile(outside, "resources: []\n");
  fs::create_symlink(outside, root_ / "plain/kustomization.yaml");
  std::ostringstream out, err;
  EXPECT_EQ(RenderCommand({(root_ / "plain").string()}, false, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("plain/kustomization.yaml"));
  EXPECT_THAT(err.str(), HasSubstr("outside the repository root"));
  EXPECT_EQ(out.str(), "");
  fs::remove(root_ / "plain/kustomization.yaml");
  fs::remove(outside);

  WriteFile(root_ / "plain/huge.yaml", "");
  fs::resize_file(root_ / "plain/huge.yaml", uintmax_t{1} << 40);
  std::ostringstream out2, err2;
  EXPECT_EQ(RenderCommand({(root_ / "plain").string()}, false, out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("plain/huge.yaml\" is 1099511627776 bytes, over the limit of "
                                    "33554432 bytes"));
  fs::remove(root_ / "plain/huge.yaml");
}

TEST_F(RenderCommandTest, LocatesTheAppInsideItsCheckout) {
  absl::StatusOr<LocalAppLocation> location =
      LocateLocalApp((root_ / "overlays/prod").string(), "");
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(location->repo_root, fs::canonical(root_).string());
  EXPECT_EQ(location->app_path, "overlays/prod");

  location = LocateLocalApp((root_ / "overlays/prod").string(), (root_ / "overlays").string());
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(location->app_path, "prod");

  location = LocateLocalApp((root_ / "base").string(), (root_ / "overlays").string());
  EXPECT_EQ(location.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(location.status().message()), HasSubstr("outside the repository root"));

  location = LocateLocalApp((root_ / "missing").string(), "");
  EXPECT_EQ(location.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RenderCommandTest, BadFlagsAreUsageErrors) {
  std::ostringstream out, err;
  EXPECT_EQ(RenderCommand({"--mode", "helm"}, false, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--mode \"helm\""));
  EXPECT_EQ(RenderCommand({"--set", "NOVALUE"}, false, out, err), 2);
  EXPECT_EQ(RenderCommand({"a", "b"}, false, out, err), 2);
  EXPECT_EQ(RenderCommand({"--recurse=yes"}, false, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--recurse takes true or false"));
  EXPECT_EQ(RenderCommand({"--mode=plugin"}, false, out, err), 2);  // needs a plugin config
  EXPECT_EQ(RenderCommand({"--bogus"}, false, out, err), 2);
  EXPECT_EQ(RenderCommand({"--set"}, false, out, err), 2);
  std::ostringstream help, help_err;
  EXPECT_EQ(RenderCommand({"--help"}, false, help, help_err), 0);
  EXPECT_THAT(help.str(), HasSubstr("--repo-root"));
}

TEST_F(RenderCommandTest, SetIsRepeatableAndTakesOneValueEach) {
  std::ostringstream out, err;
  // The folder after two --set flags is still the folder, not a third value.
  ASSERT_EQ(RenderCommand({"--set", "REGION=eu-1", "--set=OTHER=x", (root_ / "plain").string()},
                          false, out, err),
            0)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("region: eu-1"));
}

// Issue 15: hostile input under a 1 GiB address-space limit (`ulimit -v`, as a container's
// memory limit would be): the real `todoke render` refuses it with a clear error naming a file,
// exit code 1, and is not killed. Before one budget per render, 400 small files each within the
// per-file alias limit (36M nodes in all) took the CLI past 1 GiB, and a JSON file of millions
// of empty objects was built whole.
// kustomize builds and prints objects without apiVersion (a custom kind, as in its own tests
// transformersimage_TestTransfomersImage{Custom,Default}Config); `todoke render` prints them too
// instead of refusing the output. Expected bytes: `kubectl kustomize` (v5.5) of this folder.
TEST_F(RenderCommandTest, PrintsObjectsWithoutApiVersionAsKustomizeDoes) {
  const fs::path app = root_ / "no-api-version";
  WriteFile(app / "kustomization.yaml",
            "resources:\n- custom.yaml\nnamePrefix: p-\nimages:\n- name: nginx\n  newTag: "
            "\"1.25\"\n");
  WriteFile(app / "custom.yaml",
            "kind: customKind\nmetadata:\n  name: custom\nspec:\n  containers:\n  - name: web\n"
            "    image: nginx\n");
  const CommandResult actual = RunShell(TodokeBinary() + " render " + app.string(), true);
  EXPECT_EQ(actual.exit_code, 0) << actual.output;
  EXPECT_EQ(actual.output,
            "kind: customKind\nmetadata:\n  name: p-custom\nspec:\n  containers:\n  - image: "
            "nginx:1.25\n    name: web\n");
}

TEST_F(RenderCommandTest, HostileInputUnderOneGibIsAClearErrorNotACrash) {
  const fs::path many = root_ / "many";
  for (int i = 0; i < 400; ++i) {
    // ~90,000 nodes each after alias expansion, from 400 bytes.
    WriteFile(many / ("f-" + std::to_string(1000 + i) + ".yaml"),
              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-" + std::to_string(i) +
                  "\na: &a [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx, x, x, x, x, x, x, x, x, x]\n"
                  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                  "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                  "e: [*d, *d, *d, *d, *d, *d, *d]\n");
  }
  const fs::path flat = root_ / "flat";
  {
    // A 31 MiB JSON object holding one flat sequence of empty objects (under the 32 MiB file cap).
    fs::create_directories(flat);
    std::ofstream out(flat / "list.json");
    out << R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"x":[{})";
    for (int i = 0; i < (31 << 20) / 3; ++i) out << ",{}";
    out << "]}";
  }
  struct Case {
    fs::path dir;
    std::string expected;
  };
  for (const Case& c : {Case{many, "parsed YAML/JSON nodes"}, Case{flat, "list.json"}}) {
    SCOPED_TRACE(c.dir.string());
    const CommandResult result = RunShell("{ ulimit -v 1048576; " + TodokeBinary() + " render " +
                                              c.dir.string() + " 2>&1 >/dev/null; }",
                                          true);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("todoke render " + c.dir.string() + ": "));
    EXPECT_THAT(result.output, HasSubstr(c.expected));
    EXPECT_THAT(result.output, HasSubstr("more than"));
  }
  fs::remove_all(flat);  // 31 MiB
}

}  // namespace
}  // namespace todoke::cli
