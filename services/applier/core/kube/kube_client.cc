#include "services/applier/core/kube/kube_client.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/json_parse.h"
#include "common/log.h"
#include "common/status.h"
#include "services/applier/core/kube/exec_credential.h"
#include "services/applier/core/kube/json_stream.h"
#include "services/applier/core/kube/token_bucket.h"

namespace todoke::applier::kube {
namespace {

constexpr absl::string_view kHttpCodePayload = "type.todoke.dev/kube.http_code";
constexpr absl::string_view kReasonPayload = "type.todoke.dev/kube.reason";
constexpr absl::string_view kAggregatedAccept =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
// Error bodies are quoted at most this long when they are not a Status.
constexpr size_t kMaxQuotedBody = 512;

// `text` cut to at most `max` bytes, never inside a UTF-8 sequence.
absl::string_view CutUtf8(absl::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

absl::StatusCode CodeForHttp(int http_code) {
  switch (http_code) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 413:
      return absl::StatusCode::kInvalidArgument;
    case 429:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_code >= 500) return absl::StatusCode::kUnavailable;
  if (http_code >= 400) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;  // 1xx/3xx: nothing we asked for
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string Escape(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string GroupVersion(absl::string_view group, absl::string_view version) {
  return group.empty() ? std::string(version) : absl::StrCat(group, "/", version);
}

void CurlGlobalInit() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool CurlHasHttp2() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return info != nullptr && (info->features & CURL_VERSION_HTTP2) != 0;
}

std::string StringField(const Json& object, absl::string_view field) {
  if (!object.is_object()) return "";
  auto it = object.find(std::string(field));
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// ---------------------------------------------------------------------------------------------
// Credentials: static, token file (re-read on change), exec plugin (cached until expiry).

struct Auth {
  std::string bearer;
  std::string cert_pem;
  std::string key_pem;
};

class Credentials {
 public:
  explicit Credentials(const KubeConfig& config) : config_(config) {}

  absl::StatusOr<Auth> Get(absl::Time deadline) {
    Auth auth;
    auth.cert_pem = config_.client_cert_pem;
    auth.key_pem = config_.client_key_pem;
    if (!config_.token.empty()) {
      auth.bearer = config_.token;
    } else if (!config_.token_file.empty()) {
      ASSIGN_OR_RETURN(auth.bearer, FileToken());
    }
    if (config_.has_exec) {
      ASSIGN_OR_RETURN(ExecCredential cred, Exec(deadline));
      if (!cred.token.empty()) auth.bearer = std::move(cred.token);
      if (!cred.client_cert_pem.empty()) {
        auth.cert_pem = std::move(cred.client_cert_pem);
        auth.key_pem = std::move(cred.client_key_pem);
      }
    }
    return auth;
  }

  // After a 401: the next Get runs the plugin again. True when there is a plugin (worth a retry).
  bool Invalidate() {
    if (!config_.has_exec) return false;
    absl::MutexLock lock(&mu_);
    exec_cred_.reset();
    return true;
  }

 private:
  absl::StatusOr<std::string> FileToken() {
    absl::MutexLock lock(&mu_);
    struct stat info;
    if (stat(config_.token_file.c_str(), &info) != 0) {
      if (!file_token_.empty()) return file_token_;  // mid-rotation: keep the last one
      return absl::UnauthenticatedError(
          absl::StrCat("token file ", config_.token_file, " cannot be read"));
    }
    if (file_token_.empty() || info.st_mtim.tv_sec != mtime_.tv_sec ||
        info.st_mtim.tv_nsec != mtime_.tv_nsec || info.st_size != size_ || info.st_ino != inode_) {
      std::ifstream in(config_.token_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      std::string token(absl::StripAsciiWhitespace(text.str()));
      if (!in || token.empty()) {
        if (!file_token_.empty()) return file_token_;
        return absl::UnauthenticatedError(
            absl::StrCat("token file ", config_.token_file, " is empty or unreadable"));
      }
      file_token_ = std::move(token);
      mtime_ = info.st_mtim;
      size_ = info.st_size;
      inode_ = info.st_ino;
    }
    return file_token_;
  }

  absl::StatusOr<ExecCredential> Exec(absl::Time deadline) {
    // One plugin run at a time; the others wait for its result (bounded by their deadline).
    {
      absl::MutexLock lock(&mu_);
      auto fresh = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !exec_running_; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&fresh), deadline)) {
        return absl::DeadlineExceededError("waiting for the exec credential plugin");
      }
      if (exec_cred_.has_value() && absl::Now() + absl::Seconds(5) < exec_cred_->expiry) {
        return *exec_cred_;
      }
      exec_running_ = true;
    }
    absl::StatusOr<ExecCredential> cred = RunExecCredentialPlugin(config_, deadline);
    absl::MutexLock lock(&mu_);
    exec_running_ = false;
    if (cred.ok()) exec_cred_ = *cred;
    return cred;
  }

  const KubeConfig& config_;
  absl::Mutex mu_;
  std::string file_token_ ABSL_GUARDED_BY(mu_);
  timespec mtime_ ABSL_GUARDED_BY(mu_) = {0, 0};
  off_t size_ ABSL_GUARDED_BY(mu_) = 0;
  ino_t inode_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<ExecCredential> exec_cred_ ABSL_GUARDED_BY(mu_);
  bool exec_running_ ABSL_GUARDED_BY(mu_) = false;
};

// ---------------------------------------------------------------------------------------------
// One transfer's state, shared with libcurl's callbacks.

struct Transfer {
  std::string body;
  std::string content_type;
  std::optional<absl::Duration> retry_after;
  long http_code = 0;  // set by the header callback on the status line
  // Streaming (watch): receives the body of a 2xx response; false stops the transfer.
  std::function<bool(absl::string_view)> sink;
  bool sink_stopped = false;
  const std::atomic<bool>* cancel = nullptr;
  bool cancelled = false;
  // KubeClientOptions::max_response_bytes; too_large when a 2xx body (or its declared length)
  // went past it.
  size_t max_body = 0;
  bool too_large = false;
  // An error body cut at kMaxKubeErrorBodyBytes (the transfer was stopped there).
  bool error_body_cut = false;
  std::string location;  // of a redirect, never followed
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  Transfer* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  absl::string_view line(data, n);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after 100 Continue, or a retry inside libcurl): reset what we learnt.
    t->content_type.clear();
    t->location.clear();
    t->retry_after.reset();
    size_t space = line.find(' ');
    int code = 0;
    if (space != absl::string_view::npos && absl::SimpleAtoi(line.substr(space + 1, 3), &code)) {
      t->http_code = code;
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  absl::string_view name = line.substr(0, colon);
  absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  if (absl::EqualsIgnoreCase(name, "content-type")) {
    t->content_type = std::string(value);
  } else if (absl::EqualsIgnoreCase(name, "location")) {
    t->location = std::string(value.substr(0, 256));
  } else if (absl::EqualsIgnoreCase(name, "content-length") && t->http_code >= 200 &&
             t->http_code < 300) {
    uint64_t length = 0;
    if (absl::SimpleAtoi(value, &length) && length > t->max_body) {
      t->too_large = true;
      return 0;  // refused before the body is read
    }
  } else if (absl::EqualsIgnoreCase(name, "retry-after")) {
    int seconds = 0;
    if (absl::SimpleAtoi(value, &seconds) && seconds >= 0) t->retry_after = absl::Seconds(seconds);
  }
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  Transfer* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->sink && t->http_code >= 200 && t->http_code < 300) {
    if (!t->sink(absl::string_view(data, n))) {
      t->sink_stopped = true;
      return 0;  // CURLE_WRITE_ERROR: ends the transfer
    }
    return n;
  }
  if (t->http_code < 200 || t->http_code >= 300) {
    // An error body: its start says what went wrong; the rest is not worth reading.
    const size_t room = kMaxKubeErrorBodyBytes - std::min(t->body.size(), kMaxKubeErrorBodyBytes);
    t->body.append(data, std::min(n, room));
    if (n > room) {
      t->error_body_cut = true;
      return 0;
    }
    return n;
  }
  if (t->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;
  }
  t->body.append(data, n);
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  Transfer* t = static_cast<Transfer*>(user);
  if (t->cancel != nullptr && t->cancel->load(std::memory_order_relaxed)) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

int ShareLockIndex(curl_lock_data data) {
  switch (data) {
    case CURL_LOCK_DATA_DNS:
      return 0;
    case CURL_LOCK_DATA_SSL_SESSION:
      return 1;
    default:
      return 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery snapshot.

struct DiscoverySnapshot {
  std::vector<ApiResource> resources;
  // "group\nversion\nkind" and "group\n\nkind" (preferred) -> index in resources.
  absl::flat_hash_map<std::string, size_t> by_kind;
  // Group versions whose discovery failed or is stale, by "group" and "group\nversion".
  absl::flat_hash_map<std::string, absl::Status> failed;
  absl::Time fetched = absl::InfinitePast();
};

std::string KindKey(absl::string_view group, absl::string_view version, absl::string_view kind) {
  return absl::StrCat(group, "\n", version, "\n", kind);
}

// Group -> its versions, preferred first; each version's resources.
struct GroupDoc {
  std::string group;
  std::vector<std::string> versions;
  absl::flat_hash_map<std::string, std::vector<ApiResource>> resources;
};

void Index(DiscoverySnapshot& snap, std::vector<GroupDoc> groups) {
  for (GroupDoc& g : groups) {
    for (const std::string& version : g.versions) {
      auto it = g.resources.find(version);
      if (it == g.resources.end()) continue;
      for (ApiResource& r : it->second) {
        const size_t index = snap.resources.size();
        snap.by_kind.try_emplace(KindKey(r.group, r.version, r.kind), index);
        // Versions come preferred first: the first version serving a kind wins.
        snap.by_kind.try_emplace(KindKey(r.group, "", r.kind), index);
        snap.resources.push_back(std::move(r));
      }
    }
  }
}

// Parses an APIGroupDiscoveryList (apidiscovery.k8s.io/v2).
void ParseAggregated(const Json& list, std::vector<GroupDoc>& groups, DiscoverySnapshot& snap) {
  auto items = list.find("items");
  if (items == list.end() || !items->is_array()) return;
  for (const Json& item : *items) {
    GroupDoc g;
    if (auto md = item.find("metadata"); md != item.end()) g.group = StringField(*md, "name");
    auto versions = item.find("versions");
    if (versions == item.end() || !versions->is_array()) continue;
    for (const Json& v : *versions) {
      const std::string version = StringField(v, "version");
      if (version.empty()) continue;
      if (StringField(v, "freshness") == "Stale") {
        absl::Status stale = absl::UnavailableError(
            absl::StrCat("discovery of ", GroupVersion(g.group, version),
                         " is stale: the API server cannot reach the service that serves it"));
        snap.failed.emplace(absl::StrCat(g.group, "\n", version), stale);
        snap.failed.emplace(g.group, stale);
        continue;
      }
      g.versions.push_back(version);
      std::vector<ApiResource>& out = g.resources[version];
      auto resources = v.find("resources");
      if (resources == v.end() || !resources->is_array()) continue;
      for (const Json& r : *resources) {
        ApiResource res;
        res.group = g.group;
        res.version = version;
        res.resource = StringField(r, "resource");
        if (auto kind = r.find("responseKind"); kind != r.end()) {
          res.kind = StringField(*kind, "kind");
        }
        if (res.resource.empty() || res.kind.empty()) continue;
        res.namespaced = StringField(r, "scope") == "Namespaced";
        if (auto verbs = r.find("verbs"); verbs != r.end() && verbs->is_array()) {
          for (const Json& verb : *verbs) {
            if (verb.is_string()) res.verbs.push_back(verb.get<std::string>());
          }
        }
        if (auto subs = r.find("subresources"); subs != r.end() && subs->is_array()) {
          for (const Json& sub : *subs) {
            std::string name = StringField(sub, "subresource");
            if (!name.empty()) res.subresources.push_back(std::move(name));
          }
        }
        out.push_back(std::move(res));
      }
    }
    groups.push_back(std::move(g));
  }
}

// Parses a legacy APIResourceList of one group version.
std::vector<ApiResource> ParseResourceList(const Json& list, absl::string_view group,
                                           absl::string_view version) {
  std::vector<ApiResource> out;
  absl::flat_hash_map<std::string, size_t> by_name;
  auto resources = list.find("resources");
  if (resources == list.end() || !resources->is_array()) return out;
  std::vector<std::pair<std::string, std::string>> subresources;
  for (const Json& r : *resources) {
    const std::string name = StringField(r, "name");
    if (name.empty()) continue;
    if (size_t slash = name.find('/'); slash != std::string::npos) {
      subresources.emplace_back(name.substr(0, slash), name.substr(slash + 1));
      continue;
    }
    ApiResource res;
    res.group = std::string(group);
    res.version = std::string(version);
    res.resource = name;
    res.kind = StringField(r, "kind");
    if (res.kind.empty()) continue;
    auto ns = r.find("namespaced");
    res.namespaced = ns != r.end() && ns->is_boolean() && ns->get<bool>();
    if (auto verbs = r.find("verbs"); verbs != r.end() && verbs->is_array()) {
      for (const Json& verb : *verbs) {
        if (verb.is_string()) res.verbs.push_back(verb.get<std::string>());
      }
    }
    by_name[name] = out.size();
    out.push_back(std::move(res));
  }
  for (auto& [parent, sub] : subresources) {
    auto it = by_name.find(parent);
    if (it != by_name.end()) out[it->second].subresources.push_back(sub);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

class CurlKubeClient final : public KubeClient {
 public:
  CurlKubeClient(KubeConfig config, KubeClientOptions options)
      : config_(std::move(config)),
        options_(std::move(options)),
        credentials_(config_),
        bucket_(options_.qps, options_.burst),
        http2_(options_.http2 && CurlHasHttp2()) {
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlKubeClient::ShareLock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlKubeClient::ShareUnlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    SetUpServerName();
  }

  ~CurlKubeClient() override {
    absl::MutexLock lock(&pool_mu_);
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
    idle_.clear();
    curl_share_cleanup(share_);
    curl_slist_free_all(connect_to_);
  }

  const KubeConfig& config() const override { return config_; }
  const KubeClientOptions& options() const override { return options_; }
  KubeClientStats stats() const override {
    KubeClientStats s;
    s.requests = requests_.load();
    s.retries = retries_.load();
    s.transport_errors = transport_errors_.load();
    s.http2_responses = http2_responses_.load();
    s.rate_limit_wait = absl::Nanoseconds(rate_wait_ns_.load());
    return s;
  }

  absl::StatusOr<KubeResponse> Request(const KubeRequest& request, absl::Time deadline) override {
    return Exchange(request, deadline, /*sink=*/nullptr, nullptr);
  }

  absl::Status Refresh(absl::Time deadline) override {
    return RefreshDiscovery(deadline, /*only_if_older_than=*/absl::InfiniteFuture());
  }

  using KubeClient::ResourceFor;
  absl::StatusOr<ApiResource> ResourceFor(absl::string_view group, absl::string_view version,
                                          absl::string_view kind, absl::Time deadline) override {
    ASSIGN_OR_RETURN(std::shared_ptr<const DiscoverySnapshot> snap, Snapshot(deadline));
    absl::StatusOr<ApiResource> found = Lookup(*snap, group, version, kind);
    if (found.ok()) return found;
    if (found.status().code() == absl::StatusCode::kUnavailable) {
      // The group's discovery failed or was stale when the snapshot was taken (a dead
      // APIService): look again, at most once per failed_group_refresh_interval (callers that
      // retry do not hammer the server, a group that stays dead costs one refresh per interval),
      // so that a group that has recovered is seen by the next lookup. A refresh that fails
      // (the server is unreachable) leaves the snapshot, and this answer, as they were.
      const absl::Time fresh_after = absl::Now() - options_.failed_group_refresh_interval;
      if (!RefreshDiscovery(deadline, fresh_after).ok()) return found;
      ASSIGN_OR_RETURN(snap, Snapshot(deadline));
      return Lookup(*snap, group, version, kind);
    }
    if (found.status().code() != absl::StatusCode::kNotFound) return found;
    // Unknown: refresh once (unless the cache is fresh), then answer.
    const absl::Time fresh_after = absl::Now() - options_.unknown_kind_refresh_interval;
    RETURN_IF_ERROR(RefreshDiscovery(deadline, fresh_after));
    ASSIGN_OR_RETURN(snap, Snapshot(deadline));
    return Lookup(*snap, group, version, kind);
  }

  absl::StatusOr<std::vector<ApiResource>> ServerResources(absl::Time deadline) override {
    ASSIGN_OR_RETURN(std::shared_ptr<const DiscoverySnapshot> snap, Snapshot(deadline));
    return snap->resources;
  }

  absl::StatusOr<Json> Get(const ObjectKey& key, absl::Time deadline) override {
    return GetObject(key, /*from_server_cache=*/false, deadline);
  }

  absl::StatusOr<Json> GetFromServerCache(const ObjectKey& key, absl::Time deadline) override {
    return GetObject(key, /*from_server_cache=*/true, deadline);
  }

  absl::StatusOr<ListPage> List(const GroupVersionKind& gvk, absl::string_view ns,
                                const ListOptions& options, absl::Time deadline) override {
    return ListWithin(gvk, ns, options, deadline, /*bytes_before=*/0, /*body_bytes=*/nullptr);
  }

  absl::StatusOr<ListPage> ListAll(const GroupVersionKind& gvk, absl::string_view ns,
                                   const ListOptions& options, absl::Time deadline,
                                   int64_t page_size) override {
    ListOptions page_options = options;
    page_options.limit = page_size > 0 ? page_size : 0;
    ListPage all;
    bool first = true;
    size_t bytes = 0;  // the bodies of the pages read so far: at most max_response_bytes
    while (true) {
      size_t page_bytes = 0;
      ASSIGN_OR_RETURN(ListPage page,
                       ListWithin(gvk, ns, page_options, deadline, bytes, &page_bytes));
      bytes += page_bytes;
      if (first) all.resource_version = page.resource_version;
      first = false;
      for (Json& item : page.items) all.items.push_back(std::move(item));
      if (page.continue_token.empty()) break;
      // Continue pages come from the first page's snapshot: no resourceVersion with them.
      page_options.continue_token = page.continue_token;
      page_options.resource_version.clear();
      page_options.resource_version_match.clear();
    }
    return all;
  }

  absl::Status Watch(const GroupVersionKind& gvk, absl::string_view ns, const WatchOptions& options,
                     const WatchCallback& on_event, absl::Time deadline,
                     const std::atomic<bool>* cancel) override {
    if (cancel != nullptr && cancel->load()) return absl::OkStatus();
    ASSIGN_OR_RETURN(ApiResource res, ResourceFor(gvk.group, gvk.version, gvk.kind, deadline));
    KubeRequest request;
    request.path = ResourcePath(res, ns, "");
    request.query.emplace_back("watch", "1");
    if (options.allow_bookmarks) request.query.emplace_back("allowWatchBookmarks", "true");
    if (!options.label_selector.empty()) {
      request.query.emplace_back("labelSelector", options.label_selector);
    }
    if (!options.field_selector.empty()) {
      request.query.emplace_back("fieldSelector", options.field_selector);
    }
    if (!options.resource_version.empty()) {
      request.query.emplace_back("resourceVersion", options.resource_version);
    }
    if (options.timeout_seconds > 0) {
      request.query.emplace_back("timeoutSeconds", absl::StrCat(options.timeout_seconds));
    }

    JsonObjectSplitter splitter(options_.max_response_bytes);
    absl::Status stream_error;  // a bad event, or the ERROR event's status
    bool callback_stopped = false;
    const std::string context = absl::StrCat("WATCH ", request.path);
    auto on_object = [&](absl::string_view text) -> bool {
      absl::StatusOr<Json> parsed = ParseJson(text);
      if (!parsed.ok() || !parsed->is_object()) {
        stream_error = absl::InternalError(
            absl::StrCat(context, ": event is not JSON: ", parsed.status().message()));
        return false;
      }
      WatchEvent event;
      const std::string type = StringField(*parsed, "type");
      if (type == "ADDED") {
        event.type = WatchEvent::Type::kAdded;
      } else if (type == "MODIFIED") {
        event.type = WatchEvent::Type::kModified;
      } else if (type == "DELETED") {
        event.type = WatchEvent::Type::kDeleted;
      } else if (type == "BOOKMARK") {
        event.type = WatchEvent::Type::kBookmark;
      } else if (type == "ERROR") {
        event.type = WatchEvent::Type::kError;
      } else {
        stream_error =
            absl::InternalError(absl::StrCat(context, ": unknown event type \"", type, "\""));
        return false;
      }
      auto object = parsed->find("object");
      if (object != parsed->end()) event.object = std::move(*object);
      if (event.type == WatchEvent::Type::kError) {
        int code = 500;
        if (auto c = event.object.find("code"); c != event.object.end() && c->is_number_integer()) {
          code = c->get<int>();
        }
        stream_error = KubeStatusError(code, CanonicalJson(event.object), context);
      }
      if (!on_event(event)) {
        callback_stopped = true;
        return false;
      }
      return stream_error.ok();
    };
    absl::Status splitter_error;
    std::function<bool(absl::string_view)> sink = [&](absl::string_view data) -> bool {
      splitter_error = splitter.Feed(data, on_object);
      return splitter_error.ok() && !splitter.stopped();
    };
    absl::StatusOr<KubeResponse> response = Exchange(request, deadline, &sink, cancel);
    if (!splitter_error.ok()) {
      return Annotate(splitter_error, absl::StrCat(context, " from ", config_.server));
    }
    if (callback_stopped && stream_error.ok()) return absl::OkStatus();
    if (!stream_error.ok()) return stream_error;
    if (response.ok()) return absl::OkStatus();
    return response.status();
  }

  absl::StatusOr<Json> ServerSideApply(const Json& object, const ServerSideApplyOptions& options,
                                       absl::Time deadline) override {
    ASSIGN_OR_RETURN(ObjectKey key, KeyOf(object));
    if (StringField(object.value("metadata", Json::object()), "name").empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("server-side apply of ", key.ToString(), ": metadata.name is required"));
    }
    ASSIGN_OR_RETURN(std::string path, ObjectPath(key, deadline));
    KubeRequest request;
    request.method = "PATCH";
    request.path = std::move(path);
    request.content_type = "application/apply-patch+yaml";
    request.body = CanonicalJson(object);  // JSON is YAML
    request.query.emplace_back("fieldManager", options.field_manager);
    if (options.force) request.query.emplace_back("force", "true");
    if (options.dry_run) request.query.emplace_back("dryRun", "All");
    return JsonCall(request, deadline);
  }

  absl::StatusOr<Json> Create(const Json& object, const WriteOptions& options,
                              absl::Time deadline) override {
    ASSIGN_OR_RETURN(ObjectKey key, KeyOf(object));
    ASSIGN_OR_RETURN(ApiResource res, ResourceFor(key.group, key.version, key.kind, deadline));
    if (res.namespaced && key.ns.empty()) return NeedsNamespace(key);
    KubeRequest request;
    request.method = "POST";
    request.path = ResourcePath(res, key.ns, "");
    request.content_type = "application/json";
    request.body = CanonicalJson(object);
    AddWriteOptions(options, request);
    return JsonCall(request, deadline);
  }

  absl::StatusOr<Json> Replace(const Json& object, const WriteOptions& options,
                               absl::Time deadline) override {
    ASSIGN_OR_RETURN(ObjectKey key, KeyOf(object));
    ASSIGN_OR_RETURN(std::string path, ObjectPath(key, deadline));
    KubeRequest request;
    request.method = "PUT";
    request.path = std::move(path);
    request.content_type = "application/json";
    request.body = CanonicalJson(object);
    AddWriteOptions(options, request);
    return JsonCall(request, deadline);
  }

  absl::StatusOr<Json> Patch(const ObjectKey& key, PatchType type, absl::string_view patch,
                             const WriteOptions& options, absl::Time deadline) override {
    ASSIGN_OR_RETURN(std::string path, ObjectPath(key, deadline));
    KubeRequest request;
    request.method = "PATCH";
    request.path = std::move(path);
    switch (type) {
      case PatchType::kMerge:
        request.content_type = "application/merge-patch+json";
        break;
      case PatchType::kJson:
        request.content_type = "application/json-patch+json";
        break;
      case PatchType::kStrategicMerge:
        request.content_type = "application/strategic-merge-patch+json";
        break;
    }
    request.body = std::string(patch);
    AddWriteOptions(options, request);
    return JsonCall(request, deadline);
  }

  absl::StatusOr<Json> Delete(const ObjectKey& key, const DeleteOptions& options,
                              absl::Time deadline) override {
    ASSIGN_OR_RETURN(std::string path, ObjectPath(key, deadline));
    Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (!options.propagation_policy.empty()) {
      body["propagationPolicy"] = options.propagation_policy;
    }
    if (!options.precondition_uid.empty()) {
      body["preconditions"]["uid"] = options.precondition_uid;
    }
    if (!options.precondition_resource_version.empty()) {
      body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    if (options.dry_run) body["dryRun"] = Json::array({"All"});
    if (options.grace_period_seconds >= 0) {
      body["gracePeriodSeconds"] = options.grace_period_seconds;
    }
    KubeRequest request;
    request.method = "DELETE";
    request.path = std::move(path);
    request.content_type = "application/json";
    request.body = CanonicalJson(body);
    return JsonCall(request, deadline);
  }

 private:
  static void ShareLock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<CurlKubeClient*>(user)->share_mu_[ShareLockIndex(data)].Lock();
  }
  static void ShareUnlock(CURL*, curl_lock_data data, void* user) {
    static_cast<CurlKubeClient*>(user)->share_mu_[ShareLockIndex(data)].Unlock();
  }

  static absl::Status NeedsNamespace(const ObjectKey& key) {
    return absl::InvalidArgumentError(absl::StrCat(key.ToString(), ": kind ", key.kind,
                                                   " is namespaced and no namespace is set"));
  }

  static void AddWriteOptions(const WriteOptions& options, KubeRequest& request) {
    if (!options.field_manager.empty()) {
      request.query.emplace_back("fieldManager", options.field_manager);
    }
    if (options.dry_run) request.query.emplace_back("dryRun", "All");
  }

  absl::StatusOr<std::string> ObjectPath(const ObjectKey& key, absl::Time deadline) {
    ASSIGN_OR_RETURN(ApiResource res, ResourceFor(key.group, key.version, key.kind, deadline));
    if (res.namespaced && key.ns.empty()) return NeedsNamespace(key);
    if (key.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(key.ToString(), ": no name"));
    }
    return ResourcePath(res, key.ns, key.name);
  }

  // GET of one object; `from_server_cache`: resourceVersion=0 (see GetFromServerCache).
  absl::StatusOr<Json> GetObject(const ObjectKey& key, bool from_server_cache,
                                 absl::Time deadline) {
    ASSIGN_OR_RETURN(std::string path, ObjectPath(key, deadline));
    KubeRequest request;
    request.path = std::move(path);
    if (from_server_cache) request.query.emplace_back("resourceVersion", "0");
    return JsonCall(request, deadline);
  }

  // One page of a list (List, or a page of ListAll): `bytes_before` bytes of the same list were
  // read already, so this page may take only what max_response_bytes leaves (see Exchange);
  // `*body_bytes` (if not null) receives the size of this page's body.
  absl::StatusOr<ListPage> ListWithin(const GroupVersionKind& gvk, absl::string_view ns,
                                      const ListOptions& options, absl::Time deadline,
                                      size_t bytes_before, size_t* body_bytes) {
    ASSIGN_OR_RETURN(ApiResource res, ResourceFor(gvk.group, gvk.version, gvk.kind, deadline));
    KubeRequest request;
    request.path = ResourcePath(res, ns, "");
    auto add = [&](absl::string_view name, const std::string& value) {
      if (!value.empty()) request.query.emplace_back(std::string(name), value);
    };
    add("labelSelector", options.label_selector);
    add("fieldSelector", options.field_selector);
    add("resourceVersion", options.resource_version);
    add("resourceVersionMatch", options.resource_version_match);
    if (options.limit > 0) add("limit", absl::StrCat(options.limit));
    add("continue", options.continue_token);
    if (options.metadata_only) {
      request.accept =
          "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
          "application/json";
    }
    ASSIGN_OR_RETURN(Json list, JsonCall(request, deadline, bytes_before, body_bytes));
    ListPage page;
    if (auto md = list.find("metadata"); md != list.end()) {
      page.resource_version = StringField(*md, "resourceVersion");
      page.continue_token = StringField(*md, "continue");
    }
    auto items = list.find("items");
    if (items != list.end() && items->is_array()) {
      page.items.reserve(items->size());
      const std::string api_version = GroupVersion(res.group, res.version);
      for (Json& item : *items) {
        if (!item.is_object()) continue;
        item["apiVersion"] = api_version;
        item["kind"] = res.kind;
        page.items.push_back(std::move(item));
      }
    }
    return page;
  }

  // `bytes_before` and `body_bytes` as for ListWithin.
  absl::StatusOr<Json> JsonCall(const KubeRequest& request, absl::Time deadline,
                                size_t bytes_before = 0, size_t* body_bytes = nullptr) {
    ASSIGN_OR_RETURN(KubeResponse response,
                     Exchange(request, deadline, nullptr, nullptr, bytes_before));
    if (body_bytes != nullptr) *body_bytes = response.body.size();
    absl::StatusOr<Json> parsed = ParseJson(response.body);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat(request.method, " ", request.path,
                                              ": the response from ", config_.server,
                                              " is not JSON: ", parsed.status().message()));
    }
    return *std::move(parsed);
  }

  // ---- the pool of easy handles (bounded requests in flight) ----

  absl::StatusOr<CURL*> AcquireHandle(absl::Time deadline) {
    absl::MutexLock lock(&pool_mu_);
    auto free_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu_) {
      return in_flight_ < std::max(1, options_.max_in_flight);
    };
    if (!pool_mu_.AwaitWithDeadline(absl::Condition(&free_slot), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat("waiting for one of ", options_.max_in_flight,
                                                      " request slots to ", config_.server));
    }
    ++in_flight_;
    while (!idle_.empty()) {
      CURL* easy = idle_.back();
      idle_.pop_back();
      if (!InputPendingOnIdleHttp1(easy)) return easy;
      // Bytes the server sent after its last answer (beyond its Content-Length, or its close):
      // on this connection they would be read as the next answer. The handle goes, and its
      // connection with it (each handle has its own connection cache).
      curl_easy_cleanup(easy);
    }
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      --in_flight_;
      return absl::ResourceExhaustedError("curl_easy_init failed");
    }
    return easy;
  }

