// In-memory fakes of the four stages (services/orchestrator/core/stages.h) for unit tests of the
// reconcile loop. They behave like the real stages in what the loop relies on, count their calls,
// keep the last request, and can be told to fail or to block:
//   FakeSource  a commit per (repo, ref);
//   FakeRender  a set of objects per path;
//   FakeDiff    compares desired and live JSON text (Missing, Extraneous, OutOfSync, Synced;
//               chosen names Unknown);
//   FakeApply   a live store (key -> object with a resourceVersion and the app that applied it),
//               ReadLive of the keys asked for plus the app's own objects (as the applier's
//               label-filtered cache) with a digest over the resourceVersions read, Apply and
//               Prune changing it, drift streams the test fires by hand.
// Every method is thread-safe.
#ifndef TODOKE_TESTS_SERVICES_ORCHESTRATOR_FAKE_STAGES_H_
#define TODOKE_TESTS_SERVICES_ORCHESTRATOR_FAKE_STAGES_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/orchestrator/core/stages.h"

namespace todoke::orchestrator::testing {

// "group/kind/namespace/name" (the version aside, as the loop compares keys).
inline std::string KeyString(const types::v1::ObjectKey& key) {
  return absl::StrCat(key.group(), "/", key.kind(), "/", key.namespace_(), "/", key.name());
}

inline types::v1::ObjectKey Key(const std::string& kind, const std::string& name,
                                const std::string& ns = "prod") {
  types::v1::ObjectKey key;
  key.set_version("v1");
  key.set_kind(kind);
  key.set_namespace_(ns);
  key.set_name(name);
  return key;
}

// A ConfigMap-like object whose content is `data`; `hook` adds the todoke.dev/hook annotation.
inline types::v1::KubeObject Object(const std::string& name, const std::string& data = "x",
                                    const std::string& kind = "ConfigMap", bool hook = false) {
  types::v1::KubeObject object;
  *object.mutable_key() = Key(kind, name);
  std::string annotations =
      hook ? R"(,"annotations":{"todoke.dev/hook":"PreSync"})" : std::string();
  object.set_json(absl::StrCat(R"({"apiVersion":"v1","kind":")", kind, R"(","metadata":{"name":")",
                               name, R"(","namespace":"prod")", annotations,
                               R"(},"data":{"value":")", data, R"("}})"));
  return object;
}

class FakeSource : public SourceStage {
 public:
  void SetCommit(const std::string& repo, const std::string& ref, const std::string& commit) {
    absl::MutexLock lock(&mu_);
    commits_[{repo, ref}] = commit;
  }
  // The commit of every (repo, ref) not set with SetCommit; empty: those are NOT_FOUND.
  void SetDefaultCommit(const std::string& commit) {
    absl::MutexLock lock(&mu_);
    default_commit_ = commit;
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  // While hung, Resolve answers nothing until Release() or its deadline (then
  // DEADLINE_EXCEEDED), like a Git server that accepts connections and never answers.
  void Hang() {
    absl::MutexLock lock(&mu_);
    hung_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hung_ = false;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  source_fetcher::v1::ResolveRequest last() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }

  absl::StatusOr<source_fetcher::v1::ResolveResponse> Resolve(
      const source_fetcher::v1::ResolveRequest& request, absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_ = request;
    auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hung_; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&released), deadline)) {
      return absl::DeadlineExceededError("source-fetcher: Deadline Exceeded");
    }
    if (!fail_.ok()) return fail_;
    auto it = commits_.find({request.repo_url(), request.ref()});
    if (it == commits_.end() && default_commit_.empty()) {
      return absl::NotFoundError(
          absl::StrCat("ref ", request.ref(), " not found in ", request.repo_url()));
    }
    const std::string& commit = it == commits_.end() ? default_commit_ : it->second;
    source_fetcher::v1::ResolveResponse response;
    response.mutable_revision()->set_commit(commit);
    response.mutable_revision()->set_message(absl::StrCat("message of ", commit));
    response.set_resolved_ref(request.ref());
    return response;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> commits_ ABSL_GUARDED_BY(mu_);
  std::string default_commit_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool hung_ ABSL_GUARDED_BY(mu_) = false;
  source_fetcher::v1::ResolveRequest last_ ABSL_GUARDED_BY(mu_);
};

