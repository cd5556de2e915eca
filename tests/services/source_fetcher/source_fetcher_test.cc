// The source-fetcher core against real Git servers on loopback: git daemon, git http-backend
// behind lighttpd (basic and bearer auth), sshd, a silent TCP listener, and local paths.
#include "services/source_fetcher/core/source_fetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::source_fetcher {
namespace {

namespace fs = std::filesystem;
using testing::GitDaemon;
using ::testing::HasSubstr;
using testing::HttpGitServer;
using ::testing::Not;
using testing::Sh;
using testing::SilentServer;
using testing::SshGitServer;
using testing::TempDir;

constexpr char kHttpUser[] = "alice";
constexpr char kHttpPassword[] = "open-sesame-42";
constexpr char kBearer[] = "tok-987654";

// Servers and the fixture repository, shared by every test of the suite.
struct World {
  TempDir dir;
  std::string repos;  // served root: fixture.git, other.git
  std::string bare;   // repos/fixture.git
  GitDaemon daemon;
  HttpGitServer http;
  SshGitServer ssh;
  absl::Status ssh_status;
  testing::TlsProxy tls;  // https:// in front of `http`
  std::string credentials_file;
  std::string commit(const std::string& ref) {
    return std::string(absl::StripTrailingAsciiWhitespace(
        *Sh(absl::StrCat("git rev-parse '", ref, "^{commit}'"), bare)));
  }
};
World* world = nullptr;

class SourceFetcherTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    world = new World();
    world->repos = world->dir.path() + "/repos";
    fs::create_directories(world->repos);
    world->bare = world->repos + "/fixture.git";
    ASSERT_TRUE(testing::MakeFixtureRepo(world->dir.path(), world->bare).ok());
    ASSERT_TRUE(
        Sh("git clone -q --bare src " + world->repos + "/other.git", world->dir.path()).ok());
    ASSERT_TRUE(world->daemon.Start(world->repos, world->dir.path() + "/daemon.log").ok());
    fs::create_directories(world->dir.path() + "/http");
    absl::Status http = world->http.Start(world->repos, world->dir.path() + "/http", kHttpUser,
                                          kHttpPassword, kBearer);
    ASSERT_TRUE(http.ok()) << http;
    absl::Status tls = world->tls.Start(world->http.port(), world->dir.path() + "/http");
    ASSERT_TRUE(tls.ok()) << tls;
    fs::create_directories(world->dir.path() + "/ssh");
    world->ssh_status = world->ssh.Start(world->dir.path() + "/ssh");
    world->credentials_file = world->dir.path() + "/credentials";
    std::ofstream creds(world->credentials_file);
    creds << "# test credentials\n"
          << "http://127.0.0.1:" << world->http.port() << "/private/ username=" << kHttpUser
          << " password=" << kHttpPassword << "\n"
          << "http://127.0.0.1:" << world->http.port()
          << "/private/other.git username=" << kHttpUser << " password=wrong-password-77\n"
          << "http://127.0.0.1:" << world->http.port()
          << "/bearer/fixture.git bearer_token=" << kBearer << "\n"
          << "http://127.0.0.1:" << world->http.port()
          << "/bearer/other.git bearer_token=bad-token\n"
          << "https://127.0.0.1:" << world->tls.port() << "/private/ username=" << kHttpUser
          << " password=" << kHttpPassword << "\n"
          << "https://127.0.0.1:" << world->tls.port()
          << "/public/other.git insecure_skip_tls_verify=true\n"
          << "ssh://127.0.0.1:" << world->ssh.port() << "/ ssh_key=" << world->ssh.client_key()
          << " known_hosts=" << world->ssh.known_hosts() << "\n";
  }
  static void TearDownTestSuite() {
    delete world;
    world = nullptr;
  }

 protected:
  void SetUp() override { cache_dir_ = cache_.path() + "/cache"; }

  std::unique_ptr<SourceFetcher> NewFetcher(uint64_t max_bytes = 0) {
    SourceFetcherOptions options;
    options.cache_dir = cache_dir_;
    options.cache_max_bytes = max_bytes;
    options.allow_local = true;
    options.credentials_path = world->credentials_file;
    options.max_parallel_fetches = 4;
    auto fetcher = SourceFetcher::Create(options);
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return fetcher.ok() ? std::move(*fetcher) : nullptr;
  }

  absl::StatusOr<ResolveResult> Resolve(SourceFetcher& f, const std::string& url,
                                        const std::string& ref,
                                        absl::Duration timeout = absl::Seconds(30)) {
    ResolveRequest r;
    r.repo_url = url;
    r.ref = ref;
    r.deadline = absl::Now() + timeout;
    return f.Resolve(r);
  }

  absl::StatusOr<std::vector<TreeFile>> ReadTree(SourceFetcher& f, const std::string& url,
                                                 const std::string& commit, const std::string& path,
                                                 uint32_t max_files = 0, uint64_t max_bytes = 0) {
    ReadTreeRequest r;
    r.repo_url = url;
    r.commit = commit;
    r.path = path;
    r.max_files = max_files;
    r.max_total_bytes = max_bytes;
    r.deadline = absl::Now() + absl::Seconds(30);
    std::vector<TreeFile> files;
    absl::Status s = f.ReadTree(r, [&](TreeFile&& file) {
      files.push_back(std::move(file));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return files;
  }

  std::string MirrorDir() {
    for (const auto& e : fs::directory_iterator(cache_dir_ + "/mirrors")) return e.path().string();
    return "";
  }

  TempDir cache_;
  std::string cache_dir_;
};

TEST_F(SourceFetcherTest, ResolvesEveryRefFormOverGitDaemon) {
  auto f = NewFetcher();
  std::string url = world->daemon.Url("fixture.git");
  struct Case {
    std::string ref, want_commit_of, want_ref;
  } cases[] = {
      {"main", "main", "refs/heads/main"},
      {"HEAD", "main", "refs/heads/main"},
      {"feature", "feature", "refs/heads/feature"},
      {"refs/heads/feature", "feature", "refs/heads/feature"},
      {"v1.0.0", "v1.0.0", "refs/tags/v1.0.0"},  // lightweight tag
      {"v1.2.0", "v1.2.0", "refs/tags/v1.2.0"},  // annotated tag: peeled to its commit
      {"refs/tags/v2.0.0", "v2.0.0", "refs/tags/v2.0.0"},
      {"^1", "v1.4.3", "refs/tags/v1.4.3"},  // pre-release v1.5.0-rc.1 not chosen
      {"~1.2", "v1.2.0", "refs/tags/v1.2.0"},
      {">=1.2.0 <2.0.0", "v1.4.3", "refs/tags/v1.4.3"},
      {"^2", "v2.0.0", "refs/tags/v2.0.0"},
      {"v^1.2", "v1.4.3", "refs/tags/v1.4.3"},
      {"release-~1.4", "release-1.4.0", "refs/tags/release-1.4.0"},
      {">=1.5.0-rc.0 <1.6.0", "v1.5.0-rc.1", "refs/tags/v1.5.0-rc.1"},
  };
  for (const Case& c : cases) {
    auto r = Resolve(*f, url, c.ref);
    ASSERT_TRUE(r.ok()) << c.ref << ": " << r.status();
    EXPECT_EQ(r->revision.commit, world->commit(c.want_commit_of)) << c.ref;
    EXPECT_EQ(r->resolved_ref, c.want_ref) << c.ref;
  }
  std::string first = world->commit("v1.0.0");
  auto full = Resolve(*f, url, first);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->revision.commit, first);
  EXPECT_EQ(full->resolved_ref, "");
  auto short_id = Resolve(*f, url, first.substr(0, 8));
  ASSERT_TRUE(short_id.ok()) << short_id.status();
  EXPECT_EQ(short_id->revision.commit, first);

  auto meta = Resolve(*f, url, "main");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->revision.author_name, "Ada Author");
  EXPECT_EQ(meta->revision.author_email, "ada@example.com");
  EXPECT_EQ(meta->revision.author_time, absl::FromUnixSeconds(1704164645));
  EXPECT_EQ(meta->revision.message, "third commit\n\nwith a body\n");
}

