#include "services/orchestrator/core/spec/application_spec.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/yaml.h"
#include "services/orchestrator/core/spec/labels.h"

namespace todoke::orchestrator {
namespace {

using Json = nlohmann::json;
using ::todoke::renderer::v1::RenderMode;

// protobuf's Duration range: +-10,000 years.
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;

std::string JoinPath(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

// Reads one YAML mapping strictly: every key must be asked for (or ignored), every value must
// have the asked type. Problems are collected, not returned, so that one pass reports them all.
class MappingReader {
 public:
  // `object` must be a JSON object.
  MappingReader(const Json& object, std::string path, std::vector<std::string>& problems)
      : object_(object), path_(std::move(path)), problems_(problems) {}

  const std::string& path() const { return path_; }
  std::string PathOf(absl::string_view key) const { return JoinPath(path_, key); }

  void Problem(absl::string_view key, absl::string_view message) {
    problems_.push_back(absl::StrCat(PathOf(key), ": ", message));
  }

  // A problem with the mapping itself.
  void ProblemHere(absl::string_view message) {
    problems_.push_back(absl::StrCat(path_, ": ", message));
  }

  // The value of `key`, or nullptr when it is absent or null. Marks the key as known.
  const Json* Get(absl::string_view key) {
    known_.emplace(key);
    const auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  // Accepts `key` without reading it (output-only fields).
  void Ignore(absl::string_view key) { known_.emplace(key); }

  bool Has(absl::string_view key) { return Get(key) != nullptr; }

  // A nested mapping; nullopt when absent (or null), or not a mapping (a problem then).
  std::optional<MappingReader> Mapping(absl::string_view key) {
    const Json* value = Get(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_object()) {
      Problem(key, "must be a mapping");
      return std::nullopt;
    }
    return MappingReader(*value, PathOf(key), problems_);
  }

  void String(absl::string_view key, std::string* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_string()) {
      Problem(key, NotAString(*value));
      return;
    }
    *out = value->get<std::string>();
  }

  void Bool(absl::string_view key, bool* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_boolean()) {
      Problem(key, "must be a boolean (true or false)");
      return;
    }
    *out = value->get<bool>();
  }

  // Returns whether the key held an int32.
  bool Int32(absl::string_view key, int32_t* out) {
    const Json* value = Get(key);
    if (value == nullptr) return false;
    if (!value->is_number_integer()) {
      Problem(key, "must be an integer");
      return false;
    }
    if (value->is_number_unsigned()) {
      const uint64_t n = value->get<uint64_t>();
      if (n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        Problem(key, "out of range");
        return false;
      }
      *out = static_cast<int32_t>(n);
      return true;
    }
    const int64_t n = value->get<int64_t>();
    if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
      Problem(key, "out of range");
      return false;
    }
    *out = static_cast<int32_t>(n);
    return true;
  }

  void Number(absl::string_view key, double* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_number()) {
      Problem(key, "must be a number");
      return;
    }
    *out = value->get<double>();
  }

  void Duration(absl::string_view key, google::protobuf::Duration* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_string()) {
      Problem(key, "must be a duration such as 30s, 1m or 1h30m");
      return;
    }
    absl::StatusOr<google::protobuf::Duration> duration =
        ParseSpecDuration(value->get_ref<const std::string&>());
    if (!duration.ok()) {
      Problem(key, duration.status().message());
      return;
    }
    *out = *duration;
  }

  void StringList(absl::string_view key, google::protobuf::RepeatedPtrField<std::string>* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_array()) {
      Problem(key, "must be a list of strings");
      return;
    }
    for (size_t i = 0; i < value->size(); ++i) {
      const Json& item = (*value)[i];
      if (!item.is_string()) {
        problems_.push_back(absl::StrCat(PathOf(key), "[", i, "]: ", NotAString(item)));
        continue;
      }
      out->Add(item.get<std::string>());
    }
  }

  void StringMap(absl::string_view key, google::protobuf::Map<std::string, std::string>* out) {
    const Json* value = Get(key);
    if (value == nullptr) return;
    if (!value->is_object()) {
      Problem(key, "must be a mapping of strings");
      return;
    }
    for (auto it = value->begin(); it != value->end(); ++it) {
      if (!it->is_string()) {
        problems_.push_back(absl::StrCat(PathOf(key), ".", it.key(), ": ", NotAString(*it)));
        continue;
      }
      (*out)[it.key()] = it->get<std::string>();
    }
  }

  // Reports every key nobody asked for, in key order.
  void Finish() {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (known_.count(it.key()) == 0) Problem(it.key(), "unknown field");
    }
  }

 private:
  static std::string NotAString(const Json& value) {
    if (value.is_number() || value.is_boolean()) {
      return absl::StrCat("must be a string (quote it: \"", value.dump(), "\")");
    }
    return "must be a string";
  }

  const Json& object_;
  std::string path_;
  std::vector<std::string>& problems_;
  std::set<std::string, std::less<>> known_;
};

