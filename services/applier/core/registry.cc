#include "services/applier/core/registry.h"

#include "absl/strings/str_cat.h"

namespace todoke::applier {

std::string TargetKey(const DestinationTarget& target) {
  if (const auto* kube = std::get_if<KubernetesTarget>(&target)) {
    return absl::StrCat("kubernetes:", kube->context);
  }
  const auto& git = std::get<GitTarget>(target);
  return absl::StrCat("git:", git.repo_url, "#", git.branch, ":", git.path, git.push ? ":push" : "",
                      git.write_secrets ? ":secrets" : "");
}

DestinationRegistry::DestinationRegistry(KubernetesFactory kubernetes,
                                         std::string kubernetes_unavailable_reason, GitFactory git)
    : kubernetes_(std::move(kubernetes)),
      kubernetes_unavailable_reason_(std::move(kubernetes_unavailable_reason)),
      git_(std::move(git)) {}

absl::StatusOr<std::shared_ptr<Destination>> DestinationRegistry::Get(
    const DestinationTarget& target) {
  std::string key = TargetKey(target);
  {
    absl::MutexLock lock(&mu_);
    auto it = destinations_.find(key);
    if (it != destinations_.end()) return it->second;
  }
  // Created outside the lock: a Kubernetes destination may run discovery first, and other
  // destinations must not wait for it. Two racing creators keep the first one stored.
  absl::StatusOr<std::shared_ptr<Destination>> created;
  if (const auto* kube = std::get_if<KubernetesTarget>(&target)) {
    if (!kubernetes_) {
      return absl::FailedPreconditionError(absl::StrCat("cannot reach Kubernetes context \"",
                                                        kube->context,
                                                        "\": ", kubernetes_unavailable_reason_));
    }
    created = kubernetes_(*kube);
  } else {
    if (!git_) return absl::FailedPreconditionError("this applier has no Git destination support");
    created = git_(std::get<GitTarget>(target));
  }
  if (!created.ok()) return created.status();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = destinations_.emplace(key, *std::move(created));
  return it->second;
}

}  // namespace todoke::applier
