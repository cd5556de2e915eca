#include "services/orchestrator/core/reconciler.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/json_parse.h"
#include "common/log.h"
#include "common/object.h"
#include "common/status.h"
#include "common/tracking.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "services/orchestrator/core/spec/application_spec.h"
#include "services/renderer/core/hashing.h"

namespace todoke::orchestrator {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

std::string DeterministicHash(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return renderer::Sha256Hex(bytes);
}

std::string KeyText(const types::v1::ObjectKey& key) {
  return absl::StrCat(key.group(), "/", key.kind(), "/", key.namespace_(), "/", key.name());
}

// Identity for sets of keys (version aside, as ObjectKey's equality).
std::string KeyIdentity(const types::v1::ObjectKey& key) { return KeyText(key); }

// True if the rendered object is a hook (todoke.dev/hook): applied, never compared or pruned.
// metadata.<field> of `object`; nullptr when absent (or metadata is not an object).
const Json* MetadataField(const Json& object, const std::string& field) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto value = metadata->find(field);
  return value == metadata->end() ? nullptr : &*value;
}

bool IsHook(const types::v1::KubeObject& object) {
  if (!absl::StrContains(object.json(), "todoke.dev/hook\"")) return false;
  absl::StatusOr<Json> parsed = ParseJson(object.json());
  if (!parsed.ok()) return false;
  const Json* annotations = MetadataField(*parsed, "annotations");
  return annotations != nullptr && annotations->is_object() &&
         annotations->contains(std::string(kHookAnnotation));
}

// True if the live object carries metadata.deletionTimestamp: Kubernetes is deleting it.
bool BeingDeleted(const std::string& live_json) {
  if (!absl::StrContains(live_json, "\"deletionTimestamp\"")) return false;
  absl::StatusOr<Json> parsed = ParseJson(live_json);
  if (!parsed.ok()) return false;
  const Json* timestamp = MetadataField(*parsed, "deletionTimestamp");
  return timestamp != nullptr && !timestamp->is_null();
}

std::string StageOf(const std::string& failed_type) {
  if (failed_type == "ResolveFailed") return kSourceFetcherStage;
  if (failed_type == "RenderFailed") return kRendererStage;
  if (failed_type == "DiffFailed") return kDifferStage;
  return kApplierStage;
}

v1::Condition MakeCondition(const std::string& type, const std::string& message) {
  v1::Condition condition;
  condition.set_type(type);
  condition.set_message(message);
  *condition.mutable_time() = ToTimestamp(absl::Now());
  return condition;
}

// Replaces the conditions of `status` with `conditions`, keeping the time of those that did not
// change (so an unchanged status stays byte-identical and is not written again).
void SetConditions(v1::ApplicationStatus& status, std::vector<v1::Condition> conditions) {
  for (v1::Condition& condition : conditions) {
    for (const v1::Condition& old : status.conditions()) {
      if (old.type() == condition.type() && old.message() == condition.message()) {
        *condition.mutable_time() = old.time();
      }
    }
  }
  status.clear_conditions();
  for (v1::Condition& condition : conditions) *status.add_conditions() = std::move(condition);
}

const char* ActionName(applier::v1::ApplyAction action) {
  switch (action) {
    case applier::v1::APPLY_ACTION_CREATED:
      return "created";
    case applier::v1::APPLY_ACTION_CONFIGURED:
      return "configured";
    case applier::v1::APPLY_ACTION_UNCHANGED:
      return "unchanged";
    case applier::v1::APPLY_ACTION_PRUNED:
      return "pruned";
    case applier::v1::APPLY_ACTION_FAILED:
      return "failed";
    case applier::v1::APPLY_ACTION_SKIPPED:
      return "skipped";
    default:
      return "unknown";
  }
}

