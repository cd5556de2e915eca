// KubeClient against a small HTTP server on loopback (cpp-httplib): what the real API server
// cannot be made to do on demand. 429 with Retry-After, the QPS limit, the in-flight bound,
// legacy and aggregated discovery (with a dead group), deadlines, streaming watches and their
// ends, token-file rotation and exec-plugin re-runs after a 401. And a hostile server: huge,
// gzip-bombed, malformed, endless or cut-short answers, huge Status messages, redirects.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "services/applier/core/kube/kube_client.h"
#include "zlib.h"

namespace todoke::applier::kube {
namespace {

using ::testing::HasSubstr;

// A loopback HTTP server whose every request goes to `handler` (set before Start).
class FakeApiServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit FakeApiServer(Handler handler) : handler_(std::move(handler)) {
    auto route = [this](const httplib::Request& req, httplib::Response& res) {
      {
        absl::MutexLock lock(&mu_);
        ++requests_[req.path];
        authorizations_.push_back(req.get_header_value("Authorization"));
        ++in_flight_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
      }
      handler_(req, res);
      absl::MutexLock lock(&mu_);
      --in_flight_;
    };
    server_.Get(".*", route);
    server_.Post(".*", route);
    server_.Put(".*", route);
    server_.Patch(".*", route);
    server_.Delete(".*", route);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) absl::SleepFor(absl::Milliseconds(1));
  }
  ~FakeApiServer() {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

  KubeConfig Config() const {
    KubeConfig config;
    config.server = absl::StrCat("http://127.0.0.1:", port_);
    config.source = "test";
    return config;
  }
  int Requests(const std::string& path) {
    absl::MutexLock lock(&mu_);
    return requests_[path];
  }
  int MaxInFlight() {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }
  std::vector<std::string> Authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }
  bool stopping() const { return stopping_; }

 private:
  Handler handler_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::map<std::string, int> requests_;
  std::vector<std::string> authorizations_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
};

constexpr char kApiVersions[] = R"({"kind":"APIVersions","versions":["v1"]})";
constexpr char kCoreV1[] = R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
  {"name":"configmaps","namespaced":true,"kind":"ConfigMap","verbs":["get","list","watch","patch"]},
  {"name":"namespaces","namespaced":false,"kind":"Namespace","verbs":["get"]},
  {"name":"namespaces/status","namespaced":false,"kind":"Namespace","verbs":["get"]}]})";
constexpr char kApiGroups[] = R"({"kind":"APIGroupList","groups":[
  {"name":"example.com","versions":[{"groupVersion":"example.com/v1","version":"v1"},
                                    {"groupVersion":"example.com/v2","version":"v2"}],
   "preferredVersion":{"groupVersion":"example.com/v2","version":"v2"}},
  {"name":"broken.io","versions":[{"groupVersion":"broken.io/v1","version":"v1"}],
   "preferredVersion":{"groupVersion":"broken.io/v1","version":"v1"}}]})";
constexpr char kExampleV1[] = R"({"kind":"APIResourceList","resources":[
  {"name":"widgets","namespaced":false,"kind":"Widget","verbs":["get"]},
  {"name":"gadgets","namespaced":true,"kind":"Gadget","verbs":["get"]}]})";
constexpr char kExampleV2[] = R"({"kind":"APIResourceList","resources":[
  {"name":"widgets","namespaced":false,"kind":"Widget","verbs":["get","list"]}]})";

// Legacy discovery only (ignores the aggregated Accept header, as old servers do).
void LegacyDiscovery(const httplib::Request& req, httplib::Response& res) {
  if (req.path == "/api") {
    res.set_content(kApiVersions, "application/json");
  } else if (req.path == "/api/v1") {
    res.set_content(kCoreV1, "application/json");
  } else if (req.path == "/apis") {
    res.set_content(kApiGroups, "application/json");
  } else if (req.path == "/apis/example.com/v1") {
    res.set_content(kExampleV1, "application/json");
  } else if (req.path == "/apis/example.com/v2") {
    res.set_content(kExampleV2, "application/json");
  } else if (req.path == "/apis/broken.io/v1") {
    res.status = 503;
    res.set_content(
        R"({"kind":"Status","message":"service unavailable","reason":"ServiceUnavailable","code":503})",
        "application/json");
  } else {
    res.status = 404;
    res.set_content(R"({"kind":"Status","message":"not found","reason":"NotFound","code":404})",
                    "application/json");
  }
}

absl::Time In(absl::Duration d) { return absl::Now() + d; }

