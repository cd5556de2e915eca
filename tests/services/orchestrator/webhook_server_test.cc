// The webhook receiver over real HTTP on loopback, driven by raw sockets as a hostile sender
// would. What a user relies on: a body larger than the cap is refused before it is read and
// triggers nothing; a POST that declares no length (chunked) is refused; a client that dribbles
// its headers or its body is cut at the request timeout and does not stop a good delivery sent
// meanwhile from being answered; a replayed delivery triggers once; hundreds of idle connections
// neither add threads nor keep a good delivery out for long.
#include "services/orchestrator/grpc/webhook_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/core/webhook.h"

namespace todoke::orchestrator {
namespace {

constexpr char kSecret[] = "hostile-test-secret";
constexpr char kRepo[] = "https://git.example.com/org/repo.git";

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the server closes (it answers once per connection) or `until`; the HTTP status of
// what was read, 0 when nothing (closed or reset without an answer, or out of time).
int ReadStatus(int fd, absl::Time until, std::string* text = nullptr) {
  std::string got;
  char buffer[4096];
  while (true) {
    absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) break;
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  if (text != nullptr) *text = got;
  int status = 0;
  if (got.rfind("HTTP/1.1 ", 0) == 0 && got.size() >= 12) {
    (void)absl::SimpleAtoi(got.substr(9, 3), &status);
  }
  return status;
}

// True once the server has closed `fd` (EOF or reset), waiting at most until `until`.
bool ClosedByServer(int fd, absl::Time until) {
  char buffer[4096];
  while (absl::Now() < until) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 100);
    if (rc < 0) return true;
    if (rc == 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) return true;
  }
  return false;
}

std::string GenericBody() { return absl::StrCat(R"({"repoURL":")", kRepo, R"("})"); }

std::string Delivery(const std::string& body, const std::string& id = "") {
  std::string request = absl::StrCat(
      "POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n",
      "X-Todoke-Signature-256: sha256=", HmacSha256Hex(kSecret, body), "\r\n");
  if (!id.empty()) absl::StrAppend(&request, "X-Todoke-Delivery: ", id, "\r\n");
  absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n\r\n", body);
  return request;
}

// Posts `request` on a new connection; a sender retrying (at most until `until`) while the
// receiver answers 503 or drops the connection unanswered. The final status.
int PostRetrying(int port, const std::string& request, absl::Time until) {
  while (true) {
    int fd = Connect(port);
    int status = 0;
    if (fd >= 0) {
      if (SendAll(fd, request)) status = ReadStatus(fd, until);
      ::close(fd);
    }
    if ((status != 0 && status != 503) || absl::Now() >= until) return status;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int ThreadCount() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.';
    ::closedir(dir);
  }
  return count;
}

class WebhookServerTest : public ::testing::Test {
 protected:
  WebhookServerTest()
      : handler_(kSecret, [this](const std::string& repo, const std::string&) {
          refreshes_.fetch_add(1);
          return repo == kRepo ? std::vector<std::string>{"web"} : std::vector<std::string>{};
        }) {}

  void Start(WebhookServerOptions options) {
    auto server = WebhookServer::Start("127.0.0.1:0", &handler_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    const std::string& bound = server_->BoundAddress();
    ASSERT_TRUE(absl::SimpleAtoi(bound.substr(bound.rfind(':') + 1), &port_)) << bound;
  }

  std::atomic<int> refreshes_{0};
  WebhookHandler handler_;
  std::unique_ptr<WebhookServer> server_;
  int port_ = 0;
};

TEST_F(WebhookServerTest, AGoodDeliveryIsAnswered202) {
  Start({});
  EXPECT_EQ(PostRetrying(port_, Delivery(GenericBody()), absl::Now() + absl::Seconds(20)), 202);
  EXPECT_EQ(refreshes_.load(), 1);
}

TEST_F(WebhookServerTest, ABodyDeclaredLargerThanTheCapIsRefusedBeforeItIsSent) {
  WebhookServerOptions options;
  options.max_body_bytes = 64 << 10;
  options.read_timeout_seconds = 30;  // an answer must not wait for a read to time out
  options.request_timeout_seconds = 60;
  Start(options);
  const std::string body = GenericBody();
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  // Only the headers: the 100 MiB body is never sent, so the answer cannot come from reading it.
  ASSERT_TRUE(
      SendAll(fd, absl::StrCat("POST /webhook HTTP/1.1\r\nHost: x\r\n",
                               "X-Todoke-Signature-256: sha256=", HmacSha256Hex(kSecret, body),
                               "\r\n", "Content-Length: ", 100 << 20, "\r\n\r\n", body)));
  std::string text;
  EXPECT_EQ(ReadStatus(fd, absl::Now() + absl::Seconds(10), &text), 413) << text;
  ::close(fd);
  EXPECT_EQ(refreshes_.load(), 0);
}

TEST_F(WebhookServerTest, AChunkedBodyIsRefusedNotBuffered) {
  WebhookServerOptions options;
  options.max_body_bytes = 64 << 10;
  Start(options);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd,
                      "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "X-Todoke-Signature-256: sha256=00\r\n\r\n"));
  // Up to 4 MiB of chunks, as fast as the server takes them; it must stop taking them.
  const std::string chunk = absl::StrCat("400\r\n", std::string(1024, ' '), "\r\n");
  size_t sent = 0;
  while (sent < (size_t{4} << 20)) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 2000) <= 0 || (p.revents & (POLLERR | POLLHUP))) break;
    ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0 && errno != EAGAIN) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string text;
  int status = ReadStatus(fd, absl::Now() + absl::Seconds(10), &text);
  ::close(fd);
  EXPECT_THAT(status, ::testing::AnyOf(411, 413, 0)) << text;
  EXPECT_LT(sent, size_t{4} << 20) << "the receiver read a 4 MiB chunked body";
  EXPECT_EQ(refreshes_.load(), 0);
}

