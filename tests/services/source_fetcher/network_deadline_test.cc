// Unit tests of DNS resolution bounded by the deadline (DeadlineResolver), with fake resolvers:
// no real DNS.
#include "services/source_fetcher/core/network_deadline.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace todoke::source_fetcher {
namespace {

using ::testing::HasSubstr;

ResolvedAddress Loopback() {
  ResolvedAddress a;
  sockaddr_in in = {};
  in.sin_family = AF_INET;
  in.sin_port = htons(9418);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.family = AF_INET;
  a.socktype = SOCK_STREAM;
  a.protocol = 0;
  static_assert(sizeof(in) <= sizeof(a.addr));
  memcpy(&a.addr, &in, sizeof(in));
  a.addr_len = sizeof(in);
  return a;
}

// A resolver that answers only once the gate opens; the gate outlives every worker.
struct Gate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = false;
  std::atomic<int> calls{0};
  void Open() {
    absl::MutexLock lock(&mu);
    open = true;
  }
};

AddressResolverFn GatedResolver(std::shared_ptr<Gate> gate) {
  return [gate](const std::string&,
                const std::string&) -> absl::StatusOr<std::vector<ResolvedAddress>> {
    gate->calls++;
    absl::MutexLock lock(&gate->mu);
    gate->mu.Await(absl::Condition(&gate->open));
    return std::vector<ResolvedAddress>{Loopback()};
  };
}

bool WaitForNoAbandoned(const DeadlineResolver& resolver) {
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    if (resolver.abandoned() == 0) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

TEST(DeadlineResolverTest, NumericHostsSkipTheResolverAndTheThread) {
  auto gate = std::make_shared<Gate>();  // never opened: calling the resolver would hang
  DeadlineResolver resolver(GatedResolver(gate));
  for (const char* host : {"127.0.0.1", "::1"}) {
    absl::Time start = absl::Now();
    // Even a deadline in the past: numeric addresses need no lookup.
    auto addresses = resolver.Resolve(host, "9418", absl::Now() - absl::Seconds(1));
    absl::Duration took = absl::Now() - start;
    ASSERT_TRUE(addresses.ok()) << host << ": " << addresses.status();
    ASSERT_FALSE(addresses->empty());
    EXPECT_EQ(addresses->front().family, std::string(host) == "::1" ? AF_INET6 : AF_INET);
    // No wait at all; the bound is loose for a loaded machine, which may hold a thread off the
    // CPU for tens of ms (a lookup would hang: the gate never opens).
    EXPECT_LT(took, absl::Milliseconds(500)) << host;
  }
  EXPECT_EQ(gate->calls.load(), 0);
  EXPECT_EQ(resolver.abandoned(), 0);
}

TEST(DeadlineResolverTest, FastLookupReturnsTheResolverAnswer) {
  std::atomic<int> calls{0};
  DeadlineResolver resolver(
      [&calls](const std::string& host,
               const std::string& port) -> absl::StatusOr<std::vector<ResolvedAddress>> {
        calls++;
        EXPECT_EQ(host, "git.example.test");
        EXPECT_EQ(port, "443");
        return std::vector<ResolvedAddress>{Loopback()};
      });
  auto addresses = resolver.Resolve("git.example.test", "443", absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_EQ(addresses->front().family, AF_INET);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(resolver.abandoned(), 0);

  DeadlineResolver failing([](const std::string& host,
                              const std::string&) -> absl::StatusOr<std::vector<ResolvedAddress>> {
    return absl::NotFoundError("failed to resolve address for " + host);
  });
  auto missing = failing.Resolve("nowhere.example.test", "443", absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
}

TEST(DeadlineResolverTest, SlowLookupReturnsAtTheDeadlineNamingTheHost) {
  auto gate = std::make_shared<Gate>();
  DeadlineResolver resolver(GatedResolver(gate));
  absl::Time start = absl::Now();
  auto addresses = resolver.Resolve("slow.example.test", "443", start + absl::Milliseconds(200));
  absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(addresses.status())) << addresses.status();
  EXPECT_THAT(addresses.status().message(), HasSubstr("slow.example.test"));
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Milliseconds(1000));
  EXPECT_EQ(resolver.abandoned(), 1);

  // The abandoned worker finishes in the background and gives its slot back.
  gate->Open();
  EXPECT_TRUE(WaitForNoAbandoned(resolver));
}

TEST(DeadlineResolverTest, AbandonedLookupsAreCapped) {
  auto gate = std::make_shared<Gate>();
  DeadlineResolver resolver(GatedResolver(gate), /*max_abandoned=*/2);
  for (int i = 0; i < 2; ++i) {
    auto r = resolver.Resolve("dead.example.test", "22", absl::Now() + absl::Milliseconds(50));
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  }
  EXPECT_EQ(resolver.abandoned(), 2);
  EXPECT_EQ(gate->calls.load(), 2);

  // Beyond the cap: fail fast, spawn nothing (well before the 5 s deadline; the bound is loose
  // for a loaded machine, which may hold a thread off the CPU for tens of ms).
  absl::Time start = absl::Now();
  auto r = resolver.Resolve("dead.example.test", "22", absl::Now() + absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("dead.example.test"));
  EXPECT_EQ(gate->calls.load(), 2);

  // Numeric hosts are not affected by the cap.
  EXPECT_TRUE(resolver.Resolve("127.0.0.1", "22", absl::Now() + absl::Seconds(5)).ok());

  // Once the stuck workers finish, lookups work again.
  gate->Open();
  ASSERT_TRUE(WaitForNoAbandoned(resolver));
  auto ok = resolver.Resolve("dead.example.test", "22", absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(ok.ok()) << ok.status();
}

}  // namespace
}  // namespace todoke::source_fetcher