// The value at the RFC 6901 `pointer` in `object`, or nullptr (absent, or a malformed pointer).
Json* AtPointer(Json& object, absl::string_view pointer) {
  if (pointer.empty() || pointer.front() != '/') return nullptr;
  Json* at = &object;
  for (absl::string_view part : absl::StrSplit(pointer.substr(1), '/')) {
    std::string token = absl::StrReplaceAll(part, {{"~1", "/"}, {"~0", "~"}});
    if (at->is_object()) {
      auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      size_t index = 0;
      if (!absl::SimpleAtoi(token, &index) || index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

// As the differ matches an ignoreDifferences rule: empty fields match anything; `ns` is the
// object's namespace after defaulting.
bool IgnoreRuleMatches(const types::v1::IgnoreRule& rule, const types::v1::ObjectKey& key,
                       absl::string_view ns) {
  return (rule.group().empty() || rule.group() == key.group()) &&
         (rule.kind().empty() || rule.kind() == key.kind()) &&
         (rule.name().empty() || rule.name() == key.name()) &&
         (rule.namespace_().empty() || rule.namespace_() == ns);
}

// The item of list `items` whose fields hold every member of `key` (a fieldsV1 "k:" key), or
// nullptr.
template <typename J>
J* ItemWithKey(J& items, const Json& key) {
  for (auto& item : items) {
    if (!item.is_object()) continue;
    bool all = true;
    for (auto it = key.begin(); it != key.end() && all; ++it) {
      auto field = item.find(it.key());
      all = field != item.end() && *field == it.value();
    }
    if (all) return &item;
  }
  return nullptr;
}

// Removes from `wanted` (the object todoke applies) what the fieldsV1 tree `owned` says another
// field manager owns, so that todoke's server-side apply no longer claims it: the other manager
// keeps owning it, the live value stays, and that manager's next apply without force meets no
// conflict (had todoke applied the live value instead, it would co-own the field). The rule:
//  - "f:" fields: a leaf ({}) owned field is removed whole; a field with owned children is
//    descended into, and a map or list that this leaves empty is removed too (applying an empty
//    map or list would claim the field itself). Names in `keep` (apiVersion and kind at the top,
//    metadata's name and namespace, the key fields of a list item) are never removed.
//  - "k:" items of an associative list are found by their key fields, wherever they sit, and
//    descended into: only the owned fields inside are removed, never the key fields nor the item
//    itself, since Git lists the item (todoke applying an item reduced to its keys co-owns its
//    keys and membership only, which never conflicts: both sides hold the same key values). An
//    item the manager owns as a leaf ({}: the whole item is its value) is removed.
//  - "v:" items of a set list are leaves: one owned by the manager is removed from Git's list
//    (todoke would otherwise co-own that member).
//  - "i:" items are descended into by position but never removed (that would shift the others).
// Returns whether anything was removed.
bool OmitOwnedFields(const Json& owned, Json& wanted, const std::set<std::string>& keep) {
  if (!owned.is_object()) return false;
  static const std::set<std::string>* const kNone = new std::set<std::string>();
  static const std::set<std::string>* const kMetadata =
      new std::set<std::string>{"name", "namespace"};
  bool changed = false;
  for (auto it = owned.begin(); it != owned.end(); ++it) {
    const std::string& element = it.key();
    const Json& child = it.value();
    if (!child.is_object() || element.size() < 2 || element[1] != ':') continue;
    const std::string name = element.substr(2);
    if (element[0] == 'f' && wanted.is_object()) {
      if (keep.count(name) > 0) continue;
      auto field = wanted.find(name);
      if (field == wanted.end()) continue;
      if (child.empty()) {
        wanted.erase(field);
        changed = true;
        continue;
      }
      const bool was_empty = (field->is_object() || field->is_array()) && field->empty();
      // Under the top level (which keeps apiVersion), metadata keeps name and namespace.
      const bool top = keep.count("apiVersion") > 0;
      if (OmitOwnedFields(child, *field, top && name == "metadata" ? *kMetadata : *kNone)) {
        changed = true;
        if (!was_empty && (field->is_object() || field->is_array()) && field->empty()) {
          wanted.erase(field);
        }
      }
    } else if (element[0] == 'k' && wanted.is_array()) {
      absl::StatusOr<Json> key = ParseJson(name);
      if (!key.ok() || !key->is_object()) continue;
      Json* item = ItemWithKey(wanted, *key);
      if (item == nullptr) continue;
      if (child.empty()) {
        wanted.erase(static_cast<size_t>(item - &wanted[0]));
        changed = true;
        continue;
      }
      std::set<std::string> key_fields;
      for (auto k = key->begin(); k != key->end(); ++k) key_fields.insert(k.key());
      changed |= OmitOwnedFields(child, *item, key_fields);
    } else if (element[0] == 'v' && wanted.is_array() && child.empty()) {
      absl::StatusOr<Json> value = ParseJson(name);
      if (!value.ok()) continue;
      auto member = std::find(wanted.begin(), wanted.end(), *value);
      if (member == wanted.end()) continue;
      wanted.erase(member);
      changed = true;
    } else if (element[0] == 'i' && wanted.is_array() && !child.empty()) {
      size_t index = 0;
      if (absl::SimpleAtoi(name, &index) && index < wanted.size()) {
        changed |= OmitOwnedFields(child, wanted[index], *kNone);
      }
    }
  }
  return changed;
}

// Argo CD's RespectIgnoreDifferences, for server-side apply. Where an ignoreDifferences rule
// matching `desired` names a field by json pointer and both the desired and the `live` object
// hold a value there, the applied object carries the live value (nobody else is known to own it,
// so leaving it out could reset it). Where the rule names managedFieldsManagers, every field one
// of them owns in the live object's metadata.managedFields (the status subresource aside: it is
// never applied) is left out of the applied object (see OmitOwnedFields): todoke gives the field
// up, the other manager keeps it and its value, and its next apply without force does not
// conflict with todoke. Either way a sync (self-heal of another field, a new commit) never takes
// back a field the rules leave to someone else (`kubectl scale`, an autoscaler, a controller
// applying with its own field manager), as an automated sync's force otherwise would. A field
// only Git sets is applied as in Git.
types::v1::KubeObject WithIgnoredLiveValues(
    const types::v1::KubeObject& desired, const types::v1::KubeObject* live,
    const google::protobuf::RepeatedPtrField<types::v1::IgnoreRule>& rules, absl::string_view ns) {
  if (live == nullptr) return desired;
  std::vector<const types::v1::IgnoreRule*> matching;
  for (const types::v1::IgnoreRule& rule : rules) {
    if ((rule.json_pointers_size() > 0 || rule.managed_fields_managers_size() > 0) &&
        IgnoreRuleMatches(rule, desired.key(), ns)) {
      matching.push_back(&rule);
    }
  }
  if (matching.empty()) return desired;
  absl::StatusOr<Json> wanted = ParseJson(desired.json());
  absl::StatusOr<Json> have = ParseJson(live->json());
  if (!wanted.ok() || !have.ok()) return desired;
  bool changed = false;
  std::set<std::string> managers;
  for (const types::v1::IgnoreRule* rule : matching) {
    for (const std::string& pointer : rule->json_pointers()) {
      Json* to = AtPointer(*wanted, pointer);
      const Json* from = AtPointer(*have, pointer);
      if (to != nullptr && from != nullptr && *to != *from) {
        *to = *from;
        changed = true;
      }
    }
    managers.insert(rule->managed_fields_managers().begin(), rule->managed_fields_managers().end());
  }
  if (!managers.empty()) {
    // Every entry of those managers (an autoscaler writes through the scale subresource; the
    // status subresource is never applied, so its entries are left out).
    const Json* entries = AtPointer(*have, "/metadata/managedFields");
    if (entries != nullptr && entries->is_array()) {
      for (const Json& entry : *entries) {
        if (!entry.is_object()) continue;
        auto manager = entry.find("manager");
        auto subresource = entry.find("subresource");
        auto fields = entry.find("fieldsV1");
        if (manager == entry.end() || !manager->is_string() ||
            managers.count(manager->get<std::string>()) == 0 || fields == entry.end()) {
          continue;
        }
        if (subresource != entry.end() && subresource->is_string() &&
            subresource->get<std::string>() == "status") {
          continue;
        }
        changed |= OmitOwnedFields(*fields, *wanted, {"apiVersion", "kind"});
      }
    }
  }
  if (!changed) return desired;
  types::v1::KubeObject applied = desired;
  applied.set_json(CanonicalJson(*wanted));
  return applied;
}

}  // namespace

v1::Operation OperationFor(const std::string& app, const SyncOrder& order,
                           v1::OperationPhase phase) {
  v1::Operation operation;
  operation.set_app_name(app);
  operation.set_phase(phase);
  operation.set_revision(order.revision);
  operation.set_initiated_by(order.initiated_by);
  operation.set_dry_run(order.dry_run);
  operation.set_prune(order.prune);
  operation.set_force(order.force);
  return operation;
}

std::string ConditionTypeFor(const absl::Status& status, const std::string& failed_type) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return "StageUnavailable";
    default:
      return failed_type;
  }
}

Reconciler::Reconciler(std::shared_ptr<ApplicationStore> store, Stages stages, EventBus* events,
                       ReconcilerOptions options)
    : store_(std::move(store)), stages_(std::move(stages)), events_(events), options_(options) {}

void Reconciler::Emit(const std::string& app, const std::string& type, const std::string& reason,
                      const std::string& message, int64_t operation_id) {
  if (events_ == nullptr) return;
  v1::Event event;
  event.set_app_name(app);
  event.set_type(type);
  event.set_reason(reason);
  event.set_message(message);
  event.set_operation_id(operation_id);
  events_->Publish(std::move(event));
}

void Reconciler::Forget(const std::string& app) {
  absl::MutexLock lock(&mu_);
  caches_.erase(app);
}

bool Reconciler::IsOwnWrite(const std::string& app, const std::string& resource_version) const {
  absl::MutexLock lock(&mu_);
  auto it = caches_.find(app);
  return it != caches_.end() && it->second->own_resource_versions.count(resource_version) > 0;
}

absl::StatusOr<differ::v1::DiffResponse> Reconciler::LastDiff(const std::string& app) const {
  absl::MutexLock lock(&mu_);
  auto it = caches_.find(app);
  if (it == caches_.end() || !it->second->compared_valid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "application \"", app, "\" has not been compared yet (todoke app refresh ", app, ")"));
  }
  return it->second->diff;
}

