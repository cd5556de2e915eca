#include "services/applier/core/sync/watch_cache.h"

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/tracking.h"
#include "services/applier/core/sync/apply_rules.h"

namespace todoke::applier::sync {
namespace {

std::string KindName(const GroupKind& kind) {
  return kind.first.empty() ? kind.second : absl::StrCat(kind.second, ".", kind.first);
}

// True when `incoming` is older than `cached` (both numeric, as etcd makes them); opaque
// versions never count as older.
bool OlderVersion(absl::string_view incoming, absl::string_view cached) {
  uint64_t a = 0;
  uint64_t b = 0;
  if (!absl::SimpleAtoi(incoming, &a) || !absl::SimpleAtoi(cached, &b)) return false;
  return a < b;
}

bool HasLabel(const Json& object, absl::string_view label) {
  if (!object.is_object()) return false;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto labels = metadata->find("labels");
  return labels != metadata->end() && labels->is_object() && labels->contains(std::string(label));
}

}  // namespace

WatchCache::WatchCache(kube::KubeClient* client, WatchCacheOptions options)
    : client_(client), options_(std::move(options)) {}

WatchCache::~WatchCache() {
  stop_ = true;
  stopped_.Notify();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [unused, state] : kinds_) {
      if (state->thread.joinable()) threads.push_back(std::move(state->thread));
    }
  }
  for (std::thread& thread : threads) thread.join();
}

absl::Status WatchCache::Watch(const GroupKind& kind, absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (kinds_.count(kind) > 0) return absl::OkStatus();
  }
  absl::StatusOr<kube::ApiResource> resource =
      client_->ResourceFor(kind.first, "", kind.second, deadline);
  if (!resource.ok()) return resource.status();
  if (std::find(resource->verbs.begin(), resource->verbs.end(), "watch") == resource->verbs.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(KindName(kind), " cannot be watched (the server does not allow it)"));
  }
  absl::MutexLock lock(&mu_);
  if (kinds_.count(kind) > 0 || stop_) return absl::OkStatus();
  auto state = std::make_unique<KindState>();
  state->kind = kind;
  state->gvk = {resource->group, resource->version, resource->kind};
  KindState* raw = state.get();
  kinds_[kind] = std::move(state);
  raw->thread = std::thread([this, raw] { Run(raw); });
  return absl::OkStatus();
}

absl::Status WatchCache::WatchManagedKinds(absl::Time deadline) {
  absl::StatusOr<std::vector<kube::ApiResource>> resources = client_->ServerResources(deadline);
  if (!resources.ok()) return resources.status();
  std::set<GroupKind> seen;
  for (const kube::ApiResource& resource : *resources) {
    GroupKind kind{resource.group, resource.kind};
    if (!seen.insert(kind).second || IsWatched(kind)) continue;
    auto has = [&](absl::string_view verb) {
      return std::find(resource.verbs.begin(), resource.verbs.end(), verb) != resource.verbs.end();
    };
    if (!has("list") || !has("watch")) continue;
    kube::ListOptions list;
    list.label_selector = options_.label_selector;
    list.limit = 1;
    absl::StatusOr<kube::ListPage> page =
        client_->List({resource.group, resource.version, resource.kind}, "", list, deadline);
    if (!page.ok()) {
      if (absl::Now() >= deadline) return page.status();
      continue;
    }
    if (page->items.empty()) continue;
    absl::Status watched = Watch(kind, deadline);
    if (!watched.ok()) {
      LogWarning("watch cache: cannot watch a kind with managed objects",
                 {{"kind", KindName(kind)}, {"error", watched.message()}});
    }
  }
  return absl::OkStatus();
}

bool WatchCache::IsWatched(const GroupKind& kind) const {
  absl::MutexLock lock(&mu_);
  return kinds_.count(kind) > 0;
}

bool WatchCache::IsSynced(const GroupKind& kind) const {
  absl::MutexLock lock(&mu_);
  auto it = kinds_.find(kind);
  return it != kinds_.end() && it->second->synced;
}