// Whatever part of a request echoes into an error (the URL, the ref), no userinfo token or
// credential-like query value comes back.
TEST_F(SourceFetcherTest, ErrorsNeverEchoTokens) {
  auto f = NewFetcher();
  const std::string daemon = world->daemon.Url("fixture.git");
  for (const auto& [url, ref] : std::vector<std::pair<std::string, std::string>>{
           {"https://ghp_Secret9@127.0.0.1:1/o/r.git", "main"},
           {"https://127.0.0.1:1/o/r.git?access_token=Secret9", "main"},
           {"ghp_Secret9@127.0.0.1:o/r.git", "main"},
           {daemon, "https://ghp_Secret9@evil/x?token=Secret9"},
       }) {
    auto r = Resolve(*f, url, ref, absl::Seconds(5));
    EXPECT_FALSE(r.ok()) << url;
    EXPECT_THAT(r.status().message(), Not(HasSubstr("Secret9"))) << r.status();
  }
}

TEST_F(SourceFetcherTest, BadRefsAndRepositories) {
  auto f = NewFetcher();
  std::string url = world->daemon.Url("fixture.git");
  auto missing = Resolve(*f, url, "no-such-branch");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no-such-branch"));
  EXPECT_EQ(Resolve(*f, url, "^9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Resolve(*f, url, ">=1.x.y").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Resolve(*f, url, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Resolve(*f, url, std::string(40, 'e')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Resolve(*f, world->daemon.Url("nope.git"), "main").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Resolve(*f, world->daemon.Url("../etc.git"), "main").status().code(),
            absl::StatusCode::kInvalidArgument);
  int closed_port = testing::PickFreePort();
  auto unreachable = Resolve(*f, absl::StrCat("git://127.0.0.1:", closed_port, "/x.git"), "main");
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable) << unreachable.status();
}

