// WebhookHandler: the rules of the webhook receiver without sockets. What a user relies on: only
// a delivery signed with (or carrying) the secret triggers anything; GitHub, GitLab and the
// generic form each refresh the apps of the repository and ref they name; a repeated delivery
// is ignored, but a forged one cannot use up a delivery id; events other than pushes, and bodies
// that are not JSON, trigger nothing.
#include "services/orchestrator/core/webhook.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kSecret[] = "s3cret-webhook";

constexpr char kGitHubPush[] = R"({
  "ref": "refs/heads/main",
  "after": "0000000000000000000000000000000000000001",
  "repository": {
    "clone_url": "https://github.com/org/repo.git",
    "ssh_url": "git@github.com:org/repo.git",
    "html_url": "https://github.com/org/repo"
  }
})";

constexpr char kGitLabPush[] = R"({
  "object_kind": "push",
  "ref": "refs/heads/release",
  "project": {
    "git_http_url": "https://gitlab.example.com/group/app.git",
    "git_ssh_url": "git@gitlab.example.com:group/app.git"
  }
})";

class WebhookTest : public ::testing::Test {
 protected:
  WebhookHandler Handler(const std::string& secret = kSecret, size_t remembered = 4096) {
    return WebhookHandler(
        secret,
        [this](const std::string& repo, const std::string& ref) {
          calls_.emplace_back(repo, ref);
          std::vector<std::string> apps;
          if (repo == "https://github.com/org/repo.git") apps = {"web", "api"};
          if (repo == "git@github.com:org/repo.git") apps = {"web"};
          if (repo == "https://gitlab.example.com/group/app.git") apps = {"gl"};
          if (repo == "https://git.example.com/generic.git") apps = {"gen"};
          return apps;
        },
        remembered);
  }

  static std::map<std::string, std::string> GitHub(const std::string& body,
                                                   const std::string& event = "push",
                                                   const std::string& delivery = "") {
    std::map<std::string, std::string> headers = {
        {"x-github-event", event},
        {"x-hub-signature-256", absl::StrCat("sha256=", HmacSha256Hex(kSecret, body))},
        {"content-type", "application/json"}};
    if (!delivery.empty()) headers["x-github-delivery"] = delivery;
    return headers;
  }

  std::vector<std::pair<std::string, std::string>> calls_;
};

TEST_F(WebhookTest, HmacMatchesTheRfc4231Vector) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST_F(WebhookTest, GitHubPushWithAGoodSignatureRefreshesTheMatchingApps) {
  WebhookHandler handler = Handler();
  WebhookResult result = handler.Handle(GitHub(kGitHubPush), kGitHubPush);
  EXPECT_EQ(result.http_status, 202) << result.message;
  EXPECT_THAT(result.apps, ElementsAre("api", "web"));  // each once, though two URLs matched
  EXPECT_THAT(result.message, HasSubstr("web"));
  // Every URL form of the payload is offered, each with the pushed ref.
  EXPECT_THAT(calls_, UnorderedElementsAre(
                          std::make_pair("https://github.com/org/repo.git", "refs/heads/main"),
                          std::make_pair("git@github.com:org/repo.git", "refs/heads/main"),
                          std::make_pair("https://github.com/org/repo", "refs/heads/main")));
}

TEST_F(WebhookTest, GitHubBadOrMissingSignatureIs401AndTriggersNothing) {
  WebhookHandler handler = Handler();
  auto wrong_key = GitHub(kGitHubPush);
  wrong_key["x-hub-signature-256"] =
      absl::StrCat("sha256=", HmacSha256Hex("not-the-secret", kGitHubPush));
  auto other_body = GitHub(kGitHubPush);
  other_body["x-hub-signature-256"] =
      absl::StrCat("sha256=", HmacSha256Hex(kSecret, std::string(kGitHubPush) + " "));
  auto no_prefix = GitHub(kGitHubPush);
  no_prefix["x-hub-signature-256"] = HmacSha256Hex(kSecret, kGitHubPush);
  auto sha1 = GitHub(kGitHubPush);
  sha1["x-hub-signature-256"] = absl::StrCat("sha1=", HmacSha256Hex(kSecret, kGitHubPush));
  auto altered = GitHub(kGitHubPush);
  altered["x-hub-signature-256"][10] = 'X';
  auto truncated = GitHub(kGitHubPush);
  truncated["x-hub-signature-256"].pop_back();
  auto missing = GitHub(kGitHubPush);
  missing.erase("x-hub-signature-256");
  auto empty = GitHub(kGitHubPush);
  empty["x-hub-signature-256"] = "";
  int i = 0;
  for (const auto& headers :
       {wrong_key, other_body, no_prefix, sha1, altered, truncated, missing, empty}) {
    WebhookResult result = handler.Handle(headers, kGitHubPush);
    EXPECT_EQ(result.http_status, 401) << "case " << i << ": " << result.message;
    EXPECT_THAT(result.apps, IsEmpty());
    ++i;
  }
  // A forged ping or non-push event is refused too, not answered.
  auto forged_ping = GitHub("{}", "ping");
  forged_ping["x-hub-signature-256"] = "sha256=00";
  EXPECT_EQ(handler.Handle(forged_ping, "{}").http_status, 401);
  EXPECT_THAT(calls_, IsEmpty());
}

