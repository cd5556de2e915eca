#include "tests/integration/todoke_suite.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/support/client_interceptor.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "services/orchestrator/core/webhook.h"
#include "tests/common/test_files.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {

using source_fetcher::testing::PickFreePort;
using source_fetcher::testing::Sh;

namespace {

// Adds `authorization: Bearer <token>` to every call of the suite's API stub.
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(std::string value) : value_(std::move(value)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", value_});
    }
    methods->Proceed();
  }

 private:
  std::string value_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token) : value_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(value_);
  }

 private:
  std::string value_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TodokeSuite>> TodokeSuite::Start(const std::string& work_dir,
                                                                Options options) {
  std::unique_ptr<TodokeSuite> suite(new TodokeSuite());
  suite->work_dir_ = work_dir;
  suite->options_ = std::move(options);
  if (!suite->options_.webhook_secret.empty()) {
    suite->webhook_secret_ = suite->options_.webhook_secret;
  }
  {
    std::ofstream secret(work_dir + "/webhook-secret");
    secret << suite->webhook_secret_ << "\n";
  }
  // Fixed ports, so a stage restarted later comes back where the others look for it.
  for (const char* stage : {"source-fetcher", "renderer", "differ", "applier", "orchestrator"}) {
    suite->addresses_[stage] = absl::StrCat("127.0.0.1:", PickFreePort());
    suite->metrics_addresses_[stage] = absl::StrCat("127.0.0.1:", PickFreePort());
  }
  suite->webhook_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
  for (const char* stage : {"source-fetcher", "renderer", "differ", "applier", "orchestrator"}) {
    absl::Status started = suite->StartStage(stage);
    // A port free a moment ago may be taken since (by another process's outgoing connection, in
    // the same ephemeral range): the first start tries new ones (the stages started later are
    // given the new address).
    for (int retry = 0; !started.ok() && retry < 2; ++retry) {
      suite->addresses_[stage] = absl::StrCat("127.0.0.1:", PickFreePort());
      suite->metrics_addresses_[stage] = absl::StrCat("127.0.0.1:", PickFreePort());
      if (std::string(stage) == "orchestrator") {
        suite->webhook_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
      }
      started = suite->StartStage(stage);
    }
    if (!started.ok()) return started;
  }
  auto channel = MakeChannel(suite->addresses_["orchestrator"]);
  if (!channel.ok()) return channel.status();
  if (!suite->options_.api_token.empty()) {
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> bearer;
    bearer.push_back(std::make_unique<BearerInterceptorFactory>(suite->options_.api_token));
    grpc::ChannelArguments arguments;
    *channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        suite->addresses_["orchestrator"], grpc::InsecureChannelCredentials(), arguments,
        std::move(bearer));
  }
  suite->api_ = orchestrator::v1::Orchestrator::NewStub(*channel);
  return suite;
}

TodokeSuite::~TodokeSuite() {
  for (auto& [stage, process] : processes_) {
    if (process) (void)process->Stop(SIGTERM, absl::Seconds(15));
  }
}

std::vector<std::string> TodokeSuite::FlagsOf(const std::string& stage) {
  std::vector<std::string> flags = {"--listen=" + addresses_[stage], "--log-level=warning",
                                    "--metrics-listen=" + metrics_addresses_[stage]};
  if (stage == "source-fetcher") {
    flags.push_back("--cache-dir=" + work_dir_ + "/fetcher-cache");
    flags.push_back("--allow-local-repos");
    for (const std::string& flag : options_.source_fetcher_flags) flags.push_back(flag);
  } else if (stage == "renderer") {
    flags.push_back("--source-fetcher=" + addresses_["source-fetcher"]);
  } else if (stage == "applier") {
    flags.push_back("--git-work-dir=" + work_dir_ + "/applier-git");
    flags.push_back("--allow-local-repos");
    for (const std::string& flag : options_.applier_flags) flags.push_back(flag);
  } else if (stage == "orchestrator") {
    flags.push_back("--data-dir=" + work_dir_ + "/orchestrator-data");
    flags.push_back("--source-fetcher=" + addresses_["source-fetcher"]);
    flags.push_back("--renderer=" + addresses_["renderer"]);
    flags.push_back("--differ=" + addresses_["differ"]);
    flags.push_back("--applier=" + addresses_["applier"]);
    flags.push_back("--webhook-listen=" + webhook_address_);
    flags.push_back("--webhook-secret-file=" + work_dir_ + "/webhook-secret");
    for (const std::string& flag : options_.orchestrator_flags) flags.push_back(flag);
  }
  for (const std::string& flag : options_.all_stage_flags) flags.push_back(flag);
  return flags;
}

absl::Status TodokeSuite::StartStage(const std::string& stage) {
  std::vector<std::string> argv = {BinaryPath("todoke-" + stage)};
  if (!options_.log_dir.empty()) {  // the shell execs the stage: same pid, stderr to the file
    argv = {"/bin/sh", "-c",
            absl::StrCat("exec \"$0\" \"$@\" 2>>'", options_.log_dir, "/", stage, ".log'"),
            BinaryPath("todoke-" + stage)};
  }
  for (std::string& flag : FlagsOf(stage)) argv.push_back(std::move(flag));
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv);
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> line = child->WaitForLine("listening on", absl::Seconds(30));
  if (!line.ok())
    return absl::InternalError(
        absl::StrCat("todoke-", stage, " did not start: ", line.status().message()));
  processes_[stage].emplace(*std::move(child));
  return absl::OkStatus();
}

