#include "services/renderer/core/kustomize/name_reference.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

// What the sieve needs to know about a renamed resource (scope and namespaces worked out once,
// not once per referrer).
struct Candidate {
  ResId current;
  std::vector<ResId> previous_ids;
  const std::vector<std::string>* prefixes;
  const std::vector<std::string>* suffixes;
  bool cluster_scoped = false;
  std::string effective_ns;  // EffectiveNamespace(current)
};

// A namespace as a reference's `namespace:` field names it: EffectiveNamespace, with
// cluster-scoped ids matching no namespace.
std::string ReferenceNamespace(const ResId& id) {
  std::string e = EffectiveNamespace(id);
  return e == "~X" ? std::string() : e;
}

// The candidates of one name reference spec (renamed resources of the referral's kind), indexed
// so each reference costs the candidates of its name, not all of them: a build that renames
// N objects referred to by N others stays linear.
struct CandidateIndex {
  std::vector<const Candidate*> all;
  // A previous name -> the candidates that had it, in `all`'s order.
  std::unordered_map<std::string, std::vector<const Candidate*>> by_previous_name;
  // ReferenceNamespace of the original id -> candidates, in `all`'s order.
  std::unordered_map<std::string, std::vector<const Candidate*>> by_original_namespace;
  // For "is any candidate visible to this referrer" without a scan.
  bool any_cluster_scoped = false;
  std::set<std::string> effective_namespaces;
  std::set<std::string> namespaces;  // current.ns as written

  void Add(const Candidate* candidate) {
    all.push_back(candidate);
    std::set<std::string> names;
    for (const ResId& id : candidate->previous_ids) {
      if (names.insert(id.name).second) by_previous_name[id.name].push_back(candidate);
    }
    by_original_namespace[ReferenceNamespace(candidate->previous_ids.front())].push_back(candidate);
    any_cluster_scoped = any_cluster_scoped || candidate->cluster_scoped;
    effective_namespaces.insert(candidate->effective_ns);
    namespaces.insert(candidate->current.ns);
  }
};

// Which candidates a referrer sees: all if it is cluster-scoped; otherwise cluster-scoped ones,
// those in its namespace, and those in the namespace of one of its ServiceAccount subjects
// (RoleBindings).
struct Visibility {
  bool referrer_cluster = false;
  std::string referrer_ns;  // effective
  std::set<std::string> binding_namespaces;

  bool Sees(const Candidate& c) const {
    return referrer_cluster || c.cluster_scoped || c.effective_ns == referrer_ns ||
           binding_namespaces.count(c.current.ns) > 0;
  }
  bool SeesAny(const CandidateIndex& index) const {
    if (index.all.empty()) return false;
    if (referrer_cluster || index.any_cluster_scoped) return true;
    if (index.effective_namespaces.count(referrer_ns) > 0) return true;
    for (const std::string& ns : binding_namespaces) {
      if (index.namespaces.count(ns) > 0) return true;
    }
    return false;
  }
};

// True if the shorter slice equals the end of the longer one.
bool SameEndingSubSlice(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::vector<std::string>& shorter = a.size() <= b.size() ? a : b;
  const std::vector<std::string>& longer = a.size() <= b.size() ? b : a;
  if (shorter.empty()) return longer.empty();
  return std::equal(shorter.rbegin(), shorter.rend(), longer.rbegin());
}

bool PrefixesSuffixesEqual(const Candidate& candidate, const Resource& referrer, bool allow_empty) {
  if (allow_empty) {
    bool prefix_ok = candidate.prefixes->empty() || referrer.name_prefixes.empty() ||
                     SameEndingSubSlice(*candidate.prefixes, referrer.name_prefixes);
    bool suffix_ok = candidate.suffixes->empty() || referrer.name_suffixes.empty() ||
                     SameEndingSubSlice(*candidate.suffixes, referrer.name_suffixes);
    return prefix_ok && suffix_ok;
  }
  return SameEndingSubSlice(*candidate.prefixes, referrer.name_prefixes) &&
         SameEndingSubSlice(*candidate.suffixes, referrer.name_suffixes);
}

bool AnyPreviousSelected(const Candidate& candidate, absl::string_view group,
                         absl::string_view version, absl::string_view kind) {
  for (const ResId& id : candidate.previous_ids) {
    if (GvkSelected(id, group, version, kind)) return true;
  }
  return false;
}

class Fixer {
 public:
  Fixer(const Resource& referrer, ResId referrer_id, const FieldSpec& referral,
        const FieldSpec& field, const CandidateIndex& index, const Visibility& visibility)
      : referrer_(referrer),
        referral_(referral),
        field_(field),
        index_(index),
        visibility_(visibility),
        referrer_id_(std::move(referrer_id)) {}