class FakeRender : public RenderStage {
 public:
  // What a render of `path` (any commit) gives.
  void SetObjects(const std::string& path, std::vector<types::v1::KubeObject> objects) {
    absl::MutexLock lock(&mu_);
    objects_[path] = std::move(objects);
  }
  // RenderResponse.engine_version from now on (an upgraded renderer); empty by default.
  void SetEngineVersion(const std::string& version) {
    absl::MutexLock lock(&mu_);
    engine_version_ = version;
  }
  // Renders of `path` fail with `status` (OK: succeed again).
  void Fail(const std::string& path, absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      fail_.erase(path);
    } else {
      fail_[path] = std::move(status);
    }
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int calls(const std::string& path) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_by_path_.find(path);
    return it == calls_by_path_.end() ? 0 : it->second;
  }
  std::vector<absl::Time> call_times(const std::string& path) const {
    absl::MutexLock lock(&mu_);
    auto it = times_.find(path);
    return it == times_.end() ? std::vector<absl::Time>() : it->second;
  }

  absl::StatusOr<renderer::v1::RenderResponse> Render(const renderer::v1::RenderRequest& request,
                                                      absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    ++calls_by_path_[request.path()];
    times_[request.path()].push_back(absl::Now());
    if (auto it = fail_.find(request.path()); it != fail_.end()) return it->second;
    renderer::v1::RenderResponse response;
    response.set_engine_version(engine_version_);
    std::string digest = absl::StrCat(request.commit(), ":", request.path());
    for (const types::v1::KubeObject& object : objects_[request.path()]) {
      *response.add_objects() = object;
      absl::StrAppend(&digest, ":", object.json().size());
    }
    response.set_digest(digest);
    return response;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<types::v1::KubeObject>> objects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> fail_ ABSL_GUARDED_BY(mu_);
  std::string engine_version_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> calls_by_path_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<absl::Time>> times_ ABSL_GUARDED_BY(mu_);
};