void ReadSource(MappingReader& reader, v1::ApplicationSource* source) {
  reader.String("repoURL", source->mutable_repo_url());
  reader.String("targetRevision", source->mutable_target_revision());
  reader.String("path", source->mutable_path());

  std::vector<std::string> modes;
  if (std::optional<MappingReader> kustomize = reader.Mapping("kustomize")) {
    modes.push_back("kustomize");
    source->mutable_render()->set_mode(renderer::v1::RENDER_MODE_KUSTOMIZE);
    kustomize->Finish();
  }
  if (std::optional<MappingReader> directory = reader.Mapping("directory")) {
    modes.push_back("directory");
    renderer::v1::RenderOptions* render = source->mutable_render();
    render->set_mode(renderer::v1::RENDER_MODE_DIRECTORY);
    renderer::v1::DirectoryOptions* options = render->mutable_directory();
    bool recurse = false;
    directory->Bool("recurse", &recurse);
    options->set_recurse(recurse);
    directory->String("include", options->mutable_include());
    directory->String("exclude", options->mutable_exclude());
    directory->Finish();
  }
  if (std::optional<MappingReader> plugin = reader.Mapping("plugin")) {
    modes.push_back("plugin");
    renderer::v1::RenderOptions* render = source->mutable_render();
    render->set_mode(renderer::v1::RENDER_MODE_PLUGIN);
    renderer::v1::PluginOptions* options = render->mutable_plugin();
    plugin->String("name", options->mutable_name());
    plugin->StringList("args", options->mutable_args());
    plugin->StringMap("env", options->mutable_env());
    plugin->Finish();
  }
  if (modes.size() > 1) {
    reader.ProblemHere(absl::StrCat("at most one of kustomize, directory or plugin (found ",
                                    absl::StrJoin(modes, " and "), ")"));
  }
  if (reader.Has("substitute")) {
    reader.StringMap("substitute", source->mutable_render()->mutable_substitutions());
  }
  reader.Finish();
}

void ReadDestination(MappingReader& reader, types::v1::Destination* destination) {
  const bool both = reader.Has("kubernetes") && reader.Has("git");
  if (std::optional<MappingReader> kubernetes = reader.Mapping("kubernetes")) {
    types::v1::KubernetesDestination* target = destination->mutable_kubernetes();
    kubernetes->String("context", target->mutable_context());
    kubernetes->String("namespace", target->mutable_namespace_());
    kubernetes->Finish();
  }
  if (std::optional<MappingReader> git = reader.Mapping("git")) {
    types::v1::GitDestination* target = destination->mutable_git();
    git->String("repoURL", target->mutable_repo_url());
    git->String("branch", target->mutable_branch());
    git->String("path", target->mutable_path());
    bool flag = false;
    git->Bool("push", &flag);
    target->set_push(flag);
    flag = false;
    git->Bool("writeSecrets", &flag);
    target->set_write_secrets(flag);
    git->Finish();
  }
  if (both) reader.ProblemHere("exactly one of kubernetes or git");
  reader.Finish();
}

void ReadSyncPolicy(MappingReader& reader, v1::SyncPolicy* policy) {
  if (std::optional<MappingReader> automated = reader.Mapping("automated")) {
    bool flag = true;
    automated->Bool("enabled", &flag);
    policy->set_automated(flag);
    flag = false;
    automated->Bool("prune", &flag);
    policy->set_prune(flag);
    flag = false;
    automated->Bool("selfHeal", &flag);
    policy->set_self_heal(flag);
    flag = false;
    automated->Bool("allowEmpty", &flag);
    policy->set_allow_empty(flag);
    automated->Finish();
  }
  if (reader.Has("interval")) reader.Duration("interval", policy->mutable_interval());
  if (std::optional<MappingReader> retry = reader.Mapping("retry")) {
    v1::RetryPolicy* target = policy->mutable_retry();
    int32_t limit = 0;
    retry->Int32("limit", &limit);
    target->set_limit(limit);
    if (std::optional<MappingReader> backoff = retry->Mapping("backoff")) {
      v1::RetryBackoff* out = target->mutable_backoff();
      if (backoff->Has("duration")) backoff->Duration("duration", out->mutable_duration());
      double factor = 0;
      backoff->Number("factor", &factor);
      out->set_factor(factor);
      if (backoff->Has("maxDuration")) {
        backoff->Duration("maxDuration", out->mutable_max_duration());
      }
      backoff->Finish();
    }
    retry->Finish();
  }
  reader.Finish();
}

