#include "tests/integration/k8s_witness.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/json_parse.h"
#include "tests/integration/process.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

using source_fetcher::testing::Sh;

std::string StringAt(const Json& object, std::initializer_list<const char*> path) {
  const Json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return "";
    auto it = at->find(key);
    if (it == at->end()) return "";
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : "";
}

// The uid of a "uid@resourceVersion" entry.
std::string UidOf(const std::string& entry) { return entry.substr(0, entry.find('@')); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeleteWitness>> DeleteWitness::Start(const ClusterInfo& cluster,
                                                                    const std::string& collection,
                                                                    const std::string& work_dir) {
  std::unique_ptr<DeleteWitness> witness(new DeleteWitness());
  witness->cluster_ = cluster;
  witness->collection_ = collection;
  // The token stays out of curl's command line (and so out of `ps`).
  witness->header_file_ = work_dir + "/witness-auth-header";
  {
    std::ofstream header(witness->header_file_, std::ios::trunc);
    header << "Authorization: Bearer " << cluster.token << "\n";
  }
  chmod(witness->header_file_.c_str(), 0600);
  auto listed = witness->List();
  if (!listed.ok()) return listed.status();
  {
    absl::MutexLock lock(&witness->mu_);
    witness->tracked_ = listed->first;
    witness->resource_version_ = listed->second;
  }
  witness->thread_ = std::thread([w = witness.get()] { w->Run(); });
  return witness;
}

DeleteWitness::~DeleteWitness() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::pair<std::map<std::string, std::string>, std::string>> DeleteWitness::List() {
  absl::StatusOr<std::string> text =
      Sh(absl::StrCat("curl -sSf --max-time 20 --cacert '", cluster_.ca_file, "' -H @'",
                      header_file_, "' '", cluster_.server, collection_, "'"));
  if (!text.ok()) return text.status();
  absl::StatusOr<Json> list = ParseJson(*text);
  if (!list.ok()) return list.status();
  std::map<std::string, std::string> items;
  auto it = list->find("items");
  if (it != list->end() && it->is_array()) {
    for (const Json& item : *it) {
      // "uid@resourceVersion": CatchUp compares both, deletions only the uid.
      items[StringAt(item, {"metadata", "name"})] =
          absl::StrCat(StringAt(item, {"metadata", "uid"}), "@",
                       StringAt(item, {"metadata", "resourceVersion"}));
    }
  }
  return std::make_pair(std::move(items), StringAt(*list, {"metadata", "resourceVersion"}));
}

void DeleteWitness::Reconcile(const std::map<std::string, std::string>& live,
                              const std::string& how) {
  for (const auto& [name, entry] : tracked_) {
    auto it = live.find(name);
    if (it == live.end()) {
      deletions_.push_back({name, UidOf(entry), "missing after " + how});
    } else if (UidOf(it->second) != UidOf(entry)) {
      deletions_.push_back(
          {name, UidOf(entry), absl::StrCat("new uid ", UidOf(it->second), " after ", how)});
    }
  }
  tracked_ = live;
}

void DeleteWitness::Run() {
  while (!stop_) {
    std::string from;
    {
      absl::MutexLock lock(&mu_);
      from = resource_version_;
      ++connections_;
    }
    absl::StatusOr<ChildProcess> curl = ChildProcess::Start(
        {"/usr/bin/curl", "-sN", "--cacert", cluster_.ca_file, "-H", "@" + header_file_,
         absl::StrCat(cluster_.server, collection_, "?watch=1&allowWatchBookmarks=true",
                      "&timeoutSeconds=600&resourceVersion=", from)});
    if (!curl.ok()) return;
    bool expired = false;
    while (!stop_) {
      absl::StatusOr<std::string> line = curl->WaitForLine("", absl::Milliseconds(200));
      if (absl::IsDeadlineExceeded(line.status())) continue;
      if (!line.ok()) break;  // curl ended: the server went away, or timeoutSeconds
      absl::StatusOr<Json> event = ParseJson(*line);
      if (!event.ok() || !event->is_object()) continue;
      std::string type = StringAt(*event, {"type"});
      auto object_it = event->find("object");
      if (object_it == event->end()) continue;
      const Json& object = *object_it;
      if (type == "ERROR") {
        // 410 Gone: the resourceVersion is older than the new server's window.
        auto code = object.find("code");
        if (code != object.end() && code->is_number() && code->get<int>() == 410) expired = true;
        break;
      }
      std::string name = StringAt(object, {"metadata", "name"});
      std::string uid = StringAt(object, {"metadata", "uid"});
      std::string rv = StringAt(object, {"metadata", "resourceVersion"});
      absl::MutexLock lock(&mu_);
      if (!rv.empty()) resource_version_ = rv;
      if (type == "BOOKMARK") continue;
      ++events_;
      if (type == "DELETED") {
        deletions_.push_back({name, uid, "DELETED event"});
        tracked_.erase(name);
      } else {
        auto tracked = tracked_.find(name);
        if (tracked != tracked_.end() && UidOf(tracked->second) != uid) {
          // The DELETED event of the old one should have come first.
          deletions_.push_back({name, UidOf(tracked->second), "replaced by uid " + uid});
        }
        tracked_[name] = absl::StrCat(uid, "@", rv);
      }
    }
    (void)curl->Stop(SIGTERM, absl::Seconds(2));
    if (stop_) break;
    absl::SleepFor(absl::Milliseconds(500));  // the server may be down: try again shortly
    if (expired) {
      auto listed = List();
      if (!listed.ok()) continue;  // the server is still starting: try again
      absl::MutexLock lock(&mu_);
      ++relists_;
      Reconcile(listed->first, "a 410 relist");
      resource_version_ = listed->second;
    }
  }
}

std::vector<DeleteWitness::Deletion> DeleteWitness::Deletions() {
  absl::MutexLock lock(&mu_);
  return deletions_;
}

size_t DeleteWitness::events() {
  absl::MutexLock lock(&mu_);
  return events_;
}

int DeleteWitness::reconnects() {
  absl::MutexLock lock(&mu_);
  return connections_ - 1;
}

int DeleteWitness::relists() {
  absl::MutexLock lock(&mu_);
  return relists_;
}

absl::Status DeleteWitness::CheckAgainstList() {
  auto listed = List();
  if (!listed.ok()) return listed.status();
  absl::MutexLock lock(&mu_);
  for (const auto& [name, entry] : tracked_) {
    auto it = listed->first.find(name);
    if (it == listed->first.end()) {
      deletions_.push_back({name, UidOf(entry), "missing from the final list"});
    } else if (UidOf(it->second) != UidOf(entry)) {
      deletions_.push_back(
          {name, UidOf(entry), "new uid " + UidOf(it->second) + " in the final list"});
    }
  }
  return absl::OkStatus();
}

bool DeleteWitness::CatchUp(absl::Duration timeout) {
  // The list's own resourceVersion moves with every write in the cluster (leases, events):
  // caught up means every listed object seen at its listed resourceVersion, and nothing seen
  // that the list lacks.
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto listed = List();
    if (listed.ok()) {
      absl::MutexLock lock(&mu_);
      auto caught_up = [&]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return tracked_ == listed->first; };
      // Objects changing meanwhile: list again.
      if (mu_.AwaitWithDeadline(absl::Condition(&caught_up),
                                std::min(deadline, absl::Now() + absl::Seconds(2)))) {
        return true;
      }
    } else {
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> StopApiServer(const std::string& cluster_dir) {
  for (absl::string_view line : absl::StrSplit(ReadFile(cluster_dir + "/pids"), '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 2 || parts[0] != "kube-apiserver") continue;
    pid_t pid = std::atoi(parts[1].c_str());
    std::vector<std::string> argv =
        absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/cmdline")), '\0', absl::SkipEmpty());
    if (argv.empty()) continue;  // an earlier instance, gone
    kill(pid, SIGTERM);
    for (int i = 0; i < 50 && kill(pid, 0) == 0; ++i) absl::SleepFor(absl::Milliseconds(100));
    if (kill(pid, 0) == 0) kill(pid, SIGKILL);
    for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) absl::SleepFor(absl::Milliseconds(100));
    if (kill(pid, 0) == 0)
      return absl::InternalError(absl::StrCat("kube-apiserver ", pid, " lives on"));
    return argv;
  }
  return absl::NotFoundError("no running kube-apiserver in " + cluster_dir + "/pids");
}

absl::Status StartApiServer(const std::string& cluster_dir, const std::vector<std::string>& argv,
                            const ClusterInfo& cluster, absl::Duration timeout) {
  std::string command = "setsid";
  for (const std::string& arg : argv) absl::StrAppend(&command, " '", arg, "'");
  absl::StrAppend(&command, " </dev/null >>'", cluster_dir,
                  "/logs/kube-apiserver-restarted.log' 2>&1 & echo kube-apiserver $! >> '",
                  cluster_dir, "/pids'");
  absl::StatusOr<std::string> started = Sh(command);
  if (!started.ok()) return started.status();
  absl::Time deadline = absl::Now() + timeout;
  while (!RunKubectl(cluster, {"get", "--raw", "/readyz"}).ok()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("kube-apiserver did not come back in ", absl::FormatDuration(timeout),
                       "; see ", cluster_dir, "/logs/kube-apiserver-restarted.log"));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::OkStatus();
}

}  // namespace todoke::testing
