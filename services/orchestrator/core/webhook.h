// Webhook: turns a Git push notification into refreshes of exactly the apps it concerns.
// Transport-free (the HTTP server in services/orchestrator/grpc/webhook_server.h calls it), so the
// rules are tested without sockets.
//
// Accepted deliveries (all POST, body capped by the server before it is read):
//   GitHub  X-GitHub-Event: push, X-Hub-Signature-256: sha256=<HMAC-SHA256(secret, raw body)>
//   GitLab  X-Gitlab-Event: Push Hook (or Tag Push Hook), X-Gitlab-Token: <secret>
//   generic X-Todoke-Signature-256: sha256=<HMAC-SHA256(secret, raw body)>, body
//           {"repoURL": "...", "ref": "refs/heads/main"} (ref optional: any ref)
// A secret is required for every kind; signatures and tokens are compared in constant time.
// A repeated delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Todoke-Delivery) is ignored.
// The payload's commit is never trusted: matching apps are refreshed, which resolves the ref
// again, bypassing the source-fetcher's ref cache. Pushes that carry todoke's own hydration
// commits (a branch some app hydrates into) trigger nothing for that branch.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_WEBHOOK_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_WEBHOOK_H_

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace todoke::orchestrator {

struct WebhookResult {
  int http_status = 202;  // 202 queued, 200 nothing to do / duplicate, 400, 401
  std::string message;
  std::vector<std::string> apps;  // refreshed
};

class WebhookHandler {
 public:
  // `refresh(repo_url, ref)` queues the matching apps and returns their names.
  using RefreshFn =
      std::function<std::vector<std::string>(const std::string& repo_url, const std::string& ref)>;

  WebhookHandler(std::string secret, RefreshFn refresh, size_t remembered_deliveries = 4096);

  // `headers` with lowercase names.
  WebhookResult Handle(const std::map<std::string, std::string>& headers, const std::string& body);

 private:
  bool SeenBefore(const std::string& delivery_id);

  const std::string secret_;
  const RefreshFn refresh_;
  const size_t remembered_;
  absl::Mutex mu_;
  std::set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> seen_order_ ABSL_GUARDED_BY(mu_);
};

// Lowercase hex HMAC-SHA256 of `body` with `key`.
std::string HmacSha256Hex(const std::string& key, const std::string& body);

// True if `a` and `b` are equal; the time taken depends only on their lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_WEBHOOK_H_