void ReadIgnoreDifferences(MappingReader& spec, v1::ApplicationSpec* out,
                           std::vector<std::string>& problems) {
  const Json* rules = spec.Get("ignoreDifferences");
  if (rules == nullptr) return;
  const std::string path = spec.PathOf("ignoreDifferences");
  if (!rules->is_array()) {
    problems.push_back(absl::StrCat(path, ": must be a list"));
    return;
  }
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string item_path = absl::StrCat(path, "[", i, "]");
    const Json& item = (*rules)[i];
    if (!item.is_object()) {
      problems.push_back(absl::StrCat(item_path, ": must be a mapping"));
      continue;
    }
    MappingReader rule(item, item_path, problems);
    types::v1::IgnoreRule* target = out->add_ignore_differences();
    rule.String("group", target->mutable_group());
    rule.String("kind", target->mutable_kind());
    rule.String("name", target->mutable_name());
    rule.String("namespace", target->mutable_namespace_());
    rule.StringList("jsonPointers", target->mutable_json_pointers());
    rule.StringList("managedFieldsManagers", target->mutable_managed_fields_managers());
    rule.Finish();
  }
}

void ReadSpec(MappingReader& reader, v1::ApplicationSpec* spec,
              std::vector<std::string>& problems) {
  if (std::optional<MappingReader> source = reader.Mapping("source")) {
    ReadSource(*source, spec->mutable_source());
  }
  if (std::optional<MappingReader> destination = reader.Mapping("destination")) {
    ReadDestination(*destination, spec->mutable_destination());
  }
  if (std::optional<MappingReader> policy = reader.Mapping("syncPolicy")) {
    ReadSyncPolicy(*policy, spec->mutable_sync_policy());
  }
  ReadIgnoreDifferences(reader, spec, problems);
  bool suspend = false;
  reader.Bool("suspend", &suspend);
  spec->set_suspend(suspend);
  reader.Finish();
}

// ---------------------------------------------------------------------------------------------
// Output.

Json DurationJson(const google::protobuf::Duration& duration) {
  return FormatSpecDuration(duration);
}

Json NumberJson(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return static_cast<int64_t>(value);
  }
  return value;
}