absl::StatusOr<source_fetcher::v1::ResolveResponse> Reconciler::ResolveShared(
    const std::string& repo, const std::string& ref, std::optional<uint64_t> fresh_after) {
  auto key = std::make_pair(repo, ref);
  // A failure names what was resolved (the stage's own message may not: a deadline that passed
  // in the channel says only "Deadline Exceeded").
  auto name_it = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(status.message(), " (resolving ",
                                                    MaskCredentials(repo), " at ", ref, ")"));
  };
  absl::MutexLock lock(&resolve_mu_);
  // Another app is resolving the same repository and ref: wait for its answer (bounded).
  auto in_flight = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(resolve_mu_) {
    auto it = resolves_.find(key);
    return it != resolves_.end() && it->second.in_flight;
  };
  const absl::Time arrived = absl::Now();
  const bool waited = in_flight();
  // Bounded from when the request in flight was sent: once it has waited resolve_wait, every app
  // after it gives up at once, instead of each holding a worker for resolve_wait again. (At most
  // until that request's own deadline has passed, with a moment for its answer to arrive.)
  absl::Time wait_until =
      waited ? resolves_[key].started +
                   std::min(options_.resolve_wait, options_.resolve_timeout + absl::Seconds(1))
             : arrived;
  while (in_flight() && absl::Now() < wait_until) {
    resolve_cv_.WaitWithDeadline(&resolve_mu_, wait_until);
  }
  auto it = resolves_.find(key);
  if (it != resolves_.end() && it->second.in_flight) {
    // Still no answer: the Git server is slow or hangs. Give the worker back rather than ask
    // the same server a second time.
    return absl::UnavailableError(absl::StrCat(
        "source-fetcher: no answer yet from the Git server of ", MaskCredentials(repo), " at ", ref,
        " (another application's request has been waiting for ",
        absl::FormatDuration(absl::Trunc(absl::Now() - it->second.started, absl::Seconds(1))),
        ")"));
  }
  // The request this app waited for failed: that is the answer (asking again would wait as long).
  if (waited && it != resolves_.end() && !it->second.result.ok() && it->second.at >= arrived) {
    return it->second.result.status();
  }
  // A shared answer: within resolve_ttl, or (for a trigger that must ask the remote) from a
  // request sent after the trigger, which asked the remote on its behalf.
  if (it != resolves_.end() && it->second.result.ok() &&
      (fresh_after.has_value() ? it->second.number > *fresh_after
                               : absl::Now() - it->second.at < options_.resolve_ttl)) {
    return it->second.result;
  }
  ResolveEntry& sending = resolves_[key];
  sending.in_flight = true;
  sending.started = absl::Now();
  sending.number = resolves_sent_.fetch_add(1, std::memory_order_acq_rel) + 1;
  resolve_mu_.Unlock();
  source_fetcher::v1::ResolveRequest request;
  request.set_repo_url(repo);
  request.set_ref(ref);
  request.set_bypass_ref_cache(fresh_after.has_value());
  absl::StatusOr<source_fetcher::v1::ResolveResponse> result =
      stages_.source->Resolve(request, absl::Now() + options_.resolve_timeout);
  if (!result.ok()) result = name_it(result.status());
  resolve_mu_.Lock();
  ResolveEntry& entry = resolves_[key];
  entry.in_flight = false;
  entry.at = absl::Now();
  entry.result = result;
  resolve_cv_.SignalAll();
  return result;
}