absl::Status WatchCache::WaitSynced(const std::vector<GroupKind>& kinds,
                                    absl::Time deadline) const {
  bool disconnected = false;
  auto synced_or_disconnected = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bool all = true;
    for (const GroupKind& kind : kinds) {
      auto it = kinds_.find(kind);
      if (it == kinds_.end()) {
        all = false;
      } else if (!it->second->synced) {
        all = false;
        if (it->second->list_failed) disconnected = true;
      }
    }
    return all || disconnected;
  };
  absl::MutexLock lock(&mu_);
  if (mu_.AwaitWithDeadline(absl::Condition(&synced_or_disconnected), deadline) && !disconnected) {
    return absl::OkStatus();
  }
  std::vector<std::string> missing;
  for (const GroupKind& kind : kinds) {
    auto it = kinds_.find(kind);
    if (it == kinds_.end()) {
      missing.push_back(absl::StrCat(KindName(kind), " (not watched)"));
    } else if (!it->second->synced) {
      missing.push_back(it->second->last_error.empty()
                            ? KindName(kind)
                            : absl::StrCat(KindName(kind), " (", it->second->last_error, ")"));
    }
  }
  return absl::UnavailableError(
      absl::StrCat("watch cache not synced for ", absl::StrJoin(missing, ", "),
                   disconnected ? " (disconnected: its LIST failed; not waited for)" : ""));
}

namespace {
// A copy of `entry`, its json only `with_json`.
CachedObject CopyOf(const CachedObject& entry, bool with_json) {
  if (with_json) return entry;
  return CachedObject{entry.key, std::string(), entry.resource_version, entry.app};
}
}  // namespace

std::optional<CachedObject> WatchCache::Get(const ObjectKey& key, bool with_json) const {
  absl::MutexLock lock(&mu_);
  auto kind = kinds_.find(GroupKind{key.group, key.kind});
  if (kind == kinds_.end()) return std::nullopt;
  auto it = kind->second->objects.find(key);
  if (it == kind->second->objects.end()) return std::nullopt;
  return CopyOf(it->second, with_json);
}

std::vector<CachedObject> WatchCache::AppObjects(absl::string_view app, bool with_json) const {
  std::vector<CachedObject> out;
  absl::MutexLock lock(&mu_);
  auto keys = by_app_.find(std::string(app));
  if (keys == by_app_.end()) return out;
  for (const ObjectKey& key : keys->second) {
    auto kind = kinds_.find(GroupKind{key.group, key.kind});
    if (kind == kinds_.end()) continue;
    auto it = kind->second->objects.find(key);
    if (it != kind->second->objects.end()) out.push_back(CopyOf(it->second, with_json));
  }
  return out;
}

std::vector<GroupKind> WatchCache::WatchedKinds() const {
  std::vector<GroupKind> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [kind, unused] : kinds_) out.push_back(kind);
  return out;
}

size_t WatchCache::size() const {
  size_t total = 0;
  absl::MutexLock lock(&mu_);
  for (const auto& [unused, state] : kinds_) total += state->objects.size();
  return total;
}

CachedObject WatchCache::Entry(const Json& object) const {
  CachedObject entry;
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (key.ok()) entry.key = *std::move(key);
  entry.json = CanonicalJson(object);
  entry.resource_version = ResourceVersionOf(object);
  entry.app = TrackedApp(object, options_.installation).value_or("");
  return entry;
}

void WatchCache::IndexLocked(const CachedObject& entry, bool add) {
  if (entry.app.empty()) return;
  if (add) {
    by_app_[entry.app].insert(entry.key);
    return;
  }
  auto it = by_app_.find(entry.app);
  if (it == by_app_.end()) return;
  it->second.erase(entry.key);
  if (it->second.empty()) by_app_.erase(it);
}