void PutIfSet(Json& out, const char* key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

void PutIfTrue(Json& out, const char* key, bool value) {
  if (value) out[key] = true;
}

Json StringListJson(const google::protobuf::RepeatedPtrField<std::string>& list) {
  Json out = Json::array();
  for (const std::string& item : list) out.push_back(item);
  return out;
}

Json StringMapJson(const google::protobuf::Map<std::string, std::string>& map) {
  Json out = Json::object();
  for (const auto& [key, value] : map) out[key] = value;
  return out;
}

Json SourceJson(const v1::ApplicationSource& source) {
  Json out = Json::object();
  PutIfSet(out, "repoURL", source.repo_url());
  PutIfSet(out, "targetRevision", source.target_revision());
  PutIfSet(out, "path", source.path());
  const renderer::v1::RenderOptions& render = source.render();
  switch (render.mode()) {
    case renderer::v1::RENDER_MODE_KUSTOMIZE:
      out["kustomize"] = Json::object();
      break;
    case renderer::v1::RENDER_MODE_DIRECTORY: {
      Json directory = Json::object();
      PutIfTrue(directory, "recurse", render.directory().recurse());
      PutIfSet(directory, "include", render.directory().include());
      PutIfSet(directory, "exclude", render.directory().exclude());
      out["directory"] = std::move(directory);
      break;
    }
    case renderer::v1::RENDER_MODE_PLUGIN: {
      Json plugin = Json::object();
      PutIfSet(plugin, "name", render.plugin().name());
      if (render.plugin().args_size() > 0) plugin["args"] = StringListJson(render.plugin().args());
      if (!render.plugin().env().empty()) plugin["env"] = StringMapJson(render.plugin().env());
      out["plugin"] = std::move(plugin);
      break;
    }
    default:
      break;
  }
  if (!render.substitutions().empty()) out["substitute"] = StringMapJson(render.substitutions());
  return out;
}

Json DestinationJson(const types::v1::Destination& destination) {
  Json out = Json::object();
  if (destination.has_kubernetes()) {
    Json kubernetes = Json::object();
    PutIfSet(kubernetes, "context", destination.kubernetes().context());
    PutIfSet(kubernetes, "namespace", destination.kubernetes().namespace_());
    out["kubernetes"] = std::move(kubernetes);
  } else if (destination.has_git()) {
    const types::v1::GitDestination& git = destination.git();
    Json target = Json::object();
    PutIfSet(target, "repoURL", git.repo_url());
    PutIfSet(target, "branch", git.branch());
    PutIfSet(target, "path", git.path());
    PutIfTrue(target, "push", git.push());
    PutIfTrue(target, "writeSecrets", git.write_secrets());
    out["git"] = std::move(target);
  }
  return out;
}

Json SyncPolicyJson(const v1::SyncPolicy& policy) {
  Json out = Json::object();
  if (policy.automated() || policy.prune() || policy.self_heal() || policy.allow_empty()) {
    Json automated = Json::object();
    if (!policy.automated()) automated["enabled"] = false;
    PutIfTrue(automated, "prune", policy.prune());
    PutIfTrue(automated, "selfHeal", policy.self_heal());
    PutIfTrue(automated, "allowEmpty", policy.allow_empty());
    out["automated"] = std::move(automated);
  }
  if (policy.has_interval()) out["interval"] = DurationJson(policy.interval());
  if (policy.has_retry()) {
    Json retry = Json::object();
    retry["limit"] = policy.retry().limit();
    if (policy.retry().has_backoff()) {
      const v1::RetryBackoff& backoff = policy.retry().backoff();
      Json backoff_json = Json::object();
      if (backoff.has_duration()) backoff_json["duration"] = DurationJson(backoff.duration());
      if (backoff.factor() != 0) backoff_json["factor"] = NumberJson(backoff.factor());
      if (backoff.has_max_duration()) {
        backoff_json["maxDuration"] = DurationJson(backoff.max_duration());
      }
      retry["backoff"] = std::move(backoff_json);
    }
    out["retry"] = std::move(retry);
  }
  return out;
}

Json IgnoreRuleJson(const types::v1::IgnoreRule& rule) {
  Json out = Json::object();
  PutIfSet(out, "group", rule.group());
  PutIfSet(out, "kind", rule.kind());
  PutIfSet(out, "name", rule.name());
  PutIfSet(out, "namespace", rule.namespace_());
  if (rule.json_pointers_size() > 0) out["jsonPointers"] = StringListJson(rule.json_pointers());
  if (rule.managed_fields_managers_size() > 0) {
    out["managedFieldsManagers"] = StringListJson(rule.managed_fields_managers());
  }
  return out;
}

Json ResourceStatusJson(const v1::ResourceStatus& resource) {
  Json out = Json::object();
  PutIfSet(out, "group", resource.key().group());
  PutIfSet(out, "version", resource.key().version());
  PutIfSet(out, "kind", resource.key().kind());
  PutIfSet(out, "namespace", resource.key().namespace_());
  PutIfSet(out, "name", resource.key().name());
  PutIfSet(out, "sync", std::string(SyncStatusName(resource.sync())));
  PutIfSet(out, "health", std::string(HealthStatusName(resource.health())));
  PutIfSet(out, "message", resource.message());
  PutIfSet(out, "action", resource.action());
  return out;
}

Json StatusJson(const v1::ApplicationStatus& status) {
  Json out = Json::object();
  PutIfSet(out, "sync", std::string(SyncStatusName(status.sync())));
  PutIfSet(out, "health", std::string(HealthStatusName(status.health())));
  PutIfSet(out, "healthMessage", status.health_message());
  PutIfSet(out, "revision", status.revision());
  PutIfSet(out, "revisionMessage", status.revision_message());
  PutIfSet(out, "syncedRevision", status.synced_revision());
  PutIfSet(out, "renderDigest", status.render_digest());
  if (status.has_reconciled_at()) out["reconciledAt"] = FormatTimestamp(status.reconciled_at());
  if (status.conditions_size() > 0) {
    Json conditions = Json::array();
    for (const v1::Condition& condition : status.conditions()) {
      Json item = Json::object();
      PutIfSet(item, "type", condition.type());
      PutIfSet(item, "message", condition.message());
      if (condition.has_time()) item["time"] = FormatTimestamp(condition.time());
      conditions.push_back(std::move(item));
    }
    out["conditions"] = std::move(conditions);
  }
  if (status.resources_size() > 0) {
    Json resources = Json::array();
    for (const v1::ResourceStatus& resource : status.resources()) {
      resources.push_back(ResourceStatusJson(resource));
    }
    out["resources"] = std::move(resources);
  }
  if (status.has_operation()) out["operation"] = OperationToJson(status.operation());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation.

class Problems {
 public:
  void Add(absl::string_view path, absl::string_view message) {
    list_.push_back(absl::StrCat(path, ": ", message));
  }
  absl::Status ToStatus() const {
    if (list_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(list_, "; "));
  }

 private:
  std::vector<std::string> list_;
};

bool HasControlCharacter(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool HasSpaceOrControl(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A path inside a repository: relative, no ".." segment, no control characters.
bool IsSafeRelativePath(absl::string_view path) {
  if (path.empty()) return true;
  // A backslash is no separator here: "..\\x" would name a directory called that, not what its
  // writer meant (and a Windows checkout of the repository would read it as "../x").
  if (path.front() == '/' || HasControlCharacter(path) || absl::StrContains(path, '\\')) {
    return false;
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment == "..") return false;
  }
  return true;
}

// `git check-ref-format --branch` rules.
bool IsValidBranchName(absl::string_view name) {
  if (name.empty() || name == "@" || name.front() == '-' || name.front() == '/' ||
      name.back() == '/' || name.back() == '.') {
    return false;
  }
  if (absl::StrContains(name, "..") || absl::StrContains(name, "//") ||
      absl::StrContains(name, "@{")) {
    return false;
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '~' || c == '^' || c == ':' ||
        c == '?' || c == '*' || c == '[' || c == '\\') {
      return false;
    }
  }
  for (absl::string_view component : absl::StrSplit(name, '/')) {
    if (component.empty() || component.front() == '.' || absl::EndsWith(component, ".lock")) {
      return false;
    }
  }
  return true;
}

// RFC 6901: empty, or '/'-prefixed reference tokens where '~' is followed by '0' or '1'. The
// empty pointer (the whole object) is refused: ignoring everything is never meant.
bool IsValidJsonPointer(absl::string_view pointer) {
  if (pointer.empty() || pointer.front() != '/') return false;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' &&
        (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

bool IsVariableName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name.front())) return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

bool IsNegative(const google::protobuf::Duration& d) { return d.seconds() < 0 || d.nanos() < 0; }
bool IsZero(const google::protobuf::Duration& d) { return d.seconds() == 0 && d.nanos() == 0; }

constexpr absl::string_view kPathRule =
    "must be a relative path inside the repository (no '..', not absolute, '/' as separator)";

void ValidateSource(const v1::ApplicationSpec& spec, Problems& problems) {
  const v1::ApplicationSource& source = spec.source();
  if (source.repo_url().empty()) {
    problems.Add("spec.source.repoURL", "required");
  } else if (HasSpaceOrControl(source.repo_url())) {
    problems.Add("spec.source.repoURL", "must not contain spaces or control characters");
  }
  if (HasControlCharacter(source.target_revision())) {
    problems.Add("spec.source.targetRevision", "must not contain control characters");
  }
  if (!IsSafeRelativePath(source.path())) problems.Add("spec.source.path", kPathRule);

  const renderer::v1::RenderOptions& render = source.render();
  const bool has_directory_options =
      render.has_directory() &&
      (render.directory().recurse() || !render.directory().include().empty() ||
       !render.directory().exclude().empty());
  const bool has_plugin_options =
      render.has_plugin() && (!render.plugin().name().empty() || render.plugin().args_size() > 0 ||
                              !render.plugin().env().empty());
  switch (render.mode()) {
    case renderer::v1::RENDER_MODE_AUTO:
    case renderer::v1::RENDER_MODE_KUSTOMIZE:
    case renderer::v1::RENDER_MODE_DIRECTORY:
    case renderer::v1::RENDER_MODE_PLUGIN:
      break;
    default:
      problems.Add("spec.source", absl::StrCat("unknown render mode ", render.mode()));
  }
  if (has_directory_options && render.mode() != renderer::v1::RENDER_MODE_DIRECTORY) {
    problems.Add("spec.source.directory", "options given without the directory mode");
  }
  if (has_plugin_options && render.mode() != renderer::v1::RENDER_MODE_PLUGIN) {
    problems.Add("spec.source.plugin", "options given without the plugin mode");
  }
  if (render.mode() == renderer::v1::RENDER_MODE_PLUGIN) {
    if (render.plugin().name().empty()) {
      problems.Add("spec.source.plugin.name", "required");
    } else if (HasSpaceOrControl(render.plugin().name())) {
      problems.Add("spec.source.plugin.name", "must not contain spaces or control characters");
    }
    for (const auto& [name, value] : render.plugin().env()) {
      if (!IsVariableName(name)) {
        problems.Add("spec.source.plugin.env",
                     absl::StrCat("invalid variable name \"", name,
                                  "\" (letters, digits and '_', not starting with a digit)"));
      }
    }
  }
  for (const auto& [name, value] : render.substitutions()) {
    if (!IsVariableName(name)) {
      problems.Add("spec.source.substitute",
                   absl::StrCat("invalid variable name \"", name,
                                "\" (letters, digits and '_', not starting with a digit)"));
    }
  }
}

void ValidateDestination(const v1::ApplicationSpec& spec, Problems& problems) {
  const types::v1::Destination& destination = spec.destination();
  if (destination.has_kubernetes()) {
    const types::v1::KubernetesDestination& kubernetes = destination.kubernetes();
    if (HasControlCharacter(kubernetes.context())) {
      problems.Add("spec.destination.kubernetes.context", "must not contain control characters");
    }
    if (!kubernetes.namespace_().empty() && !IsDns1123Label(kubernetes.namespace_())) {
      problems.Add("spec.destination.kubernetes.namespace",
                   "must be a DNS-1123 label of at most 63 characters");
    }
  } else if (destination.has_git()) {
    const types::v1::GitDestination& git = destination.git();
    if (git.repo_url().empty()) {
      problems.Add("spec.destination.git.repoURL", "required");
    } else if (HasSpaceOrControl(git.repo_url())) {
      problems.Add("spec.destination.git.repoURL", "must not contain spaces or control characters");
    }
    if (git.branch().empty()) {
      problems.Add("spec.destination.git.branch", "required");
    } else if (!IsValidBranchName(git.branch())) {
      problems.Add("spec.destination.git.branch",
                   absl::StrCat("not a valid branch name: \"", git.branch(), "\""));
    }
    if (!IsSafeRelativePath(git.path())) problems.Add("spec.destination.git.path", kPathRule);
  } else {
    problems.Add("spec.destination", "exactly one of kubernetes or git");
  }
}

void ValidateSyncPolicy(const v1::SyncPolicy& policy, Problems& problems) {
  if (policy.has_interval() && ToAbslDuration(policy.interval()) < kMinInterval) {
    problems.Add("spec.syncPolicy.interval",
                 absl::StrCat("must be at least ", absl::FormatDuration(kMinInterval)));
  }
  if (!policy.has_retry()) return;
  const v1::RetryPolicy& retry = policy.retry();
  if (retry.limit() < -1) {
    problems.Add("spec.syncPolicy.retry.limit", "must be -1 (no limit), 0 (no retry) or more");
  }
  const v1::RetryBackoff& backoff = retry.backoff();
  bool durations_ok = true;
  if (backoff.has_duration() && (IsNegative(backoff.duration()) || IsZero(backoff.duration()))) {
    problems.Add("spec.syncPolicy.retry.backoff.duration", "must be positive");
    durations_ok = false;
  }
  if (backoff.has_max_duration() &&
      (IsNegative(backoff.max_duration()) || IsZero(backoff.max_duration()))) {
    problems.Add("spec.syncPolicy.retry.backoff.maxDuration", "must be positive");
    durations_ok = false;
  }
  if (durations_ok && backoff.has_duration() && backoff.has_max_duration() &&
      ToAbslDuration(backoff.max_duration()) < ToAbslDuration(backoff.duration())) {
    problems.Add("spec.syncPolicy.retry.backoff.maxDuration", "must not be shorter than duration");
  }
  if (backoff.factor() != 0 && !(backoff.factor() >= 1 && backoff.factor() <= 1000)) {
    problems.Add("spec.syncPolicy.retry.backoff.factor", "must be between 1 and 1000");
  }
}

void ValidateIgnoreDifferences(const v1::ApplicationSpec& spec, Problems& problems) {
  for (int i = 0; i < spec.ignore_differences_size(); ++i) {
    const types::v1::IgnoreRule& rule = spec.ignore_differences(i);
    const std::string path = absl::StrCat("spec.ignoreDifferences[", i, "]");
    if (rule.json_pointers_size() == 0 && rule.managed_fields_managers_size() == 0) {
      problems.Add(path, "needs jsonPointers or managedFieldsManagers");
    }
    for (int j = 0; j < rule.json_pointers_size(); ++j) {
      if (!IsValidJsonPointer(rule.json_pointers(j))) {
        problems.Add(absl::StrCat(path, ".jsonPointers[", j, "]"),
                     absl::StrCat("not an RFC 6901 JSON pointer: \"", rule.json_pointers(j),
                                  "\" (it starts with '/'; '~' only as ~0 or ~1)"));
      }
    }
    for (int j = 0; j < rule.managed_fields_managers_size(); ++j) {
      if (rule.managed_fields_managers(j).empty()) {
        problems.Add(absl::StrCat(path, ".managedFieldsManagers[", j, "]"), "must not be empty");
      }
    }
  }
}

void SetIfUnset(google::protobuf::Duration* duration, bool has, absl::Duration value) {
  if (!has || IsZero(*duration)) *duration = ToProtoDuration(value);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<Application> ApplicationFromJson(const nlohmann::json& value,
                                                absl::string_view where) {
  const std::string prefix = where.empty() ? "" : absl::StrCat(where, ": ");
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "must be a mapping (an Application document)"));
  }
  std::vector<std::string> problems;
  Application app;
  MappingReader root(value, "", problems);

  std::string api_version;
  std::string kind;
  root.String("apiVersion", &api_version);
  root.String("kind", &kind);
  if (api_version.empty()) {
    if (!root.Has("apiVersion")) {
      problems.push_back(absl::StrCat("apiVersion: required (", kApplicationApiVersion, ")"));
    }
  } else if (api_version != kApplicationApiVersion) {
    problems.push_back(absl::StrCat("apiVersion: must be ", kApplicationApiVersion, ", not \"",
                                    api_version, "\""));
  }
  if (kind.empty()) {
    if (!root.Has("kind")) {
      problems.push_back(absl::StrCat("kind: required (", kApplicationKind, ")"));
    }
  } else if (kind != kApplicationKind) {
    problems.push_back(absl::StrCat("kind: must be ", kApplicationKind, ", not \"", kind, "\""));
  }

  if (std::optional<MappingReader> metadata = root.Mapping("metadata")) {
    metadata->String("name", app.mutable_name());
    metadata->StringMap("labels", app.mutable_labels());
    metadata->Ignore("generation");
    metadata->Ignore("creationTimestamp");
    metadata->Finish();
  }
  if (std::optional<MappingReader> spec = root.Mapping("spec")) {
    ReadSpec(*spec, app.mutable_spec(), problems);
  }
  root.Ignore("status");
  root.Finish();

  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, absl::StrJoin(problems, "; ")));
  }
  return app;
}

