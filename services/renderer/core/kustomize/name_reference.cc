#include "services/renderer/core/kustomize/name_reference.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

// What the sieve needs to know about a renamed resource.
struct Candidate {
  ResId current;
  std::vector<ResId> previous_ids;
  const std::vector<std::string>* prefixes;
  const std::vector<std::string>* suffixes;
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
  Fixer(const Resource& referrer, const FieldSpec& referral, const FieldSpec& field,
        std::vector<const Candidate*> candidates)
      : referrer_(referrer),
        referral_(referral),
        field_(field),
        candidates_(std::move(candidates)),
        referrer_id_(referrer.CurrentId()) {}

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
      for (const ResId& id : c.previous_ids) {
        if (id.name == old_name) return true;
      }
      return false;
    });
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
      sieve([&](const Candidate& c) {
        if (IsClusterScoped(c.current)) return true;
        if (c.current.kind == "ServiceAccount") return true;
        return EffectiveNamespace(referrer_id_) == EffectiveNamespace(c.current);
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
    return absl::InvalidArgumentError(absl::StrCat(
        "found multiple possible referrals for \"", old_name, "\" in field ", field_.path, " of ",
        referrer_id_.ToString(), ": ", absl::StrJoin(ids, ", ")));
  }

  absl::Status SetScalar(Json& value) {
    ASSIGN_OR_RETURN(const Candidate* referral,
                     Select(value.get<std::string>(), candidates_, false));
    if (referral != nullptr) value = referral->current.name;
    return absl::OkStatus();
  }

  absl::Status SetMapping(Json& value) {
    auto name = value.find("name");
    if (name == value.end() || !name->is_string()) return absl::OkStatus();
    std::vector<const Candidate*> list = candidates_;
    auto ns_field = value.find("namespace");
    if (ns_field != value.end() && ns_field->is_string()) {
      std::string ns = ns_field->get<std::string>();
      // Candidates whose original namespace is `ns`, else whose current namespace is.
      auto effective = [](ResId id) {
        std::string e = EffectiveNamespace(id);
        return e == "~X" ? std::string() : e;
      };
      std::vector<const Candidate*> by_original;
      std::vector<const Candidate*> by_current;
      for (const Candidate* c : candidates_) {
        ResId original = c->previous_ids.empty() ? c->current : c->previous_ids.front();
        if (effective(original) == ns) by_original.push_back(c);
        if (effective(c->current) == ns) by_current.push_back(c);
      }
      list = !by_original.empty() ? by_original : by_current;
    }
    ASSIGN_OR_RETURN(const Candidate* referral,
                     Select(name->get<std::string>(), std::move(list), true));
    if (referral == nullptr) return absl::OkStatus();
    if (referral->current.name == name->get<std::string>() && referral->current.ns.empty()) {
      return absl::OkStatus();
    }
    value["name"] = referral->current.name;
    if (!referral->current.ns.empty()) value["namespace"] = referral->current.ns;
    return absl::OkStatus();
  }

  const Resource& referrer_;
  const FieldSpec& referral_;
  const FieldSpec& field_;
  std::vector<const Candidate*> candidates_;
  ResId referrer_id_;
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
    bool referrer = false;
    for (const NameReferenceSpec& spec : specs) {
      for (const FieldSpec& field : spec.referrers) {
        if (!FieldSpecSelects(field, resource.OriginalId())) continue;
        std::vector<std::string> fields = SplitFieldPath(field.path);
        referrer = referrer || (!fields.empty() && resource.object.contains(fields[0]));
      }
    }
    if (!referrer) continue;
    for (const Json& subject : *subjects) {
      if (!subject.is_object() || GetString(subject, "kind") != "ServiceAccount") continue;
      auto ns = subject.find("namespace");
      if (ns != subject.end() && !ns->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Invalid Input: namespace is blank for resource \"", id.ToString(), "\" (", resource.source,
            ": a ServiceAccount subject has an empty namespace)"));
      }
    }
  }
  // Only renamed resources (with previous ids) can be referral targets.
  std::vector<Candidate> renamed;
  for (const Resource& resource : resources) {
    if (resource.previous_ids.empty()) continue;
    renamed.push_back(Candidate{resource.CurrentId(), resource.previous_ids,
                                &resource.name_prefixes, &resource.name_suffixes});
  }
  if (renamed.empty()) return absl::OkStatus();
  for (const NameReferenceSpec& spec : specs) {
    std::vector<const Candidate*> of_kind;
    for (const Candidate& candidate : renamed) {
      if (AnyPreviousSelected(candidate, spec.referral.group, spec.referral.version,
                              spec.referral.kind)) {
        of_kind.push_back(&candidate);
      }
    }
    if (of_kind.empty()) continue;
    for (Resource& referrer : resources) {
      ResId referrer_id = referrer.CurrentId();
      std::vector<const Candidate*> visible;
      bool referrer_cluster = IsClusterScoped(referrer_id);
      std::set<std::string> binding_namespaces;
      if (referrer_id.kind == "RoleBinding") {
        auto subjects = referrer.object.find("subjects");
        if (subjects != referrer.object.end() && subjects->is_array()) {
          for (const Json& subject : *subjects) {
            if (subject.is_object() && GetString(subject, "kind") == "ServiceAccount") {
              binding_namespaces.insert(GetString(subject, "namespace"));
            }
          }
        }
      }
      for (const Candidate* candidate : of_kind) {
        if (referrer_cluster || IsClusterScoped(candidate->current) ||
            EffectiveNamespace(candidate->current) == EffectiveNamespace(referrer_id) ||
            binding_namespaces.count(candidate->current.ns)) {
          visible.push_back(candidate);
        }
      }
      if (visible.empty()) continue;
      for (const FieldSpec& field : spec.referrers) {
        if (!FieldSpecSelects(field, referrer_id)) continue;
        Fixer fixer(referrer, spec.referral, field, visible);
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