std::optional<DriftEvent> WatchCache::Apply(KindState* state, const Json& object, bool deleted) {
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return std::nullopt;
  auto it = state->objects.find(*key);
  if (deleted) {
    RememberDeletion(state, *key, ResourceVersionOf(object));
    if (it == state->objects.end()) return std::nullopt;
    DriftEvent event{it->second.app, it->second.key, ResourceVersionOf(object), true};
    IndexLocked(it->second, false);
    state->objects.erase(it);
    if (event.app.empty()) return std::nullopt;
    return event;
  }
  CachedObject entry = Entry(object);
  state->deleted.erase(entry.key);
  if (it != state->objects.end()) {
    if (it->second.resource_version == entry.resource_version ||
        OlderVersion(entry.resource_version, it->second.resource_version)) {
      return std::nullopt;
    }
    IndexLocked(it->second, false);
    it->second = std::move(entry);
    IndexLocked(it->second, true);
    const CachedObject& stored = it->second;
    if (stored.app.empty()) return std::nullopt;
    return DriftEvent{stored.app, stored.key, stored.resource_version, false};
  }
  IndexLocked(entry, true);
  DriftEvent event{entry.app, entry.key, entry.resource_version, false};
  state->objects.emplace(entry.key, std::move(entry));
  if (event.app.empty()) return std::nullopt;
  return event;
}

void WatchCache::ReplaceAll(KindState* state, std::vector<Json>& items,
                            const std::string& list_version) {
  std::vector<DriftEvent> events;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<ObjectKey, CachedObject> fresh;
    fresh.reserve(items.size());
    for (const Json& item : items) {
      CachedObject entry = Entry(item);
      fresh[entry.key] = std::move(entry);
    }
    for (const auto& [key, old] : state->objects) {
      IndexLocked(old, false);
      if (fresh.count(key) != 0) continue;
      RememberDeletion(state, key, list_version);  // gone by the time of the list
      if (state->listed_once && !old.app.empty()) {
        events.push_back({old.app, old.key, old.resource_version, true});
      }
    }
    for (const auto& [key, entry] : fresh) {
      state->deleted.erase(key);
      IndexLocked(entry, true);
      if (!state->listed_once || entry.app.empty()) continue;
      auto old = state->objects.find(key);
      if (old == state->objects.end() || old->second.resource_version != entry.resource_version) {
        events.push_back({entry.app, entry.key, entry.resource_version, false});
      }
    }
    state->objects = std::move(fresh);
    state->listed_once = true;
    state->synced = true;
    state->list_failed = false;
    state->last_error.clear();
  }
  Publish(events);
}

void WatchCache::Update(const Json& object) {
  if (!HasLabel(object, options_.label_selector)) return;
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return;
  absl::MutexLock lock(&mu_);
  auto kind = kinds_.find(GroupKind{key->group, key->kind});
  if (kind == kinds_.end()) return;
  KindState* state = kind->second.get();
  auto deletion = state->deleted.find(*key);
  if (deletion != state->deleted.end()) {
    // Newer than the deletion means created again; anything else (or versions that do not
    // compare) is left to the watch, which reports a re-creation anyway.
    if (!OlderVersion(deletion->second.first, ResourceVersionOf(object))) return;
  }
  Apply(state, object, false);  // our own change: not drift
}

void WatchCache::RememberDeletion(KindState* state, const ObjectKey& key,
                                  const std::string& version) {
  if (version.empty()) return;
  const absl::Time now = absl::Now();
  state->deleted[key] = {version, now};
  if (state->deleted.size() < state->next_deleted_sweep) return;
  for (auto it = state->deleted.begin(); it != state->deleted.end();) {
    if (now - it->second.second > options_.deletion_memory) {
      state->deleted.erase(it++);
    } else {
      ++it;
    }
  }
  state->next_deleted_sweep = std::max<size_t>(64, 2 * state->deleted.size());
}