ReconcileOutcome Reconciler::Reconcile(const ReconcileRequest& request,
                                       const std::atomic<bool>* cancel) {
  ReconcileOutcome outcome;
  absl::StatusOr<v1::Application> stored = store_->Get(request.app);
  if (!stored.ok()) {
    outcome.status = stored.status();
    outcome.gone = absl::IsNotFound(stored.status());
    return outcome;
  }
  outcome = Pass(request, *stored, cancel);
  outcome.app = *std::move(stored);
  return outcome;
}

ReconcileOutcome Reconciler::Pass(const ReconcileRequest& request, const v1::Application& app,
                                  const std::atomic<bool>* cancel) {
  ReconcileOutcome outcome;
  const v1::ApplicationSpec& spec =
      request.sync && request.sync->spec ? *request.sync->spec : app.spec();
  if (app.spec().suspend() && !request.sync) return outcome;

  std::shared_ptr<AppCache> cache;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<AppCache>& slot = caches_[request.app];
    if (!slot) slot = std::make_shared<AppCache>();
    cache = slot;
  }
  v1::ApplicationStatus status = app.status();
  std::vector<v1::Condition> conditions;
  auto finish = [&](ReconcileOutcome result) {
    status.set_observed_generation(app.generation());
    *status.mutable_reconciled_at() = ToTimestamp(absl::Now());
    SetConditions(status, std::move(conditions));
    // reconciled_at changes every pass; write only when something else changed too, so a no-op
    // pass writes nothing.
    v1::ApplicationStatus before = app.status();
    before.clear_reconciled_at();
    v1::ApplicationStatus after = status;
    after.clear_reconciled_at();
    if (DeterministicHash(before) != DeterministicHash(after) ||
        !app.status().has_reconciled_at()) {
      absl::StatusOr<bool> written = store_->UpdateStatus(request.app, status);
      if (!written.ok() && result.status.ok()) result.status = written.status();
    }
    return result;
  };
  // A stage failure: the condition names the stage and the error; everything else keeps its
  // last good value (no prune, no apply from a partial picture).
  auto fail = [&](const std::string& failed_type, const absl::Status& error) {
    std::string type = ConditionTypeFor(error, failed_type);
    // The stage clients name their stage already ("renderer: ..."); name it once.
    absl::string_view text = error.message();
    const std::string prefix = absl::StrCat(StageOf(failed_type), ": ");
    while (absl::StartsWith(text, prefix)) text.remove_prefix(prefix.size());
    std::string message =
        type == "StageUnavailable" ? absl::StrCat(prefix, text) : std::string(error.message());
    conditions.push_back(MakeCondition(type, message));
    if (status.sync() == types::v1::SYNC_STATUS_UNSPECIFIED) {
      status.set_sync(types::v1::SYNC_STATUS_UNKNOWN);
    }
    Emit(request.app, "Warning", type, message);
    ReconcileOutcome result;
    result.status = absl::Status(error.code(), message);
    return finish(result);
  };

  // 1. Resolve.
  std::string ref = request.sync && !request.sync->revision.empty()
                        ? request.sync->revision
                        : spec.source().target_revision();
  if (ref.empty()) ref = "HEAD";
  absl::StatusOr<source_fetcher::v1::ResolveResponse> resolved =
      ResolveShared(spec.source().repo_url(), ref, request.fresh_after_resolve);
  if (!resolved.ok()) return fail("ResolveFailed", resolved.status());
  const std::string& commit = resolved->revision().commit();

  // 2. Render, unless the commit and the source spec are what the cached desired set came from.
  std::string source_hash = DeterministicHash(spec.source());
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = engine_epoch_;
  }
  if (cache->commit != commit || cache->source_hash != source_hash ||
      cache->engine_epoch != epoch || absl::Now() - cache->rendered_at > options_.max_render_age) {
    renderer::v1::RenderRequest render;
    render.set_repo_url(spec.source().repo_url());
    render.set_commit(commit);
    render.set_path(spec.source().path());
    *render.mutable_options() = spec.source().render();
    absl::StatusOr<renderer::v1::RenderResponse> rendered =
        stages_.render->Render(render, absl::Now() + options_.render_timeout);
    if (!rendered.ok()) return fail("RenderFailed", rendered.status());
    {
      absl::MutexLock lock(&mu_);
      if (!rendered->engine_version().empty() && rendered->engine_version() != renderer_engine_) {
        if (!renderer_engine_.empty()) ++engine_epoch_;  // an upgraded renderer: render all again
        renderer_engine_ = rendered->engine_version();
      }
      epoch = engine_epoch_;
    }
    cache->commit = commit;
    cache->source_hash = source_hash;
    cache->renderer_engine = rendered->engine_version();
    cache->rendered_at = absl::Now();
    cache->engine_epoch = epoch;
    cache->revision_message = resolved->revision().message();
    cache->render_digest = rendered->digest();
    cache->desired.assign(rendered->objects().begin(), rendered->objects().end());
    cache->compared.clear();
    for (const types::v1::KubeObject& object : cache->desired) {
      if (!IsHook(object)) cache->compared.push_back(object);
    }
    cache->compared_valid = false;
  }

  // 3. Live state: the desired keys plus the inventory (keys last applied).
  applier::v1::ReadLiveRequest read;
  *read.mutable_destination() = spec.destination();
  read.set_app_name(request.app);
  std::set<std::string> seen;
  for (const types::v1::KubeObject& object : cache->compared) {
    if (seen.insert(KeyIdentity(object.key())).second) *read.add_keys() = object.key();
  }
  for (const types::v1::ObjectKey& key : status.inventory()) {
    if (seen.insert(KeyIdentity(key)).second) *read.add_keys() = key;
  }
  // 4. Compare, unless neither side moved since the last comparison.
  std::string ignore_hash;
  for (const types::v1::IgnoreRule& rule : spec.ignore_differences()) {
    absl::StrAppend(&ignore_hash, DeterministicHash(rule));
  }
  std::string differ_engine;
  {
    absl::MutexLock lock(&mu_);
    differ_engine = differ_engine_;
  }
  // When the last comparison still holds but for the live state, the applier is given its live
  // digest: an unchanged live state then comes back as the digest alone (objects_omitted), and
  // neither side converts or sends the objects. A pass that needs the objects after all (a sync)
  // reads them in full below.
  const bool comparison_holds = cache->compared_valid &&
                                cache->compared_ignore_hash == ignore_hash &&
                                cache->differ_engine == differ_engine && !request.sync;
  if (comparison_holds) read.set_if_digest_differs(cache->compared_live_digest);
  absl::StatusOr<applier::v1::ReadLiveResponse> live =
      stages_.apply->ReadLive(read, absl::Now() + options_.read_live_timeout);
  if (!live.ok()) return fail("ReadLiveFailed", live.status());
  // The full answer, read again when the conditional one left the objects out.
  auto read_in_full = [&]() -> absl::Status {
    if (!live->objects_omitted()) return absl::OkStatus();
    read.clear_if_digest_differs();
    live = stages_.apply->ReadLive(read, absl::Now() + options_.read_live_timeout);
    return live.status();
  };
  if (live->objects_omitted() && live->live_digest() != cache->compared_live_digest) {
    // Not what was asked for: never compare an empty live set.
    if (absl::Status full = read_in_full(); !full.ok()) return fail("ReadLiveFailed", full);
  }

  bool unchanged = comparison_holds && cache->compared_live_digest == live->live_digest();
  if (!unchanged) {
    differ::v1::DiffRequest diff;
    for (const types::v1::KubeObject& object : cache->compared) *diff.add_desired() = object;
    *diff.mutable_live() = live->objects();
    *diff.mutable_ignore_differences() = spec.ignore_differences();
    if (spec.destination().has_kubernetes()) {
      diff.set_default_namespace(spec.destination().kubernetes().namespace_());
    }
    absl::StatusOr<differ::v1::DiffResponse> compared =
        stages_.diff->Diff(diff, absl::Now() + options_.diff_timeout);
    if (!compared.ok()) return fail("DiffFailed", compared.status());
    if (!compared->engine_version().empty()) {
      // A new differ engine makes every app's comparison stale (their skip key no longer
      // matches): each compares again at its next pass.
      absl::MutexLock lock(&mu_);
      differ_engine_ = compared->engine_version();
      differ_engine = differ_engine_;
    }
    differ::v1::AssessHealthRequest health_request;
    std::set<std::string> desired_keys;
    for (const types::v1::KubeObject& object : cache->compared) {
      desired_keys.insert(KeyIdentity(object.key()));
    }
    for (const types::v1::KubeObject& object : live->objects()) {
      if (desired_keys.count(KeyIdentity(object.key())) > 0) *health_request.add_live() = object;
    }
    for (const differ::v1::ObjectDiff& row : compared->objects()) {
      if (row.status() == types::v1::SYNC_STATUS_MISSING) *health_request.add_missing() = row.key();
    }
    absl::StatusOr<differ::v1::AssessHealthResponse> health;
    if (spec.destination().has_kubernetes()) {
      health = stages_.diff->AssessHealth(health_request, absl::Now() + options_.diff_timeout);
      if (!health.ok()) return fail("DiffFailed", health.status());
    } else {
      // A Git branch holds files, not running objects: what is committed is healthy.
      health = differ::v1::AssessHealthResponse();
      for (const differ::v1::ObjectDiff& row : compared->objects()) {
        differ::v1::ObjectHealth* h = health->add_objects();
        *h->mutable_key() = row.key();
        h->set_status(row.status() == types::v1::SYNC_STATUS_MISSING
                          ? types::v1::HEALTH_STATUS_MISSING
                          : types::v1::HEALTH_STATUS_HEALTHY);
      }
      health->set_aggregate(compared->summary().missing() > 0 ? types::v1::HEALTH_STATUS_MISSING
                                                              : types::v1::HEALTH_STATUS_HEALTHY);
    }
    cache->pending_deletion.clear();
    std::set<std::string> extraneous;
    for (const differ::v1::ObjectDiff& row : compared->objects()) {
      if (row.status() == types::v1::SYNC_STATUS_EXTRANEOUS) {
        extraneous.insert(KeyIdentity(row.key()));
      }
    }
    for (const types::v1::KubeObject& object : live->objects()) {
      if (extraneous.empty()) break;
      const std::string id = KeyIdentity(object.key());
      if (extraneous.count(id) > 0 && BeingDeleted(object.json())) {
        cache->pending_deletion.insert(id);
      }
    }
    cache->diff = *std::move(compared);
    cache->health = *std::move(health);
    cache->compared_valid = true;
    cache->compared_live_digest = live->live_digest();
    cache->compared_ignore_hash = ignore_hash;
    cache->differ_engine = differ_engine;
  }

  // Status from the comparison.
  types::v1::SyncStatus previous_sync = status.sync();
  types::v1::HealthStatus previous_health = status.health();
  status.set_sync(cache->diff.summary().status());
  status.set_health(cache->health.aggregate());
  status.set_health_message(cache->health.message());
  status.set_revision(commit);
  status.set_revision_message(cache->revision_message);
  status.set_render_digest(cache->render_digest);
  status.clear_resources();
  std::map<std::string, const differ::v1::ObjectHealth*> health_by_key;
  for (const differ::v1::ObjectHealth& h : cache->health.objects()) {
    health_by_key[KeyIdentity(h.key())] = &h;
  }
  for (const differ::v1::ObjectDiff& row : cache->diff.objects()) {
    v1::ResourceStatus* resource = status.add_resources();
    *resource->mutable_key() = row.key();
    resource->set_sync(row.status());
    auto h = health_by_key.find(KeyIdentity(row.key()));
    if (h != health_by_key.end()) {
      resource->set_health(h->second->status());
      resource->set_message(h->second->message());
    }
    if (!row.error().empty()) resource->set_message(row.error());
    if (row.status() == types::v1::SYNC_STATUS_EXTRANEOUS) {
      if (cache->pending_deletion.count(KeyIdentity(row.key())) > 0) {
        resource->set_message("pending deletion");
      } else if (spec.sync_policy().automated() && !spec.sync_policy().prune()) {
        resource->set_message("not in Git; automated prune is off");
      }
    }
  }
  // A sync a restart interrupted, or one cut short because the applier could not answer (killed
  // or restarting after it had pushed or applied), may have landed. When the live state now
  // equals the desired state of that operation's revision, the revision is synced: the app says
  // so, and tracks what it applied. (No sync follows: the app is Synced, so an automated app
  // would otherwise keep the old syncedRevision until its next commit.)
  const v1::OperationPhase last_phase = status.operation().phase();
  if ((last_phase == v1::OPERATION_PHASE_INTERRUPTED || last_phase == v1::OPERATION_PHASE_FAILED) &&
      status.operation().revision() == commit && status.synced_revision() != commit &&
      status.sync() == types::v1::SYNC_STATUS_SYNCED) {
    status.set_synced_revision(commit);
    std::set<std::string> tracked;
    google::protobuf::RepeatedPtrField<types::v1::ObjectKey> inventory;
    for (const types::v1::KubeObject& object : cache->compared) {
      if (tracked.insert(KeyIdentity(object.key())).second) *inventory.Add() = object.key();
    }
    *status.mutable_inventory() = std::move(inventory);
    Emit(request.app, "Normal", "InterruptedSyncLanded",
         absl::StrCat(
             "operation ", status.operation().id(),
             last_phase == v1::OPERATION_PHASE_INTERRUPTED ? " was interrupted" : " did not finish",
             ", but the live state matches revision ", commit.substr(0, 12), ": synced"),
         status.operation().id());
  }
  if (previous_sync != status.sync() || previous_health != status.health()) {
    v1::Event event;
    event.set_app_name(request.app);
    event.set_type("Normal");
    event.set_reason("StatusChanged");
    event.set_sync(status.sync());
    event.set_health(status.health());
    event.set_message(absl::StrCat("sync ", SyncStatusName(status.sync()), ", health ",
                                   HealthStatusName(status.health())));
    if (events_ != nullptr) events_->Publish(std::move(event));
  }

  // 5. Apply when asked, or when automated and out of sync (once per commit unless self-heal).
  std::optional<SyncOrder> order = request.sync;
  const v1::SyncPolicy& policy = spec.sync_policy();
  if (!order && policy.automated() && status.sync() == types::v1::SYNC_STATUS_OUT_OF_SYNC) {
    // Once per desired state: the commit, the source spec (Argo CD's commit + parameters) and the
    // spec's generation (automation turned on again syncs again).
    bool new_commit =
        cache->auto_synced_commit != absl::StrCat(commit, "/", source_hash, "/", app.generation());
    // Self-heal syncs only for what a sync changes: not for Extraneous objects that automated
    // prune leaves or that are being deleted already (as Argo CD skips a sync that would only
    // prune with prune off). Else each sync's own refresh would start the next, at once.
    // (pending_deletion holds Extraneous rows only.)
    const differ::v1::DiffSummary& summary = cache->diff.summary();
    const bool sync_changes_something =
        summary.out_of_sync() + summary.missing() + summary.unknown() > 0 ||
        (policy.prune() && summary.extraneous() > cache->pending_deletion.size());
    if (new_commit || (policy.self_heal() && sync_changes_something) ||
        request.trigger == "retry") {
      SyncOrder automated;
      automated.prune = policy.prune();
      // Git is the source of truth for the fields it sets: an automated sync takes them back
      // from whoever changed them by hand (`kubectl edit/patch/scale` make their field manager
      // the owner, and a server-side apply without force then fails with a conflict), as Argo CD
      // and Flux apply. Fields left to someone else are named by ignoreDifferences.
      automated.force = true;
      automated.initiated_by = new_commit ? "automated" : "self-heal";
      if (request.trigger == "webhook" && new_commit) automated.initiated_by = "webhook";
      order = automated;
    }
  }
  if (!order) return finish(outcome);
  if (request.defer_apply) {
    // The sync pass decides again and keeps or clears what the last sync reported.
    for (const v1::Condition& condition : app.status().conditions()) {
      if (condition.type() == "ApplyFailed" || condition.type() == "DriftLoop") {
        conditions.push_back(condition);
      }
    }
    outcome.apply_deferred = true;
    return finish(outcome);
  }
  if (absl::Status full = read_in_full(); !full.ok()) return fail("ReadLiveFailed", full);
  ReconcileOutcome synced = RunSync(app, spec, *order, *cache, live->objects(), status, cancel);
  // A sync cut short because the applier could not be reached (killed, restarting, its cluster
  // down) is no verdict on this commit: it is not counted as the commit's automated sync, and the
  // app backs off like any pass whose stage is down, then syncs again by itself. (A failed sync
  // of the same commit is otherwise not tried again without a retry policy.)
  const bool applier_down = !synced.status.ok() && !(cancel != nullptr && cancel->load()) &&
                            ConditionTypeFor(synced.status, "ApplyFailed") == "StageUnavailable";
  if (applier_down) synced.sync_failed = false;
  if (!request.sync && !applier_down) {
    cache->auto_synced_commit = absl::StrCat(commit, "/", source_hash, "/", app.generation());
  }
  if (!synced.status.ok()) {
    conditions.push_back(MakeCondition(ConditionTypeFor(synced.status, "ApplyFailed"),
                                       std::string(synced.status.message())));
  }
  // Self-heal that keeps firing means another controller changes the same fields.
  if (order->initiated_by == "self-heal") {
    absl::Time now = absl::Now();
    cache->self_heal_syncs.push_back(now);
    std::erase_if(cache->self_heal_syncs,
                  [&](absl::Time t) { return now - t > options_.drift_loop_window; });
    if (static_cast<int>(cache->self_heal_syncs.size()) >= options_.drift_loop_syncs) {
      conditions.push_back(MakeCondition(
          "DriftLoop", absl::StrCat(cache->self_heal_syncs.size(), " self-heal syncs in ",
                                    absl::FormatDuration(options_.drift_loop_window),
                                    ": another controller keeps changing these objects; add an "
                                    "ignoreDifferences rule for the fields it owns")));
      synced.status = absl::ResourceExhaustedError("self-heal backing off (DriftLoop)");
    }
  }
  synced.applied = true;
  return finish(synced);
}

