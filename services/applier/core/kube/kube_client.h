// A client for one Kubernetes API server over HTTPS (libcurl): discovery, the object verbs
// (get, list, watch, server-side apply, create, replace, patch, delete) on paths built from
// discovery, and raw requests. JSON in and out through common/ (todoke::ParseJson).
//
// Limits like client-go's: a token bucket of `qps` requests a second with bursts of `burst`
// (every request, retries included, takes a token); at most `max_in_flight` requests at once
// (one reusable curl handle and connection each, HTTP/2 negotiated when libcurl has it; watches
// hold their own connection and do not count); every call has a deadline that covers waiting for
// a token, for a slot, the transfer and any retry.
//
// Errors (absl::Status) from any call:
//   HTTP 400, 422          INVALID_ARGUMENT   (validation, admission, immutable fields)
//   HTTP 401               UNAUTHENTICATED
//   HTTP 403               PERMISSION_DENIED
//   HTTP 404               NOT_FOUND          (object or resource type)
//   HTTP 405               UNIMPLEMENTED
//   HTTP 409               ABORTED            (Conflict, e.g. SSA field conflicts; AlreadyExists)
//   HTTP 410               OUT_OF_RANGE       (expired resourceVersion or continue token: relist)
//   HTTP 412               FAILED_PRECONDITION (failed delete preconditions come as 409 instead)
//   HTTP 429, 5xx          UNAVAILABLE        (after the bounded Retry-After retries)
//   HTTP 3xx               INTERNAL           (never followed; the message names the target)
//   answer too large       RESOURCE_EXHAUSTED (a body, a watch event or all the pages of a
//                                             ListAll together over max_response_bytes)
//   transport failure      UNAVAILABLE        (refused, TLS failure, reset; within the deadline)
//   deadline passed        DEADLINE_EXCEEDED  (waiting for a token or slot, or mid-transfer)
//   bad response body      INTERNAL
//   unknown kind           NOT_FOUND          (discovery, after one refresh)
// The message names the verb and the resource path and ends with the API server's Status
// `message` (cut at kMaxKubeStatusMessageBytes), e.g. `PATCH
// /apis/apps/v1/namespaces/a/deployments/web: Apply failed with 1 conflict: conflict with
// "kubectl-edit" using apps/v1: .spec.replicas (HTTP 409 Conflict)`.
// The HTTP code and the Status `reason` are attached as payloads: read them with KubeHttpCode()
// and KubeReason() (e.g. to tell AlreadyExists from a field conflict). Annotating a status
// elsewhere may drop payloads: read them first. No credential ever appears in a message.
//
// Thread-safety: a KubeClient is safe to use from many threads at once; create one per cluster
// and share it. KubeClient is an interface (KubeClient::Create makes the real one) so that code
// built on it can be unit-tested with a fake.
#ifndef TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CLIENT_H_
#define TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/object.h"
#include "services/applier/core/kube/kube_config.h"

namespace todoke::applier::kube {

struct KubeClientOptions {
  // Client-side rate limit (client-go's QPS and Burst). qps <= 0 turns limiting off.
  double qps = 50;
  int burst = 100;
  // Requests (not watches) in flight at once; callers beyond this wait (within their deadline).
  int max_in_flight = 32;
  // 429 (and 5xx carrying Retry-After) are retried at most this many times, waiting what the
  // server asks (1 s when it names no delay, at most max_retry_after), never past the deadline.
  int max_retries = 5;
  absl::Duration max_retry_after = absl::Seconds(10);
  // Connecting (TCP and TLS) may take at most this long (and never past the deadline).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Negotiate HTTP/2 over TLS (ALPN) when libcurl supports it.
  bool http2 = true;
  // Ask for gzip responses (large lists on remote clusters).
  bool accept_compression = true;
  // The memory bound on one answer from the API server: a response body (counted after gzip is
  // undone, so a compression bomb stops here too), one watch event, or the bodies of all the
  // pages of one ListAll together, larger than this is refused with RESOURCE_EXHAUSTED naming
  // the server, the path and this limit; a 2xx response that declares a larger Content-Length
  // (than what the list's earlier pages left) is refused before its body is read. The default
  // is far above the largest list the applier makes, the watch cache's LIST of the objects of
  // one kind that todoke manages (label selector todoke.dev/app; an object is a few KiB, so
  // 10,000 of them are tens of MiB). Error (non-2xx) bodies are read up to
  // kMaxKubeErrorBodyBytes and their Status message quoted up to kMaxKubeStatusMessageBytes.
  size_t max_response_bytes = size_t{256} << 20;
  std::string user_agent = "todoke-applier";
  // ResourceFor() refreshes discovery for an unknown kind only when the cache is older than this
  // (a typo in many objects does not hammer the server); Refresh() always refreshes.
  absl::Duration unknown_kind_refresh_interval = absl::Milliseconds(500);
  // ResourceFor() refreshes discovery for a kind of a group whose discovery failed or was stale
  // (a dead APIService) only when the cache is older than this: a recovered group is seen within
  // it, a dead one costs one discovery refresh per interval however often it is asked for.
  absl::Duration failed_group_refresh_interval = absl::Seconds(1);
};

// An error (non-2xx) response's body is read at most this far; the rest is not read.
inline constexpr size_t kMaxKubeErrorBodyBytes = size_t{1} << 20;
// An API server's Status message is quoted in an error at most this long (then "...").
inline constexpr size_t kMaxKubeStatusMessageBytes = 2048;

struct GroupVersionKind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
};

// One resource type the server serves, from discovery.
struct ApiResource {
  std::string group;
  std::string version;
  std::string kind;
  std::string resource;  // plural, e.g. "deployments"
  bool namespaced = false;
  std::vector<std::string> verbs;         // e.g. "get", "list", "watch", "patch", "delete"
  std::vector<std::string> subresources;  // e.g. "status", "scale"
};

// The path of a collection or an object of `resource`: /api/v1/namespaces/<ns>/configmaps/<name>
// or /apis/<group>/<version>/<plural>[/<name>]. `ns` is ignored for cluster-scoped resources;
// an empty `ns` for a namespaced resource gives the all-namespaces collection path. Path
// segments are percent-escaped.
std::string ResourcePath(const ApiResource& resource, absl::string_view ns, absl::string_view name);

// The HTTP status code (e.g. 409) of an error returned by KubeClient; 0 for errors that did not
// come from an HTTP response (transport, deadline, discovery).
int KubeHttpCode(const absl::Status& status);
// The Kubernetes Status `reason` of such an error ("AlreadyExists", "Conflict", "Invalid",
// "NotFound", "Expired", "Gone", "Forbidden", "TooManyRequests", ...); "" when none.
std::string KubeReason(const absl::Status& status);

// The error for an HTTP response with a non-2xx `http_code` and `body` (a metav1.Status when the
// API server sent one) to `context` (e.g. "PATCH /api/v1/namespaces/a/configmaps/b"), mapped as
// in the table above, with the payloads KubeHttpCode and KubeReason read. For fakes in tests of
// code built on KubeClient, too.
absl::Status KubeStatusError(int http_code, absl::string_view body, absl::string_view context);

// A raw request. `path` starts with '/' and is not escaped further; `query` values are
// percent-encoded by the client.
struct KubeRequest {
  std::string method = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::string content_type;  // for requests with a body
  std::string accept = "application/json";
};

struct KubeResponse {
  int http_code = 0;
  std::string content_type;
  std::string body;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  // "" (most recent, from etcd), "0" (any, from the watch cache), or a version.
  std::string resource_version;
  std::string resource_version_match;  // "", "NotOlderThan", "Exact"
  int64_t limit = 0;                   // 0: no paging
  std::string continue_token;
  // Ask for metadata only (PartialObjectMetadataList; a server that cannot answer so sends full
  // objects): items then hold apiVersion, kind and metadata.
  bool metadata_only = false;
};

struct ListPage {
  std::vector<Json> items;       // full objects; apiVersion and kind filled in
  std::string resource_version;  // of the list: where a watch should start
  std::string continue_token;    // "" on the last page
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  // Start after this version ("" or "0": the server's choice; see the API docs).
  std::string resource_version;
  bool allow_bookmarks = true;
  // Server-side timeout of the watch (0: the server's default, minutes). The call also ends at
  // its deadline.
  int timeout_seconds = 0;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  // The object (kBookmark: only apiVersion, kind and metadata.resourceVersion; kError: a
  // metav1.Status).
  Json object;
};

// "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR".
absl::string_view WatchEventTypeName(WatchEvent::Type type);

// Called for each event as it arrives, on the thread that called Watch. Returning false ends the
// watch (Watch returns OK).
using WatchCallback = std::function<bool(WatchEvent& event)>;

struct ServerSideApplyOptions {
  std::string field_manager = "todoke";
  bool force = false;
  bool dry_run = false;  // dryRun=All
};

struct WriteOptions {
  std::string field_manager = "todoke";
  bool dry_run = false;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
};

struct DeleteOptions {
  // "Foreground", "Background", "Orphan", or "" (the resource's default).
  std::string propagation_policy;
  // Preconditions: the delete fails (409, reason Conflict) unless the live object has this
  // uid / resourceVersion.
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
  int64_t grace_period_seconds = -1;  // -1: the object's default
};

// Counters since the client was created (for metrics and benchmarks).
struct KubeClientStats {
  int64_t requests = 0;            // HTTP requests sent (retries included; watches included)
  int64_t retries = 0;             // Retry-After retries
  int64_t transport_errors = 0;    // requests that got no HTTP response
  int64_t http2_responses = 0;     // responses that came over HTTP/2
  absl::Duration rate_limit_wait;  // total time spent waiting for tokens
};

class KubeClient {
 public:
  // A client for `config`. INVALID_ARGUMENT when the server URL is not http(s), or the
  // client certificate or key cannot be used; no request is made.
  static absl::StatusOr<std::unique_ptr<KubeClient>> Create(KubeConfig config,
                                                            KubeClientOptions options = {});
  virtual ~KubeClient() = default;
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  virtual const KubeConfig& config() const = 0;
  virtual const KubeClientOptions& options() const = 0;
  virtual KubeClientStats stats() const = 0;

  // ---- raw ----

  // Sends `request`; a 2xx response is returned, anything else is an error (see the table above).
  // 401 with an exec plugin re-runs the plugin once and retries.
  virtual absl::StatusOr<KubeResponse> Request(const KubeRequest& request, absl::Time deadline) = 0;

  // ---- discovery (cached; safe to call from many threads; one refresh at a time) ----

  // Fetches discovery again: aggregated discovery (apidiscovery.k8s.io/v2 on /api and /apis)
  // where the server has it, else the legacy per-group-version documents. A group version that
  // fails to answer (a dead APIService) or is marked Stale is remembered as failed; ResourceFor
  // then answers UNAVAILABLE for that group only. Errors: those of the /api and /apis requests.
  virtual absl::Status Refresh(absl::Time deadline) = 0;

  // The resource serving `kind` in `group`/`version` (`version` empty: the group's preferred
  // version, else any version serving the kind). Uses the cache (fetching it on first use);
  // refreshes once when the kind is unknown (see unknown_kind_refresh_interval), then NOT_FOUND
  // naming the kind. UNAVAILABLE when the group's discovery failed, after refreshing it once
  // (see failed_group_refresh_interval) in case the group has recovered.
  virtual absl::StatusOr<ApiResource> ResourceFor(absl::string_view group,
                                                  absl::string_view version, absl::string_view kind,
                                                  absl::Time deadline) = 0;
  absl::StatusOr<ApiResource> ResourceFor(const GroupVersionKind& gvk, absl::Time deadline) {
    return ResourceFor(gvk.group, gvk.version, gvk.kind, deadline);
  }

  // Every resource in the cache (fetching it on first use), top-level resources only.
  virtual absl::StatusOr<std::vector<ApiResource>> ServerResources(absl::Time deadline) = 0;

  // ---- object verbs (paths from discovery; `key.version` picks the version served) ----

  // GET of one object. NOT_FOUND when it does not exist. INVALID_ARGUMENT when a namespaced
  // kind has no namespace in `key`.
  virtual absl::StatusOr<Json> Get(const ObjectKey& key, absl::Time deadline) = 0;
  // Get with resourceVersion=0: the API server answers from its own watch cache, without a read
  // from etcd (measured: 0.45 ms of kube-apiserver CPU and none of etcd for a missing object,
  // against 0.72 + 0.26 ms). The answer may lag the latest write by the server's watch delay:
  // for existence checks of objects outside todoke's cache, not for reading back a write.
  virtual absl::StatusOr<Json> GetFromServerCache(const ObjectKey& key, absl::Time deadline) = 0;

  // One page of objects of `gvk` in `ns` ("" for all namespaces, or for cluster-scoped kinds).
  virtual absl::StatusOr<ListPage> List(const GroupVersionKind& gvk, absl::string_view ns,
                                        const ListOptions& options, absl::Time deadline) = 0;

  // Every page (following continue tokens, `page_size` items a page). OUT_OF_RANGE when a
  // continue token expired mid-way: list again. The bodies of all the pages together are bounded
  // by max_response_bytes, as one body is (a page is read only as far as the earlier pages left
  // room): beyond it RESOURCE_EXHAUSTED naming the server, the collection's path and the limit,
  // and nothing of the list is returned.
  virtual absl::StatusOr<ListPage> ListAll(const GroupVersionKind& gvk, absl::string_view ns,
                                           const ListOptions& options, absl::Time deadline,
                                           int64_t page_size = 500) = 0;

  // Watches `gvk` in `ns` and calls `on_event` for every event as it arrives. Returns OK when the
  // server ends the watch, the deadline passes, `*cancel` becomes true (noticed within about a
  // second) or `on_event` returns false. An ERROR event is passed to `on_event`, then Watch
  // returns its Status as an error (410 Gone: OUT_OF_RANGE, relist). An error before any event
  // is an error as for Request; the connection failing mid-watch is UNAVAILABLE.
  virtual absl::Status Watch(const GroupVersionKind& gvk, absl::string_view ns,
                             const WatchOptions& options, const WatchCallback& on_event,
                             absl::Time deadline, const std::atomic<bool>* cancel = nullptr) = 0;

  // Server-side apply of `object` (PATCH, application/apply-patch+yaml, fieldManager, force,
  // dryRun=All): the object must have apiVersion, kind, metadata.name and, for a namespaced
  // kind, metadata.namespace (INVALID_ARGUMENT otherwise). Returns the object the server
  // answered (same resourceVersion as before when nothing changed). A field conflict without
  // force is ABORTED with reason "Conflict" and the server's message naming the fields and
  // managers.
  virtual absl::StatusOr<Json> ServerSideApply(const Json& object,
                                               const ServerSideApplyOptions& options,
                                               absl::Time deadline) = 0;

  // POST of `object` (may use metadata.generateName). ABORTED reason "AlreadyExists" when it
  // exists. Returns the created object.
  virtual absl::StatusOr<Json> Create(const Json& object, const WriteOptions& options,
                                      absl::Time deadline) = 0;

  // PUT of `object` (metadata.resourceVersion, if set, must match: ABORTED reason "Conflict").
  virtual absl::StatusOr<Json> Replace(const Json& object, const WriteOptions& options,
                                       absl::Time deadline) = 0;

  // PATCH of the object `key` with `patch` (JSON text of the given type). Returns the object.
  virtual absl::StatusOr<Json> Patch(const ObjectKey& key, PatchType type, absl::string_view patch,
                                     const WriteOptions& options, absl::Time deadline) = 0;

  // DELETE of the object `key`. Returns what the server answered: the object (still there with
  // a deletionTimestamp, e.g. Foreground with dependents or finalizers) or a Status (gone).
  // NOT_FOUND when it does not exist; ABORTED reason "Conflict" when a precondition fails.
  virtual absl::StatusOr<Json> Delete(const ObjectKey& key, const DeleteOptions& options,
                                      absl::Time deadline) = 0;

 protected:
  KubeClient() = default;
};

}  // namespace todoke::applier::kube

#endif  // TODOKE_SERVICES_APPLIER_CORE_KUBE_KUBE_CLIENT_H_
