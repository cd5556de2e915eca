#include "services/differ/core/differ.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/yaml.h"
#include "services/differ/core/compare.h"
#include "services/differ/core/field_set.h"
#include "services/differ/core/json_pointer.h"
#include "services/differ/core/line_diff.h"
#include "services/differ/core/normalize.h"

namespace todoke::differ {

std::string_view SyncStatusName(SyncStatus status) {
  switch (status) {
    case SyncStatus::kSynced:
      return "Synced";
    case SyncStatus::kOutOfSync:
      return "OutOfSync";
    case SyncStatus::kMissing:
      return "Missing";
    case SyncStatus::kExtraneous:
      return "Extraneous";
    case SyncStatus::kUnknown:
      return "Unknown";
    case SyncStatus::kUnspecified:
      break;
  }
  return "Unspecified";
}

absl::Status ValidateIgnoreRule(const IgnoreRule& rule) {
  if (rule.json_pointers.empty() && rule.managed_fields_managers.empty()) {
    return absl::InvalidArgumentError(
        "ignore rule has neither jsonPointers nor managedFieldsManagers");
  }
  for (const std::string& pointer : rule.json_pointers) {
    auto tokens = ParseJsonPointer(pointer);
    if (!tokens.ok()) return tokens.status();
  }
  for (const std::string& manager : rule.managed_fields_managers) {
    if (manager.empty()) return absl::InvalidArgumentError("empty managedFieldsManagers entry");
  }
  return absl::OkStatus();
}

bool IgnoreRuleMatches(const IgnoreRule& rule, const ObjectKey& key) {
  return (rule.group.empty() || rule.group == key.group) &&
         (rule.kind.empty() || rule.kind == key.kind) &&
         (rule.name.empty() || rule.name == key.name) && (rule.ns.empty() || rule.ns == key.ns);
}

std::string DiffFileName(const ObjectKey& key) {
  std::string name;
  if (!key.group.empty()) absl::StrAppend(&name, key.group, ".");
  absl::StrAppend(&name, key.version, ".", key.kind, ".");
  if (!key.ns.empty()) absl::StrAppend(&name, key.ns, ".");
  absl::StrAppend(&name, key.name);
  return name;
}

namespace {

// What the differ knows about the ignore rules of one call.
struct PreparedRules {
  const DiffOptions* options = nullptr;
  std::vector<absl::Status> validity;
  std::vector<std::vector<std::vector<std::string>>> pointer_tokens;
  // Tries of built-in paths plus the pointers of a set of rules, by the rules' indices.
  absl::flat_hash_map<std::string, std::unique_ptr<PointerTrie>> tries;
};

PreparedRules PrepareRules(const DiffOptions& options) {
  PreparedRules prepared;
  prepared.options = &options;
  for (const IgnoreRule& rule : options.ignore_differences) {
    prepared.validity.push_back(ValidateIgnoreRule(rule));
    std::vector<std::vector<std::string>> tokens;
    if (prepared.validity.back().ok()) {
      for (const std::string& pointer : rule.json_pointers) {
        tokens.push_back(*ParseJsonPointer(pointer));
      }
    }
    prepared.pointer_tokens.push_back(std::move(tokens));
  }
  return prepared;
}

// Everything the comparison of one pair needs from the rules.
struct RulesForObject {
  absl::Status status;  // not OK when a matching rule is invalid
  const PointerTrie* pointers = &NormalizedAwayPaths();
  std::vector<std::string> ignored_managers;
};

RulesForObject RulesFor(PreparedRules& prepared, const ObjectKey& key) {
  RulesForObject result;
  const std::vector<IgnoreRule>& rules = prepared.options->ignore_differences;
  std::string trie_id;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!IgnoreRuleMatches(rules[i], key)) continue;
    if (!prepared.validity[i].ok()) {
      result.status = absl::InvalidArgumentError(
          absl::StrCat("ignoreDifferences[", i, "]: ", prepared.validity[i].message()));
      return result;
    }
    if (!prepared.pointer_tokens[i].empty()) absl::StrAppend(&trie_id, i, ",");
    for (const std::string& manager : rules[i].managed_fields_managers) {
      result.ignored_managers.push_back(manager);
    }
  }
  if (trie_id.empty()) return result;
  std::unique_ptr<PointerTrie>& trie = prepared.tries[trie_id];
  if (trie == nullptr) {
    trie = std::make_unique<PointerTrie>(NormalizedAwayPaths());
    for (size_t i = 0; i < rules.size(); ++i) {
      if (!IgnoreRuleMatches(rules[i], key)) continue;
      for (const auto& tokens : prepared.pointer_tokens[i]) trie->Add(tokens);
    }
  }
  result.pointers = trie.get();
  return result;
}