TEST_F(SourceFetcherTest, SkipsTheFetchWhenTheMirrorHasTheCommit) {
  TempDir work;
  ASSERT_TRUE(Sh("git clone -q --bare " + world->bare + " moving.git", world->repos).ok() ||
              fs::exists(world->repos + "/moving.git"));
  auto f = NewFetcher();
  std::string url = world->daemon.Url("moving.git");
  auto first = Resolve(*f, url, "main");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->fetched);
  FetcherStats after_first = f->stats();
  EXPECT_EQ(after_first.clones, 1u);

  for (const char* ref : {"main", "HEAD", "v1.2.0", "^1"}) {
    auto again = Resolve(*f, url, ref);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(again->fetched) << ref;
  }
  FetcherStats after_warm = f->stats();
  EXPECT_EQ(after_warm.clones, 1u);
  EXPECT_EQ(after_warm.fetches, 0u);  // proof: no fetch happened
  EXPECT_EQ(after_warm.ls_remotes, after_first.ls_remotes + 4);

  // A new commit upstream: ls-remote sees it, one incremental fetch brings it.
  ASSERT_TRUE(Sh("git clone -q moving.git " + work.path() + "/w && cd " + work.path() +
                     "/w && git -c user.name=n -c user.email=e commit -q --allow-empty -m new && "
                     "git push -q origin main",
                 world->repos)
                  .ok());
  auto moved = Resolve(*f, url, "main");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_TRUE(moved->fetched);
  EXPECT_NE(moved->revision.commit, first->revision.commit);
  EXPECT_EQ(moved->revision.message, "new\n");
  EXPECT_EQ(f->stats().fetches, 1u);
  EXPECT_EQ(f->stats().clones, 1u);
}

// A cache directory another fetcher holds is "in use"; one whose lock file cannot be opened
// (permissions, here a directory in its place, as root ignores permissions) says why instead.
// Shown failing on the old message: both were "in use by another process".
TEST_F(SourceFetcherTest, CacheDirectoryErrorsSayWhatIsWrong) {
  TempDir dir;
  SourceFetcherOptions options;
  options.cache_dir = dir.path() + "/held";
  auto first = SourceFetcher::Create(options);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = SourceFetcher::Create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use by another process"));

  ASSERT_TRUE(Sh("mkdir -p broken/mirrors broken/.lock", dir.path()).ok());
  options.cache_dir = dir.path() + "/broken";
  auto broken = SourceFetcher::Create(options);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr(".lock"));
  EXPECT_THAT(std::string(broken.status().message()), Not(HasSubstr("in use")));
}

// A local path that is not a Git repository is the caller's mistake, not a damaged mirror:
// NOT_FOUND naming the path. Shown failing on the old mapping: DATA_LOSS "local mirror is damaged".
TEST_F(SourceFetcherTest, APathThatIsNotARepositoryIsNotFound) {
  TempDir plain;
  ASSERT_TRUE(Sh("mkdir -p folder && echo x > folder/file", plain.path()).ok());
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.allow_local = true;
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  auto result = Resolve(**f, plain.path() + "/folder", "main");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("not a Git repository"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(plain.path() + "/folder"))
      << result.status();
}

TEST_F(SourceFetcherTest, RefCacheTtlReusesTheListing) {
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.ref_cache_ttl = absl::Minutes(10);
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  std::string url = world->daemon.Url("fixture.git");
  ASSERT_TRUE(Resolve(**f, url, "main").ok());
  auto again = Resolve(**f, url, "v1.2.0");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revision.commit, world->commit("v1.2.0"));
  EXPECT_EQ((*f)->stats().ls_remotes, 1u);
}

// A webhook says a branch moved: a Resolve that bypasses the ref cache asks the remote at once
// (and refreshes the cache), where an ordinary one keeps the cached listing until the TTL ends.
TEST_F(SourceFetcherTest, BypassRefCacheSeesARefThatJustMoved) {
  TempDir work;
  ASSERT_TRUE(
      Sh("rm -rf webhook.git && git clone -q --bare " + world->bare + " webhook.git", world->repos)
          .ok());
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.ref_cache_ttl = absl::Minutes(10);
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string url = world->daemon.Url("webhook.git");
  auto before = Resolve(**f, url, "main");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->revision.commit, world->commit("main"));

  ASSERT_TRUE(Sh("git clone -q " + world->repos +
                     "/webhook.git w && cd w && "
                     "git -c user.name=n -c user.email=e commit -q --allow-empty -m pushed && "
                     "git push -q origin main && git rev-parse HEAD",
                 work.path())
                  .ok());
  const std::string pushed = std::string(
      absl::StripTrailingAsciiWhitespace(*Sh("git rev-parse main", world->repos + "/webhook.git")));
  ASSERT_NE(pushed, before->revision.commit);

  auto cached = Resolve(**f, url, "main");
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->revision.commit, before->revision.commit);  // within the TTL
  EXPECT_EQ((*f)->stats().ls_remotes, 1u);

  ResolveRequest bypass;
  bypass.repo_url = url;
  bypass.ref = "main";
  bypass.bypass_ref_cache = true;
  bypass.deadline = absl::Now() + absl::Seconds(30);
  auto fresh = (*f)->Resolve(bypass);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->revision.commit, pushed);
  EXPECT_TRUE(fresh->fetched);
  EXPECT_EQ((*f)->stats().ls_remotes, 2u);

  // The fresh listing replaced the cached one.
  auto after = Resolve(**f, url, "main");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->revision.commit, pushed);
  EXPECT_EQ((*f)->stats().ls_remotes, 2u);
}

TEST_F(SourceFetcherTest, ConcurrentRequestsShareOneClone) {
  auto f = NewFetcher();
  std::string url = world->daemon.Url("fixture.git");
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<ResolveResult>> results(12, absl::UnknownError("unset"));
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] { results[i] = Resolve(*f, url, i % 2 ? "main" : "v1.2.0"); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->revision.commit, world->commit(i % 2 ? "main" : "v1.2.0"));
  }
  EXPECT_EQ(f->stats().clones, 1u);
  EXPECT_EQ(f->stats().fetches, 0u);
}

TEST_F(SourceFetcherTest, SilentServerHitsTheDeadline) {
  SilentServer silent;
  auto f = NewFetcher();
  for (const std::string& url :
       {absl::StrCat("git://127.0.0.1:", silent.port(), "/repo.git"),
        absl::StrCat("http://127.0.0.1:", silent.port(), "/repo.git"),
        absl::StrCat("ssh://git@127.0.0.1:", silent.port(), "/repo.git")}) {
    absl::Time start = absl::Now();
    auto r = Resolve(*f, url, "main", absl::Milliseconds(700));
    absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << url << ": " << r.status();
    EXPECT_LT(took, absl::Seconds(3)) << url;
  }
}

TEST_F(SourceFetcherTest, SmartHttpWithBasicAndBearerAuth) {
  auto f = NewFetcher();
  std::string main = world->commit("main");
  auto pub = Resolve(*f, world->http.Url("public", "fixture.git"), "main");
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->revision.commit, main);

  auto priv = Resolve(*f, world->http.Url("private", "fixture.git"), "v2.0.0");
  ASSERT_TRUE(priv.ok()) << priv.status();
  EXPECT_EQ(priv->revision.commit, world->commit("v2.0.0"));
  auto tree = ReadTree(*f, world->http.Url("private", "fixture.git"), main, "app");
  ASSERT_TRUE(tree.ok()) << tree.status();

  auto wrong = Resolve(*f, world->http.Url("private", "other.git"), "main");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated) << wrong.status();
  EXPECT_THAT(wrong.status().message(), Not(HasSubstr("wrong-password-77")));
  EXPECT_THAT(wrong.status().message(), HasSubstr("/private/other.git"));

  // No credentials entry covers this URL (the entries are keyed on /private/).
  auto none = Resolve(
      *f, absl::StrCat("http://localhost:", world->http.port(), "/private/fixture.git"), "main");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated) << none.status();

  auto bearer = Resolve(*f, world->http.Url("bearer", "fixture.git"), "main");
  ASSERT_TRUE(bearer.ok()) << bearer.status();
  EXPECT_EQ(bearer->revision.commit, main);
  auto bad_bearer = Resolve(*f, world->http.Url("bearer", "other.git"), "main");
  EXPECT_EQ(bad_bearer.status().code(), absl::StatusCode::kPermissionDenied) << bad_bearer.status();
  EXPECT_THAT(bad_bearer.status().message(), Not(HasSubstr("bad-token")));

  auto missing = Resolve(*f, world->http.Url("public", "nope.git"), "main");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