TEST_F(WebhookServerTest, SlowClientsAreCutAndDoNotHoldUpAGoodDelivery) {
  WebhookServerOptions options;
  options.workers = 2;
  options.max_pending_connections = 8;
  options.read_timeout_seconds = 1;  // each byte below comes well within it
  options.request_timeout_seconds = 2;
  Start(options);
  constexpr int kSlow = 10;  // more than the workers (and than httplib's default pool of 8)
  const absl::Duration budget = absl::Seconds(40);
  std::atomic<int> cut{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.emplace_back([&, i] {
      int fd = Connect(port_);
      if (fd < 0) return;
      // Even ones dribble their headers; odd ones send whole headers, then dribble the body.
      std::string request = absl::StrCat("POST /webhook HTTP/1.1\r\nHost: x\r\nX-Dribble-", i, ": ",
                                         std::string(4000, 'a'));
      size_t k = 0;
      if (i % 2 == 1) {
        const std::string headers = absl::StrCat(
            "POST /webhook HTTP/1.1\r\nHost: x\r\nX-Todoke-Signature-256: sha256=00\r\n",
            "Content-Length: 4000\r\n\r\n");
        if (!SendAll(fd, headers)) {
          ::close(fd);
          return;
        }
        request = std::string(4000, '{');
      }
      const absl::Time give_up = absl::Now() + budget;
      for (; k < request.size() && absl::Now() < give_up && !stop; ++k) {
        if (::send(fd, &request[k], 1, MSG_NOSIGNAL) != 1) break;
        if (ClosedByServer(fd, absl::Now() + absl::Milliseconds(200))) break;
      }
      if (absl::Now() < give_up && !stop) cut.fetch_add(1);
      ::close(fd);
    });
  }
  absl::SleepFor(absl::Milliseconds(300));  // the slow ones hold the workers
  const int status = PostRetrying(port_, Delivery(GenericBody()), absl::Now() + budget);
  for (std::thread& t : slow) t.join();
  // Answered before the slow clients' budget ran out (they would hold every worker till then),
  // and every slow client was cut.
  EXPECT_EQ(status, 202);
  EXPECT_EQ(refreshes_.load(), 1);
  EXPECT_EQ(cut.load(), kSlow) << "a client dribbling its headers or body was never cut";
}

TEST_F(WebhookServerTest, AReplayedDeliveryTriggersOnce) {
  Start({});
  const std::string request = Delivery(GenericBody(), "delivery-1");
  const absl::Time until = absl::Now() + absl::Seconds(20);
  EXPECT_EQ(PostRetrying(port_, request, until), 202);
  EXPECT_EQ(PostRetrying(port_, request, until), 200);
  EXPECT_EQ(PostRetrying(port_, request, until), 200);
  EXPECT_EQ(refreshes_.load(), 1);
  // Another id is another delivery.
  EXPECT_EQ(PostRetrying(port_, Delivery(GenericBody(), "delivery-2"), until), 202);
  EXPECT_EQ(refreshes_.load(), 2);
}

TEST_F(WebhookServerTest, HundredsOfIdleConnectionsAddNoThreadsAndAreClosed) {
  WebhookServerOptions options;
  options.workers = 4;
  options.max_pending_connections = 16;
  options.request_timeout_seconds = 2;
  Start(options);
  // One delivery first, so that the workers exist before they are counted.
  EXPECT_EQ(PostRetrying(port_, Delivery(GenericBody()), absl::Now() + absl::Seconds(20)), 202);
  const int threads_before = ThreadCount();
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    int fd = Connect(port_);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_GE(idle.size(), 250u);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_LE(ThreadCount(), threads_before) << "threads grew with connections";
  // A good delivery gets through while they are all still open (the sender retries a 503).
  EXPECT_EQ(PostRetrying(port_, Delivery(GenericBody()), absl::Now() + absl::Seconds(30)), 202);
  EXPECT_EQ(refreshes_.load(), 2);
  // And the server closes every idle one.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  int open = 0;
  for (int fd : idle) {
    open += !ClosedByServer(fd, until);
    ::close(fd);
  }
  EXPECT_EQ(open, 0);
}

}  // namespace
}  // namespace todoke::orchestrator