// The parts of a key an object that cannot be keyed does have (each identity field that is a
// non-empty string), for its Unknown row and for finding the live objects it may stand for.
struct PartialKey {
  ObjectKey key;  // unknown parts empty
  bool group_known = false;
  bool kind_known = false;
  bool ns_known = false;
  bool name_known = false;

  // True if `live` may be the object this partial key belongs to: every known part agrees (a
  // namespace the object does not set may have been defaulted, so it matches any).
  bool MayBe(const ObjectKey& live) const {
    return (!group_known || key.group == live.group) && (!kind_known || key.kind == live.kind) &&
           (!ns_known || key.ns == live.ns) && (!name_known || key.name == live.name);
  }
};

// What can be read of `object`'s key; nothing when it is not a JSON object or could not be parsed.
PartialKey PartialKeyOf(const JsonNode& object, bool parsed) {
  PartialKey partial;
  if (!parsed || !object.is_object()) return partial;
  const ObjectKeyFields fields = KeyFieldsOf(object);
  if (!fields.api_version.empty()) {
    std::tie(partial.key.group, partial.key.version) = SplitApiVersion(fields.api_version);
    partial.group_known = true;
  }
  partial.key.kind = std::string(fields.kind);
  partial.kind_known = !fields.kind.empty();
  partial.key.ns = std::string(fields.ns);
  partial.ns_known = !fields.ns.empty();
  partial.key.name = std::string(fields.name.empty() ? fields.generate_name : fields.name);
  partial.name_known = !partial.key.name.empty();
  return partial;
}

ObjectDiff UnknownDiff(ObjectKey key, std::string error) {
  ObjectDiff diff;
  diff.key = std::move(key);
  diff.status = SyncStatus::kUnknown;
  diff.error = std::move(error);
  return diff;
}

// The object as shown in outputs: stringData folded in, Secret values masked, normalised-away
// paths removed.
Json OutputView(const JsonNode& object) {
  Json view = ToJson(object);
  if (IsSecret(view)) {
    NormalizeSecretStringData(view);
    MaskSecretValues(&view, nullptr);
  }
  RemoveNormalizedAwayPaths(view);
  return view;
}

ObjectDiff MissingDiff(const ObjectKey& key, const JsonNode& desired, const DiffOptions& options) {
  ObjectDiff diff;
  diff.key = key;
  diff.status = SyncStatus::kMissing;
  Json view = OutputView(desired);
  Json patch = Json::array();
  patch.push_back(Json{{"op", "add"}, {"path", ""}, {"value", view}});
  diff.json_patch = CanonicalJson(patch);
  if (options.compute_unified_diff) {
    const std::string name = DiffFileName(key);
    diff.unified_diff = UnifiedDiff("", EmitYaml(view), "live/" + name, "desired/" + name,
                                    options.diff_context_lines);
  }
  return diff;
}

ObjectDiff ExtraneousDiff(const ObjectKey& key, const JsonNode& live, const DiffOptions& options) {
  ObjectDiff diff;
  diff.key = key;
  diff.status = SyncStatus::kExtraneous;
  diff.json_patch = R"([{"op":"remove","path":""}])";
  if (options.compute_unified_diff) {
    const std::string name = DiffFileName(key);
    diff.unified_diff = UnifiedDiff(EmitYaml(OutputView(live)), "", "live/" + name,
                                    "desired/" + name, options.diff_context_lines);
  }
  return diff;
}