TEST_F(SourceFetcherTest, SmartHttpsWithCaFileOrExplicitSkip) {
  std::string main = world->commit("main");
  std::string base = absl::StrCat("https://127.0.0.1:", world->tls.port());
  {
    auto f = NewFetcher();  // no CA file: the self-signed certificate is not trusted
    auto untrusted = Resolve(*f, base + "/public/fixture.git", "main");
    EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kPermissionDenied) << untrusted.status();
    auto skipped = Resolve(*f, base + "/public/other.git", "main");  // insecure_skip_tls_verify
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    EXPECT_EQ(skipped->revision.commit, main);
  }
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.credentials_path = world->credentials_file;
  options.tls_ca_file = world->tls.ca_file();
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  auto priv = Resolve(**f, base + "/private/fixture.git", "v2.0.0");
  ASSERT_TRUE(priv.ok()) << priv.status();
  EXPECT_EQ(priv->revision.commit, world->commit("v2.0.0"));
  EXPECT_TRUE(priv->fetched);
  auto tree = ReadTree(**f, base + "/private/fixture.git", main, "app/deploy");
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(tree->size(), 2u);

  SilentServer silent;
  absl::Time start = absl::Now();
  auto r = Resolve(**f, absl::StrCat("https://127.0.0.1:", silent.port(), "/x.git"), "main",
                   absl::Milliseconds(700));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

// The path and query of a request head ("GET /r.git/info/refs?service=... HTTP/1.1").
std::string RequestTarget(const std::string& head) {
  const size_t begin = head.find(' ') + 1;
  return head.substr(begin, head.find(' ', begin) - begin);
}

// An HTTP server that redirects every request to the same path and query on `target_origin`.
std::unique_ptr<testing::ScriptedHttpServer> RedirectTo(const std::string& target_origin) {
  return std::make_unique<testing::ScriptedHttpServer>(
      [target_origin](const std::string& head, const testing::ScriptedHttpServer::Sender& send) {
        send(absl::StrCat("HTTP/1.1 302 Found\r\nLocation: ", target_origin, RequestTarget(head),
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
      });
}

// Credentials configured for one origin never reach another through a redirect: the redirect is
// refused (FAILED_PRECONDITION naming it), and the other origin, a trap that asks for basic auth
// and records what it gets, receives no password, no token and no Authorization header at all.
TEST_F(SourceFetcherTest, CredentialsNeverFollowARedirectToAnotherOrigin) {
  testing::ScriptedHttpServer trap(
      [](const std::string&, const testing::ScriptedHttpServer::Sender& send) {
        send(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n");
      });
  auto redirector = RedirectTo(trap.Origin());
  TempDir dir;
  const std::string credentials = dir.path() + "/credentials";
  {
    std::ofstream out(credentials);
    out << redirector->Origin() << "/basic/ username=" << kHttpUser << " password=" << kHttpPassword
        << "\n"
        << redirector->Origin() << "/bearer/ bearer_token=" << kBearer << "\n";
  }
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.credentials_path = credentials;
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  for (const std::string area : {"basic", "bearer"}) {
    SCOPED_TRACE(area);
    const size_t redirects_before = redirector->requests().size();
    auto r = Resolve(**f, absl::StrCat(redirector->Origin(), "/", area, "/repo.git"), "main",
                     absl::Seconds(10));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", trap.port())));
    EXPECT_THAT(r.status().message(), HasSubstr("redirected"));
    EXPECT_THAT(r.status().message(), Not(HasSubstr(kHttpPassword)));
    EXPECT_THAT(r.status().message(), Not(HasSubstr(kBearer)));
    EXPECT_GT(redirector->requests().size(), redirects_before);  // the redirect was served
  }
  for (const std::string& head : trap.requests()) {
    EXPECT_THAT(head, Not(HasSubstr(kHttpPassword))) << head;
    EXPECT_THAT(head, Not(HasSubstr("YWxpY2U6b3Blbi1zZXNhbWUtNDI=")))
        << head;  // alice:open-sesame-42
    EXPECT_THAT(head, Not(HasSubstr(kBearer))) << head;
    EXPECT_THAT(absl::AsciiStrToLower(head), Not(HasSubstr("authorization:"))) << head;
  }
}

// Without credentials nothing secret can leak: a redirect to another origin (a public repository
// that moved) is followed.
TEST_F(SourceFetcherTest, RedirectWithoutCredentialsIsFollowed) {
  auto redirector = RedirectTo(absl::StrCat("http://127.0.0.1:", world->http.port()));
  auto f = NewFetcher();
  auto r = Resolve(*f, absl::StrCat(redirector->Origin(), "/public/fixture.git"), "main");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision.commit, world->commit("main"));
}

TEST_F(SourceFetcherTest, SshWithKeyAndKnownHosts) {
  ASSERT_TRUE(world->ssh_status.ok()) << world->ssh_status;
  auto f = NewFetcher();
  auto r = Resolve(*f, world->ssh.Url(world->bare), "main");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision.commit, world->commit("main"));
  EXPECT_TRUE(r->fetched);
  auto again = Resolve(*f, world->ssh.Url(world->bare), "v1.2.0");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->fetched);

  // Same server reached as "localhost": no credentials entry, so no key and no known_hosts.
  std::string other =
      absl::StrCat("ssh://", world->ssh.user(), "@localhost:", world->ssh.port(), world->bare);
  auto untrusted = Resolve(*f, other, "main");
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kPermissionDenied) << untrusted.status();
  EXPECT_EQ(Resolve(*f, world->ssh.Url("/nonexistent/repo.git"), "main").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SourceFetcherTest, SshRejectsAWrongHostKey) {
  ASSERT_TRUE(world->ssh_status.ok()) << world->ssh_status;
  TempDir d;
  ASSERT_TRUE(Sh("ssh-keygen -q -t ed25519 -N '' -f other_host && ssh-keygen -q -t ed25519 -N '' "
                 "-f other_user",
                 d.path())
                  .ok());
  std::string pub = *Sh("cut -d' ' -f1,2 other_host.pub", d.path());
  {
    std::ofstream kh(d.path() + "/kh");
    kh << "[127.0.0.1]:" << world->ssh.port() << " " << pub;
    std::ofstream creds(d.path() + "/creds");
    creds << "ssh:// ssh_key=" << world->ssh.client_key() << " known_hosts=kh\n";
  }
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.credentials_path = d.path() + "/creds";
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  auto r = Resolve(**f, world->ssh.Url(world->bare), "main");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("known_hosts"));
}

