// Unit tests of the pure parts of the source-fetcher core: URLs, semver, credentials.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/repo_url.h"
#include "services/source_fetcher/core/semver.h"

namespace todoke::source_fetcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RepoUrlTest, ParsesEveryTransport) {
  auto https = ParseRepoUrl("https://Git.Example.com/org/repo.git/", false);
  ASSERT_TRUE(https.ok()) << https.status();
  EXPECT_EQ(https->transport, RepoTransport::kHttps);
  EXPECT_EQ(https->canonical, "https://git.example.com/org/repo.git");

  auto git = ParseRepoUrl("git://127.0.0.1:9418/repo", false);
  ASSERT_TRUE(git.ok());
  EXPECT_EQ(git->transport, RepoTransport::kGit);
  EXPECT_EQ(git->canonical, "git://127.0.0.1/repo");

  auto ssh = ParseRepoUrl("ssh://git@host:2222/srv/repo.git", false);
  ASSERT_TRUE(ssh.ok());
  EXPECT_EQ(ssh->transport, RepoTransport::kSsh);
  EXPECT_EQ(ssh->user, "git");
  EXPECT_EQ(ssh->port, 2222);
  EXPECT_EQ(ssh->canonical, "ssh://host:2222/srv/repo.git");

  auto scp = ParseRepoUrl("git@github.com:org/repo.git", false);
  ASSERT_TRUE(scp.ok());
  EXPECT_EQ(scp->transport, RepoTransport::kSsh);
  EXPECT_EQ(scp->canonical, "ssh://github.com/org/repo.git");

  auto local = ParseRepoUrl("/srv/git/repo", true);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->fetch_url, "file:///srv/git/repo");
}