  absl::Status Visit(Json& value) {
    if (value.is_string()) return SetScalar(value);
    if (value.is_object()) return SetMapping(value);
    if (value.is_array()) {
      for (Json& element : value) {
        if (element.is_string()) {
          RETURN_IF_ERROR(SetScalar(element));
        } else if (element.is_object()) {
          RETURN_IF_ERROR(SetMapping(element));
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  // Picks the referral among `list`: the visible candidates that had `old_name` (kustomize's
  // first sieve), in order.
  absl::StatusOr<const Candidate*> Select(const std::string& old_name,
                                          std::vector<const Candidate*> list, bool with_namespace) {
    auto sieve = [&](auto predicate) {
      std::vector<const Candidate*> kept;
      for (const Candidate* candidate : list) {
        if (predicate(*candidate)) kept.push_back(candidate);
      }
      list = std::move(kept);
    };
    sieve([&](const Candidate& c) {
      return AnyPreviousSelected(c, referral_.group, referral_.version, referral_.kind);
    });
    if (absl::EndsWith(field_.path, "roleRef/name")) {
      auto role_ref = referrer_.object.find("roleRef");
      if (role_ref != referrer_.object.end() && role_ref->is_object() &&
          role_ref->contains("apiGroup") && role_ref->contains("kind")) {
        std::string group = GetString(*role_ref, "apiGroup");
        std::string kind = GetString(*role_ref, "kind");
        sieve([&](const Candidate& c) { return AnyPreviousSelected(c, group, "", kind); });
      }
    }
    if (!IsClusterScoped(referrer_id_)) {
      const std::string referrer_ns = EffectiveNamespace(referrer_id_);
      sieve([&](const Candidate& c) {
        if (c.cluster_scoped) return true;
        if (c.current.kind == "ServiceAccount") return true;
        return referrer_ns == c.effective_ns;
      });
    }
    if (list.size() == 1) return list[0];
    sieve([&](const Candidate& c) { return PrefixesSuffixesEqual(c, referrer_, true); });
    if (list.size() > 1) {
      sieve([&](const Candidate& c) { return PrefixesSuffixesEqual(c, referrer_, false); });
    }
    if (list.size() == 1) return list[0];
    if (list.empty()) return nullptr;
    bool identical = true;
    for (const Candidate* c : list) {
      identical = identical && c->current.name == list[0]->current.name &&
                  (!with_namespace || c->current.ns == list[0]->current.ns);
    }
    if (identical) return list[0];
    std::vector<std::string> ids;
    for (const Candidate* c : list) ids.push_back(c->current.ToString());
    return absl::InvalidArgumentError(
        absl::StrCat("found multiple possible referrals for \"", old_name, "\" in field ",
                     field_.path, " of ", referrer_id_.ToString(), ": ", absl::StrJoin(ids, ", ")));
  }

  absl::Status SetScalar(Json& value) {
    const std::string& old_name = value.get_ref<const std::string&>();
    std::vector<const Candidate*> list = Named(old_name, [](const Candidate&) { return true; });
    if (list.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(const Candidate* referral, Select(old_name, std::move(list), false));
    if (referral != nullptr) value = referral->current.name;
    return absl::OkStatus();
  }

  absl::Status SetMapping(Json& value) {
    auto name = value.find("name");
    if (name == value.end() || !name->is_string()) return absl::OkStatus();
    const std::string& old_name = name->get_ref<const std::string&>();
    std::vector<const Candidate*> list;
    auto ns_field = value.find("namespace");
    if (ns_field != value.end() && ns_field->is_string()) {
      const std::string& ns = ns_field->get_ref<const std::string&>();
      // Candidates whose original namespace is `ns` if any visible one is (whatever its name),
      // else those whose current namespace is.
      bool any_by_original = false;
      if (auto it = index_.by_original_namespace.find(ns);
          it != index_.by_original_namespace.end()) {
        for (const Candidate* c : it->second) {
          if (visibility_.Sees(*c)) {
            any_by_original = true;
            break;
          }
        }
      }
      list = Named(old_name, [&](const Candidate& c) {
        return any_by_original ? ReferenceNamespace(c.previous_ids.front()) == ns
                               : ReferenceNamespace(c.current) == ns;
      });
    } else {
      list = Named(old_name, [](const Candidate&) { return true; });
    }
    if (list.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(const Candidate* referral, Select(old_name, std::move(list), true));
    if (referral == nullptr) return absl::OkStatus();
    if (referral->current.name == name->get<std::string>() && referral->current.ns.empty()) {
      return absl::OkStatus();
    }
    value["name"] = referral->current.name;
    if (!referral->current.ns.empty()) value["namespace"] = referral->current.ns;
    return absl::OkStatus();
  }

  // The visible candidates that had `name` (in the index's order), narrowed by `keep`.
  template <typename Keep>
  std::vector<const Candidate*> Named(const std::string& name, Keep keep) const {
    std::vector<const Candidate*> out;
    auto it = index_.by_previous_name.find(name);
    if (it == index_.by_previous_name.end()) return out;
    for (const Candidate* c : it->second) {
      if (visibility_.Sees(*c) && keep(*c)) out.push_back(c);
    }
    return out;
  }

  const Resource& referrer_;
  const FieldSpec& referral_;
  const FieldSpec& field_;
  const CandidateIndex& index_;
  const Visibility& visibility_;
  const ResId referrer_id_;
};

}  // namespace

absl::Status FixNameReferences(std::vector<Resource>& resources,
                               const std::vector<NameReferenceSpec>& specs) {
  // kustomize reads the namespaces of a RoleBinding's ServiceAccount subjects for every
  // RoleBinding that is a referrer (it has a field some spec names), renamed targets or not,
  // and refuses a subject whose namespace is present but not a string (`namespace:` left
  // blank).
  for (const Resource& resource : resources) {
    if (resource.Kind() != "RoleBinding") continue;
    auto subjects = resource.object.find("subjects");
    if (subjects == resource.object.end() || !subjects->is_array()) continue;
    ResId id = resource.CurrentId();
    const ResId original = resource.OriginalId();
    bool referrer = false;
    for (const NameReferenceSpec& spec : specs) {
      for (const FieldSpec& field : spec.referrers) {
        if (referrer) break;
        if (!FieldSpecSelects(field, original)) continue;
        std::vector<std::string> fields = SplitFieldPath(field.path);
        referrer = !fields.empty() && resource.object.contains(fields[0]);
      }
    }
    if (!referrer) continue;
    for (const Json& subject : *subjects) {
      if (!subject.is_object() || GetString(subject, "kind") != "ServiceAccount") continue;
      auto ns = subject.find("namespace");
      if (ns != subject.end() && !ns->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Invalid Input: namespace is blank for resource \"", id.ToString(), "\" (",
                         resource.source, ": a ServiceAccount subject has an empty namespace)"));
      }
    }
  }
  // Only renamed resources (with previous ids) can be referral targets.
  std::vector<Candidate> renamed;
  for (const Resource& resource : resources) {
    if (resource.previous_ids.empty()) continue;
    Candidate candidate{resource.CurrentId(), resource.previous_ids, &resource.name_prefixes,
                        &resource.name_suffixes};
    candidate.cluster_scoped = IsClusterScoped(candidate.current);
    candidate.effective_ns = EffectiveNamespace(candidate.current);
    renamed.push_back(std::move(candidate));
  }
  if (renamed.empty()) return absl::OkStatus();
  // Each referrer's id and visibility, worked out again only after a fix visited it (a fix may
  // rename a RoleBinding's subjects, which changes what it sees).
  auto view = [](const Resource& referrer, ResId& id, Visibility& visibility) {
    id = referrer.CurrentId();
    visibility = Visibility();
    visibility.referrer_cluster = IsClusterScoped(id);
    visibility.referrer_ns = EffectiveNamespace(id);
    if (id.kind == "RoleBinding") {
      auto subjects = referrer.object.find("subjects");
      if (subjects != referrer.object.end() && subjects->is_array()) {
        for (const Json& subject : *subjects) {
          if (subject.is_object() && GetString(subject, "kind") == "ServiceAccount") {
            visibility.binding_namespaces.insert(GetString(subject, "namespace"));
          }
        }
      }
    }
  };
  std::vector<ResId> referrer_ids(resources.size());
  std::vector<Visibility> visibilities(resources.size());
  for (size_t r = 0; r < resources.size(); ++r)
    view(resources[r], referrer_ids[r], visibilities[r]);
  std::vector<bool> visited(resources.size(), false);
  for (const NameReferenceSpec& spec : specs) {
    CandidateIndex index;
    for (const Candidate& candidate : renamed) {
      if (AnyPreviousSelected(candidate, spec.referral.group, spec.referral.version,
                              spec.referral.kind)) {
        index.Add(&candidate);
      }
    }
    if (index.all.empty()) continue;
    for (size_t r = 0; r < resources.size(); ++r) {
      Resource& referrer = resources[r];
      if (visited[r]) {
        view(referrer, referrer_ids[r], visibilities[r]);
        visited[r] = false;
      }
      const ResId& referrer_id = referrer_ids[r];
      if (!visibilities[r].SeesAny(index)) continue;
      for (const FieldSpec& field : spec.referrers) {
        if (!FieldSpecSelects(field, referrer_id)) continue;
        visited[r] = true;
        // As kustomize, each field's fix sees the referrer as the previous fields left it.
        Fixer fixer(referrer, referrer.CurrentId(), spec.referral, field, index, visibilities[r]);
        absl::Status status = VisitFieldSpec(referrer.object, field, CreateKind::kNone,
                                             [&](Json& value) { return fixer.Visit(value); });
        if (!status.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("updating name reference in '", field.path,
                                                         "' field of '", referrer_id.ToString(),
                                                         "': ", status.message()));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize
