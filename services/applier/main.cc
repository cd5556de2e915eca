// todoke-applier: applies objects to a destination (a Kubernetes cluster, or a Git branch for
// hydration), prunes and waits.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/applier/core/git/git_destination.h"
#include "services/applier/core/kube/kube_config.h"
#include "services/applier/core/registry.h"
#include "services/applier/core/sync/kube_destination.h"
#include "services/applier/grpc/applier_service.h"
#include "services/source_fetcher/core/credentials.h"

ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig file; a destination's context names one of its contexts (empty: the "
          "current context). Without it, the in-cluster service account when running in a pod");
ABSL_FLAG(std::string, installation_id, "default",
          "names this todoke installation in every tracking id, so two installations sharing a "
          "cluster never prune each other's objects");
ABSL_FLAG(double, kube_qps, 50, "requests per second to one Kubernetes API server (0: no limit)");
ABSL_FLAG(int, kube_burst, 100, "burst above --kube-qps");
ABSL_FLAG(int, kube_max_in_flight, 32, "requests in flight to one Kubernetes API server");
ABSL_FLAG(int, apply_concurrency, 16, "objects applied at once within one step of a wave");
ABSL_FLAG(std::string, git_work_dir, "/tmp/todoke-applier-git",
          "folder for clones of remote hydration repositories (one applier per folder)");
ABSL_FLAG(std::string, git_committer_name, "todoke", "committer name of hydration commits");
ABSL_FLAG(std::string, git_committer_email, "todoke@localhost",
          "committer email of hydration commits");
ABSL_FLAG(std::string, git_signing_key, "",
          "sign hydration commits: with --git-signing-format=ssh a private key file (as git's "
          "gpg.format=ssh user.signingKey, signed by ssh-keygen -Y sign), with openpgp a gpg key "
          "id; empty: commits are not signed");
ABSL_FLAG(std::string, git_signing_format, "ssh", "ssh or openpgp (see --git-signing-key)");
ABSL_FLAG(std::string, git_credentials, "",
          "credentials for hydration repositories: a file or directory keyed by URL prefix, as the "
          "source-fetcher's --credentials");
ABSL_FLAG(bool, allow_local_repos, false,
          "accept local paths and file:// URLs as hydration repositories");
ABSL_FLAG(absl::Duration, git_network_timeout, absl::Minutes(2),
          "bound of one fetch or push of a hydration repository");

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "applier",
                      "todoke-applier: applies objects to a destination (a Kubernetes cluster, or "
                      "a Git branch for hydration), prunes and waits.\n\nUsage: todoke-applier "
                      "[--listen=host:port] [flags]");
  using namespace todoke::applier;
  GitDestinationOptions git_options;
  git_options.work_dir = absl::GetFlag(FLAGS_git_work_dir);
  git_options.committer_name = absl::GetFlag(FLAGS_git_committer_name);
  git_options.committer_email = absl::GetFlag(FLAGS_git_committer_email);
  git_options.allow_local = absl::GetFlag(FLAGS_allow_local_repos);
  git_options.signing.key = absl::GetFlag(FLAGS_git_signing_key);
  {
    auto format = ParseCommitSigningFormat(absl::GetFlag(FLAGS_git_signing_format));
    absl::Status checked = format.ok() ? absl::OkStatus() : format.status();
    if (format.ok()) {
      git_options.signing.format = *format;
      checked = CheckCommitSigning(git_options.signing);
    }
    if (!checked.ok()) {
      std::fprintf(stderr, "todoke-applier: --git-signing-key/--git-signing-format: %s\n",
                   std::string(checked.message()).c_str());
      return 2;
    }
  }
  git_options.network_timeout = absl::GetFlag(FLAGS_git_network_timeout);
  if (!absl::GetFlag(FLAGS_git_credentials).empty()) {
    auto credentials =
        todoke::source_fetcher::CredentialStore::Load(absl::GetFlag(FLAGS_git_credentials));
    if (!credentials.ok()) {
      std::fprintf(stderr, "todoke-applier: --git-credentials: %s\n",
                   std::string(credentials.status().message()).c_str());
      return 2;
    }
    git_options.credentials =
        std::make_shared<const todoke::source_fetcher::CredentialStore>(*std::move(credentials));
  }
  DestinationRegistry::GitFactory git_factory =
      [git_options](const GitTarget& target) -> absl::StatusOr<std::shared_ptr<Destination>> {
    GitDestinationTarget git_target{target.repo_url, target.branch, target.path, target.push,
                                    target.write_secrets};
    auto destination = GitDestination::Create(std::move(git_target), git_options);
    if (!destination.ok()) return destination.status();
    return std::shared_ptr<Destination>(*std::move(destination));
  };
  // Kubernetes: a context of --kubeconfig, or the pod's service account.
  const std::string kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  const bool in_cluster = kubeconfig.empty() && std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  sync::KubernetesDestinationOptions kube_options;
  kube_options.installation = absl::GetFlag(FLAGS_installation_id);
  kube_options.client.qps = absl::GetFlag(FLAGS_kube_qps);
  kube_options.client.burst = absl::GetFlag(FLAGS_kube_burst);
  kube_options.client.max_in_flight = absl::GetFlag(FLAGS_kube_max_in_flight);
  kube_options.concurrency = absl::GetFlag(FLAGS_apply_concurrency);
  DestinationRegistry::KubernetesFactory kube_factory;
  if (!kubeconfig.empty() || in_cluster) {
    kube_factory =
        [kubeconfig, kube_options](
            const KubernetesTarget& target) -> absl::StatusOr<std::shared_ptr<Destination>> {
      absl::StatusOr<kube::KubeConfig> config =
          kubeconfig.empty() ? kube::InClusterConfig()
                             : kube::LoadKubeconfig(kubeconfig, target.context);
      if (!config.ok()) return config.status();
      auto destination = sync::KubernetesDestination::Create(*std::move(config), kube_options);
      if (!destination.ok()) return destination.status();
      return std::shared_ptr<Destination>(*std::move(destination));
    };
  }
  auto registry = std::make_shared<DestinationRegistry>(
      std::move(kube_factory),
      "this applier has no Kubernetes access (start it with --kubeconfig, or in a pod)",
      std::move(git_factory));
  ApplierService service(registry, ApplierServiceOptions{});
  return todoke::ServeUntilSignal("applier", {&service});
}