  // True when the HTTP/1.x connection `easy` keeps from its last exchange has input waiting. (On
  // HTTP/2, frames such as PING arrive between exchanges and are libcurl's to read.)
  static bool InputPendingOnIdleHttp1(CURL* easy) {
    long http_version = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &http_version);
    if (http_version == CURL_HTTP_VERSION_2_0 || http_version == 0) return false;
    curl_socket_t socket = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &socket) != CURLE_OK ||
        socket == CURL_SOCKET_BAD) {
      return false;
    }
    pollfd waiting{};
    waiting.fd = socket;
    waiting.events = POLLIN;
    return ::poll(&waiting, 1, 0) > 0;
  }

  void ReleaseHandle(CURL* easy) {
    absl::MutexLock lock(&pool_mu_);
    --in_flight_;
    idle_.push_back(easy);
  }

  // With a tls-server-name, requests go to https://<tls-server-name>:<port><prefix> (so libcurl
  // verifies that name and sends it as SNI) while CURLOPT_CONNECT_TO routes them to the real
  // host of `server`.
  void SetUpServerName() {
    base_url_ = config_.server;
    if (config_.tls_server_name.empty()) return;
    absl::string_view rest = config_.server;
    const bool https = absl::ConsumePrefix(&rest, "https://");
    if (!https) absl::ConsumePrefix(&rest, "http://");
    const size_t slash = rest.find('/');
    absl::string_view authority = rest.substr(0, slash);
    absl::string_view prefix = slash == absl::string_view::npos ? "" : rest.substr(slash);
    if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    absl::string_view host = authority;
    std::string port = https ? "443" : "80";
    const size_t colon = authority.rfind(':');
    if (colon != absl::string_view::npos && authority.find(']', colon) == absl::string_view::npos) {
      host = authority.substr(0, colon);
      port = std::string(authority.substr(colon + 1));
    }
    base_url_ =
        absl::StrCat(https ? "https://" : "http://", config_.tls_server_name, ":", port, prefix);
    connect_to_ = curl_slist_append(
        nullptr, absl::StrCat(config_.tls_server_name, ":", port, ":", host, ":", port).c_str());
  }

  std::string Url(const KubeRequest& request) const {
    std::string url = absl::StrCat(base_url_, request.path);
    char sep = request.path.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [name, value] : request.query) {
      absl::StrAppend(&url, absl::string_view(&sep, 1), Escape(name), "=", Escape(value));
      sep = '&';
    }
    return url;
  }

  // One HTTP exchange on `easy` (reset here); returns the CURLcode. `curl_error` gets libcurl's
  // message (which never holds a header or body).
  CURLcode Perform(CURL* easy, const KubeRequest& request, const Auth& auth, absl::Time deadline,
                   Transfer& t, bool streaming, std::string& curl_error) {
    curl_easy_reset(easy);
    char error_buffer[CURL_ERROR_SIZE];
    error_buffer[0] = '\0';
    const std::string url = Url(request);
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    if (connect_to_ != nullptr) curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to_);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SHARE, share_);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
    if (http2_) curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    // Never for watches: a compressor on the way may hold events back until it flushes.
    if (options_.accept_compression && !streaming) {
      curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    }

    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
    const long total_ms =
        static_cast<long>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, int64_t{1} << 30));
    const long connect_ms = static_cast<long>(std::min<int64_t>(
        total_ms, std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.connect_timeout))));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);

    // TLS: verification on unless the kubeconfig turned it off.
    curl_blob ca_blob{};
    if (config_.insecure_skip_tls_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config_.ca_pem.empty()) {
      ca_blob.data = const_cast<char*>(config_.ca_pem.data());
      ca_blob.len = config_.ca_pem.size();
      ca_blob.flags = CURL_BLOB_NOCOPY;
      curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
      curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
      curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca_blob);
    }
    curl_blob cert_blob{}, key_blob{};
    if (!auth.cert_pem.empty()) {
      cert_blob = {const_cast<char*>(auth.cert_pem.data()), auth.cert_pem.size(), CURL_BLOB_COPY};
      key_blob = {const_cast<char*>(auth.key_pem.data()), auth.key_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert_blob);
      curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key_blob);
    }
    if (!config_.username.empty() && auth.bearer.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(easy, CURLOPT_USERNAME, config_.username.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, config_.password.c_str());
    }

    curl_slist* headers = nullptr;
    const std::string accept = absl::StrCat("Accept: ", request.accept);
    headers = curl_slist_append(headers, accept.c_str());
    std::string authorization;
    if (!auth.bearer.empty()) {
      authorization = absl::StrCat("Authorization: Bearer ", auth.bearer);
      headers = curl_slist_append(headers, authorization.c_str());
    }
    std::string content_type;
    if (!request.content_type.empty()) {
      content_type = absl::StrCat("Content-Type: ", request.content_type);
      headers = curl_slist_append(headers, content_type.c_str());
    }
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

    if (request.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      if (!request.body.empty() || request.method != "DELETE") {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      }
    }

    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    if (streaming && t.cancel != nullptr) {
      curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &OnProgress);
      curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    const CURLcode rc = curl_easy_perform(easy);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 0) t.http_code = code;
    long http_version = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &http_version);
    if (code != 0 && http_version == CURL_HTTP_VERSION_2_0) {
      http2_responses_.fetch_add(1, std::memory_order_relaxed);
    }
    curl_error = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
    // Nothing of the request (the Authorization header, the body) outlives the call in libcurl.
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(headers);
    std::fill(authorization.begin(), authorization.end(), '\0');
    return rc;
  }

  // Sends `request` with limits, credentials and Retry-After retries. With `sink` (a watch), a
  // 2xx body goes to it instead of the response, the request takes no pool slot, and the end of
  // the deadline or a cancel after the response started is a normal end. `bytes_before`: the
  // bytes of the same answer read already (the earlier pages of a ListAll); a 2xx body may take
  // only the rest of max_response_bytes.
  absl::StatusOr<KubeResponse> Exchange(const KubeRequest& request, absl::Time deadline,
                                        std::function<bool(absl::string_view)>* sink,
                                        const std::atomic<bool>* cancel, size_t bytes_before = 0) {
    const std::string context = absl::StrCat(
        request.method == "GET" && sink != nullptr ? "WATCH" : request.method, " ", request.path);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(context, ": deadline already passed"));
    }
    int retries = 0;
    bool reauthenticated = false;
    while (true) {
      absl::StatusOr<absl::Duration> waited = bucket_.Take(deadline);
      if (!waited.ok()) return Annotate(waited.status(), context);
      rate_wait_ns_.fetch_add(absl::ToInt64Nanoseconds(*waited), std::memory_order_relaxed);
      absl::StatusOr<Auth> auth = credentials_.Get(deadline);
      if (!auth.ok()) return Annotate(auth.status(), context);

      CURL* easy = nullptr;
      if (sink == nullptr) {
        absl::StatusOr<CURL*> acquired = AcquireHandle(deadline);
        if (!acquired.ok()) return Annotate(acquired.status(), context);
        easy = *acquired;
      } else {
        easy = curl_easy_init();
        if (easy == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
      }
      Transfer t;
      t.max_body =
          options_.max_response_bytes - std::min(bytes_before, options_.max_response_bytes);
      if (sink != nullptr) t.sink = *sink;
      t.cancel = cancel;
      std::string curl_error;
      const CURLcode rc = Perform(easy, request, *auth, deadline, t, sink != nullptr, curl_error);
      curl_off_t connect_time = 0;
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_time);
      const bool connected = connect_time > 0 || t.http_code != 0;
      if (sink == nullptr) {
        ReleaseHandle(easy);
      } else {
        curl_easy_cleanup(easy);
      }

      const bool streamed =
          sink != nullptr && t.http_code >= 200 && t.http_code < 300 && !t.too_large;
      if (streamed) {
        // The watch ran: ended by the server (OK), the callback, a cancel, or the deadline.
        if (rc == CURLE_OK || t.sink_stopped || t.cancelled) return KubeResponse{};
        if (rc == CURLE_OPERATION_TIMEDOUT && absl::Now() >= deadline - absl::Milliseconds(50)) {
          return KubeResponse{};
        }
        transport_errors_.fetch_add(1, std::memory_order_relaxed);
        return absl::UnavailableError(absl::StrCat(context, ": watch connection to ",
                                                   config_.server, " failed: ", curl_error));
      }
      if (rc != CURLE_OK && !t.error_body_cut) {
        if (t.cancelled) return absl::CancelledError(absl::StrCat(context, ": cancelled"));
        if (t.too_large && bytes_before > 0) {
          return absl::ResourceExhaustedError(absl::StrCat(
              context, ": the list from ", config_.server, " is larger than ",
              options_.max_response_bytes,
              " bytes in all (the client's max_response_bytes bounds all the pages of a list "
              "together; ",
              bytes_before, " bytes came in the pages before this one)"));
        }
        if (t.too_large) {
          return absl::ResourceExhaustedError(absl::StrCat(
              context, ": the response from ", config_.server, " is larger than ",
              options_.max_response_bytes, " bytes (the client's max_response_bytes)"));
        }
        transport_errors_.fetch_add(1, std::memory_order_relaxed);
        if (rc == CURLE_OPERATION_TIMEDOUT && connected) {
          return absl::DeadlineExceededError(absl::StrCat(context, ": no complete answer from ",
                                                          config_.server, " before the deadline"));
        }
        if (t.http_code != 0) {
          return absl::UnavailableError(absl::StrCat(context, ": the answer from ", config_.server,
                                                     " broke off: ", curl_error));
        }
        return absl::UnavailableError(
            absl::StrCat(context, ": cannot reach ", config_.server, ": ", curl_error));
      }
      const int code = static_cast<int>(t.http_code);
      if (code >= 200 && code < 300) {
        KubeResponse response;
        response.http_code = code;
        response.content_type = std::move(t.content_type);
        response.body = std::move(t.body);
        return response;
      }
      if (code == 401 && !reauthenticated && credentials_.Invalidate()) {
        reauthenticated = true;
        continue;
      }
      const bool retryable = code == 429 || (code >= 500 && t.retry_after.has_value());
      if (retryable && retries < options_.max_retries) {
        absl::Duration wait = t.retry_after.value_or(absl::Seconds(1));
        wait = std::min(wait, options_.max_retry_after);
        if (absl::Now() + wait < deadline) {
          ++retries;
          retries_.fetch_add(1, std::memory_order_relaxed);
          absl::SleepFor(wait);
          continue;
        }
      }
      if (code >= 300 && code < 400) {
        // Never followed: the credentials would go wherever the server points.
        absl::Status status = KubeStatusError(code, "", context);
        return absl::Status(status.code(),
                            absl::StrCat(status.message(), ": ", config_.server, " redirects to \"",
                                         t.location, "\"; redirects are not followed"));
      }
      return KubeStatusError(code, t.body, context);
    }
  }

  // ---- discovery ----

  absl::StatusOr<std::shared_ptr<const DiscoverySnapshot>> Snapshot(absl::Time deadline) {
    {
      absl::MutexLock lock(&discovery_mu_);
      if (snapshot_ != nullptr) return snapshot_;
    }
    RETURN_IF_ERROR(RefreshDiscovery(deadline, absl::InfiniteFuture()));
    absl::MutexLock lock(&discovery_mu_);
    if (snapshot_ == nullptr) return absl::InternalError("discovery produced nothing");
    return snapshot_;
  }

  absl::StatusOr<ApiResource> Lookup(const DiscoverySnapshot& snap, absl::string_view group,
                                     absl::string_view version, absl::string_view kind) const {
    auto it = snap.by_kind.find(KindKey(group, version, kind));
    if (it != snap.by_kind.end()) return snap.resources[it->second];
    auto failed =
        snap.failed.find(version.empty() ? std::string(group) : absl::StrCat(group, "\n", version));
    if (failed != snap.failed.end()) return failed->second;
    return absl::NotFoundError(absl::StrCat("kind ", kind, " (", GroupVersion(group, version),
                                            ") is not served by ", config_.server));
  }

  // Refreshes discovery unless a refresh that finished after `only_if_older_than` exists (then
  // that one is used). One refresh runs at a time; others wait for it within their deadline.
  absl::Status RefreshDiscovery(absl::Time deadline, absl::Time only_if_older_than) {
    const absl::Time asked = absl::Now();
    {
      absl::MutexLock lock(&discovery_mu_);
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(discovery_mu_) { return !refreshing_; };
      if (!discovery_mu_.AwaitWithDeadline(absl::Condition(&idle), deadline)) {
        return absl::DeadlineExceededError(
            absl::StrCat("waiting for API discovery of ", config_.server));
      }
      if (snapshot_ != nullptr &&
          (snapshot_->fetched >= asked || snapshot_->fetched > only_if_older_than)) {
        return absl::OkStatus();
      }
      refreshing_ = true;
    }
    absl::StatusOr<std::shared_ptr<const DiscoverySnapshot>> fetched = FetchDiscovery(deadline);
    absl::MutexLock lock(&discovery_mu_);
    refreshing_ = false;
    if (!fetched.ok()) return fetched.status();
    snapshot_ = *std::move(fetched);
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const DiscoverySnapshot>> FetchDiscovery(absl::Time deadline) {
    auto snap = std::make_shared<DiscoverySnapshot>();
    std::vector<GroupDoc> groups;
    std::optional<Json> legacy_core;  // /api's answer when the server has no aggregated discovery
    for (const char* root : {"/api", "/apis"}) {
      KubeRequest request;
      request.path = root;
      request.accept = std::string(kAggregatedAccept);
      ASSIGN_OR_RETURN(Json doc, JsonCall(request, deadline));
      if (StringField(doc, "kind") != "APIGroupDiscoveryList") {
        if (request.path == "/api") legacy_core = std::move(doc);
        groups.clear();
        snap->failed.clear();
        RETURN_IF_ERROR(FetchLegacy(deadline, std::move(legacy_core), groups, *snap));
        break;
      }
      ParseAggregated(doc, groups, *snap);
    }
    Index(*snap, std::move(groups));
    snap->fetched = absl::Now();
    return snap;
  }

  absl::Status FetchLegacy(absl::Time deadline, std::optional<Json> core_doc,
                           std::vector<GroupDoc>& groups, DiscoverySnapshot& snap) {
    KubeRequest request;
    request.path = "/api";
    if (!core_doc.has_value()) {
      ASSIGN_OR_RETURN(core_doc, JsonCall(request, deadline));
    }
    const Json& core = *core_doc;
    GroupDoc core_group;
    if (auto versions = core.find("versions"); versions != core.end() && versions->is_array()) {
      for (const Json& v : *versions) {
        if (v.is_string()) core_group.versions.push_back(v.get<std::string>());
      }
    }
    request.path = "/apis";
    ASSIGN_OR_RETURN(Json apis, JsonCall(request, deadline));
    groups.push_back(std::move(core_group));
    if (auto list = apis.find("groups"); list != apis.end() && list->is_array()) {
      for (const Json& g : *list) {
        GroupDoc doc;
        doc.group = StringField(g, "name");
        if (doc.group.empty()) continue;
        std::string preferred;
        if (auto p = g.find("preferredVersion"); p != g.end()) {
          preferred = StringField(*p, "version");
        }
        if (!preferred.empty()) doc.versions.push_back(preferred);
        if (auto versions = g.find("versions"); versions != g.end() && versions->is_array()) {
          for (const Json& v : *versions) {
            std::string version = StringField(v, "version");
            if (!version.empty() && version != preferred) doc.versions.push_back(version);
          }
        }
        groups.push_back(std::move(doc));
      }
    }
    for (GroupDoc& g : groups) {
      std::vector<std::string> served;
      for (const std::string& version : g.versions) {
        KubeRequest gv;
        gv.path = g.group.empty() ? absl::StrCat("/api/", version)
                                  : absl::StrCat("/apis/", g.group, "/", version);
        absl::StatusOr<Json> list = JsonCall(gv, deadline);
        if (!list.ok()) {
          // A dead APIService fails only its own group; the deadline fails everything.
          if (list.status().code() == absl::StatusCode::kDeadlineExceeded) return list.status();
          absl::Status failed =
              absl::UnavailableError(absl::StrCat("discovery of ", GroupVersion(g.group, version),
                                                  " failed: ", list.status().message()));
          snap.failed.emplace(absl::StrCat(g.group, "\n", version), failed);
          snap.failed.emplace(g.group, failed);
          continue;
        }
        g.resources[version] = ParseResourceList(*list, g.group, version);
        served.push_back(version);
      }
      g.versions = std::move(served);
    }
    return absl::OkStatus();
  }

  const KubeConfig config_;
  const KubeClientOptions options_;
  Credentials credentials_;
  TokenBucket bucket_;
  const bool http2_;
  CURLSH* share_ = nullptr;
  std::string base_url_;              // server, or its tls-server-name form
  curl_slist* connect_to_ = nullptr;  // set with a tls-server-name
  absl::Mutex share_mu_[3];

  absl::Mutex pool_mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(pool_mu_);
  int in_flight_ ABSL_GUARDED_BY(pool_mu_) = 0;

  absl::Mutex discovery_mu_;
  std::shared_ptr<const DiscoverySnapshot> snapshot_ ABSL_GUARDED_BY(discovery_mu_);
  bool refreshing_ ABSL_GUARDED_BY(discovery_mu_) = false;

  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> transport_errors_{0};
  std::atomic<int64_t> http2_responses_{0};
  std::atomic<int64_t> rate_wait_ns_{0};
};

}  // namespace

std::string ResourcePath(const ApiResource& resource, absl::string_view ns,
                         absl::string_view name) {
  std::string path = resource.group.empty()
                         ? absl::StrCat("/api/", resource.version)
                         : absl::StrCat("/apis/", resource.group, "/", resource.version);
  if (resource.namespaced && !ns.empty()) absl::StrAppend(&path, "/namespaces/", Escape(ns));
  absl::StrAppend(&path, "/", resource.resource);
  if (!name.empty()) absl::StrAppend(&path, "/", Escape(name));
  return path;
}

int KubeHttpCode(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpCodePayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return 0;
  return code;
}

std::string KubeReason(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

absl::Status KubeStatusError(int http_code, absl::string_view body, absl::string_view context) {
  std::string message;
  std::string reason;
  absl::StatusOr<Json> parsed = ParseJson(body);
  if (parsed.ok() && parsed->is_object() && StringField(*parsed, "kind") == "Status") {
    message = StringField(*parsed, "message");
    reason = StringField(*parsed, "reason").substr(0, 64);
    if (message.size() > kMaxKubeStatusMessageBytes) {
      const size_t full = message.size();
      message = std::string(CutUtf8(message, kMaxKubeStatusMessageBytes));
      absl::StrAppend(&message, "... (", full - message.size(), " more bytes)");
    }
  } else if (!body.empty()) {
    absl::string_view quoted = absl::StripAsciiWhitespace(body);
    quoted = CutUtf8(quoted, kMaxQuotedBody);
    message = std::string(quoted);
  }
  std::string text = std::string(context);
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  absl::StrAppend(&text, " (HTTP ", http_code, reason.empty() ? "" : " ", reason, ")");
  absl::Status status(CodeForHttp(http_code), text);
  status.SetPayload(kHttpCodePayload, absl::Cord(absl::StrCat(http_code)));
  if (!reason.empty()) status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

absl::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<KubeClient>> KubeClient::Create(KubeConfig config,
                                                               KubeClientOptions options) {
  CurlGlobalInit();
  while (absl::EndsWith(config.server, "/")) config.server.pop_back();
  if (!absl::StartsWith(config.server, "https://") && !absl::StartsWith(config.server, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.source, ": server ", MaskCredentials(config.server), " is not an http(s) URL"));
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.source, ": a client certificate needs its key and the other way round"));
  }
  if (!config.client_key_pem.empty() &&
      config.client_key_pem.find("PRIVATE KEY-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.source, ": the client key is not a PEM private key"));
  }
  if (!config.client_cert_pem.empty() &&
      config.client_cert_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.source, ": the client certificate is not a PEM certificate"));
  }
  return std::unique_ptr<KubeClient>(new CurlKubeClient(std::move(config), std::move(options)));
}

}  // namespace todoke::applier::kube
