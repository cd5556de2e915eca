#include "services/orchestrator/core/controller.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"

namespace todoke::orchestrator {
namespace {

// The Controller's worker pools (WorkQueue lanes) and the kinds of groups passes are capped by.
constexpr int kRefreshLane = 0;
constexpr int kSyncLane = 1;
constexpr int kRepoGroup = 0;
constexpr int kDestinationGroup = 1;

// What a destination's passes contend for: a cluster (its context), or a Git branch.
std::string DestinationGroup(const v1::ApplicationSpec& spec) {
  const auto& destination = spec.destination();
  if (destination.has_kubernetes()) {
    return absl::StrCat("kubernetes:", destination.kubernetes().context());
  }
  if (destination.has_git()) {
    return absl::StrCat("git:", NormalizeRepoUrl(destination.git().repo_url()), "#",
                        destination.git().branch());
  }
  return "";
}

WorkQueueOptions QueueOptionsFor(const ControllerOptions& options) {
  // The default leaves one worker of each pool to other groups: a hung repository or cluster can
  // slow the rest but never stop them, and an installation with one cluster (or one repository)
  // loses only that one worker's worth of concurrency.
  auto cap = [](int set, int pool) { return set > 0 ? set : std::max(1, pool - 1); };
  int refresh = std::max(1, options.workers);
  int sync = std::max(1, options.sync_workers);
  WorkQueueOptions queue;
  queue.lanes = 2;
  queue.group_limits.resize(2);
  queue.group_limits[kRefreshLane] = {cap(options.max_per_repo, refresh),
                                      cap(options.max_per_destination, refresh)};
  queue.group_limits[kSyncLane] = {cap(options.max_per_repo, sync),
                                   cap(options.max_per_destination, sync)};
  return queue;
}

bool IsUserTrigger(const std::string& trigger) {
  return trigger == "refresh" || trigger == "webhook" || trigger == "spec" || trigger == "sync";
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool LooksLikeVersionRange(absl::string_view target) {
  return target.find_first_of("^~<>=*") != absl::string_view::npos ||
         absl::StrContains(target, ".x");
}

bool IsCommitId(absl::string_view target) {
  if (target.size() < 7 || target.size() > 40) return false;
  return std::all_of(target.begin(), target.end(),
                     [](char c) { return absl::ascii_isxdigit(c) && !absl::ascii_isupper(c); });
}

// todoke_orchestrator_reconciles_total{result} and the duration histogram. Results: "synced" (a
// sync ran and succeeded), "sync_failed", "error" (a stage failed), "ok" (compared, nothing to do),
// "handed_to_sync" (a refresh pass found it must apply and handed the app to a sync worker).
void RecordReconcile(const ReconcileOutcome& outcome, absl::Duration took) {
  static prometheus::Counter& ok = MetricCounter("todoke_orchestrator_reconciles_total",
                                                 "reconcile passes, by result", {{"result", "ok"}});
  static prometheus::Counter& synced =
      MetricCounter("todoke_orchestrator_reconciles_total", "reconcile passes, by result",
                    {{"result", "synced"}});
  static prometheus::Counter& sync_failed =
      MetricCounter("todoke_orchestrator_reconciles_total", "reconcile passes, by result",
                    {{"result", "sync_failed"}});
  static prometheus::Counter& error = MetricCounter(
      "todoke_orchestrator_reconciles_total", "reconcile passes, by result", {{"result", "error"}});
  static prometheus::Counter& deferred =
      MetricCounter("todoke_orchestrator_reconciles_total", "reconcile passes, by result",
                    {{"result", "handed_to_sync"}});
  static prometheus::Histogram& duration =
      MetricHistogram("todoke_orchestrator_reconcile_seconds", "duration of one reconcile pass");
  if (outcome.gone) return;
  if (outcome.apply_deferred) {
    deferred.Increment();
  } else if (outcome.sync_failed) {
    sync_failed.Increment();
  } else if (!outcome.status.ok()) {
    error.Increment();
  } else if (outcome.applied) {
    synced.Increment();
  } else {
    ok.Increment();
  }
  duration.Observe(absl::ToDoubleSeconds(took));
}

}  // namespace

absl::StatusOr<std::vector<v1::Application>> ListAllApplications(ApplicationStore& store) {
  ASSIGN_OR_RETURN(ApplicationPage page, store.List(ListApplicationsOptions{}));
  return std::move(page.applications);
}

std::string NormalizeRepoUrl(const std::string& url) {
  std::string u(absl::StripAsciiWhitespace(url));
  // scp-like git@host:path
  if (!absl::StrContains(u, "://")) {
    size_t at = u.find('@');
    size_t colon = u.find(':');
    if (colon != std::string::npos && (at == std::string::npos || at < colon)) {
      u = absl::StrCat("ssh://",
                       u.substr(at == std::string::npos ? 0 : at + 1,
                                colon - (at == std::string::npos ? 0 : at + 1)),
                       "/", u.substr(colon + 1));
    }
  }
  size_t scheme_end = u.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = absl::AsciiStrToLower(u.substr(0, scheme_end));
    std::string rest = u.substr(scheme_end + 3);
    size_t slash = rest.find('/');
    std::string host = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    size_t at = host.rfind('@');
    if (at != std::string::npos) host = host.substr(at + 1);
    host = absl::AsciiStrToLower(host);
    if (scheme == "http" || scheme == "https" || scheme == "ssh" || scheme == "git") scheme = "git";
    u = absl::StrCat(scheme, "://", host, path);
  }
  absl::string_view trimmed = u;
  while (absl::ConsumeSuffix(&trimmed, "/")) {
  }
  absl::ConsumeSuffix(&trimmed, ".git");
  while (absl::ConsumeSuffix(&trimmed, "/")) {
  }
  return std::string(trimmed);
}

Controller::Controller(std::shared_ptr<ApplicationStore> store,
                       std::shared_ptr<Reconciler> reconciler, Stages stages, EventBus* events,
                       ControllerOptions options)
    : store_(std::move(store)),
      reconciler_(std::move(reconciler)),
      stages_(std::move(stages)),
      events_(events),
      options_(options),
      queue_(QueueOptionsFor(options)) {}

Controller::~Controller() { Stop(); }

absl::Duration Controller::IntervalOf(const v1::Application& app) const {
  const auto& interval = app.spec().sync_policy().interval();
  absl::Duration d = FromProtoDuration(interval);
  return d > absl::ZeroDuration() ? d : options_.default_interval;
}

double Controller::UnitRandomLocked() {
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  return static_cast<double>(random_ % 1000000) / 1000000.0;  // [0, 1)
}

absl::Duration Controller::Jittered(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  double unit = UnitRandomLocked();
  return d * (1.0 + options_.jitter * (2.0 * unit - 1.0));
}

void Controller::Track(const v1::Application& app) {
  const v1::ApplicationSpec& spec = app.spec();
  queue_.SetGroups(app.name(),
                   {NormalizeRepoUrl(spec.source().repo_url()), DestinationGroup(spec)});
  std::string drift_key;
  if (!spec.suspend() && spec.destination().has_kubernetes()) {
    types::v1::Destination destination;
    destination.mutable_kubernetes()->set_context(spec.destination().kubernetes().context());
    drift_key = destination.SerializeAsString();
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = drift_key_of_.try_emplace(app.name());
  if (!inserted && it->second == drift_key) return;
  if (!it->second.empty() && --drift_apps_[it->second] == 0) {
    drift_apps_.erase(it->second);
    drift_dirty_ = true;
  }
  it->second = drift_key;
  if (!drift_key.empty() && drift_apps_[drift_key]++ == 0) drift_dirty_ = true;
}

void Controller::Untrack(const std::string& app) {
  absl::MutexLock lock(&mu_);
  auto it = drift_key_of_.find(app);
  if (it == drift_key_of_.end()) return;
  if (!it->second.empty() && --drift_apps_[it->second] == 0) {
    drift_apps_.erase(it->second);
    drift_dirty_ = true;
  }
  drift_key_of_.erase(it);
}

absl::Status Controller::Start() {
  absl::StatusOr<std::vector<v1::Operation>> interrupted = store_->MarkInterrupted();
  if (!interrupted.ok()) return interrupted.status();
  for (const v1::Operation& op : *interrupted) {
    v1::Event event;
    event.set_app_name(op.app_name());
    event.set_type("Warning");
    event.set_reason("SyncInterrupted");
    event.set_operation_id(op.id());
    event.set_message(absl::StrCat("operation ", op.id(), " (", op.initiated_by(),
                                   ") was interrupted by a restart of the orchestrator"));
    if (events_ != nullptr) events_->Publish(event);
    LogWarning("operation interrupted by a restart",
               {{"app", op.app_name()}, {"operation", op.id()}});
  }
  absl::StatusOr<std::vector<v1::Application>> apps = ListAllApplications(*store_);
  if (!apps.ok()) return apps.status();
  absl::Time now = absl::Now();
  for (const v1::Application& app : *apps) {
    Track(app);
    bool was_interrupted = false;
    for (const v1::Operation& op : *interrupted) was_interrupted |= op.app_name() == app.name();
    if (was_interrupted) {
      // Retried when the policy allows: an automated app converges by itself (its next pass
      // syncs again); a manual sync is reported, not repeated behind the user's back.
      queue_.Add(app.name(), WorkPriority::kHigh);
      continue;
    }
    // Spread the first pass of every app over its interval. The very first pass of an app
    // comes soon (status is useful at once); its next one is spread (Process).
    absl::Duration interval = IntervalOf(app);
    absl::Duration offset;
    {
      absl::MutexLock lock(&mu_);
      offset = interval * UnitRandomLocked();
      if (!app.status().has_reconciled_at()) {
        offset = absl::ZeroDuration();
      } else {
        states_[app.name()].spread = true;
      }
    }
    queue_.Add(app.name(), WorkPriority::kLow, now + offset);
  }
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { Work(kRefreshLane); });
  }
  for (int i = 0; i < std::max(1, options_.sync_workers); ++i) {
    workers_.emplace_back([this] { Work(kSyncLane); });
  }
  drift_thread_ = std::thread([this] { DriftLoop(); });
  return absl::OkStatus();
}