TEST_F(WebhookTest, GitHubEventsOtherThanPushTriggerNothing) {
  WebhookHandler handler = Handler();
  WebhookResult ping = handler.Handle(GitHub("{\"zen\":\"hi\"}", "ping"), "{\"zen\":\"hi\"}");
  EXPECT_EQ(ping.http_status, 200);
  for (const char* event : {"pull_request", "issues", "release", "create"}) {
    WebhookResult result = handler.Handle(GitHub(kGitHubPush, event), kGitHubPush);
    EXPECT_EQ(result.http_status, 200) << event;
    EXPECT_THAT(result.message, HasSubstr("ignored")) << event;
    EXPECT_THAT(result.apps, IsEmpty());
  }
  EXPECT_THAT(calls_, IsEmpty());
}

TEST_F(WebhookTest, GitLabPushWithTheTokenRefreshes) {
  WebhookHandler handler = Handler();
  std::map<std::string, std::string> headers = {{"x-gitlab-event", "Push Hook"},
                                                {"x-gitlab-token", kSecret}};
  WebhookResult result = handler.Handle(headers, kGitLabPush);
  EXPECT_EQ(result.http_status, 202) << result.message;
  EXPECT_THAT(result.apps, ElementsAre("gl"));
  EXPECT_THAT(calls_,
              UnorderedElementsAre(
                  std::make_pair("https://gitlab.example.com/group/app.git", "refs/heads/release"),
                  std::make_pair("git@gitlab.example.com:group/app.git", "refs/heads/release")));

  headers["x-gitlab-event"] = "Tag Push Hook";
  std::string tag = R"({"ref":"refs/tags/v2.0.0","project":{"git_http_url":)"
                    R"("https://gitlab.example.com/group/app.git"}})";
  result = handler.Handle(headers, tag);
  EXPECT_EQ(result.http_status, 202);
  EXPECT_EQ(calls_.back().second, "refs/tags/v2.0.0");

  calls_.clear();
  headers["x-gitlab-event"] = "Merge Request Hook";
  EXPECT_EQ(handler.Handle(headers, kGitLabPush).http_status, 200);
  headers["x-gitlab-event"] = "Push Hook";
  for (const char* token : {"wrong", "", "s3cret-webhoo", "s3cret-webhook "}) {
    headers["x-gitlab-token"] = token;
    EXPECT_EQ(handler.Handle(headers, kGitLabPush).http_status, 401) << "token '" << token << "'";
  }
  headers.erase("x-gitlab-token");
  EXPECT_EQ(handler.Handle(headers, kGitLabPush).http_status, 401);
  EXPECT_THAT(calls_, IsEmpty());
}

TEST_F(WebhookTest, GenericSignedBodyRefreshes) {
  WebhookHandler handler = Handler();
  std::string body = R"({"repoURL":"https://git.example.com/generic.git","ref":"refs/heads/main"})";
  std::map<std::string, std::string> headers = {
      {"x-todoke-signature-256", absl::StrCat("sha256=", HmacSha256Hex(kSecret, body))}};
  WebhookResult result = handler.Handle(headers, body);
  EXPECT_EQ(result.http_status, 202) << result.message;
  EXPECT_THAT(result.apps, ElementsAre("gen"));
  EXPECT_THAT(calls_, ElementsAre(std::make_pair("https://git.example.com/generic.git",
                                                 "refs/heads/main")));

  // Without a ref: any ref of the repository.
  std::string any = R"({"repoURL":"https://git.example.com/generic.git"})";
  headers["x-todoke-signature-256"] = absl::StrCat("sha256=", HmacSha256Hex(kSecret, any));
  EXPECT_EQ(handler.Handle(headers, any).http_status, 202);
  EXPECT_EQ(calls_.back().second, "");

  // A signature is required: none, or one for another body, is 401.
  calls_.clear();
  EXPECT_EQ(handler.Handle({}, body).http_status, 401);
  headers["x-todoke-signature-256"] = absl::StrCat("sha256=", HmacSha256Hex(kSecret, any));
  EXPECT_EQ(handler.Handle(headers, body).http_status, 401);
  // Nothing matches: still accepted (202), nothing refreshed.
  std::string unknown = R"({"repoURL":"https://git.example.com/unknown.git"})";
  headers["x-todoke-signature-256"] = absl::StrCat("sha256=", HmacSha256Hex(kSecret, unknown));
  WebhookResult none = handler.Handle(headers, unknown);
  EXPECT_EQ(none.http_status, 202);
  EXPECT_THAT(none.apps, IsEmpty());
  EXPECT_EQ(calls_.size(), 1u);
}