TEST(KubeClientLocalTest, LegacyDiscoveryPreferredVersionScopeAndDeadGroup) {
  FakeApiServer server(LegacyDiscovery);
  KubeClientOptions options;
  options.unknown_kind_refresh_interval = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok()) << client.status();
  KubeClient& c = **client;

  absl::StatusOr<ApiResource> cm = c.ResourceFor("", "v1", "ConfigMap", In(absl::Seconds(5)));
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(cm->resource, "configmaps");
  EXPECT_TRUE(cm->namespaced);
  absl::StatusOr<ApiResource> ns = c.ResourceFor("", "", "Namespace", In(absl::Seconds(5)));
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_FALSE(ns->namespaced);
  EXPECT_THAT(ns->subresources, ::testing::ElementsAre("status"));

  // No version: the preferred one (v2).
  absl::StatusOr<ApiResource> widget =
      c.ResourceFor("example.com", "", "Widget", In(absl::Seconds(5)));
  ASSERT_TRUE(widget.ok()) << widget.status();
  EXPECT_EQ(widget->version, "v2");
  EXPECT_FALSE(widget->namespaced);
  // A kind only v1 serves is found through v1.
  absl::StatusOr<ApiResource> gadget =
      c.ResourceFor("example.com", "", "Gadget", In(absl::Seconds(5)));
  ASSERT_TRUE(gadget.ok()) << gadget.status();
  EXPECT_EQ(gadget->version, "v1");
  EXPECT_TRUE(gadget->namespaced);

  // The dead group fails alone, UNAVAILABLE with the server's message.
  absl::StatusOr<ApiResource> thing =
      c.ResourceFor("broken.io", "v1", "Thing", In(absl::Seconds(5)));
  EXPECT_EQ(thing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(thing.status().message(), HasSubstr("service unavailable"));
  EXPECT_EQ(server.Requests("/api"), 1);

  // Unknown kind: one refresh (the cache is older than the interval), then NOT_FOUND naming the
  // kind. Right after, no second refresh.
  absl::SleepFor(absl::Milliseconds(250));
  absl::StatusOr<ApiResource> unknown =
      c.ResourceFor("example.com", "v1", "Nope", In(absl::Seconds(5)));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("Nope"));
  EXPECT_EQ(server.Requests("/api"), 2);
  unknown = c.ResourceFor("example.com", "v1", "Nope", In(absl::Seconds(5)));
  EXPECT_EQ(server.Requests("/api"), 2);
  ASSERT_TRUE(c.Refresh(In(absl::Seconds(5))).ok());
  EXPECT_EQ(server.Requests("/api"), 3);

  absl::StatusOr<std::vector<ApiResource>> all = c.ServerResources(In(absl::Seconds(5)));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);  // configmaps, namespaces, widgets v2, widgets v1, gadgets
}

TEST(KubeClientLocalTest, ConcurrentUnknownKindsShareOneRefresh) {
  FakeApiServer server([](const httplib::Request& req, httplib::Response& res) {
    absl::SleepFor(absl::Milliseconds(20));  // so the lookups overlap the refresh
    LegacyDiscovery(req, res);
  });
  KubeClientOptions options;
  options.unknown_kind_refresh_interval = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Refresh(In(absl::Seconds(5))).ok());
  absl::SleepFor(absl::Milliseconds(150));
  std::vector<std::thread> threads;
  std::atomic<int> not_found{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<ApiResource> r =
          (*client)->ResourceFor("example.com", "v1", "Unknown", In(absl::Seconds(5)));
      not_found += r.status().code() == absl::StatusCode::kNotFound;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(not_found.load(), 8);
  EXPECT_EQ(server.Requests("/api"), 2);  // the first Refresh and one shared refresh
}