void WatchCache::Remove(const ObjectKey& key) {
  absl::MutexLock lock(&mu_);
  auto kind = kinds_.find(GroupKind{key.group, key.kind});
  if (kind == kinds_.end()) return;
  auto it = kind->second->objects.find(key);
  if (it == kind->second->objects.end()) return;
  IndexLocked(it->second, false);
  kind->second->objects.erase(it);
}

uint64_t WatchCache::Subscribe(DriftCallback callback) {
  absl::MutexLock lock(&subscribers_mu_);
  const uint64_t id = next_subscriber_++;
  subscribers_[id] = std::move(callback);
  return id;
}

void WatchCache::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(id);
}

void WatchCache::Publish(const std::vector<DriftEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&subscribers_mu_);
  for (const DriftEvent& event : events) {
    for (auto& [unused, callback] : subscribers_) callback(event);
  }
}

bool WatchCache::SleepUnlessStopped(absl::Duration duration) {
  return !stopped_.WaitForNotificationWithTimeout(duration);
}

void WatchCache::Run(KindState* state) {
  std::mt19937_64 random(std::random_device{}());
  absl::Duration backoff = options_.min_backoff;
  auto wait_backoff = [&]() {
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const bool go_on = SleepUnlessStopped(backoff * jitter(random));
    backoff = std::min(backoff * 2, options_.max_backoff);
    return go_on;
  };
  auto fail = [&](const absl::Status& status, absl::string_view what) {
    {
      absl::MutexLock lock(&mu_);
      state->synced = false;
      if (what == "list") state->list_failed = true;
      state->last_error = absl::StrCat(what, ": ", status.message());
    }
    LogWarning("watch cache: relisting",
               {{"kind", KindName(state->kind)}, {"after", what}, {"error", status.message()}});
  };
  bool need_list = true;
  std::string version;
  while (!stop_) {
    if (need_list) {
      kube::ListOptions list;
      list.label_selector = options_.label_selector;
      absl::StatusOr<kube::ListPage> page =
          client_->ListAll(state->gvk, "", list, absl::Now() + options_.list_timeout);
      if (stop_) break;
      if (!page.ok() && page.status().code() == absl::StatusCode::kNotFound) {
        // The kind is no longer served (its CRD was deleted): it has no objects. Look again
        // later, in case it comes back.
        std::vector<Json> none;
        ReplaceAll(state, none, "");
        if (!wait_backoff()) break;
        continue;
      }
      if (!page.ok()) {
        fail(page.status(), "list");
        if (!wait_backoff()) break;
        continue;
      }
      ReplaceAll(state, page->items, page->resource_version);
      version = page->resource_version;
      need_list = false;
    }
    kube::WatchOptions watch;
    watch.label_selector = options_.label_selector;
    watch.resource_version = version;
    watch.allow_bookmarks = true;
    watch.timeout_seconds = options_.watch_timeout_seconds;
    bool saw_event = false;
    absl::Status status = client_->Watch(
        state->gvk, "", watch,
        [&](kube::WatchEvent& event) {
          if (event.type == kube::WatchEvent::Type::kError) return false;
          const std::string event_version = ResourceVersionOf(event.object);
          if (!event_version.empty()) version = event_version;
          saw_event = true;
          if (event.type == kube::WatchEvent::Type::kBookmark) return !stop_;
          std::optional<DriftEvent> drift;
          {
            absl::MutexLock lock(&mu_);
            drift = Apply(state, event.object, event.type == kube::WatchEvent::Type::kDeleted);
          }
          if (drift) Publish({*drift});
          return !stop_.load();
        },
        absl::Now() + absl::Seconds(options_.watch_timeout_seconds + 30), &stop_);
    if (stop_) break;
    if (saw_event) backoff = options_.min_backoff;
    if (status.ok()) continue;  // the server closed the watch: resume from `version`
    // 410 Gone (or any broken watch): what happened meanwhile is known only from a new LIST.
    need_list = true;
    fail(status, "watch");
    if (status.code() == absl::StatusCode::kOutOfRange) continue;
    if (!wait_backoff()) break;
  }
}

}  // namespace todoke::applier::sync