absl::StatusOr<std::vector<ApplicationDocument>> ParseApplicationsYaml(
    absl::string_view text, absl::string_view file_name) {
  absl::StatusOr<std::vector<YamlDocument>> documents = ParseYamlStream(text, file_name);
  if (!documents.ok()) return documents.status();
  std::vector<ApplicationDocument> out;
  for (size_t i = 0; i < documents->size(); ++i) {
    const YamlDocument& document = (*documents)[i];
    if (document.value.is_null()) continue;
    ApplicationDocument parsed;
    parsed.document = static_cast<int>(i) + 1;
    parsed.line = document.line;
    parsed.where = absl::StrCat(file_name.empty() ? "<input>" : file_name, ": document ",
                                parsed.document, " (line ", parsed.line, ")");
    absl::StatusOr<Application> app = ApplicationFromJson(document.value, parsed.where);
    if (!app.ok()) return app.status();
    parsed.application = *std::move(app);
    out.push_back(std::move(parsed));
  }
  return out;
}

nlohmann::json ApplicationSpecToJson(const v1::ApplicationSpec& spec) {
  Json out = Json::object();
  if (spec.has_source()) out["source"] = SourceJson(spec.source());
  if (spec.has_destination()) out["destination"] = DestinationJson(spec.destination());
  if (spec.has_sync_policy()) {
    Json policy = SyncPolicyJson(spec.sync_policy());
    if (!policy.empty()) out["syncPolicy"] = std::move(policy);
  }
  if (spec.ignore_differences_size() > 0) {
    Json rules = Json::array();
    for (const types::v1::IgnoreRule& rule : spec.ignore_differences()) {
      rules.push_back(IgnoreRuleJson(rule));
    }
    out["ignoreDifferences"] = std::move(rules);
  }
  PutIfTrue(out, "suspend", spec.suspend());
  return out;
}