TEST_F(SourceFetcherTest, ReadTreeFilesModesAndLimits) {
  auto f = NewFetcher();
  std::string url = world->daemon.Url("fixture.git");
  std::string main = world->commit("main");
  auto all = ReadTree(*f, url, main, "");
  ASSERT_TRUE(all.ok()) << all.status();
  std::map<std::string, TreeFile> by_path;
  for (auto& file : *all) by_path[file.path] = file;
  ASSERT_EQ(by_path.size(), 6u);
  EXPECT_EQ(by_path["README.md"].content, "hello\nmore\n");
  EXPECT_EQ(by_path["README.md"].mode, 0100644u);
  EXPECT_EQ(by_path["run.sh"].mode, 0100755u);
  EXPECT_EQ(by_path["app/link-ok"].mode, 0120000u);
  EXPECT_EQ(by_path["app/link-ok"].content, "deploy/a.yaml");
  EXPECT_EQ(by_path["app/deploy/a.yaml"].blob_id,
            std::string(absl::StripTrailingAsciiWhitespace(
                *Sh("git rev-parse main:app/deploy/a.yaml", world->bare))));

  auto app = ReadTree(*f, url, main, "./app/");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->size(), 4u);
  auto one = ReadTree(*f, url, main, "app/config.yaml");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].content, "a: 1\n");

  EXPECT_EQ(ReadTree(*f, url, main, "app/../..").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTree(*f, url, main, "/etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTree(*f, url, main, "nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadTree(*f, url, main, "", 3).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadTree(*f, url, main, "", 0, 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadTree(*f, url, "main", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTree(*f, url, std::string(40, 'a'), "").status().code(),
            absl::StatusCode::kNotFound);
  auto evil = ReadTree(*f, url, world->commit("evil"), "");
  EXPECT_EQ(evil.status().code(), absl::StatusCode::kFailedPrecondition) << evil.status();
  EXPECT_THAT(evil.status().message(), HasSubstr("escape"));
  // The escaping link is outside "app", so reading "app" at the same commit is fine.
  EXPECT_TRUE(ReadTree(*f, url, world->commit("evil"), "app").ok());

  GetRevisionRequest g;
  g.repo_url = url;
  g.commit = main.substr(0, 10);
  auto rev = f->GetRevision(g);
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->commit, main);
}

// A request's limits can lower the server's, never raise them.
TEST_F(SourceFetcherTest, RequestLimitsOnlyLowerTheServerLimits) {
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.max_files = 3;         // the fixture's main has 6 files
  options.max_total_bytes = 10;  // and more than 10 bytes
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string url = world->daemon.Url("fixture.git");
  const std::string main = world->commit("main");
  for (uint32_t asked : {0u, 1000u, 4'000'000'000u}) {
    auto files = ReadTree(**f, url, main, "", asked, 1ull << 40);
    EXPECT_EQ(files.status().code(), absl::StatusCode::kResourceExhausted) << asked;
    EXPECT_THAT(files.status().message(), HasSubstr("more than 3 files")) << files.status();
  }
  auto bytes = ReadTree(**f, url, main, "app/config.yaml", 1000, 1ull << 40);
  EXPECT_TRUE(bytes.ok()) << bytes.status();  // one file of 5 bytes: within both
  auto big = ReadTree(**f, url, main, "", 1000, 1ull << 40);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  // Lower than the server's: the request's counts.
  auto lowered = ReadTree(**f, url, main, "app/config.yaml", 1000, 2);
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kResourceExhausted) << lowered.status();
  EXPECT_THAT(lowered.status().message(), HasSubstr("limit of 2 bytes"));
}

// Peak resident memory of this process while `body` runs, above what it was before (sampled).
uint64_t PeakRssGrowth(const std::function<void()>& body) {
  auto rss = [] {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (absl::StartsWith(line, "VmRSS:")) {
        uint64_t kib = 0;
        absl::SimpleAtoi(
            absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripPrefix(line, "VmRSS:"), "kB")),
            &kib);
        return kib * 1024;
      }
    }
    return uint64_t{0};
  };
  const uint64_t before = rss();
  std::atomic<uint64_t> peak{before};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      uint64_t now = rss();
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  body();
  done = true;
  sampler.join();
  return peak > before ? peak - before : 0;
}

// A hostile smart-HTTP remote whose ref advertisement never ends (up to 128 MiB, so that an
// unbounded client is slow rather than fatal): the fetcher stops reading at its limit with
// RESOURCE_EXHAUSTED, both when listing refs and when fetching, and its memory stays a small
// multiple of the limit.
TEST_F(SourceFetcherTest, HugeRefAdvertisementIsCutAtTheLimit) {
  std::atomic<uint64_t> sent_total{0};
  testing::ScriptedHttpServer hostile(
      [&](const std::string&, const testing::ScriptedHttpServer::Sender& send) {
        auto pkt = [](absl::string_view payload) {
          char length[5];
          std::snprintf(length, sizeof(length), "%04zx", payload.size() + 4);
          return absl::StrCat(length, payload);
        };
        const std::string oid(40, 'a');
        std::string first = absl::StrCat(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n"
            "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
            pkt("# service=git-upload-pack\n"), "0000",
            pkt(absl::StrCat(oid, " HEAD", std::string(1, '\0'), "multi_ack side-band-64k\n")));
        if (!send(first)) return;
        std::string chunk;
        for (int i = 0; chunk.size() < (1 << 20); ++i) {
          char name[32];
          std::snprintf(name, sizeof(name), "refs/heads/b%010d", i);
          absl::StrAppend(&chunk, pkt(absl::StrCat(oid, " ", name, "\n")));
        }
        for (uint64_t sent = 0; sent < (128ull << 20); sent += chunk.size()) {
          if (!send(chunk)) return;
          sent_total += chunk.size();
        }
        send("0000");
      });
  SourceFetcherOptions options;
  options.cache_dir = cache_dir_;
  options.max_ref_listing_bytes = 4 << 20;
  auto f = SourceFetcher::Create(options);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string url = absl::StrCat(hostile.Origin(), "/huge.git");

  absl::StatusOr<ResolveResult> listed = absl::UnknownError("not run");
  const uint64_t listing_growth =
      PeakRssGrowth([&] { listed = Resolve(**f, url, "main", absl::Seconds(60)); });
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kResourceExhausted) << listed.status();
  EXPECT_THAT(listed.status().message(), HasSubstr("4194304 bytes"));
  EXPECT_LT(listing_growth, 48ull << 20) << "peak RSS grew by " << listing_growth;

  GetRevisionRequest revision;
  revision.repo_url = url;
  revision.commit = std::string(40, 'b');
  revision.deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<Revision> fetched = absl::UnknownError("not run");
  const uint64_t fetch_growth = PeakRssGrowth([&] { fetched = (*f)->GetRevision(revision); });
  EXPECT_EQ(fetched.status().code(), absl::StatusCode::kResourceExhausted) << fetched.status();
  EXPECT_LT(fetch_growth, 48ull << 20) << "peak RSS grew by " << fetch_growth;
  EXPECT_LT(sent_total.load(), 64ull << 20);  // the server was cut off, not drained
  std::cout << "peak RSS growth: listing " << (listing_growth >> 20) << " MiB, fetch "
            << (fetch_growth >> 20) << " MiB (limit 4 MiB)\n";
}