TEST_F(WebhookTest, RepeatedDeliveryIdIsIgnoredButAForgedOneCannotBurnIt) {
  WebhookHandler handler = Handler();
  // A forged delivery with the id of a real one that is still to come.
  auto forged = GitHub(kGitHubPush, "push", "delivery-1");
  forged["x-hub-signature-256"] = "sha256=" + std::string(64, '0');
  EXPECT_EQ(handler.Handle(forged, kGitHubPush).http_status, 401);

  EXPECT_EQ(handler.Handle(GitHub(kGitHubPush, "push", "delivery-1"), kGitHubPush).http_status,
            202);
  size_t calls = calls_.size();
  WebhookResult again = handler.Handle(GitHub(kGitHubPush, "push", "delivery-1"), kGitHubPush);
  EXPECT_EQ(again.http_status, 200);
  EXPECT_THAT(again.message, HasSubstr("already"));
  EXPECT_EQ(calls_.size(), calls) << "a repeated delivery refreshed again";
  // Another id is another delivery.
  EXPECT_EQ(handler.Handle(GitHub(kGitHubPush, "push", "delivery-2"), kGitHubPush).http_status,
            202);

  // GitLab and generic ids too.
  std::map<std::string, std::string> gitlab = {{"x-gitlab-event", "Push Hook"},
                                               {"x-gitlab-token", kSecret},
                                               {"x-gitlab-event-uuid", "uuid-1"}};
  EXPECT_EQ(handler.Handle(gitlab, kGitLabPush).http_status, 202);
  EXPECT_EQ(handler.Handle(gitlab, kGitLabPush).http_status, 200);
  std::string body = R"({"repoURL":"https://git.example.com/generic.git"})";
  std::map<std::string, std::string> generic = {
      {"x-todoke-signature-256", absl::StrCat("sha256=", HmacSha256Hex(kSecret, body))},
      {"x-todoke-delivery", "delivery-1"}};
  EXPECT_EQ(handler.Handle(generic, body).http_status, 202) << "ids are per kind of sender";
  EXPECT_EQ(handler.Handle(generic, body).http_status, 200);
}

TEST_F(WebhookTest, RememberedDeliveriesAreBounded) {
  WebhookHandler handler = Handler(kSecret, /*remembered=*/2);
  for (const char* id : {"d1", "d2", "d3"}) {
    EXPECT_EQ(handler.Handle(GitHub(kGitHubPush, "push", id), kGitHubPush).http_status, 202);
  }
  EXPECT_EQ(handler.Handle(GitHub(kGitHubPush, "push", "d3"), kGitHubPush).http_status, 200);
  // The oldest was forgotten (memory stays bounded).
  EXPECT_EQ(handler.Handle(GitHub(kGitHubPush, "push", "d1"), kGitHubPush).http_status, 202);
}

TEST_F(WebhookTest, NoSecretRefusesEverything) {
  WebhookHandler handler = Handler(/*secret=*/"");
  std::map<std::string, std::string> github = {
      {"x-github-event", "push"},
      {"x-hub-signature-256", absl::StrCat("sha256=", HmacSha256Hex("", kGitHubPush))}};
  EXPECT_EQ(handler.Handle(github, kGitHubPush).http_status, 401);
  EXPECT_EQ(handler.Handle({{"x-gitlab-event", "Push Hook"}, {"x-gitlab-token", ""}}, kGitLabPush)
                .http_status,
            401);
  std::string body = R"({"repoURL":"https://git.example.com/generic.git"})";
  WebhookResult generic = handler.Handle(
      {{"x-todoke-signature-256", absl::StrCat("sha256=", HmacSha256Hex("", body))}}, body);
  EXPECT_EQ(generic.http_status, 401);
  EXPECT_THAT(generic.message, HasSubstr("secret"));
  EXPECT_THAT(calls_, IsEmpty());
}

TEST_F(WebhookTest, BodyThatIsNotAJsonObjectIs400) {
  WebhookHandler handler = Handler();
  for (const std::string body : {"not json", "{\"ref\":", "[1,2]", "\"text\"", ""}) {
    WebhookResult result = handler.Handle(GitHub(body), body);
    EXPECT_EQ(result.http_status, 400) << "body '" << body << "': " << result.message;
  }
  // JSON that names no repository.
  std::string no_repo = R"({"ref":"refs/heads/main"})";
  WebhookResult result = handler.Handle(GitHub(no_repo), no_repo);
  EXPECT_EQ(result.http_status, 400);
  EXPECT_THAT(result.message, HasSubstr("repository"));
  EXPECT_THAT(calls_, IsEmpty());
}

}  // namespace
}  // namespace todoke::orchestrator