TEST(KubeClientLocalTest, AggregatedDiscoveryWithStaleGroup) {
  FakeApiServer server([](const httplib::Request& req, httplib::Response& res) {
    ASSERT_THAT(req.get_header_value("Accept"), HasSubstr("as=APIGroupDiscoveryList"));
    if (req.path == "/api") {
      res.set_content(R"({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2",
        "items":[{"metadata":{},"versions":[{"version":"v1","resources":[
          {"resource":"pods","responseKind":{"group":"","version":"v1","kind":"Pod"},
           "scope":"Namespaced","verbs":["get","list"],
           "subresources":[{"subresource":"status"},{"subresource":"log"}]}]}]}]})",
                      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    } else if (req.path == "/apis") {
      res.set_content(R"({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2",
        "items":[{"metadata":{"name":"apps"},"versions":[{"version":"v1","resources":[
          {"resource":"deployments","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},
           "scope":"Namespaced","verbs":["get"]}]}]},
          {"metadata":{"name":"metrics.k8s.io"},"versions":[{"version":"v1beta1","freshness":"Stale",
           "resources":[]}]}]})",
                      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    } else {
      res.status = 500;  // no legacy requests expected
    }
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  absl::StatusOr<ApiResource> pod = (*client)->ResourceFor("", "v1", "Pod", In(absl::Seconds(5)));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->resource, "pods");
  EXPECT_TRUE(pod->namespaced);
  EXPECT_THAT(pod->subresources, ::testing::ElementsAre("status", "log"));
  absl::StatusOr<ApiResource> deploy =
      (*client)->ResourceFor("apps", "", "Deployment", In(absl::Seconds(5)));
  ASSERT_TRUE(deploy.ok()) << deploy.status();
  EXPECT_EQ(deploy->resource, "deployments");
  absl::StatusOr<ApiResource> metrics =
      (*client)->ResourceFor("metrics.k8s.io", "", "PodMetrics", In(absl::Seconds(5)));
  EXPECT_EQ(metrics.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(metrics.status().message(), HasSubstr("stale"));
  EXPECT_EQ(server.Requests("/api/v1"), 0);
}

TEST(KubeClientLocalTest, TooManyRequestsHonoursRetryAfter) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    if (++calls <= 2) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(
          R"({"kind":"Status","message":"too many requests, please try again later","reason":"TooManyRequests","code":429})",
          "application/json");
      return;
    }
    res.set_content(R"({"ok":true})", "application/json");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/healthz";
  const absl::Time start = absl::Now();
  absl::StatusOr<KubeResponse> response = (*client)->Request(request, In(absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(calls.load(), 3);
  EXPECT_GE(took, absl::Milliseconds(1950));  // waited 1 s twice, as asked
  EXPECT_LT(took, absl::Seconds(4));
  EXPECT_EQ((*client)->stats().retries, 2);
  EXPECT_EQ((*client)->stats().http2_responses, 0);  // plain http: HTTP/1.1
}

TEST(KubeClientLocalTest, TooManyRequestsRetriesAreBounded) {
  std::atomic<int> calls{0};
  FakeApiServer server([&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 429;
    res.set_header("Retry-After", "0");
    res.set_content(
        R"({"kind":"Status","message":"slow down","reason":"TooManyRequests","code":429})",
        "application/json");
  });
  KubeClientOptions options;
  options.max_retries = 2;
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/x";
  absl::StatusOr<KubeResponse> response = (*client)->Request(request, In(absl::Seconds(10)));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("slow down"));
  EXPECT_EQ(KubeReason(response.status()), "TooManyRequests");
  EXPECT_EQ(calls.load(), 3);
}