ObjectDiff ComparePair(const ObjectKey& key, const JsonNode& desired, const JsonNode& live,
                       const DiffOptions& options, const std::vector<std::string>& applier,
                       PreparedRules& rules) {
  RulesForObject object_rules = RulesFor(rules, key);
  if (!object_rules.status.ok())
    return UnknownDiff(key, std::string(object_rules.status.message()));

  const FieldSet applier_owned = FieldSet::OwnedBy(live, applier);
  const FieldSet ignored_fields = FieldSet::OwnedBy(live, object_rules.ignored_managers);
  CompareInputs inputs;
  inputs.applier_owned = &applier_owned;
  inputs.ignored_fields = &ignored_fields;
  inputs.ignored_pointers = &object_rules.pointers->root();

  // Secrets are compared as masked copies (masks preserve equality), so nothing downstream, the
  // patch included, ever holds a Secret value.
  const JsonNode* compared_desired = &desired;
  const JsonNode* compared_live = &live;
  JsonArena secret_arena;
  if (IsSecret(desired) || IsSecret(live)) {
    Json secret_desired = ToJson(desired);
    Json secret_live = ToJson(live);
    NormalizeSecretStringData(secret_desired);
    NormalizeSecretStringData(secret_live);
    MaskSecretValues(&secret_desired, &secret_live);
    compared_desired = CopyJson(secret_desired, secret_arena);
    compared_live = CopyJson(secret_live, secret_arena);
  }

  CompareResult comparison = CompareObjects(*compared_desired, *compared_live, inputs);
  ObjectDiff diff;
  diff.key = key;
  diff.status = comparison.equal ? SyncStatus::kSynced : SyncStatus::kOutOfSync;
  // An empty patch prints as "[]": skip the serializer, the common (Synced) case.
  diff.json_patch = comparison.patch.empty() ? "[]" : CanonicalJson(comparison.patch);
  if (comparison.equal || !options.compute_unified_diff) return diff;

  // Operations address the live object as given: apply them first, normalise both views after.
  Json before = ToJson(*compared_live);
  Json after;
  try {
    after = before.patch(comparison.patch);
  } catch (const std::exception& e) {
    // The walk only emits applicable operations; should one not apply, show the desired object
    // rather than nothing.
    after = ToJson(*compared_desired);
  }
  RemoveNormalizedAwayPaths(before);
  RemoveNormalizedAwayPaths(after);
  const std::string name = DiffFileName(key);
  diff.unified_diff = UnifiedDiff(EmitYaml(before), EmitYaml(after), "live/" + name,
                                  "desired/" + name, options.diff_context_lines);
  return diff;
}

struct KeyedObject {
  const JsonNode* object = nullptr;
  absl::StatusOr<ObjectKey> key;
  bool parsed = true;  // false: the text was not JSON (`object` is a placeholder)
  bool namespace_defaulted = false;
};

std::vector<KeyedObject> KeyAll(const std::vector<const JsonNode*>& objects,
                                const std::vector<std::string>* parse_errors, std::string_view side,
                                const std::string& default_namespace) {
  std::vector<KeyedObject> keyed(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    keyed[i].object = objects[i];
    if (parse_errors != nullptr && !(*parse_errors)[i].empty()) {
      keyed[i].parsed = false;
      keyed[i].key = absl::InvalidArgumentError(
          absl::StrCat(std::string(side), " object #", i, ": ", (*parse_errors)[i]));
      continue;
    }
    absl::StatusOr<ObjectKey> key = KeyOf(*objects[i]);
    if (!key.ok()) {
      keyed[i].key = absl::InvalidArgumentError(
          absl::StrCat(std::string(side), " object #", i, ": ", key.status().message()));
      continue;
    }
    if (key->ns.empty() && !default_namespace.empty() &&
        !IsClusterScopedKind(key->group, key->kind)) {
      key->ns = default_namespace;
      keyed[i].namespace_defaulted = true;
    }
    keyed[i].key = *std::move(key);
  }
  return keyed;
}