TEST(RepoUrlTest, RejectsBadInput) {
  for (const char* bad : {"", "https://host", "https:///x", "ftp://host/x", "https://host/a/../b",
                          "/a/../b", "relative/path", "https://host/x?y=1", "https://host:99999/x",
                          "https://ho st/x", "git://host/a\nb"}) {
    auto parsed = ParseRepoUrl(bad, true);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseRepoUrl("/srv/repo", false).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRepoUrl("file:///srv/repo", false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RepoUrlTest, PasswordsInUrlsAreRefusedAndMasked) {
  auto parsed = ParseRepoUrl("https://bob:hunter2@host/repo.git", false);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(parsed.status().message(), HasSubstr("https://***@host/repo.git"));
}

TEST(RepoUrlTest, MaskCredentials) {
  EXPECT_EQ(MaskCredentials("fetch https://u:p@h/x failed"), "fetch https://***@h/x failed");
  EXPECT_EQ(MaskCredentials("ssh://git@h/x"), "ssh://***@h/x");
  EXPECT_EQ(MaskCredentials("Authorization: Bearer abc\n"), "Authorization: ***\n");
  EXPECT_EQ(MaskCredentials("proxy-authorization: Basic dTpw"), "proxy-authorization: ***");
}

// A token is often the whole userinfo or a query parameter: every one is masked, wherever the
// URL sits in the text, and the rest of the text is kept.
TEST(RepoUrlTest, MaskCredentialsHidesEveryUserinfoAndCredentialQueryValue) {
  EXPECT_EQ(MaskCredentials("cannot fetch https://ghp_Secret1@github.com/o/r.git: 404"),
            "cannot fetch https://***@github.com/o/r.git: 404");
  EXPECT_EQ(MaskCredentials("\"ghp_Secret1@github.com:o/r.git\" not found"),
            "\"***@github.com:o/r.git\" not found");
  EXPECT_EQ(MaskCredentials("redirect to http://h:8080/r.git?service=git-upload-pack&"
                            "access_token=Secret2&x=1#frag"),
            "redirect to http://h:8080/r.git?service=git-upload-pack&access_token=***&x=1#frag");
  EXPECT_EQ(MaskCredentials("https://h/r?private_token=Secret3;X-Amz-Signature=Secret4 and "
                            "https://h/r?password=Secret5"),
            "https://h/r?private_token=***;X-Amz-Signature=*** and https://h/r?password=***");
  EXPECT_EQ(MaskCredentials("(https://u:Secret6@[::1]:8443/r)"), "(https://***@[::1]:8443/r)");
  EXPECT_EQ(MaskCredentials("no secrets in https://h/r.git?service=git-upload-pack"),
            "no secrets in https://h/r.git?service=git-upload-pack");
  for (absl::string_view input :
       {"x https://ghp_Secret7@h/r", "x ghp_Secret7@h:r", "x http://h/r?token=Secret7",
        "x git://tok:Secret7@h/r", "Location: https://Secret7@evil/r?sig=Secret7"}) {
    EXPECT_THAT(MaskCredentials(input), Not(HasSubstr("Secret"))) << input;
  }
}

// Every form a credential takes in a URL or a header, each masked to "***" and nothing else.
TEST(RepoUrlTest, MaskCredentialsHidesEachForm) {
  struct Case {
    const char* input;
    const char* masked;
  };
  for (const Case& c : std::vector<Case>{
           // A token as the whole userinfo, user:password, ssh users, scp-like addresses.
           {"https://ghp_Secret@github.com/o/r", "https://***@github.com/o/r"},
           {"https://user:Secret@h:8443/r", "https://***@h:8443/r"},
           {"https://me%40corp:Secret@h/r", "https://***@h/r"},
           {"ssh://git@h:22/r", "ssh://***@h:22/r"},
           {"ghp_Secret@github.com:o/r.git", "***@github.com:o/r.git"},
           {"http://u:Secret?x@h/r", "http://***@h/r"},  // ParseRepoUrl's userinfo: "u:Secret?x"
           // Credential-like query keys, any case, after '?', '&' or ';'.
           {"https://h/r?token=Secret", "https://h/r?token=***"},
           {"https://h/r?x=1&access_token=Secret&y=2", "https://h/r?x=1&access_token=***&y=2"},
           {"https://h/r?PassWord=Secret#f", "https://h/r?PassWord=***#f"},
           {"https://h/r?client_secret=Secret", "https://h/r?client_secret=***"},
           {"https://h/r?API_KEY=Secret", "https://h/r?API_KEY=***"},
           {"https://h/r?sig=Secret/with/slashes", "https://h/r?sig=***"},
           {"https://h/r?private_token=Secret", "https://h/r?private_token=***"},
           {"https://s3/b?X-Amz-Credential=Secret;X-Amz-Signature=Secret",
            "https://s3/b?X-Amz-Credential=***;X-Amz-Signature=***"},
           {"https://h?token=Secret", "https://h?token=***"},
           // A URL without a path whose credential holds a '/': all of it goes, and the '/'
           // where the authority ended stays (masking again reads the same authority).
           {"https://h?token=Secret/Secret2", "https://h?token=***/***"},
           {"https://h?x=1&token=Secret/Secret2/Secret3#frag", "https://h?x=1&token=***/***#frag"},
           {"git://h?password=Secret/Secret2", "git://h?password=***/***"},
           {"https://u:Secret@h:8443?sig=Secret/Secret2&x=1 next",
            "https://***@h:8443?sig=***/***&x=1 next"},
           {"https://h?token=Secret/Secret2#x@y/z", "https://h?token=***/***#x@y/z"},
           {"https://h?token=Secret://u:Secret2@x/y z", "https://h?token=***/*** z"},
           {"https%3A%2F%2Fh%3Ftoken%3DSecret%2FSecret2%26x%3D1",
            "https%3A%2F%2Fh%3Ftoken%3D***%2F***%26x%3D1"},
           {"https://h?token=/Secret", "https://h?token=***/***"},
           {"https://h/r?token=Secret%26more&x=1", "https://h/r?token=***&x=1"},
           // URL-encoded forms: an encoded key, an encoded URL inside a parameter.
           {"https://h/r?access%5Ftoken=Secret", "https://h/r?access%5Ftoken=***"},
           {"https://h/login?next=https%3A%2F%2Fh%2Fr%3Ftoken%3DSecret%26x%3D1",
            "https://h/login?next=https%3A%2F%2Fh%2Fr%3Ftoken%3D***%26x%3D1"},
           {"https://h/login?next=https%3A%2F%2Fu%3ASecret%40h2%2Fr",
            "https://h/login?next=https%3A%2F%2F***%40h2%2Fr"},
           // Headers.
           {"Authorization: Bearer Secret\nnext", "Authorization: ***\nnext"},
           {"\"PROXY-AUTHORIZATION: Basic Secret\"", "\"PROXY-AUTHORIZATION: ***\""},
           // Text without secrets stays as it is.
           {"https://git.example.com/a@b", "https://git.example.com/a@b"},
           {"see https://h/r?service=git-upload-pack&ref=main",
            "see https://h/r?service=git-upload-pack&ref=main"},
           {"mail admin@example.com today", "mail admin@example.com today"},
       }) {
    const std::string masked = MaskCredentials(c.input);
    EXPECT_EQ(masked, c.masked) << c.input;
    EXPECT_EQ(MaskCredentials(masked), masked) << c.input;
  }
}

// A long text built from the pieces the rules look at, in an order that makes masked text sit
// next to more rules: one pass masks it all, and masking the result changes nothing (the
// former masker needed one more pass per link of such a chain and stopped after nine).
TEST(RepoUrlTest, MaskCredentialsIsAFixedPointOnALongCraftedText) {
  const std::vector<std::string> pieces = {
      "https://",       "ghp_x", ":",           "?",   "@",   "h",     "a@b:", "&token=", "/",
      "%3A%2F%2F",      "%40",   "%3Ftoken%3D", "=",   ";",   "#",     " ",    "u:p@",    "key",
      "Authorization:", "\n",    "x",           "://", "@h:", "?sig=", "%26",  "[",       "]"};
  std::string text;
  uint32_t state = 12345;
  while (text.size() < 20000) {
    state = state * 1103515245u + 12345u;
    text += pieces[(state >> 16) % pieces.size()];
  }
  // The chain the former masker resolved one link per pass.
  for (int i = 0; i < 200; ++i) text += "https://ghp_x:?@a@b:";
  const std::string masked = MaskCredentials(text);
  EXPECT_EQ(MaskCredentials(masked), masked);
  EXPECT_THAT(masked, Not(HasSubstr("ghp_x:?@")));
}

// Adversarial megabyte-long texts (long runs the former masker re-scanned from every match):
// the pass looks at each symbol a bounded number of times, and still gives a fixed point.
TEST(RepoUrlTest, MaskCredentialsIsLinearOnAMegabyte) {
  const size_t kSize = size_t{1} << 20;
  for (absl::string_view unit : {"authorization:", "a@", "a@b:", "?token", "&key=x", "https://a",
                                 "://@", "%3A%2F%2F", "x", "?@:/", "Authorization: x\n"}) {
    std::string text;
    text.reserve(kSize + unit.size());
    while (text.size() < kSize) text.append(unit.data(), unit.size());
    size_t work = 0;
    const std::string masked = MaskCredentials(text, &work);
    EXPECT_LE(work, 8 * text.size()) << unit;
    EXPECT_LE(masked.size(), 2 * text.size() + 3) << unit;
    EXPECT_EQ(MaskCredentials(masked), masked) << unit;
  }
}

TEST(RepoUrlTest, ErrorsNeverEchoAUserinfoTokenOrQueryToken) {
  for (const char* url :
       {"https://ghp_Secret8@github.com/o/r.git", "https://github.com/o/r.git?access_token=Secret8",
        "http://u:Secret8@h/r.git"}) {
    auto parsed = ParseRepoUrl(url, false);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr("Secret8"))) << parsed.status();
  }
}