nlohmann::json ApplicationToJson(const Application& app, const SpecOutputOptions& options) {
  Json out = Json::object();
  out["apiVersion"] = std::string(kApplicationApiVersion);
  out["kind"] = std::string(kApplicationKind);
  Json metadata = Json::object();
  metadata["name"] = app.name();
  if (!app.labels().empty()) metadata["labels"] = StringMapJson(app.labels());
  if (options.include_status) {
    if (app.generation() != 0) metadata["generation"] = app.generation();
    if (app.has_created_at()) metadata["creationTimestamp"] = FormatTimestamp(app.created_at());
  }
  out["metadata"] = std::move(metadata);
  out["spec"] = ApplicationSpecToJson(app.spec());
  if (options.include_status) out["status"] = StatusJson(app.status());
  return out;
}

std::string ApplicationToYaml(const Application& app, const SpecOutputOptions& options) {
  return EmitYaml(ApplicationToJson(app, options));
}

nlohmann::json OperationToJson(const v1::Operation& operation) {
  Json out = Json::object();
  if (operation.id() != 0) out["id"] = operation.id();
  PutIfSet(out, "phase", std::string(OperationPhaseName(operation.phase())));
  PutIfSet(out, "revision", operation.revision());
  PutIfSet(out, "message", operation.message());
  if (operation.has_started_at()) out["startedAt"] = FormatTimestamp(operation.started_at());
  if (operation.has_finished_at()) out["finishedAt"] = FormatTimestamp(operation.finished_at());
  PutIfSet(out, "initiatedBy", operation.initiated_by());
  PutIfTrue(out, "dryRun", operation.dry_run());
  PutIfTrue(out, "prune", operation.prune());
  PutIfTrue(out, "force", operation.force());
  PutIfSet(out, "hydratedCommit", operation.hydrated_commit());
  return out;
}