TEST(KubeClientLocalTest, RetryAfterBeyondTheDeadlineIsNotWaitedFor) {
  FakeApiServer server([&](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "5");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/x";
  const absl::Time start = absl::Now();
  absl::StatusOr<KubeResponse> response = (*client)->Request(request, In(absl::Seconds(2)));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(KubeClientLocalTest, QpsAndBurstLimitRequests) {
  FakeApiServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  KubeClientOptions options;
  options.qps = 20;
  options.burst = 2;
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/x";
  const absl::Time start = absl::Now();
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE((*client)->Request(request, In(absl::Seconds(5))).ok());
  }
  // 2 at once, then 10 at 20/s.
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(480));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_GE((*client)->stats().rate_limit_wait, absl::Milliseconds(300));
  // A deadline before the next token: DEADLINE_EXCEEDED at once, nothing sent.
  options.qps = 0.5;
  options.burst = 1;
  client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE((*client)->Request(request, In(absl::Seconds(5))).ok());
  const int before = server.Requests("/x");
  absl::StatusOr<KubeResponse> refused = (*client)->Request(request, In(absl::Milliseconds(300)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server.Requests("/x"), before);
}

TEST(KubeClientLocalTest, RequestsInFlightAreBounded) {
  FakeApiServer server([](const httplib::Request&, httplib::Response& res) {
    absl::SleepFor(absl::Milliseconds(150));
    res.set_content("{}", "application/json");
  });
  KubeClientOptions options;
  options.max_in_flight = 2;
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      KubeRequest request;
      request.path = "/slow";
      if ((*client)->Request(request, In(absl::Seconds(10))).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(server.MaxInFlight(), 2);
}

TEST(KubeClientLocalTest, UnreachableServerIsUnavailableAtOnce) {
  // A port that was just free: connection refused.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  KubeConfig config;
  config.server = absl::StrCat("https://127.0.0.1:", ntohs(addr.sin_port));
  config.token = "secret-token-value";
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<ApiResource> r =
      (*client)->ResourceFor("", "v1", "ConfigMap", In(absl::Seconds(3)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr(config.server));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("secret-token-value")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(KubeClientLocalTest, SlowServerEndsAtTheDeadline) {
  FakeApiServer server([&](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 30 && !server.stopping(); ++i) absl::SleepFor(absl::Milliseconds(100));
    res.set_content("{}", "application/json");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/slow";
  const absl::Time start = absl::Now();
  absl::StatusOr<KubeResponse> response = (*client)->Request(request, In(absl::Milliseconds(500)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Milliseconds(1200));
}

// Legacy discovery plus a watch endpoint for configmaps streaming `events`, one every 200 ms,
// then either ending or hanging (until the server stops).
FakeApiServer::Handler WatchServer(std::vector<std::string> events, bool hang,
                                   std::atomic<bool>* stop, std::string* query) {
  return [events, hang, stop, query](const httplib::Request& req, httplib::Response& res) {
    if (req.path != "/api/v1/namespaces/ns/configmaps" || !req.has_param("watch")) {
      LegacyDiscovery(req, res);
      return;
    }
    if (query != nullptr) {
      *query = absl::StrCat("rv=", req.get_param_value("resourceVersion"),
                            " bookmarks=", req.get_param_value("allowWatchBookmarks"),
                            " labels=", req.get_param_value("labelSelector"));
    }
    res.set_chunked_content_provider("application/json",
                                     [events, hang, stop](size_t, httplib::DataSink& sink) {
                                       for (const std::string& e : events) {
                                         absl::SleepFor(absl::Milliseconds(200));
                                         if (!sink.write(e.data(), e.size())) return false;
                                       }
                                       for (int i = 0; hang && i < 100 && !stop->load(); ++i) {
                                         absl::SleepFor(absl::Milliseconds(100));
                                         if (!sink.is_writable()) return false;
                                       }
                                       sink.done();
                                       return true;
                                     });
  };
}

const std::vector<std::string> kEvents = {
    R"({"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"}}})"
    "\n",
    R"({"type":"MODIFIED","object":{"apiVersion":"v1","kind":"ConfigMap",)",
    R"("metadata":{"name":"a","resourceVersion":"6"}}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"7"}}})"
    "\n"};

TEST(KubeClientLocalTest, WatchDeliversEventsAsTheyArriveThenEndsWithTheServer) {
  std::atomic<bool> stop{false};
  std::string query;
  FakeApiServer server(WatchServer(kEvents, /*hang=*/false, &stop, &query));
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  WatchOptions options;
  options.resource_version = "4";
  options.label_selector = "todoke.dev/app";
  std::vector<std::pair<std::string, std::string>> seen;  // type, resourceVersion
  std::vector<absl::Duration> at;
  const absl::Time start = absl::Now();
  absl::Status status = (*client)->Watch(
      {"", "v1", "ConfigMap"}, "ns", options,
      [&](WatchEvent& event) {
        seen.emplace_back(std::string(WatchEventTypeName(event.type)),
                          event.object["metadata"].value("resourceVersion", ""));
        at.push_back(absl::Now() - start);
        return true;
      },
      In(absl::Seconds(10)));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(query, "rv=4 bookmarks=true labels=todoke.dev/app");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("ADDED"), std::string("5")));
  EXPECT_EQ(seen[1], std::make_pair(std::string("MODIFIED"), std::string("6")));
  EXPECT_EQ(seen[2], std::make_pair(std::string("BOOKMARK"), std::string("7")));
  // The first event was delivered when it arrived, not at the end of the stream.
  EXPECT_LT(at[0] + absl::Milliseconds(300), at[2]);
}

TEST(KubeClientLocalTest, WatchErrorEventIsOutOfRangeForGone) {
  std::atomic<bool> stop{false};
  FakeApiServer server(WatchServer(
      {R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 4 (9)","reason":"Expired","code":410}})j"
       "\n"},
      /*hang=*/true, &stop, nullptr));
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  int errors = 0;
  absl::Status status = (*client)->Watch(
      {"", "v1", "ConfigMap"}, "ns", {},
      [&](WatchEvent& event) {
        errors += event.type == WatchEvent::Type::kError;
        return true;
      },
      In(absl::Seconds(10)));
  stop = true;
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << status;
  EXPECT_THAT(status.message(), HasSubstr("too old resource version"));
  EXPECT_EQ(KubeReason(status), "Expired");
}

TEST(KubeClientLocalTest, WatchEndsOnCancelOnCallbackAndAtTheDeadline) {
  std::atomic<bool> stop{false};
  FakeApiServer server(WatchServer(kEvents, /*hang=*/true, &stop, nullptr));
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  const GroupVersionKind cm{"", "v1", "ConfigMap"};

  // Cancel after the first event: noticed within about a second.
  std::atomic<bool> cancel{false};
  absl::Time cancelled_at;
  absl::Status status = (*client)->Watch(
      cm, "ns", {},
      [&](WatchEvent&) {
        if (!cancel) cancelled_at = absl::Now();
        cancel = true;
        return true;
      },
      In(absl::Seconds(20)), &cancel);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_LT(absl::Now() - cancelled_at, absl::Milliseconds(1600));

  // The callback says stop.
  int calls = 0;
  status = (*client)->Watch(
      cm, "ns", {}, [&](WatchEvent&) { return ++calls < 2; }, In(absl::Seconds(20)));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 2);

  // The deadline: a normal end.
  const absl::Time start = absl::Now();
  status = (*client)->Watch(
      cm, "ns", {}, [&](WatchEvent&) { return true; }, In(absl::Milliseconds(1500)));
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1400));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  stop = true;
}

class TempFile {
 public:
  TempFile() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kube-test.XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path + ".tmp") << text;
    std::filesystem::rename(path + ".tmp", path);  // as kubelet rotates: a new file
    return path;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

TEST(KubeClientLocalTest, TokenFileIsReReadWhenItRotates) {
  FakeApiServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  TempFile files;
  KubeConfig config = server.Config();
  config.token_file = files.Write("token", "first-token\n");
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/x";
  ASSERT_TRUE((*client)->Request(request, In(absl::Seconds(5))).ok());
  ASSERT_TRUE((*client)->Request(request, In(absl::Seconds(5))).ok());
  files.Write("token", "second-token");
  ASSERT_TRUE((*client)->Request(request, In(absl::Seconds(5))).ok());
  EXPECT_THAT(
      server.Authorizations(),
      ::testing::ElementsAre("Bearer first-token", "Bearer first-token", "Bearer second-token"));
}

TEST(KubeClientLocalTest, ExecPluginCachedUntilExpiryAndReRunAfter401) {
  // The server accepts only the token "good"; the plugin prints "stale" on its first run,
  // then "good".
  FakeApiServer server([](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer good") {
      res.status = 401;
      res.set_content(
          R"({"kind":"Status","message":"Unauthorized","reason":"Unauthorized","code":401})",
          "application/json");
      return;
    }
    res.set_content("{}", "application/json");
  });
  TempFile files;
  const std::string runs = files.dir() + "/runs";
  const std::string plugin = files.Write(
      "plugin.sh", absl::StrCat(R"sh(#!/bin/sh
echo run >> ")sh",
                                runs, R"sh("
if [ "$(wc -l < ")sh",
                                runs, R"sh(")" -eq 1 ]; then tok=stale; else tok=good; fi
echo "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$tok\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}"
)sh"));
  chmod(plugin.c_str(), 0755);
  KubeConfig config = server.Config();
  config.has_exec = true;
  config.exec.command = plugin;
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/x";
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<KubeResponse> response = (*client)->Request(request, In(absl::Seconds(10)));
    ASSERT_TRUE(response.ok()) << response.status();
  }
  std::ifstream in(runs);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 2);  // stale (401), good; then cached
  EXPECT_THAT(server.Authorizations(),
              ::testing::ElementsAre("Bearer stale", "Bearer good", "Bearer good", "Bearer good"));
}