absl::Status TodokeSuite::StopStage(const std::string& stage, int signal_number) {
  auto it = processes_.find(stage);
  if (it == processes_.end() || !it->second) {
    return absl::FailedPreconditionError(stage + " is not running");
  }
  absl::StatusOr<int> stopped = it->second->Stop(signal_number, absl::Seconds(15));
  it->second.reset();
  return stopped.status();
}

absl::StatusOr<orchestrator::v1::Application> TodokeSuite::WaitFor(
    const std::string& name, const std::function<bool(const orchestrator::v1::Application&)>& done,
    absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  orchestrator::v1::Application last;
  grpc::Status last_status;
  while (absl::Now() < deadline) {
    orchestrator::v1::GetApplicationRequest request;
    request.set_name(name);
    auto context = ContextWithTimeout(absl::Seconds(5));
    last_status = api_->GetApplication(context.get(), request, &last);
    if (last_status.ok() && done(last)) return last;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "application ", name, " did not reach the expected state in ", absl::FormatDuration(timeout),
      "; last seen: ", last_status.ok() ? last.DebugString() : last_status.error_message()));
}

absl::StatusOr<int> TodokeSuite::PostWebhook(const std::string& repo_url, const std::string& ref,
                                             const std::string& secret_override) {
  std::string body = absl::StrCat("{\"repoURL\":\"", repo_url, "\",\"ref\":\"", ref, "\"}");
  std::string signature = orchestrator::HmacSha256Hex(
      secret_override.empty() ? webhook_secret_ : secret_override, body);
  std::string body_file = work_dir_ + "/webhook-body.json";
  {
    std::ofstream out(body_file, std::ios::binary | std::ios::trunc);
    out << body;
  }
  absl::StatusOr<std::string> code = Sh(absl::StrCat(
      "curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: "
      "application/json' -H 'X-Todoke-Signature-256: sha256=",
      signature, "' --data-binary @", body_file, " http://", webhook_address_, "/webhook"));
  if (!code.ok()) return code.status();
  int http = 0;
  if (!absl::SimpleAtoi(*code, &http)) return absl::InternalError("curl: " + *code);
  return http;
}

}  // namespace todoke::testing

namespace todoke::testing {

absl::StatusOr<std::string> TodokeSuite::Scrape(const std::string& stage) {
  return Sh(absl::StrCat("curl -sf --max-time 10 http://", metrics_addresses_[stage], "/metrics"));
}

EventRecorder::EventRecorder(orchestrator::v1::Orchestrator::Stub& api) {
  thread_ = std::thread([this, &api] {
    orchestrator::v1::WatchRequest request;
    auto reader = api.Watch(&context_, request);
    orchestrator::v1::Event event;
    while (reader->Read(&event)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ready_ && event.type() == "Ready") {
        ready_ = true;
        registered_.notify_all();
        continue;
      }
      events_.push_back(event.DebugString());
    }
    (void)reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    registered_.notify_all();
  });
  // The call goes out on the thread: until the orchestrator has subscribed the stream, events
  // of an app created meanwhile would be missed (and the test would search fewer outputs).
  std::unique_lock<std::mutex> lock(mu_);
  registered_.wait_for(lock, std::chrono::seconds(30), [this] { return ready_ || ended_; });
  watching_ = ready_;
}

EventRecorder::~EventRecorder() { (void)Stop(); }

std::vector<std::string> EventRecorder::Stop() {
  if (thread_.joinable()) {
    context_.TryCancel();
    thread_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::ostream& operator<<(std::ostream& os, const CliResult& result) {
  return os << "exit " << result.exit_code << "\n--- stdout\n"
            << result.out << "--- stderr\n"
            << result.err;
}

CliResult RunTodoke(const std::string& work_dir, const std::vector<std::string>& args,
                    const std::vector<std::string>& env) {
  static std::atomic<int> runs{0};
  const int run = runs++;
  const std::string out_path = absl::StrCat(work_dir, "/cli-", run, ".out");
  const std::string err_path = absl::StrCat(work_dir, "/cli-", run, ".err");
  std::vector<std::string> argv = {BinaryPath("todoke")};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  const pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("TODOKE_SERVER");
    unsetenv("TODOKE_TOKEN");
    for (const std::string& assignment : env) putenv(const_cast<char*>(assignment.c_str()));
    std::vector<char*> raw;
    for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  int status = 0;
  bool killed = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  result.exit_code = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = test_files::ReadFile(out_path);
  result.err = test_files::ReadFile(err_path);
  if (killed) result.err += "\n(killed after 2 minutes)";
  return result;
}

std::string FindCanary(const std::vector<std::string>& outputs, const std::string& canary) {
  for (const std::string& form : {canary, absl::Base64Escape(canary)}) {
    for (const std::string& output : outputs) {
      const size_t at = output.find(form);
      if (at == std::string::npos) continue;
      return absl::StrCat("canary ", canary, " (as ", form, ") in ",
                          output.substr(0, output.find(':')), ": ...",
                          output.substr(at > 200 ? at - 200 : 0, 400));
    }
  }
  return "";
}

}  // namespace todoke::testing