nlohmann::json HistoryEntryToJson(const v1::HistoryEntry& entry) {
  Json out = Json::object();
  out["id"] = entry.id();
  PutIfSet(out, "revision", entry.revision());
  PutIfSet(out, "revisionMessage", entry.revision_message());
  PutIfSet(out, "renderDigest", entry.render_digest());
  if (entry.has_spec()) out["spec"] = ApplicationSpecToJson(entry.spec());
  if (entry.has_operation()) out["operation"] = OperationToJson(entry.operation());
  if (entry.resources_size() > 0) {
    Json resources = Json::array();
    for (const v1::ResourceStatus& resource : entry.resources()) {
      resources.push_back(ResourceStatusJson(resource));
    }
    out["resources"] = std::move(resources);
  }
  return out;
}

void ApplyDefaults(Application& app) {
  v1::ApplicationSpec* spec = app.mutable_spec();
  if (spec->source().target_revision().empty()) {
    spec->mutable_source()->set_target_revision(std::string(kDefaultTargetRevision));
  }
  v1::SyncPolicy* policy = spec->mutable_sync_policy();
  if (!policy->has_interval()) *policy->mutable_interval() = ToProtoDuration(kDefaultInterval);
  if (policy->has_retry()) {
    v1::RetryBackoff* backoff = policy->mutable_retry()->mutable_backoff();
    SetIfUnset(backoff->mutable_duration(), backoff->has_duration(), kDefaultRetryBackoff);
    if (backoff->factor() == 0) backoff->set_factor(kDefaultRetryFactor);
    SetIfUnset(backoff->mutable_max_duration(), backoff->has_max_duration(),
               kDefaultRetryMaxBackoff);
  }
}

