// The orchestrator's secret and tokens files: placeholders shipped in deploy/ are refused, the
// development secrets of deploy/compose are accepted.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/grpc/orchestrator_service.h"

namespace todoke::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The repository's root, from this file's path.
std::string RepoPath(const std::string& relative) {
  return (std::filesystem::path(__FILE__).parent_path() / "../../.." / relative).string();
}

class SecretFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& content) {
    const std::string path = absl::StrCat(testing::TempDir(), "/secret-", getpid(), "-", ++count_);
    std::ofstream(path) << content;
    return path;
  }
  int count_ = 0;
};

TEST_F(SecretFileTest, CommentsAndTrailingBlanksAreNotPartOfTheSecret) {
  absl::StatusOr<std::string> secret =
      LoadSecretFile(Write("# made with openssl rand -hex 32\n\n  0123456789abcdef0123 \n"),
                     "--webhook-secret-file");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(*secret, "  0123456789abcdef0123");
}

// Shown failing on the old reader: the shipped placeholder became the webhook secret, so a
// forgotten replacement served webhooks signed with a key anyone can read in this repository.
TEST_F(SecretFileTest, TheShippedPlaceholderIsRefusedNamingTheFile) {
  const std::string path = RepoPath("deploy/kubernetes/orchestrator-webhook-secret");
  absl::StatusOr<std::string> secret = LoadSecretFile(path, "--webhook-secret-file");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("placeholder"));
  EXPECT_THAT(std::string(secret.status().message()), Not(HasSubstr("REPLACE-WITH-A-RANDOM")));

  absl::StatusOr<std::map<std::string, Role>> tokens =
      LoadTokensFile(RepoPath("deploy/kubernetes/orchestrator-tokens"));
  ASSERT_FALSE(tokens.ok());
  EXPECT_THAT(std::string(tokens.status().message()), HasSubstr("placeholder"));
  EXPECT_FALSE(LoadTokensFile(Write("REPLACE-WITH-A-TOKEN admin\n")).ok());
}

TEST_F(SecretFileTest, ShortEmptyOrSeveralLinesAreRefused) {
  absl::StatusOr<std::string> short_secret = LoadSecretFile(Write("hunter2\n"), "--x");
  ASSERT_FALSE(short_secret.ok());
  EXPECT_THAT(std::string(short_secret.status().message()), HasSubstr("7 bytes"));
  EXPECT_THAT(std::string(short_secret.status().message()), Not(HasSubstr("hunter2")));
  EXPECT_FALSE(LoadSecretFile(Write("# only a comment\n\n"), "--x").ok());
  EXPECT_FALSE(LoadSecretFile(Write("0123456789abcdef\n0123456789abcdef\n"), "--x").ok());
  EXPECT_FALSE(LoadSecretFile("/nonexistent/todoke-secret", "--x").ok());
}

// docker-compose.yaml mounts these: development values, valid by the same rules.
TEST_F(SecretFileTest, TheComposeDevelopmentSecretsAreAccepted) {
  absl::StatusOr<std::string> secret =
      LoadSecretFile(RepoPath("deploy/compose/webhook-secret"), "--webhook-secret-file");
  EXPECT_TRUE(secret.ok()) << secret.status();
  EXPECT_TRUE(LoadTokensFile(RepoPath("deploy/compose/tokens")).ok());
}

}  // namespace
}  // namespace todoke::orchestrator