void Controller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [app, state] : states_) {
      if (state.cancel) state.cancel->store(true);
    }
  }
  queue_.ShutDown();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (drift_thread_.joinable()) drift_thread_.join();
  std::map<std::string, DriftSlot> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(drift_streams_);
  }
  streams.clear();  // ends the streams outside the lock (their callbacks take it)
}

void Controller::Enqueue(const std::string& app, const std::string& trigger, bool fresh_resolve) {
  if (trigger == "spec") {
    // Created, updated or resumed: its repository and destination may be new.
    if (absl::StatusOr<v1::Application> stored = store_->Get(app); stored.ok()) Track(*stored);
  }
  WorkPriority priority = WorkPriority::kLow;
  absl::Time when = absl::InfinitePast();
  if (IsUserTrigger(trigger)) {
    priority = WorkPriority::kHigh;
    // What a user or a push asks for is answered from the remote, never from a shared answer.
    fresh_resolve = true;
  } else if (trigger == "drift") {
    priority = WorkPriority::kNormal;
    when = absl::Now() + options_.drift_delay;
  }
  {
    absl::MutexLock lock(&mu_);
    states_[app].touched++;
    Pending& pending = pending_[app];
    if (priority != WorkPriority::kLow || pending.trigger == "interval") pending.trigger = trigger;
    if (fresh_resolve) pending.fresh_after_resolve = reconciler_->ResolveMark();
  }
  queue_.Add(app, priority, when);
}