TEST(KubeClientLocalTest, WrongTokenIsUnauthenticatedWithoutTheToken) {
  FakeApiServer server([](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_content(
        R"({"kind":"Status","message":"Unauthorized","reason":"Unauthorized","code":401})",
        "application/json");
  });
  KubeConfig config = server.Config();
  config.token = "wrong-secret-token";
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<Json> got =
      (*client)->Get({"", "v1", "ConfigMap", "ns", "a"}, In(absl::Seconds(5)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(got.status().message(), ::testing::Not(HasSubstr("wrong-secret-token")));
}

TEST(KubeClientLocalTest, CreateRefusesBadConfig) {
  KubeConfig config;
  config.server = "ftp://user:pass@host";
  EXPECT_EQ(KubeClient::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(KubeClient::Create(config).status().message(), ::testing::Not(HasSubstr("pass")));
  config.server = "https://h";
  config.client_cert_pem = "-----BEGIN CERTIFICATE-----\n";
  EXPECT_EQ(KubeClient::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
  config.client_key_pem = "not a key";
  EXPECT_EQ(KubeClient::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- A hostile API server: answers too big, malformed, endless or redirected. The client holds
// at most max_response_bytes of one answer, says which server and path misbehaved, and never
// sends its credentials anywhere but the configured server.

KubeClientOptions SmallCap() {
  KubeClientOptions options;
  options.max_response_bytes = 1 << 20;
  return options;
}

// A chunked body of `total` bytes of `fill` after `prefix`, written 64 KiB at a time; `written`
// counts what the client took.
void StreamBody(httplib::Response& res, std::string prefix, char fill, size_t total,
                std::atomic<size_t>* written) {
  res.set_chunked_content_provider("application/json",
                                   [prefix, fill, total, written](size_t, httplib::DataSink& sink) {
                                     if (!sink.write(prefix.data(), prefix.size())) return false;
                                     const std::string block(64 << 10, fill);
                                     for (size_t sent = 0; sent < total; sent += block.size()) {
                                       if (!sink.write(block.data(), block.size())) return false;
                                       written->fetch_add(block.size());
                                     }
                                     sink.done();
                                     return true;
                                   });
}

TEST(KubeClientLocalTest, AHugeResponseIsRefusedAtTheCapNamingServerAndPath) {
  std::atomic<size_t> written{0};
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/declared") {
      // Declares 300 MB: refused from the header, nothing of it read.
      res.set_content_provider(size_t{300} << 20, "application/json",
                               [](size_t, size_t, httplib::DataSink& sink) {
                                 const std::string block(64 << 10, ' ');
                                 return sink.write(block.data(), block.size());
                               });
      return;
    }
    StreamBody(res, R"({"kind":"ConfigMapList","items":[)", ' ', size_t{300} << 20, &written);
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client =
      KubeClient::Create(server.Config(), SmallCap());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/api/v1/configmaps";
  absl::StatusOr<KubeResponse> r = (*client)->Request(request, In(absl::Seconds(20)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("/api/v1/configmaps"));
  EXPECT_THAT(r.status().message(), HasSubstr(server.Config().server));
  EXPECT_THAT(r.status().message(), HasSubstr("1048576"));
  // The transfer stopped near the cap: the server could not push the 300 MB through.
  EXPECT_LT(written.load(), size_t{64} << 20);

  request.path = "/declared";
  r = (*client)->Request(request, In(absl::Seconds(20)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("/declared"));
  // The stated default bound.
  EXPECT_EQ(KubeClientOptions().max_response_bytes, size_t{256} << 20);
}

TEST(KubeClientLocalTest, AGzipBombStopsAtTheCap) {
  // 32 MiB of spaces, gzipped to a few tens of KiB.
  std::string plain(32 << 20, ' ');
  std::string gz(compressBound(plain.size()) + 64, '\0');
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(plain.data());
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);
  ASSERT_LT(gz.size(), size_t{1} << 20);
  std::string accept_encoding;
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    accept_encoding = req.get_header_value("Accept-Encoding");
    res.set_header("Content-Encoding", "gzip");
    res.set_content(gz, "application/octet-stream");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client =
      KubeClient::Create(server.Config(), SmallCap());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/api/v1/secrets";
  absl::StatusOr<KubeResponse> r = (*client)->Request(request, In(absl::Seconds(20)));
  EXPECT_THAT(accept_encoding, HasSubstr("gzip"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("/api/v1/secrets"));
}

// A kind of many pages, each well under the cap: ListAll holds at most max_response_bytes of
// all its pages together, stops asking for more once they are past it, and names the server,
// the collection and the limit. A list that fits is read whole.
TEST(KubeClientLocalTest, AListOfManySmallPagesIsBoundedAsAWhole) {
  constexpr int kPerPage = 100;
  std::atomic<int> pages{0};  // pages the server has, set before each list
  std::atomic<int> served{0};
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    if (req.path != "/api/v1/namespaces/ns/configmaps") return LegacyDiscovery(req, res);
    int page = 0;
    if (req.has_param("continue")) page = std::stoi(req.get_param_value("continue"));
    ++served;
    // kPerPage small ConfigMaps of about 640 bytes each: a page is about 64 KiB.
    std::string items;
    for (int i = 0; i < kPerPage; ++i) {
      absl::StrAppend(&items, i == 0 ? "" : ",", R"({"metadata":{"name":"cm-)", page, "-", i,
                      R"(","namespace":"ns"},"data":{"v":")", std::string(580, 'v'), R"("}})");
    }
    const std::string next = page + 1 < pages ? absl::StrCat(page + 1) : "";
    res.set_content(absl::StrCat(R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"7",)",
                                 R"("continue":")", next, R"("},"items":[)", items, "]}"),
                    "application/json");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client =
      KubeClient::Create(server.Config(), SmallCap());
  ASSERT_TRUE(client.ok());
  const GroupVersionKind cm{"", "v1", "ConfigMap"};

  // 40 pages of 64 KiB: 2.5 MiB in all, each page far under the 1 MiB cap.
  pages = 40;
  absl::StatusOr<ListPage> all = (*client)->ListAll(cm, "ns", {}, In(absl::Seconds(20)), kPerPage);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted) << all.status();
  EXPECT_THAT(all.status().message(), HasSubstr("/api/v1/namespaces/ns/configmaps"));
  EXPECT_THAT(all.status().message(), HasSubstr(server.Config().server));
  EXPECT_THAT(all.status().message(), HasSubstr("1048576"));
  EXPECT_THAT(all.status().message(), HasSubstr("max_response_bytes"));
  // It stopped at the cap: the 17th page (about 1.06 MiB in all) is the last one asked for.
  EXPECT_LE(served.load(), 17) << all.status();
  EXPECT_GE(served.load(), 15);

  // 12 pages, about 770 KiB: read whole, every object once.
  pages = 12;
  served = 0;
  all = (*client)->ListAll(cm, "ns", {}, In(absl::Seconds(20)), kPerPage);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->items.size(), size_t{12 * kPerPage});
  EXPECT_EQ(all->resource_version, "7");
  EXPECT_EQ(served.load(), 12);
}

TEST(KubeClientLocalTest, MalformedJsonIsInternalNamingServerAndPath) {
  FakeApiServer server([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/api/v1/namespaces/ns/configmaps/a") {
      res.set_content(R"({"kind":"ConfigMap","metadata":{"name":)", "application/json");
      return;
    }
    LegacyDiscovery(req, res);
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  absl::StatusOr<Json> got =
      (*client)->Get({"", "v1", "ConfigMap", "ns", "a"}, In(absl::Seconds(5)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("/api/v1/namespaces/ns/configmaps/a"));
  EXPECT_THAT(got.status().message(), HasSubstr(server.Config().server));
}

TEST(KubeClientLocalTest, AWatchOfOneEndlessEventOrOfGarbageEnds) {
  std::atomic<size_t> written{0};
  std::string mode;
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("watch")) return LegacyDiscovery(req, res);
    if (mode == "endless") {
      // One event that never closes: 300 MB of one string.
      StreamBody(res, R"({"type":"ADDED","object":{"data":")", 'x', size_t{300} << 20, &written);
    } else if (mode == "line") {
      StreamBody(res, "", 'x', size_t{300} << 20, &written);  // one endless line, not JSON
    } else {
      // Endless well-formed objects that are not events.
      res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
        const std::string junk = R"({"kind":"Junk","n":1})"
                                 "\n";
        for (int i = 0; i < 1000000; ++i) {
          if (!sink.write(junk.data(), junk.size())) return false;
          written.fetch_add(junk.size());
        }
        sink.done();
        return true;
      });
    }
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client =
      KubeClient::Create(server.Config(), SmallCap());
  ASSERT_TRUE(client.ok());
  int events = 0;
  auto watch = [&] {
    written = 0;
    return (*client)->Watch(
        {"", "v1", "ConfigMap"}, "ns", {},
        [&](WatchEvent&) {
          ++events;
          return true;
        },
        In(absl::Seconds(20)));
  };
  mode = "endless";
  absl::Status status = watch();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("/api/v1/namespaces/ns/configmaps"));
  EXPECT_THAT(status.message(), HasSubstr(server.Config().server));
  EXPECT_LT(written.load(), size_t{64} << 20);
  mode = "line";
  status = watch();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("/api/v1/namespaces/ns/configmaps"));
  EXPECT_LT(written.load(), size_t{64} << 20);
  mode = "junk";
  status = watch();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("event type"));
  EXPECT_LT(written.load(), size_t{64} << 20);
  EXPECT_EQ(events, 0);
}