absl::Status ValidateApplication(const Application& app) {
  Problems problems;
  if (app.name().empty()) {
    problems.Add("metadata.name", "required");
  } else if (!IsDns1123Label(app.name())) {
    problems.Add("metadata.name", "must be a DNS-1123 label of at most 63 characters");
  }
  for (const auto& [key, value] : app.labels()) {
    if (absl::Status status = ValidateLabelKey(key); !status.ok()) {
      problems.Add("metadata.labels", status.message());
    } else if (absl::Status status = ValidateLabelValue(value); !status.ok()) {
      problems.Add(absl::StrCat("metadata.labels.", key), status.message());
    }
  }
  const v1::ApplicationSpec& spec = app.spec();
  ValidateSource(spec, problems);
  ValidateDestination(spec, problems);
  ValidateSyncPolicy(spec.sync_policy(), problems);
  ValidateIgnoreDifferences(spec, problems);
  absl::Status status = problems.ToStatus();
  if (status.ok() || app.name().empty()) return status;
  // Named as sent (escaped, cut: the name itself may be what is wrong).
  std::string shown = absl::CHexEscape(app.name().substr(0, 64));
  if (app.name().size() > 64) absl::StrAppend(&shown, "...");
  return absl::InvalidArgumentError(
      absl::StrCat("application \"", shown, "\": ", status.message()));
}

absl::StatusOr<google::protobuf::Duration> ParseSpecDuration(absl::string_view text) {
  absl::Duration duration;
  const bool parsed = absl::ParseDuration(text, &duration);
  if (!parsed || absl::StrContains(text, "inf") || duration == absl::InfiniteDuration() ||
      duration == -absl::InfiniteDuration() ||
      absl::AbsDuration(duration) > absl::Seconds(kMaxDurationSeconds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration \"", text, "\": use Go-style durations such as 30s, 1m, ", "1h30m"));
  }
  return ToProtoDuration(duration);
}

std::string FormatSpecDuration(const google::protobuf::Duration& duration) {
  return absl::FormatDuration(ToAbslDuration(duration));
}

absl::Duration ToAbslDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

google::protobuf::Duration ToProtoDuration(absl::Duration duration) {
  google::protobuf::Duration out;
  const int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &duration);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(duration)));
  return out;
}

absl::string_view SyncStatusName(types::v1::SyncStatus status) {
  switch (status) {
    case types::v1::SYNC_STATUS_SYNCED:
      return "Synced";
    case types::v1::SYNC_STATUS_OUT_OF_SYNC:
      return "OutOfSync";
    case types::v1::SYNC_STATUS_MISSING:
      return "Missing";
    case types::v1::SYNC_STATUS_EXTRANEOUS:
      return "Extraneous";
    case types::v1::SYNC_STATUS_UNKNOWN:
      return "Unknown";
    default:
      return "";
  }
}

absl::string_view HealthStatusName(types::v1::HealthStatus status) {
  switch (status) {
    case types::v1::HEALTH_STATUS_HEALTHY:
      return "Healthy";
    case types::v1::HEALTH_STATUS_PROGRESSING:
      return "Progressing";
    case types::v1::HEALTH_STATUS_DEGRADED:
      return "Degraded";
    case types::v1::HEALTH_STATUS_SUSPENDED:
      return "Suspended";
    case types::v1::HEALTH_STATUS_MISSING:
      return "Missing";
    case types::v1::HEALTH_STATUS_UNKNOWN:
      return "Unknown";
    default:
      return "";
  }
}

absl::string_view OperationPhaseName(v1::OperationPhase phase) {
  switch (phase) {
    case v1::OPERATION_PHASE_RUNNING:
      return "Running";
    case v1::OPERATION_PHASE_SUCCEEDED:
      return "Succeeded";
    case v1::OPERATION_PHASE_FAILED:
      return "Failed";
    case v1::OPERATION_PHASE_INTERRUPTED:
      return "Interrupted";
    case v1::OPERATION_PHASE_TERMINATED:
      return "Terminated";
    case v1::OPERATION_PHASE_QUEUED:
      return "Queued";
    default:
      return "";
  }
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

}  // namespace todoke::orchestrator