absl::StatusOr<v1::Operation> Controller::RequestSync(const std::string& app, SyncOrder order) {
  // Stored when it starts running (the store holds one running operation per app); until then
  // it is QUEUED, and a later request replaces one that has not started.
  v1::Operation operation = OperationFor(app, order, v1::OPERATION_PHASE_QUEUED);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the orchestrator is shutting down");
    Pending& pending = pending_[app];
    pending.trigger = "sync";
    pending.fresh_after_resolve = reconciler_->ResolveMark();
    pending.sync = std::move(order);
  }
  queue_.Add(app, WorkPriority::kHigh, absl::InfinitePast(), kSyncLane);
  return operation;
}

absl::Status Controller::RefreshAndWait(const std::string& app, absl::Time deadline) {
  uint64_t target;
  {
    absl::MutexLock lock(&mu_);
    AppState& state = states_[app];
    // A reconcile running now started before this call: wait for the one after it.
    target = state.started + 1;
  }
  Enqueue(app, "refresh", /*fresh_resolve=*/true);
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || states_[app].finished >= target;
  };
  while (!done()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("application \"", app, "\": refresh still queued or running"));
    }
    mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  }
  return absl::OkStatus();
}

absl::Status Controller::Terminate(const std::string& app) {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(app);
  if (it == states_.end() || !it->second.cancel) {
    return absl::FailedPreconditionError(
        absl::StrCat("application \"", app, "\" has no running operation"));
  }
  it->second.cancel->store(true);
  return absl::OkStatus();
}