TEST(RepoUrlTest, HttpOriginIsSchemeHostAndExplicitPort) {
  EXPECT_EQ(HttpOrigin("https://Git.Example.com/o/r.git"), "https://git.example.com:443");
  EXPECT_EQ(HttpOrigin("http://u@127.0.0.1:8080/r?x=1"), "http://127.0.0.1:8080");
  EXPECT_EQ(HttpOrigin("http://h"), "http://h:80");
  EXPECT_EQ(HttpOrigin("https://[::1]:8443/r"), "https://[::1]:8443");
  EXPECT_NE(HttpOrigin("http://h:80/r"), HttpOrigin("https://h:80/r"));
  EXPECT_EQ(HttpOrigin("ssh://git@h/r"), "");
  EXPECT_EQ(HttpOrigin("git@h:r"), "");
}

SemVersion V(const char* s) {
  auto v = ParseSemVersion(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v.value_or(SemVersion{});
}

bool Matches(const char* constraint, const char* version) {
  auto c = SemverConstraint::Parse(constraint);
  EXPECT_TRUE(c.ok()) << constraint << ": " << c.status();
  return c.ok() && c->Matches(V(version));
}

TEST(SemverTest, Ordering) {
  EXPECT_LT(V("1.2.3"), V("1.10.0"));
  EXPECT_LT(V("1.0.0-rc.1"), V("1.0.0"));
  EXPECT_LT(V("1.0.0-alpha"), V("1.0.0-alpha.1"));
  EXPECT_LT(V("1.0.0-rc.2"), V("1.0.0-rc.10"));
  EXPECT_EQ(V("v1.2.3+build"), V("1.2.3"));
  EXPECT_FALSE(ParseSemVersion("1.2").has_value());
}

TEST(SemverTest, Constraints) {
  EXPECT_TRUE(Matches(">=1.2.0 <2.0.0", "1.9.9"));
  EXPECT_FALSE(Matches(">=1.2.0 <2.0.0", "2.0.0"));
  EXPECT_FALSE(Matches(">=1.2.0 <2.0.0", "2.0.0-rc.1"));
  EXPECT_TRUE(Matches("~1.4", "1.4.7"));
  EXPECT_FALSE(Matches("~1.4", "1.5.0"));
  EXPECT_TRUE(Matches("~1.4.2", "1.4.2"));
  EXPECT_FALSE(Matches("~1.4.2", "1.4.1"));
  EXPECT_TRUE(Matches("^2", "2.9.0"));
  EXPECT_FALSE(Matches("^2", "3.0.0"));
  EXPECT_TRUE(Matches("^0.2.3", "0.2.9"));
  EXPECT_FALSE(Matches("^0.2.3", "0.3.0"));
  EXPECT_TRUE(Matches("1.x", "1.7.0"));
  EXPECT_TRUE(Matches(">1.2", "1.3.0"));
  EXPECT_FALSE(Matches(">1.2", "1.2.9"));
  EXPECT_TRUE(Matches("<=1.2", "1.2.9"));
  EXPECT_TRUE(Matches("^1 || ^3", "3.1.0"));
  EXPECT_TRUE(Matches("1.2 - 1.4", "1.4.9"));
  EXPECT_FALSE(Matches("1.2 - 1.4", "1.5.0"));
  EXPECT_FALSE(Matches("^1.0", "1.5.0-rc.1"));
  EXPECT_TRUE(Matches(">=1.5.0-rc.0 <1.6.0", "1.5.0-rc.1"));
  EXPECT_TRUE(Matches(">= 1.2, < 2", "1.2.0"));
  EXPECT_FALSE(SemverConstraint::Parse(">=abc").ok());
}

TEST(SemverTest, PrefixesAndDetection) {
  EXPECT_TRUE(SemverConstraint::LooksLikeConstraint("^2"));
  EXPECT_TRUE(SemverConstraint::LooksLikeConstraint("v^1.2"));
  EXPECT_TRUE(SemverConstraint::LooksLikeConstraint(">=1.2.0 <2.0.0"));
  EXPECT_TRUE(SemverConstraint::LooksLikeConstraint("release-~1.4"));
  EXPECT_TRUE(SemverConstraint::LooksLikeConstraint("1.x"));
  EXPECT_FALSE(SemverConstraint::LooksLikeConstraint("main"));
  EXPECT_FALSE(SemverConstraint::LooksLikeConstraint("v1.2.3"));
  EXPECT_FALSE(SemverConstraint::LooksLikeConstraint("feature/x-1"));

  auto v = SemverConstraint::Parse("v^1.2");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->VersionOfTag("v1.4.0").has_value());
  EXPECT_TRUE(v->VersionOfTag("1.4.0").has_value());

  auto release = SemverConstraint::Parse("release-~1.4");
  ASSERT_TRUE(release.ok());
  EXPECT_EQ(release->prefix(), "release-");
  EXPECT_TRUE(release->VersionOfTag("release-1.4.0").has_value());
  EXPECT_FALSE(release->VersionOfTag("v1.4.0").has_value());
  EXPECT_FALSE(release->VersionOfTag("release-v1.4.0").has_value());
}

TEST(CredentialsTest, LongestPrefixWins) {
  auto store = CredentialStore::Parse(
      "# comment\n"
      "https://git.example.com/ username=a password=1\n"
      "https://git.example.com/team/ bearer_token=t\n"
      "ssh://host/ ssh_key=keys/id known_hosts=/etc/kh\n",
      "creds", "/secrets");
  ASSERT_TRUE(store.ok()) << store.status();
  auto team = ParseRepoUrl("https://git.example.com/team/repo", false);
  const Credential* c = store->Lookup(*team);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->bearer_token, "t");
  auto other = ParseRepoUrl("https://git.example.com/x/repo", false);
  ASSERT_NE(store->Lookup(*other), nullptr);
  EXPECT_EQ(store->Lookup(*other)->username, "a");
  auto scp = ParseRepoUrl("git@host:srv/repo", false);
  ASSERT_NE(store->Lookup(*scp), nullptr);
  EXPECT_EQ(store->Lookup(*scp)->ssh_private_key_path, "/secrets/keys/id");
  auto none = ParseRepoUrl("https://elsewhere/x", false);
  EXPECT_EQ(store->Lookup(*none), nullptr);
}

TEST(CredentialsTest, ErrorsNameTheLineNotTheSecret) {
  auto store = CredentialStore::Parse("https://h/ password=s3cret bogus=1\n", "f", "");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("f:1"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace todoke::source_fetcher