ReconcileOutcome Reconciler::RunSync(
    const v1::Application& app, const v1::ApplicationSpec& spec, const SyncOrder& order,
    AppCache& cache, const google::protobuf::RepeatedPtrField<types::v1::KubeObject>& live,
    v1::ApplicationStatus& status, const std::atomic<bool>* cancel) {
  ReconcileOutcome outcome;
  const std::string& name = app.name();
  v1::Operation operation = OperationFor(name, order, v1::OPERATION_PHASE_RUNNING);
  operation.set_revision(cache.commit);
  *operation.mutable_started_at() = ToTimestamp(absl::Now());

  // Prune candidates: the comparison's Extraneous rows, held while anything is Unknown (an object
  // that could not be compared may be one of them) and when the desired set is empty without
  // allowEmpty.
  std::vector<types::v1::ObjectKey> prune;
  std::string prune_note;
  if (order.prune) {
    if (cache.diff.summary().unknown() > 0) {
      prune_note = absl::StrCat("prune held: ", cache.diff.summary().unknown(),
                                " object(s) could not be compared");
    } else if (cache.compared.empty() && !spec.sync_policy().allow_empty()) {
      prune_note = "prune held: the render is empty (set syncPolicy.automated.allowEmpty to allow)";
    } else {
      for (const differ::v1::ObjectDiff& row : cache.diff.objects()) {
        if (row.status() == types::v1::SYNC_STATUS_EXTRANEOUS) prune.push_back(row.key());
      }
    }
  }

  // The intent row comes before Apply: a crash from here on leaves a RUNNING operation that the
  // next start reports as interrupted.
  absl::StatusOr<v1::Operation> started = store_->StartOperation(name, operation);
  if (!started.ok()) {
    outcome.status = started.status();
    return outcome;
  }
  operation = *std::move(started);
  const int64_t operation_id = operation.id();
  *status.mutable_operation() = operation;
  // The running operation shows in the stored status too: `todoke app get` sees it while it
  // runs, and after a crash MarkInterrupted turns it into INTERRUPTED there. Best effort: the
  // operation row is the record, and the status is written again when the sync ends.
  (void)store_->UpdateStatus(name, status);
  Emit(name, "Normal", "SyncStarted",
       absl::StrCat("sync of ", cache.commit.substr(0, 12), " started (", order.initiated_by,
                    order.dry_run ? ", dry run" : "", ")"),
       operation_id);
  if (!prune_note.empty()) Emit(name, "Warning", "PruneHeld", prune_note, operation_id);

  applier::v1::ApplyRequest apply;
  *apply.mutable_destination() = spec.destination();
  apply.set_app_name(name);
  // Fields ignoreDifferences leaves to someone else keep their live values.
  std::map<std::string, const types::v1::KubeObject*> live_by_key;
  if (spec.ignore_differences_size() > 0) {
    for (const types::v1::KubeObject& object : live)
      live_by_key[KeyIdentity(object.key())] = &object;
  }
  const std::string& default_namespace = spec.destination().kubernetes().namespace_();
  for (const types::v1::KubeObject& object : cache.desired) {
    if (live_by_key.empty()) {
      *apply.add_objects() = object;
      continue;
    }
    types::v1::ObjectKey key = object.key();
    auto found = live_by_key.find(KeyIdentity(key));
    if (found == live_by_key.end() && key.namespace_().empty()) {
      key.set_namespace_(default_namespace);
      found = live_by_key.find(KeyIdentity(key));
    }
    if (found == live_by_key.end()) {
      *apply.add_objects() = object;
      continue;
    }
    *apply.add_objects() = WithIgnoredLiveValues(object, found->second, spec.ignore_differences(),
                                                 found->second->key().namespace_());
  }
  for (const types::v1::ObjectKey& key : prune) *apply.add_prune() = key;
  applier::v1::ApplyOptions* options = apply.mutable_options();
  options->set_dry_run(order.dry_run);
  options->set_force(order.force);
  options->set_prune(!prune.empty());
  options->set_allow_empty(spec.sync_policy().allow_empty());
  apply.mutable_source()->set_repo_url(spec.source().repo_url());
  apply.mutable_source()->set_commit(cache.commit);
  apply.mutable_source()->set_path(spec.source().path());
  apply.mutable_source()->set_message(cache.revision_message);
  apply.set_operation_id(absl::StrCat(name, "-", operation_id));

  std::vector<v1::ResourceStatus> results;
  std::set<std::string> own_versions;
  absl::StatusOr<applier::v1::ApplySummary> summary = stages_.apply->Apply(
      apply,
      [&](const applier::v1::ObjectResult& result) {
        v1::ResourceStatus resource;
        *resource.mutable_key() = result.key();
        resource.set_action(ActionName(result.action()));
        resource.set_message(result.message());
        results.push_back(resource);
        if (!result.resource_version().empty()) own_versions.insert(result.resource_version());
        v1::Event event;
        event.set_app_name(name);
        event.set_type(result.action() == applier::v1::APPLY_ACTION_FAILED ? "Warning" : "Normal");
        event.set_reason("ObjectApplied");
        *event.mutable_key() = result.key();
        event.set_operation_id(operation_id);
        event.set_message(absl::StrCat(ActionName(result.action()),
                                       result.message().empty() ? "" : ": ", result.message()));
        if (events_ != nullptr) events_->Publish(std::move(event));
      },
      absl::Now() + options_.apply_timeout, cancel);

  operation.set_phase(v1::OPERATION_PHASE_SUCCEEDED);
  if (!summary.ok()) {
    operation.set_phase(cancel != nullptr && cancel->load() ? v1::OPERATION_PHASE_TERMINATED
                                                            : v1::OPERATION_PHASE_FAILED);
    std::string type = ConditionTypeFor(summary.status(), "ApplyFailed");
    // The stage client names its stage already ("applier: ..."): name it once.
    absl::string_view text = summary.status().message();
    const std::string prefix = absl::StrCat(kApplierStage, ": ");
    while (absl::StartsWith(text, prefix)) text.remove_prefix(prefix.size());
    operation.set_message(type == "StageUnavailable" ? absl::StrCat(prefix, text)
                                                     : std::string(summary.status().message()));
    outcome.status = absl::Status(summary.status().code(), operation.message());
  } else {
    operation.set_hydrated_commit(summary->commit());
    std::string counts = absl::StrCat(summary->created(), " created, ", summary->configured(),
                                      " configured, ", summary->unchanged(), " unchanged, ",
                                      summary->pruned(), " pruned, ", summary->failed(), " failed");
    if (summary->skipped() > 0) absl::StrAppend(&counts, ", ", summary->skipped(), " skipped");
    operation.set_message(
        summary->message().empty() ? counts : absl::StrCat(summary->message(), " (", counts, ")"));
    if (!prune_note.empty())
      operation.set_message(absl::StrCat(operation.message(), "; ", prune_note));
    if (!summary->succeeded()) {
      operation.set_phase(v1::OPERATION_PHASE_FAILED);
      outcome.status = absl::AbortedError(operation.message());
    }
  }
  if (!outcome.status.ok()) outcome.sync_failed = true;
  if (!order.dry_run && summary.ok()) {
    // The inventory: what is desired now, plus whatever could not be pruned.
    std::set<std::string> pruned;
    for (const v1::ResourceStatus& r : results) {
      if (r.action() == "pruned") pruned.insert(KeyIdentity(r.key()));
    }
    std::set<std::string> seen;
    google::protobuf::RepeatedPtrField<types::v1::ObjectKey> inventory;
    for (const types::v1::KubeObject& object : cache.compared) {
      if (seen.insert(KeyIdentity(object.key())).second) *inventory.Add() = object.key();
    }
    for (const types::v1::ObjectKey& key : status.inventory()) {
      std::string id = KeyIdentity(key);
      bool still_live = false;
      for (const differ::v1::ObjectDiff& row : cache.diff.objects()) {
        if (KeyIdentity(row.key()) == id && row.status() == types::v1::SYNC_STATUS_EXTRANEOUS) {
          still_live = true;
        }
      }
      if (still_live && pruned.count(id) == 0 && seen.insert(id).second) *inventory.Add() = key;
    }
    *status.mutable_inventory() = std::move(inventory);
    if (summary->succeeded()) status.set_synced_revision(cache.commit);
    cache.own_resource_versions = std::move(own_versions);
    cache.compared_valid = false;  // compare again against what the apply produced
  }

  // The operation's end and its history entry are one write: a finished operation never lacks
  // its entry, even across a crash. Dry runs leave no history.
  OperationResult result;
  result.phase = operation.phase();
  result.message = operation.message();
  result.hydrated_commit = operation.hydrated_commit();
  if (!order.dry_run) {
    v1::HistoryEntry entry;
    entry.set_revision(cache.commit);
    entry.set_revision_message(cache.revision_message);
    entry.set_render_digest(cache.render_digest);
    *entry.mutable_spec() = spec;
    for (v1::ResourceStatus& r : results) *entry.add_resources() = std::move(r);
    result.history = std::move(entry);
  }
  absl::StatusOr<FinishedOperation> finished = store_->FinishOperation(operation.id(), result);
  if (!finished.ok()) {
    if (outcome.status.ok()) outcome.status = finished.status();
  } else {
    operation = finished->operation;
  }
  *status.mutable_operation() = operation;
  Emit(name, operation.phase() == v1::OPERATION_PHASE_SUCCEEDED ? "Normal" : "Warning",
       operation.phase() == v1::OPERATION_PHASE_SUCCEEDED ? "SyncSucceeded" : "SyncFailed",
       operation.message(), operation_id);
  return outcome;
}