class FakeDiff : public DiffStage {
 public:
  // Rows of objects with these names are Unknown (the differ could not compare them).
  void SetUnknown(std::set<std::string> names) {
    absl::MutexLock lock(&mu_);
    unknown_ = std::move(names);
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  // DiffResponse.engine_version from now on (an upgraded differ); empty by default.
  void SetEngineVersion(const std::string& version) {
    absl::MutexLock lock(&mu_);
    engine_version_ = version;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int health_calls() const {
    absl::MutexLock lock(&mu_);
    return health_calls_;
  }
  differ::v1::DiffRequest last() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }

  absl::StatusOr<differ::v1::DiffResponse> Diff(const differ::v1::DiffRequest& request,
                                                absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_ = request;
    if (!fail_.ok()) return fail_;
    std::map<std::string, const types::v1::KubeObject*> live;
    for (const types::v1::KubeObject& object : request.live())
      live[KeyString(object.key())] = &object;
    differ::v1::DiffResponse response;
    response.set_engine_version(engine_version_);
    differ::v1::DiffSummary* summary = response.mutable_summary();
    auto add = [&](const types::v1::ObjectKey& key, types::v1::SyncStatus status) {
      if (unknown_.count(key.name()) > 0) status = types::v1::SYNC_STATUS_UNKNOWN;
      differ::v1::ObjectDiff* row = response.add_objects();
      *row->mutable_key() = key;
      row->set_status(status);
      switch (status) {
        case types::v1::SYNC_STATUS_SYNCED:
          summary->set_synced(summary->synced() + 1);
          break;
        case types::v1::SYNC_STATUS_OUT_OF_SYNC:
          summary->set_out_of_sync(summary->out_of_sync() + 1);
          break;
        case types::v1::SYNC_STATUS_MISSING:
          summary->set_missing(summary->missing() + 1);
          break;
        case types::v1::SYNC_STATUS_EXTRANEOUS:
          summary->set_extraneous(summary->extraneous() + 1);
          break;
        default:
          summary->set_unknown(summary->unknown() + 1);
          row->set_error("cannot compare: schema unknown");
      }
    };
    std::set<std::string> desired;
    for (const types::v1::KubeObject& object : request.desired()) {
      std::string id = KeyString(object.key());
      desired.insert(id);
      auto it = live.find(id);
      if (it == live.end()) {
        add(object.key(), types::v1::SYNC_STATUS_MISSING);
      } else {
        add(object.key(), it->second->json() == object.json() ? types::v1::SYNC_STATUS_SYNCED
                                                              : types::v1::SYNC_STATUS_OUT_OF_SYNC);
      }
    }
    for (const types::v1::KubeObject& object : request.live()) {
      if (desired.count(KeyString(object.key())) == 0) {
        add(object.key(), types::v1::SYNC_STATUS_EXTRANEOUS);
      }
    }
    if (summary->out_of_sync() + summary->missing() + summary->extraneous() > 0) {
      summary->set_status(types::v1::SYNC_STATUS_OUT_OF_SYNC);
    } else if (summary->unknown() > 0) {
      summary->set_status(types::v1::SYNC_STATUS_UNKNOWN);
    } else {
      summary->set_status(types::v1::SYNC_STATUS_SYNCED);
    }
    return response;
  }

  absl::StatusOr<differ::v1::AssessHealthResponse> AssessHealth(
      const differ::v1::AssessHealthRequest& request, absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++health_calls_;
    if (!fail_.ok()) return fail_;
    differ::v1::AssessHealthResponse response;
    for (const types::v1::KubeObject& object : request.live()) {
      differ::v1::ObjectHealth* health = response.add_objects();
      *health->mutable_key() = object.key();
      health->set_status(types::v1::HEALTH_STATUS_HEALTHY);
    }
    for (const types::v1::ObjectKey& key : request.missing()) {
      differ::v1::ObjectHealth* health = response.add_objects();
      *health->mutable_key() = key;
      health->set_status(types::v1::HEALTH_STATUS_MISSING);
    }
    response.set_aggregate(request.missing_size() > 0 ? types::v1::HEALTH_STATUS_MISSING
                                                      : types::v1::HEALTH_STATUS_HEALTHY);
    return response;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<std::string> unknown_ ABSL_GUARDED_BY(mu_);
  std::string engine_version_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int health_calls_ ABSL_GUARDED_BY(mu_) = 0;
  differ::v1::DiffRequest last_ ABSL_GUARDED_BY(mu_);
};

class FakeApply : public ApplyStage {
 public:
  // Called at the start of every ReadLive (outside the fake's lock) with the app's name: tests
  // count passes, block them or look for overlaps here.
  void OnReadLive(std::function<void(const std::string& app)> hook) {
    absl::MutexLock lock(&mu_);
    on_read_live_ = std::move(hook);
  }
  // Called during every Apply (outside the fake's lock), after the objects are applied and
  // before the summary returns.
  void OnApply(std::function<void(const applier::v1::ApplyRequest&)> hook) {
    absl::MutexLock lock(&mu_);
    on_apply_ = std::move(hook);
  }
  void FailReadLive(absl::Status status) {
    absl::MutexLock lock(&mu_);
    read_live_fail_ = std::move(status);
  }
  void FailApply(absl::Status status) {
    absl::MutexLock lock(&mu_);
    apply_fail_ = std::move(status);
  }
  // Objects of this name fail to apply (the summary then says not succeeded).
  void FailObject(const std::string& name) {
    absl::MutexLock lock(&mu_);
    failing_objects_.insert(name);
  }

  // Sets a live object by hand (a user's kubectl edit): its resourceVersion moves. It keeps the
  // app it had unless `app` names one (an object labelled as that app's).
  void SetLive(const types::v1::KubeObject& object, const std::string& app = "") {
    absl::MutexLock lock(&mu_);
    LiveObject& entry = live_[KeyString(object.key())];
    entry.object = object;
    entry.version = ++version_;
    if (!app.empty()) entry.app = app;
  }
  void DeleteLive(const types::v1::ObjectKey& key) {
    absl::MutexLock lock(&mu_);
    live_.erase(KeyString(key));
  }
  bool HasLive(const types::v1::ObjectKey& key) const {
    absl::MutexLock lock(&mu_);
    return live_.count(KeyString(key)) > 0;
  }
  std::string LiveJson(const types::v1::ObjectKey& key) const {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(KeyString(key));
    return it == live_.end() ? "" : it->second.object.json();
  }

  int read_live_calls() const {
    absl::MutexLock lock(&mu_);
    return read_live_calls_;
  }
  int read_live_calls(const std::string& app) const {
    absl::MutexLock lock(&mu_);
    auto it = read_live_by_app_.find(app);
    return it == read_live_by_app_.end() ? 0 : it->second;
  }
  int apply_calls() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(applies_.size());
  }
  std::vector<applier::v1::ApplyRequest> applies() const {
    absl::MutexLock lock(&mu_);
    return applies_;
  }
  int prune_calls() const {
    absl::MutexLock lock(&mu_);
    return prune_calls_;
  }
  // ReadLive calls answered with the digest alone (objects_omitted).
  int read_live_omitted() const {
    absl::MutexLock lock(&mu_);
    return read_live_omitted_;
  }
  applier::v1::ReadLiveRequest last_read_live() const {
    absl::MutexLock lock(&mu_);
    return last_read_live_;
  }

  // Sends `event` to every open drift stream; returns how many streams got it.
  int FireDrift(const applier::v1::DriftEvent& event) {
    std::vector<std::shared_ptr<StreamState>> streams;
    {
      absl::MutexLock lock(&mu_);
      streams = streams_;
    }
    int sent = 0;
    for (const auto& state : streams) {
      absl::MutexLock lock(&state->mu);
      if (state->open) {
        state->on_event(event);
        ++sent;
      }
    }
    return sent;
  }
  int open_streams() const {
    absl::MutexLock lock(&mu_);
    int open = 0;
    for (const auto& state : streams_) {
      absl::MutexLock stream_lock(&state->mu);
      open += state->open ? 1 : 0;
    }
    return open;
  }

  absl::StatusOr<applier::v1::ReadLiveResponse> ReadLive(
      const applier::v1::ReadLiveRequest& request, absl::Time) override {
    std::function<void(const std::string&)> hook;
    {
      absl::MutexLock lock(&mu_);
      hook = on_read_live_;
    }
    if (hook) hook(request.app_name());
    absl::MutexLock lock(&mu_);
    ++read_live_calls_;
    ++read_live_by_app_[request.app_name()];
    last_read_live_ = request;
    if (!read_live_fail_.ok()) return read_live_fail_;
    applier::v1::ReadLiveResponse response;
    std::string digest;
    std::vector<types::v1::ObjectKey> keys(request.keys().begin(), request.keys().end());
    std::set<std::string> asked;
    for (const types::v1::ObjectKey& key : keys) asked.insert(KeyString(key));
    for (const auto& [id, entry] : live_) {
      if (!entry.app.empty() && entry.app == request.app_name() && asked.count(id) == 0) {
        keys.push_back(entry.object.key());
      }
    }
    for (const types::v1::ObjectKey& key : keys) {
      auto it = live_.find(KeyString(key));
      if (it == live_.end()) {
        *response.add_absent() = key;
        absl::StrAppend(&digest, KeyString(key), "=absent;");
        continue;
      }
      *response.add_objects() = it->second.object;
      response.add_resource_versions(absl::StrCat(it->second.version));
      absl::StrAppend(&digest, KeyString(key), "=", it->second.version, ";");
    }
    response.set_live_digest(digest);
    if (!request.if_digest_differs().empty() && request.if_digest_differs() == digest) {
      // As the applier: nothing moved, only the digest comes back.
      applier::v1::ReadLiveResponse omitted;
      omitted.set_live_digest(digest);
      omitted.set_objects_omitted(true);
      ++read_live_omitted_;
      return omitted;
    }
    return response;
  }

  absl::StatusOr<applier::v1::ApplySummary> Apply(
      const applier::v1::ApplyRequest& request,
      const std::function<void(const applier::v1::ObjectResult&)>& progress, absl::Time,
      const std::atomic<bool>* cancel) override {
    std::vector<applier::v1::ObjectResult> results;
    applier::v1::ApplySummary summary;
    std::function<void(const applier::v1::ApplyRequest&)> hook;
    {
      absl::MutexLock lock(&mu_);
      applies_.push_back(request);
      hook = on_apply_;
      if (!apply_fail_.ok()) return apply_fail_;
      for (const types::v1::KubeObject& object : request.objects()) {
        applier::v1::ObjectResult result;
        *result.mutable_key() = object.key();
        std::string id = KeyString(object.key());
        auto it = live_.find(id);
        if (failing_objects_.count(object.key().name()) > 0) {
          result.set_action(applier::v1::APPLY_ACTION_FAILED);
          result.set_message("admission webhook denied the request");
          summary.set_failed(summary.failed() + 1);
        } else if (it != live_.end() && it->second.object.json() == object.json()) {
          result.set_action(applier::v1::APPLY_ACTION_UNCHANGED);
          result.set_resource_version(absl::StrCat(it->second.version));
          summary.set_unchanged(summary.unchanged() + 1);
        } else {
          result.set_action(it == live_.end() ? applier::v1::APPLY_ACTION_CREATED
                                              : applier::v1::APPLY_ACTION_CONFIGURED);
          if (it == live_.end()) {
            summary.set_created(summary.created() + 1);
          } else {
            summary.set_configured(summary.configured() + 1);
          }
          int64_t version = ++version_;
          // As the applier: hooks do not carry the app's label (not in its cache).
          const bool hook = absl::StrContains(object.json(), "todoke.dev/hook\"");
          if (!request.options().dry_run()) {
            live_[id] = {object, version, hook ? std::string() : request.app_name()};
          }
          result.set_resource_version(absl::StrCat(version));
        }
        results.push_back(result);
      }
      for (const types::v1::ObjectKey& key : request.prune()) {
        applier::v1::ObjectResult result;
        *result.mutable_key() = key;
        result.set_action(applier::v1::APPLY_ACTION_PRUNED);
        if (!request.options().dry_run()) live_.erase(KeyString(key));
        summary.set_pruned(summary.pruned() + 1);
        results.push_back(result);
      }
    }
    for (const applier::v1::ObjectResult& result : results) progress(result);
    if (hook) hook(request);
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("apply cancelled");
    summary.set_succeeded(summary.failed() == 0);
    if (request.destination().has_git()) summary.set_commit("hydrated-commit");
    return summary;
  }

  absl::StatusOr<applier::v1::PruneResponse> Prune(const applier::v1::PruneRequest& request,
                                                   absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++prune_calls_;
    applier::v1::PruneResponse response;
    for (const types::v1::ObjectKey& key : request.keys()) {
      applier::v1::ObjectResult* result = response.add_results();
      *result->mutable_key() = key;
      result->set_action(applier::v1::APPLY_ACTION_PRUNED);
      if (!request.dry_run()) live_.erase(KeyString(key));
    }
    return response;
  }

  std::unique_ptr<DriftStream> WatchDrift(
      const applier::v1::WatchDriftRequest&,
      std::function<void(const applier::v1::DriftEvent&)> on_event,
      std::function<void(const absl::Status&)> on_end) override {
    auto state = std::make_shared<StreamState>();
    state->on_event = std::move(on_event);
    state->on_end = std::move(on_end);
    {
      absl::MutexLock lock(&mu_);
      streams_.push_back(state);
    }
    return std::make_unique<Stream>(state);
  }

 private:
  struct LiveObject {
    types::v1::KubeObject object;
    int64_t version = 0;
    std::string app;  // the app that applied it ("" for objects set by hand)
  };
  struct StreamState {
    absl::Mutex mu;
    bool open ABSL_GUARDED_BY(mu) = true;
    std::function<void(const applier::v1::DriftEvent&)> on_event;
    std::function<void(const absl::Status&)> on_end;
  };
  class Stream : public DriftStream {
   public:
    explicit Stream(std::shared_ptr<StreamState> state) : state_(std::move(state)) {}
    ~Stream() override {
      absl::MutexLock lock(&state_->mu);
      state_->open = false;
    }

   private:
    std::shared_ptr<StreamState> state_;
  };

  mutable absl::Mutex mu_;
  std::map<std::string, LiveObject> live_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = 100;
  std::function<void(const std::string&)> on_read_live_ ABSL_GUARDED_BY(mu_);
  std::function<void(const applier::v1::ApplyRequest&)> on_apply_ ABSL_GUARDED_BY(mu_);
  absl::Status read_live_fail_ ABSL_GUARDED_BY(mu_);
  absl::Status apply_fail_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> failing_objects_ ABSL_GUARDED_BY(mu_);
  int read_live_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> read_live_by_app_ ABSL_GUARDED_BY(mu_);
  applier::v1::ReadLiveRequest last_read_live_ ABSL_GUARDED_BY(mu_);
  int read_live_omitted_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<applier::v1::ApplyRequest> applies_ ABSL_GUARDED_BY(mu_);
  int prune_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<StreamState>> streams_ ABSL_GUARDED_BY(mu_);
};

// The four fakes, and Stages pointing at them.
struct FakeStages {
  std::shared_ptr<FakeSource> source = std::make_shared<FakeSource>();
  std::shared_ptr<FakeRender> render = std::make_shared<FakeRender>();
  std::shared_ptr<FakeDiff> diff = std::make_shared<FakeDiff>();
  std::shared_ptr<FakeApply> apply = std::make_shared<FakeApply>();

  Stages stages() const { return Stages{source, render, diff, apply}; }
};

}  // namespace todoke::orchestrator::testing

#endif  // TODOKE_TESTS_SERVICES_ORCHESTRATOR_FAKE_STAGES_H_