std::string JoinIndices(const std::vector<size_t>& indices) {
  return absl::StrJoin(indices, ", ",
                       [](std::string* out, size_t i) { absl::StrAppend(out, "#", i); });
}

DiffResult DiffImpl(const std::vector<const JsonNode*>& desired,
                    const std::vector<const JsonNode*>& live, const DiffOptions& options,
                    const std::vector<std::string>* desired_errors,
                    const std::vector<std::string>* live_errors) {
  DiffResult result;
  result.objects.reserve(desired.size() + 1);
  PreparedRules rules = PrepareRules(options);
  const std::vector<std::string> applier = {options.field_manager.empty() ? std::string("todoke")
                                                                          : options.field_manager};

  std::vector<KeyedObject> desired_keyed =
      KeyAll(desired, desired_errors, "desired", options.default_namespace);
  std::vector<KeyedObject> live_keyed = KeyAll(live, live_errors, "live", "");

  absl::flat_hash_map<ObjectKey, std::vector<size_t>> live_by_key;
  live_by_key.reserve(live.size());
  for (size_t i = 0; i < live_keyed.size(); ++i) {
    if (live_keyed[i].key.ok()) live_by_key[*live_keyed[i].key].push_back(i);
  }
  absl::flat_hash_map<ObjectKey, std::vector<size_t>> desired_by_key;
  desired_by_key.reserve(desired.size());
  for (size_t i = 0; i < desired_keyed.size(); ++i) {
    if (desired_keyed[i].key.ok()) desired_by_key[*desired_keyed[i].key].push_back(i);
  }

  std::vector<bool> live_paired(live.size(), false);
  // Desired objects whose key cannot be read whole, by index: any unpaired live object one of
  // them may be is Unknown, never Extraneous.
  std::vector<std::pair<size_t, PartialKey>> unkeyed_desired;
  for (size_t i = 0; i < desired_keyed.size(); ++i) {
    const KeyedObject& entry = desired_keyed[i];
    if (!entry.key.ok()) {
      PartialKey partial = PartialKeyOf(*entry.object, entry.parsed);
      ObjectKey shown = partial.key;
      if (shown.ns.empty() && !options.default_namespace.empty() && partial.kind_known &&
          !IsClusterScopedKind(shown.group, shown.kind)) {
        shown.ns = options.default_namespace;
      }
      result.objects.push_back(
          UnknownDiff(std::move(shown), std::string(entry.key.status().message())));
      unkeyed_desired.emplace_back(i, std::move(partial));
      continue;
    }
    const ObjectKey& key = *entry.key;
    // Pair with live: same key, or (no namespace in desired) a cluster-scoped live object.
    const std::vector<size_t>* live_matches = nullptr;
    if (auto it = live_by_key.find(key); it != live_by_key.end()) live_matches = &it->second;
    if (live_matches == nullptr && entry.namespace_defaulted) {
      ObjectKey cluster_key = key;
      cluster_key.ns.clear();
      if (auto it = live_by_key.find(cluster_key); it != live_by_key.end()) {
        live_matches = &it->second;
      }
    }
    if (live_matches != nullptr) {
      for (size_t l : *live_matches) live_paired[l] = true;
    }
    const std::vector<size_t>& same_key = desired_by_key[key];
    if (same_key.size() > 1) {
      result.objects.push_back(
          UnknownDiff(key, absl::StrCat("duplicate desired object ", key.ToString(),
                                        " (desired objects ", JoinIndices(same_key), ")")));
      continue;
    }
    if (live_matches == nullptr) {
      result.objects.push_back(MissingDiff(key, *entry.object, options));
      continue;
    }
    if (live_matches->size() > 1) {
      result.objects.push_back(
          UnknownDiff(key, absl::StrCat("duplicate live object ", key.ToString(), " (live objects ",
                                        JoinIndices(*live_matches), ")")));
      continue;
    }
    result.objects.push_back(
        ComparePair(key, *entry.object, *live[live_matches->front()], options, applier, rules));
  }
  for (size_t l = 0; l < live_keyed.size(); ++l) {
    if (live_paired[l]) continue;
    const KeyedObject& entry = live_keyed[l];
    if (!entry.key.ok()) {
      result.objects.push_back(UnknownDiff(PartialKeyOf(*entry.object, entry.parsed).key,
                                           std::string(entry.key.status().message())));
      continue;
    }
    std::vector<size_t> may_be;
    for (const auto& [index, partial] : unkeyed_desired) {
      if (partial.MayBe(*entry.key)) may_be.push_back(index);
    }
    if (!may_be.empty()) {
      result.objects.push_back(UnknownDiff(
          *entry.key,
          absl::StrCat("not judged: desired object", may_be.size() > 1 ? "s " : " ",
                       JoinIndices(may_be),
                       " cannot be compared and may be this object, so it is no prune candidate")));
      continue;
    }
    result.objects.push_back(ExtraneousDiff(*entry.key, *entry.object, options));
  }

  DiffSummary& summary = result.summary;
  for (const ObjectDiff& object : result.objects) {
    switch (object.status) {
      case SyncStatus::kSynced:
        ++summary.synced;
        break;
      case SyncStatus::kOutOfSync:
        ++summary.out_of_sync;
        break;
      case SyncStatus::kMissing:
        ++summary.missing;
        break;
      case SyncStatus::kExtraneous:
        ++summary.extraneous;
        break;
      default:
        ++summary.unknown;
        break;
    }
  }
  if (summary.out_of_sync + summary.missing + summary.extraneous > 0) {
    summary.status = SyncStatus::kOutOfSync;
  } else if (summary.unknown > 0) {
    summary.status = SyncStatus::kUnknown;
  } else {
    summary.status = SyncStatus::kSynced;
  }
  return result;
}