void Controller::Forget(const std::string& app) {
  queue_.Forget(app);
  reconciler_->Forget(app);
  Untrack(app);
  absl::MutexLock lock(&mu_);
  pending_.erase(app);
  if (auto it = states_.find(app); it != states_.end()) it->second.touched++;
}

std::vector<std::string> Controller::RefreshMatching(const std::string& repo_url,
                                                     const std::string& ref) {
  std::vector<std::string> matched;
  absl::StatusOr<std::vector<v1::Application>> apps = ListAllApplications(*store_);
  if (!apps.ok()) return matched;
  std::string wanted = NormalizeRepoUrl(repo_url);
  absl::string_view branch = ref;
  bool is_tag = absl::ConsumePrefix(&branch, "refs/tags/");
  if (!is_tag) absl::ConsumePrefix(&branch, "refs/heads/");
  // A push to a branch todoke hydrates into is todoke's own write: it triggers nothing there.
  for (const v1::Application& app : *apps) {
    const auto& destination = app.spec().destination();
    if (destination.has_git() && NormalizeRepoUrl(destination.git().repo_url()) == wanted &&
        !is_tag && destination.git().branch() == branch) {
      return matched;
    }
  }
  for (const v1::Application& app : *apps) {
    if (app.spec().suspend()) continue;
    if (NormalizeRepoUrl(app.spec().source().repo_url()) != wanted) continue;
    absl::string_view target = app.spec().source().target_revision();
    absl::ConsumePrefix(&target, "refs/heads/");
    absl::ConsumePrefix(&target, "refs/tags/");
    bool match = target.empty() || target == "HEAD" || target == branch ||
                 (is_tag && LooksLikeVersionRange(target)) || ref.empty();
    if (IsCommitId(target)) match = false;  // a pinned commit never moves
    if (!match) continue;
    Enqueue(app.name(), "webhook", /*fresh_resolve=*/true);
    matched.push_back(app.name());
  }
  return matched;
}

void Controller::Work(int lane) {
  while (std::optional<std::string> app = queue_.Get(lane)) {
    Process(*app, lane);
    queue_.Done(*app);
  }
}

