// todoke-applier: applies objects to a destination (a Kubernetes cluster, or a Git branch for
// hydration), prunes and waits.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/applier/core/git/git_destination.h"
#include "services/applier/core/registry.h"
#include "services/applier/grpc/applier_service.h"
#include "services/source_fetcher/core/credentials.h"

ABSL_FLAG(std::string, git_work_dir, "/tmp/todoke-applier-git",
          "folder for clones of remote hydration repositories (one applier per folder)");
ABSL_FLAG(std::string, git_committer_name, "todoke", "committer name of hydration commits");
ABSL_FLAG(std::string, git_committer_email, "todoke@localhost",
          "committer email of hydration commits");
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
  auto registry = std::make_shared<DestinationRegistry>(
      nullptr, "this applier was started without Kubernetes support", std::move(git_factory));
  ApplierService service(registry, ApplierServiceOptions{});
  return todoke::ServeUntilSignal("applier", {&service});
}