TEST(KubeClientLocalTest, AHugeStatusMessageIsQuotedCapped) {
  std::string message_size;
  FakeApiServer server([&](const httplib::Request& req, httplib::Response& res) {
    size_t size = req.path == "/medium" ? 200 << 10 : size_t{5} << 20;
    res.status = 422;
    res.set_content(
        absl::StrCat(R"({"kind":"Status","status":"Failure","reason":"Invalid",)",
                     R"("code":422,"message":"spec: )", std::string(size, 'm'), R"("})"),
        "application/json");
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  for (const char* path : {"/medium", "/huge"}) {
    KubeRequest request;
    request.path = path;
    absl::StatusOr<KubeResponse> r = (*client)->Request(request, In(absl::Seconds(20)));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_LT(r.status().message().size(), kMaxKubeStatusMessageBytes + 200) << path;
    EXPECT_THAT(r.status().message(), HasSubstr(path));
    EXPECT_THAT(r.status().message(), HasSubstr("mmmm"));
    EXPECT_EQ(KubeHttpCode(r.status()), 422);
  }
}

TEST(KubeClientLocalTest, ABodyShorterThanItsContentLengthIsUnavailableAtOnce) {
  FakeApiServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
      sink.write(R"({"kind":)", 8);
      return false;  // and the connection closes
    });
  });
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config());
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/api/v1/namespaces";
  const absl::Time start = absl::Now();
  absl::StatusOr<KubeResponse> r = (*client)->Request(request, In(absl::Seconds(20)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("/api/v1/namespaces"));
  EXPECT_THAT(r.status().message(), HasSubstr(server.Config().server));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(KubeClientLocalTest, BytesBeyondTheContentLengthAreNotTakenForTheNextAnswer) {
  // The first answer carries a forged second response after its declared length; were the
  // connection reused as is, the next request would read the forgery as its answer.
  FakeApiServer server([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/a") {
      const std::string real = R"({"kind":"A"})";
      const std::string forged =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
          R"({"kind":"Forged"})";
      res.set_content_provider(real.size(), "application/json",
                               [real, forged](size_t, size_t, httplib::DataSink& sink) {
                                 const std::string all = real + forged;
                                 return sink.write(all.data(), all.size());
                               });
      return;
    }
    res.set_content(R"({"kind":"B"})", "application/json");
  });
  {
    // The server really sends the extra bytes.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(
        std::stoi(server.Config().server.substr(server.Config().server.rfind(':') + 1))));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const std::string get = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::send(fd, get.data(), get.size(), 0), static_cast<ssize_t>(get.size()));
    std::string raw;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) raw.append(buffer, n);
    ::close(fd);
    ASSERT_THAT(raw, HasSubstr("Forged"));
  }
  KubeClientOptions options;
  options.max_in_flight = 1;  // one connection, so a reuse would take the forgery
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(server.Config(), options);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/a";
  absl::StatusOr<KubeResponse> a = (*client)->Request(request, In(absl::Seconds(5)));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, R"({"kind":"A"})");
  absl::SleepFor(absl::Milliseconds(100));  // the forgery has arrived
  request.path = "/b";
  absl::StatusOr<KubeResponse> b = (*client)->Request(request, In(absl::Seconds(5)));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->body, R"({"kind":"B"})");
  EXPECT_EQ(server.Requests("/b"), 1);
}

TEST(KubeClientLocalTest, ARedirectIsNotFollowedAndTheTokenStaysHome) {
  FakeApiServer elsewhere([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"kind":"ConfigMap"})", "application/json");
  });
  const std::string target = absl::StrCat(elsewhere.Config().server, "/steal");
  FakeApiServer server([&](const httplib::Request&, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", target);
  });
  KubeConfig config = server.Config();
  config.token = "redirect-secret-token";
  absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(config);
  ASSERT_TRUE(client.ok());
  KubeRequest request;
  request.path = "/api/v1/namespaces/ns/configmaps/a";
  absl::StatusOr<KubeResponse> r = (*client)->Request(request, In(absl::Seconds(5)));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(target));
  EXPECT_THAT(r.status().message(), HasSubstr("not followed"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("redirect-secret-token")));
  EXPECT_EQ(elsewhere.Requests("/steal"), 0);
  EXPECT_THAT(server.Authorizations(), ::testing::ElementsAre("Bearer redirect-secret-token"));
}

}  // namespace
}  // namespace todoke::applier::kube