void Controller::Process(const std::string& app, int lane) {
  Pending pending;
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  bool hand_on = false;
  uint64_t touched_before = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(app);
    if (lane == kRefreshLane && it != pending_.end() && it->second.sync) {
      hand_on = true;  // a sync was asked for after this refresh was handed out
    } else {
      if (it != pending_.end()) {
        pending = std::move(it->second);
        pending_.erase(it);
      }
      AppState& state = states_[app];
      state.started++;
      state.cancel = cancel;
      touched_before = state.touched;
    }
  }
  if (hand_on) {
    queue_.Add(app, WorkPriority::kHigh, absl::InfinitePast(), kSyncLane);  // after Done
    return;
  }
  ReconcileRequest request;
  request.app = app;
  request.trigger = pending.trigger;
  request.fresh_after_resolve = pending.fresh_after_resolve;
  request.sync = pending.sync;
  // A refresh worker never applies: a pass that must, stops before Apply and is handed on.
  request.defer_apply = lane == kRefreshLane;
  absl::Time started = absl::Now();
  ReconcileOutcome outcome = reconciler_->Reconcile(request, cancel.get());
  absl::Duration took = absl::Now() - started;
  RecordReconcile(outcome, took);
  if (outcome.apply_deferred) {
    {
      absl::MutexLock lock(&mu_);
      states_[app].cancel.reset();
      // The sync pass decides again, for the same trigger (a retry, a webhook's push).
      Pending& next = pending_[app];
      if (!next.sync) next.trigger = request.trigger;
    }
    LogDebug("handed to a sync worker",
             {{"app", app}, {"trigger", request.trigger}, {"took", absl::FormatDuration(took)}});
    queue_.Add(app, IsUserTrigger(request.trigger) ? WorkPriority::kHigh : WorkPriority::kNormal,
               absl::InfinitePast(), kSyncLane);  // queued when this worker is Done
    return;
  }
  if (!outcome.status.ok() && !outcome.gone) {
    LogWarning("reconcile failed", {{"app", app},
                                    {"trigger", request.trigger},
                                    {"error", outcome.status.message()},
                                    {"took", absl::FormatDuration(took)}});
  } else {
    LogDebug("reconciled",
             {{"app", app}, {"trigger", request.trigger}, {"took", absl::FormatDuration(took)}});
  }

  absl::Time next;
  WorkPriority priority = WorkPriority::kLow;
  std::string next_trigger = "interval";
  bool spread = false;
  // The app as the pass read it, unless it was updated, deleted or triggered meanwhile (one
  // store read per pass in the steady state).
  bool moved;
  {
    absl::MutexLock lock(&mu_);
    moved = states_[app].touched != touched_before;
  }
  absl::StatusOr<v1::Application> stored =
      outcome.gone            ? absl::StatusOr<v1::Application>(absl::NotFoundError(app))
      : outcome.app && !moved ? absl::StatusOr<v1::Application>(*std::move(outcome.app))
                              : store_->Get(app);
  if (stored.ok()) Track(*stored);
  {
    absl::MutexLock lock(&mu_);
    AppState& state = states_[app];
    state.finished = state.started;
    state.cancel.reset();
    if (!stored.ok()) {
      states_.erase(app);
      return;
    }
    absl::Duration interval = IntervalOf(*stored);
    next = absl::Now();
    if (outcome.status.ok()) {
      state.failures = 0;
      state.sync_retries = 0;
    }
    if (outcome.sync_failed && !request.sync) {
      // A failed automated sync: retried per syncPolicy.retry.
      const v1::RetryPolicy& retry = stored->spec().sync_policy().retry();
      if (retry.limit() < 0 || state.sync_retries < retry.limit()) {
        absl::Duration base = FromProtoDuration(retry.backoff().duration());
        if (base <= absl::ZeroDuration()) base = absl::Seconds(5);
        double factor = retry.backoff().factor() >= 1 ? retry.backoff().factor() : 2;
        absl::Duration cap = FromProtoDuration(retry.backoff().max_duration());
        if (cap <= absl::ZeroDuration()) cap = absl::Minutes(3);
        absl::Duration wait = std::min(cap, base * std::pow(factor, state.sync_retries));
        state.sync_retries++;
        next += wait;
        next_trigger = "retry";
        priority = WorkPriority::kNormal;
      } else {
        next += interval;
      }
    } else if (!outcome.status.ok()) {
      // A stage down or a bad input: this app backs off on its own, capped, and converges by
      // itself when the stage comes back.
      absl::Duration wait =
          std::min(options_.failure_backoff_max,
                   options_.failure_backoff_base * std::pow(2.0, std::min(state.failures, 20)));
      state.failures++;
      next += std::min(wait, interval);
    } else if (outcome.applied) {
      next += options_.after_sync_delay;
      priority = WorkPriority::kNormal;
      next_trigger = "after-sync";
    } else if (!state.spread) {
      // The first interval of an app created while running (or never reconciled before a
      // start) is drawn over a whole interval, as after a start: apps created together do not
      // come due together forever after (±jitter would keep them in one burst).
      state.spread = true;
      spread = true;
      next += interval * (0.5 + UnitRandomLocked());
    } else {
      next += interval;
    }
    if (next_trigger != "interval") {
      Pending& p = pending_[app];
      if (p.trigger == "interval") p.trigger = next_trigger;
    }
  }
  if (next_trigger == "interval" && !spread) next = absl::Now() + Jittered(next - absl::Now());
  queue_.Add(app, priority, next);
}