absl::Status Reconciler::PruneAll(const v1::Application& app) {
  applier::v1::PruneRequest prune;
  *prune.mutable_destination() = app.spec().destination();
  prune.set_app_name(app.name());
  std::set<std::string> seen;
  for (const types::v1::ObjectKey& key : app.status().inventory()) {
    if (seen.insert(KeyIdentity(key)).second) *prune.add_keys() = key;
  }
  for (const v1::ResourceStatus& resource : app.status().resources()) {
    if (seen.insert(KeyIdentity(resource.key())).second) *prune.add_keys() = resource.key();
  }
  if (prune.keys_size() == 0) return absl::OkStatus();
  absl::StatusOr<applier::v1::PruneResponse> pruned =
      stages_.apply->Prune(prune, absl::Now() + options_.apply_timeout);
  if (!pruned.ok()) return Annotate(pruned.status(), absl::StrCat("app ", app.name(), ": prune"));
  for (const applier::v1::ObjectResult& result : pruned->results()) {
    if (result.action() == applier::v1::APPLY_ACTION_FAILED) {
      return absl::AbortedError(absl::StrCat("app ", app.name(), ": could not prune ",
                                             KeyText(result.key()), ": ", result.message()));
    }
  }
  Emit(app.name(), "Normal", "Pruned", absl::StrCat(pruned->results_size(), " object(s) pruned"));
  return absl::OkStatus();
}

}  // namespace todoke::orchestrator