// An arena for one call's trees, kept by the thread so that, once warm, calls allocate nothing
// for their trees (a fresh arena costs a page fault per 4 KiB it touches).
JsonArena& CallArena() {
  thread_local JsonArena arena;
  arena.Reset();
  return arena;
}

}  // namespace

DiffResult Diff(const std::vector<Json>& desired, const std::vector<Json>& live,
                const DiffOptions& options) {
  JsonArena& arena = CallArena();
  auto copy_all = [&arena](const std::vector<Json>& objects) {
    std::vector<const JsonNode*> nodes;
    nodes.reserve(objects.size());
    for (const Json& object : objects) nodes.push_back(CopyJson(object, arena));
    return nodes;
  };
  return DiffImpl(copy_all(desired), copy_all(live), options, nullptr, nullptr);
}

DiffResult DiffNodes(const std::vector<const JsonNode*>& desired,
                     const std::vector<const JsonNode*>& live, const DiffOptions& options) {
  return DiffImpl(desired, live, options, nullptr, nullptr);
}

DiffResult DiffJsonText(const std::vector<std::string_view>& desired,
                        const std::vector<std::string_view>& live, const DiffOptions& options) {
  // Every object of the call shares the thread's arena and parser; trees view the texts, which
  // outlive the call's work.
  static constexpr JsonNode kUnparsable;
  JsonArena& arena = CallArena();
  thread_local JsonNodeParser parser;
  auto parse_all = [&](const std::vector<std::string_view>& texts,
                       std::vector<const JsonNode*>& objects, std::vector<std::string>& errors) {
    objects.resize(texts.size());
    errors.resize(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      absl::StatusOr<const JsonNode*> parsed = parser.ParseBorrowing(texts[i], arena);
      if (parsed.ok()) {
        objects[i] = *parsed;
      } else {
        objects[i] = &kUnparsable;
        errors[i] = std::string(parsed.status().message());
      }
    }
  };
  std::vector<const JsonNode*> desired_objects, live_objects;
  std::vector<std::string> desired_errors, live_errors;
  parse_all(desired, desired_objects, desired_errors);
  parse_all(live, live_objects, live_errors);
  return DiffImpl(desired_objects, live_objects, options, &desired_errors, &live_errors);
}

}  // namespace todoke::differ