void Controller::DriftLoop() {
  while (true) {
    std::vector<std::unique_ptr<ApplyStage::DriftStream>> ended;
    std::vector<std::pair<std::string, uint64_t>> to_open;
    {
      absl::MutexLock lock(&mu_);
      // Woken when the set of destinations changes (Track) or a stream ends; else at the next
      // reopen time, or after the period. Nothing is listed.
      absl::Time now = absl::Now();
      absl::Duration wait = options_.drift_streams_period;
      for (const auto& [key, slot] : drift_streams_) wait = std::min(wait, slot.reopen_at - now);
      auto woken = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || drift_dirty_; };
      if (wait > absl::ZeroDuration()) mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
      if (stopping_) return;
      drift_dirty_ = false;
      now = absl::Now();
      // Streams no app wants any more, and ended ones whose pause has passed, are closed.
      for (auto it = drift_streams_.begin(); it != drift_streams_.end();) {
        if (drift_apps_.count(it->first) == 0 || it->second.reopen_at <= now) {
          if (it->second.stream) ended.push_back(std::move(it->second.stream));
          it = drift_streams_.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& [key, apps] : drift_apps_) {
        if (drift_streams_.count(key) > 0) continue;
        uint64_t id = ++drift_stream_seq_;
        drift_streams_[key].id = id;
        to_open.emplace_back(key, id);
      }
    }
    ended.clear();  // outside the lock: ending a stream waits for its callbacks
    for (const auto& [key, id] : to_open) {
      applier::v1::WatchDriftRequest request;
      if (!request.mutable_destination()->ParseFromString(key)) continue;
      std::unique_ptr<ApplyStage::DriftStream> stream = stages_.apply->WatchDrift(
          request,
          [this, stream_key = key](const applier::v1::DriftEvent& event) {
            if (event.ready()) {
              // A change made before the stream was registered (the app was created moments
              // ago, or the stream was reopened after the applier or the orchestrator restarted)
              // produced no event: compare every app of this destination once.
              std::vector<std::string> apps;
              {
                absl::MutexLock lock(&mu_);
                for (const auto& [app, app_key] : drift_key_of_) {
                  if (app_key == stream_key) apps.push_back(app);
                }
              }
              for (const std::string& app : apps) Enqueue(app, "drift");
              return;
            }
            if (event.app_name().empty()) return;
            if (!event.deleted() &&
                reconciler_->IsOwnWrite(event.app_name(), event.resource_version())) {
              return;  // the echo of todoke's own apply
            }
            Enqueue(event.app_name(), "drift");
          },
          [this, stream_key = key, id = id](const absl::Status& status) {
            // The current stream ended (not one the loop closed): reopened after a pause; the
            // stream object is destroyed by the loop thread.
            absl::MutexLock lock(&mu_);
            auto it = drift_streams_.find(stream_key);
            if (it != drift_streams_.end() && it->second.id == id &&
                it->second.reopen_at == absl::InfiniteFuture()) {
              it->second.reopen_at = absl::Now() + options_.drift_reopen_delay;
              drift_dirty_ = true;
            }
          });
      absl::MutexLock lock(&mu_);
      auto it = drift_streams_.find(key);
      if (it == drift_streams_.end() || it->second.id != id) {
        ended.push_back(std::move(stream));  // no longer wanted meanwhile
      } else if (stream) {
        it->second.stream = std::move(stream);
      } else if (it->second.reopen_at == absl::InfiniteFuture()) {
        it->second.reopen_at = absl::Now() + options_.drift_reopen_delay;
      }
    }
    ended.clear();
  }
}

}  // namespace todoke::orchestrator