TEST_F(SourceFetcherTest, LocalRepositoriesNeedTheAllowList) {
  auto f = NewFetcher();
  auto local = Resolve(*f, world->bare, "main");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->revision.commit, world->commit("main"));
  auto file_url = Resolve(*f, "file://" + world->bare, "v2.0.0");
  ASSERT_TRUE(file_url.ok()) << file_url.status();

  SourceFetcherOptions options;
  options.cache_dir = cache_.path() + "/other-cache";
  options.allow_local = false;
  auto strict = SourceFetcher::Create(options);
  ASSERT_TRUE(strict.ok());
  EXPECT_EQ(Resolve(**strict, world->bare, "main").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SourceFetcherTest, CorruptMirrorsAreRebuilt) {
  std::string url = world->daemon.Url("fixture.git");
  std::string main = world->commit("main");
  {
    auto f = NewFetcher();
    ASSERT_TRUE(Resolve(*f, url, "main").ok());
    // Truncate every pack: objects can no longer be read.
    std::string mirror = MirrorDir();
    for (const auto& e : fs::directory_iterator(mirror + "/objects/pack")) {
      if (e.path().extension() == ".pack") fs::resize_file(e.path(), 100);
    }
    // Reading the tree meets the damage, rebuilds the mirror and succeeds.
    auto tree = ReadTree(*f, url, main, "app");
    ASSERT_TRUE(tree.ok()) << tree.status();
    EXPECT_EQ(tree->size(), 4u);
    EXPECT_EQ(f->stats().rebuilds, 1u);
    auto r = Resolve(*f, url, "main");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->revision.commit, main);

    // A mirror that lost its completeness marker is not trusted either.
    fs::remove(MirrorDir() + "/todoke-mirror");
    auto r2 = Resolve(*f, url, "v1.2.0");
    ASSERT_TRUE(r2.ok()) << r2.status();
    EXPECT_EQ(f->stats().rebuilds, 2u);
  }
  // A half-written mirror left by a crash is removed at startup.
  fs::create_directories(cache_dir_ + "/mirrors/half-0000.git/objects");
  auto f = NewFetcher();
  EXPECT_FALSE(fs::exists(cache_dir_ + "/mirrors/half-0000.git"));
  auto r = Resolve(*f, url, "main");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->fetched);
}

TEST_F(SourceFetcherTest, RestartReusesTheCacheAndLocksIt) {
  std::string url = world->daemon.Url("fixture.git");
  {
    auto f = NewFetcher();
    ASSERT_TRUE(Resolve(*f, url, "main").ok());
    SourceFetcherOptions options;
    options.cache_dir = cache_dir_;
    EXPECT_EQ(SourceFetcher::Create(options).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
  auto f = NewFetcher();
  auto r = Resolve(*f, url, "v2.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->fetched);
  EXPECT_EQ(f->stats().clones, 0u);
  auto tree = ReadTree(*f, url, world->commit("main"), "");
  EXPECT_TRUE(tree.ok());
}

TEST_F(SourceFetcherTest, EvictsLeastRecentlyUsedMirrors) {
  auto f = NewFetcher(/*max_bytes=*/1);  // every mirror is over the limit: keep only the newest
  std::string a = world->daemon.Url("fixture.git");
  std::string b = world->daemon.Url("other.git");
  ASSERT_TRUE(Resolve(*f, a, "main").ok());
  ASSERT_TRUE(Resolve(*f, b, "main").ok());
  EXPECT_EQ(f->stats().evictions, 1u);
  int mirrors = 0;
  for (const auto& e : fs::directory_iterator(cache_dir_ + "/mirrors")) (void)e, ++mirrors;
  EXPECT_EQ(mirrors, 1);
  auto again = Resolve(*f, a, "main");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->fetched);
  EXPECT_EQ(f->stats().clones, 3u);
}

}  // namespace
}  // namespace todoke::source_fetcher
