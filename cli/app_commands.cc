#include "cli/app_commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/event_follower.h"
#include "cli/orchestrator_client.h"
#include "cli/output.h"
#include "common/object.h"
#include "common/yaml.h"
#include "services/orchestrator/core/spec/application_spec.h"
#include "services/orchestrator/core/spec/labels.h"

namespace todoke::cli {
namespace {

namespace orch = ::todoke::orchestrator::v1;
using ::todoke::orchestrator::ApplicationToJson;
using ::todoke::orchestrator::SpecOutputOptions;

// The largest Application file `app create/apply -f` reads (checked before reading).
constexpr std::streamsize kMaxApplicationFileBytes = 16 << 20;
// How often a waiting command asks for the Application when no event woke it up.
constexpr absl::Duration kPollInterval = absl::Seconds(1);
// How long a finished operation's last events may trail the status that says it finished.
constexpr absl::Duration kEventGrace = absl::Seconds(1);
// Bounds the pages `app list` follows (a server handing out tokens forever).
constexpr int kMaxListPages = 100000;

const SpecOutputOptions kWithStatus{.include_status = true};

std::string JsonText(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// `value` in the chosen format (JSON, or YAML for yaml and table).
void PrintValue(const CommandContext& ctx, const Json& value) {
  ctx.out << (ctx.options.output == OutputFormat::kJson ? JsonText(value) : EmitYaml(value));
}

Json ListOf(Json items) {
  return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)}};
}

// A name as it may be echoed: at most 80 bytes of it.
std::string Shown(absl::string_view text) {
  return text.size() <= 80 ? std::string(text) : absl::StrCat(text.substr(0, 60), "...");
}

// The text of `file` ("-": the terminal's input), refused beyond kMaxApplicationFileBytes
// before it is read.
absl::StatusOr<std::string> ReadApplicationFile(const std::string& file, const Terminal& terminal) {
  std::unique_ptr<std::ifstream> opened;
  std::istream* in = terminal.in;
  if (file != "-") {
    // A regular file's size is checked before reading; a pipe (-f <(...)) is bounded as read.
    std::error_code error;
    const std::filesystem::file_status status = std::filesystem::status(file, error);
    if (error) {
      return absl::NotFoundError(absl::StrCat("cannot read ", Shown(file), ": ", error.message()));
    }
    if (std::filesystem::is_directory(status)) {
      return absl::InvalidArgumentError(absl::StrCat(Shown(file), " is a folder, not a file"));
    }
    if (std::filesystem::is_regular_file(status)) {
      const uintmax_t size = std::filesystem::file_size(file, error);
      if (!error && size > static_cast<uintmax_t>(kMaxApplicationFileBytes)) {
        return absl::InvalidArgumentError(absl::StrCat(Shown(file), " is ", size,
                                                       " bytes; Application files are limited to ",
                                                       kMaxApplicationFileBytes, " bytes"));
      }
    }
    opened = std::make_unique<std::ifstream>(file, std::ios::binary);
    if (!*opened) return absl::NotFoundError(absl::StrCat("cannot open ", Shown(file)));
    in = opened.get();
  }
  if (in == nullptr) return absl::InvalidArgumentError("-f -: no standard input to read");
  std::string text;
  char buffer[65536];
  while (*in) {
    in->read(buffer, sizeof buffer);
    text.append(buffer, static_cast<size_t>(in->gcount()));
    if (static_cast<std::streamsize>(text.size()) > kMaxApplicationFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(file == "-" ? "standard input" : Shown(file), " holds more than ",
                       kMaxApplicationFileBytes, " bytes; Application files are limited to that"));
    }
  }
  if (in->bad()) return absl::DataLossError(absl::StrCat("reading ", Shown(file), " failed"));
  return text;
}

std::string Describe(const orch::ApplicationSource& source) {
  std::string text = source.repo_url();
  if (!source.path().empty()) absl::StrAppend(&text, ", path ", source.path());
  absl::StrAppend(&text, ", revision ",
                  source.target_revision().empty() ? "HEAD" : source.target_revision());
  return text;
}

std::string Describe(const types::v1::Destination& destination) {
  if (destination.has_kubernetes()) {
    const auto& k = destination.kubernetes();
    return absl::StrCat("kubernetes, context ", k.context().empty() ? "(current)" : k.context(),
                        k.namespace_().empty() ? "" : absl::StrCat(", namespace ", k.namespace_()));
  }
  if (destination.has_git()) {
    const auto& g = destination.git();
    return absl::StrCat("git ", g.repo_url(), ", branch ", g.branch(),
                        g.path().empty() ? "" : absl::StrCat(", path ", g.path()),
                        g.push() ? ", pushed" : "");
  }
  return "(none)";
}

std::string Describe(const orch::SyncPolicy& policy) {
  std::vector<std::string> options;
  if (policy.prune()) options.push_back("prune");
  if (policy.self_heal()) options.push_back("self-heal");
  if (policy.allow_empty()) options.push_back("allow empty");
  std::string text = policy.automated() ? "automated" : "manual";
  if (!options.empty()) absl::StrAppend(&text, " (", absl::StrJoin(options, ", "), ")");
  if (policy.has_interval()) {
    absl::StrAppend(&text, ", every ", orchestrator::FormatSpecDuration(policy.interval()));
  }
  if (policy.has_retry()) {
    absl::StrAppend(&text, ", retry ",
                    policy.retry().limit() < 0 ? std::string("without limit")
                                               : absl::StrCat(policy.retry().limit(), "x"));
  }
  return text;
}

std::string Describe(const orch::Operation& op) {
  std::string text = absl::StrCat("#", op.id(), " ", PhaseName(op.phase()));
  std::vector<std::string> flags;
  if (op.dry_run()) flags.push_back("dry run");
  if (op.prune()) flags.push_back("prune");
  if (op.force()) flags.push_back("force conflicts");
  if (!flags.empty()) absl::StrAppend(&text, " (", absl::StrJoin(flags, ", "), ")");
  if (!op.initiated_by().empty()) absl::StrAppend(&text, ", by ", op.initiated_by());
  if (!op.revision().empty()) absl::StrAppend(&text, ", at ", ShortRevision(op.revision()));
  if (!op.message().empty()) absl::StrAppend(&text, ": ", op.message());
  return text;
}

// The first line of a commit message.
std::string Subject(absl::string_view message) {
  return std::string(message.substr(0, message.find('\n')));
}

void PrintApplication(const orch::Application& app, std::ostream& out, absl::Time now) {
  const orch::ApplicationSpec& spec = app.spec();
  const orch::ApplicationStatus& status = app.status();
  Table fields;
  auto field = [&](absl::string_view name, std::string value) {
    fields.AddRow({absl::StrCat(name, ":"), std::move(value)});
  };
  field("Name", app.name());
  if (!app.labels().empty()) {
    std::map<std::string, std::string> sorted(app.labels().begin(), app.labels().end());
    field("Labels", absl::StrJoin(sorted, ",", absl::PairFormatter("=")));
  }
  field("Source", Describe(spec.source()));
  field("Destination", Describe(spec.destination()));
  field("Sync policy", Describe(spec.sync_policy()));
  if (spec.suspend()) field("Suspended", "yes (todoke app resume to reconcile again)");
  std::string sync = SyncName(status.sync());
  if (!status.revision().empty()) absl::StrAppend(&sync, " at ", ShortRevision(status.revision()));
  if (!status.revision_message().empty()) {
    absl::StrAppend(&sync, " (", Subject(status.revision_message()), ")");
  }
  field("Sync status", sync);
  if (!status.synced_revision().empty()) {
    field("Last synced", ShortRevision(status.synced_revision()));
  }
  std::string health = HealthName(status.health());
  if (!status.health_message().empty()) absl::StrAppend(&health, ": ", status.health_message());
  field("Health", health);
  if (status.has_reconciled_at()) {
    field("Reconciled", absl::StrCat(TimeText(status.reconciled_at()), " (",
                                     Age(status.reconciled_at(), now), " ago)"));
  }
  if (status.has_operation()) field("Operation", Describe(status.operation()));
  field("Generation", absl::StrCat(app.generation()));
  if (app.has_created_at()) field("Created", TimeText(app.created_at()));
  fields.Print(out);

  if (status.conditions_size() > 0) {
    out << "\n";
    Table conditions({"CONDITION", "MESSAGE", "AGE"});
    for (const orch::Condition& condition : status.conditions()) {
      conditions.AddRow({condition.type(), condition.message(), Age(condition.time(), now)});
    }
    conditions.Print(out);
  }
  if (status.resources_size() > 0) {
    out << "\n";
    Table resources({"KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", "MESSAGE"});
    for (const orch::ResourceStatus& resource : status.resources()) {
      const types::v1::ObjectKey& key = resource.key();
      resources.AddRow(
          {key.group().empty() ? key.kind() : absl::StrCat(key.group(), "/", key.kind()),
           key.namespace_().empty() ? "-" : key.namespace_(), key.name(), SyncName(resource.sync()),
           resource.health() == types::v1::HEALTH_STATUS_UNSPECIFIED
               ? std::string("-")
               : HealthName(resource.health()),
           resource.message()});
    }
    resources.Print(out);
  }
}

// The Application as a table row: NAME SYNC HEALTH REVISION AGE.
std::vector<std::string> ListRow(const orch::Application& app, absl::Time now) {
  return {app.name(), SyncName(app.status().sync()), HealthName(app.status().health()),
          app.status().revision().empty() ? "-" : ShortRevision(app.status().revision()),
          Age(app.created_at(), now)};
}

// An object key as the Application YAML writes one: the fields that are set.
void PutKey(const types::v1::ObjectKey& key, Json& out) {
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"group", &key.group()},
        {"version", &key.version()},
        {"kind", &key.kind()},
        {"namespace", &key.namespace_()},
        {"name", &key.name()}}) {
    if (!value->empty()) out[field] = *value;
  }
}

// `app diff -o json|yaml`: the differ's answer with status names as the rest of the CLI
// prints them ("OutOfSync", not SYNC_STATUS_OUT_OF_SYNC).
Json DiffJson(const differ::v1::DiffResponse& diff) {
  Json objects = Json::array();
  for (const differ::v1::ObjectDiff& object : diff.objects()) {
    Json item = Json::object();
    PutKey(object.key(), item);
    item["status"] = SyncName(object.status());
    if (!object.unified_diff().empty()) item["unifiedDiff"] = object.unified_diff();
    if (!object.json_patch().empty()) item["jsonPatch"] = object.json_patch();
    if (!object.error().empty()) item["error"] = object.error();
    objects.push_back(std::move(item));
  }
  const differ::v1::DiffSummary& summary = diff.summary();
  return Json{{"objects", std::move(objects)},
              {"summary",
               {{"status", SyncName(summary.status())},
                {"synced", summary.synced()},
                {"outOfSync", summary.out_of_sync()},
                {"missing", summary.missing()},
                {"extraneous", summary.extraneous()},
                {"unknown", summary.unknown()}}}};
}

// `app watch -o json|yaml`: one event.
Json EventJson(const orch::Event& event) {
  Json out = Json::object();
  if (event.has_time()) out["time"] = TimeText(event.time());
  if (!event.app_name().empty()) out["app"] = event.app_name();
  if (!event.type().empty()) out["type"] = event.type();
  if (!event.reason().empty()) out["reason"] = event.reason();
  if (!event.message().empty()) out["message"] = event.message();
  if (event.has_key()) {
    Json object = Json::object();
    PutKey(event.key(), object);
    out["object"] = std::move(object);
  }
  if (event.operation_id() != 0) out["operationId"] = event.operation_id();
  if (event.sync() != types::v1::SYNC_STATUS_UNSPECIFIED) out["sync"] = SyncName(event.sync());
  if (event.health() != types::v1::HEALTH_STATUS_UNSPECIFIED) {
    out["health"] = HealthName(event.health());
  }
  return out;
}

// How long a subcommand's own --timeout says to go on; `fallback` when not given.
absl::StatusOr<absl::Duration> WaitBound(const std::string& text, absl::Duration fallback) {
  if (text.empty()) return fallback;
  absl::Duration bound;
  if (!absl::ParseDuration(text, &bound) || bound <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout \"", Shown(text), "\" is not a duration (like 90s, 5m, 1h)"));
  }
  return bound;
}

// True for the reason of an operation's last event ("SyncSucceeded", "SyncFailed", ...).
bool IsFinalReason(absl::string_view reason) {
  for (absl::string_view end : {"Succeeded", "Failed", "Terminated", "Interrupted"}) {
    if (absl::EndsWith(reason, end)) return true;
  }
  return false;
}

// A call's deadline while waiting until `until`: --timeout, but not (much) past `until`.
absl::Duration CallTimeout(const OrchestratorClient& client, absl::Time until) {
  return std::clamp(until - absl::Now(), absl::Milliseconds(200), client.options().timeout);
}

}  // namespace

void AppCommands::Register(CLI::App& root, std::function<int()>* action, const std::string& footer,
                           bool with_subcommands) {
  CLI::App* app = root.add_subcommand("app", "Manage Applications on the orchestrator");
  app->require_subcommand(0, 1);
  app->footer(footer);
  if (!with_subcommands) return;

  auto command = [&](const std::string& name, const std::string& description,
                     std::function<int()> run) {
    CLI::App* sub = app->add_subcommand(name, description);
    sub->footer(footer);
    sub->callback([action, run = std::move(run)]() { *action = run; });
    return sub;
  };
  auto add_name = [this](CLI::App* sub) {
    sub->add_option("NAME", name_, "Application name")->required()->type_name("");
  };

  CLI::App* create =
      command("create", "Create the Applications of a YAML file (fails for existing ones)",
              [this] { return Create(/*upsert=*/false); });
  create->add_option("-f,--filename", file_, "YAML file of Applications; - reads standard input")
      ->required()
      ->type_name("FILE");
  CLI::App* apply = command("apply", "Create or update every Application of a YAML file",
                            [this] { return Create(/*upsert=*/true); });
  apply->add_option("-f,--filename", file_, "YAML file of Applications; - reads standard input")
      ->required()
      ->type_name("FILE");

  CLI::App* list = command("list", "List Applications: NAME SYNC HEALTH REVISION AGE",
                           [this] { return List(); });
  list->add_option("-l,--selector", selector_,
                   "Label selector, as kubectl takes it (team=web,tier!=db)")
      ->type_name("SELECTOR");

  add_name(command("get", "Show an Application: spec, status, conditions and resources",
                   [this] { return Get(); }));
  add_name(command("diff",
                   "Show what differs between Git and the destination (exit 0: in sync, "
                   "1: different, 2: error)",
                   [this] { return Diff(); }));

  CLI::App* sync = command("sync", "Reconcile now and apply", [this] { return Sync(); });
  add_name(sync);
  sync->add_flag("--prune", prune_, "Delete live objects no longer in Git");
  sync->add_flag("--dry-run", dry_run_, "Go through the sync without changing anything");
  sync->add_flag("--force-conflicts", force_conflicts_,
                 "Server-side apply with force: take over fields other managers own");
  sync->add_option("--revision", revision_, "Sync this revision instead of the spec's")
      ->type_name("REVISION");
  sync->add_flag("--wait", wait_,
                 "Follow the sync, one line per object, and end with a summary (exit 1 if it "
                 "fails)");
  sync->add_option("--timeout", timeout_, "With --wait: how long to wait (default 5m)")
      ->type_name("DURATION");

  add_name(command("refresh", "Reconcile now without applying, and show the result",
                   [this] { return Refresh(); }));
  CLI::App* history =
      command("history", "Show past syncs, newest first", [this] { return History(); });
  add_name(history);
  history->add_option("--limit", history_limit_, "Show at most this many entries (0: all)")
      ->type_name("N");

  CLI::App* rollback = command("rollback",
                               "Sync the revision and spec of a history entry (turns automated "
                               "sync off)",
                               [this] { return Rollback(); });
  add_name(rollback);
  rollback->add_option("ID", history_id_, "History entry id (todoke app history NAME)")
      ->required()
      ->type_name("");

  CLI::App* del = command("delete", "Delete an Application", [this] { return Delete(); });
  add_name(del);
  del->add_flag("--cascade", cascade_,
                "Prune every object the Application manages first (asks for confirmation)");
  del->add_flag("-y,--yes", yes_, "Do not ask for confirmation");

  add_name(command("suspend", "Stop reconciling an Application", [this] { return Suspend(true); }));
  add_name(command("resume", "Reconcile a suspended Application again",
                   [this] { return Suspend(false); }));
  add_name(command("terminate-op", "Stop the running operation of an Application",
                   [this] { return TerminateOperation(); }));

  CLI::App* wait = command("wait",
                           "Wait until an Application is Synced and/or Healthy, with no "
                           "operation queued or running (exit 1 on timeout)",
                           [this] { return Wait(); });
  add_name(wait);
  wait->add_flag("--sync", want_sync_, "Wait for Synced");
  wait->add_flag("--health", want_health_, "Wait for Healthy");
  wait->add_option("--timeout", timeout_, "How long to wait (default 5m)")->type_name("DURATION");

  CLI::App* watch = command("watch",
                            "Print events as they happen, for one Application or all (stderr "
                            "says \"watching events of ...\" once none can be missed)",
                            [this] { return Watch(); });
  watch->add_option("NAME", name_, "Application name (default: all)")->type_name("");
  watch->add_option("--timeout", timeout_, "Stop after this long (default 24h)")
      ->type_name("DURATION");
}

int AppCommands::Create(bool upsert) {
  const std::string shown_file = file_ == "-" ? "<stdin>" : file_;
  absl::StatusOr<std::string> text = ReadApplicationFile(file_, ctx_.terminal);
  if (!text.ok()) return ctx_.Fail(text.status().message());
  absl::StatusOr<std::vector<orchestrator::ApplicationDocument>> documents =
      orchestrator::ParseApplicationsYaml(*text, shown_file);
  if (!documents.ok()) return ctx_.Fail(documents.status().message());
  if (documents->empty()) return ctx_.Fail(absl::StrCat(shown_file, " holds no Application"));
  // Every document is checked before anything is sent: a file is applied whole or not at all
  // as far as the client can tell.
  bool valid = true;
  for (const orchestrator::ApplicationDocument& document : *documents) {
    orch::Application defaulted = document.application;
    orchestrator::ApplyDefaults(defaulted);
    const absl::Status status = orchestrator::ValidateApplication(defaulted);
    if (!status.ok()) {
      ctx_.Fail(absl::StrCat(document.where, ": ", status.message()));
      valid = false;
    }
  }
  if (!valid) return kExitFailed;

  absl::StatusOr<std::unique_ptr<OrchestratorClient>> client =
      OrchestratorClient::Connect(ctx_.options);
  if (!client.ok()) return ctx_.Fail(client.status().message(), kExitUsage);
  Json printed = Json::array();
  int exit_code = kExitOk;
  for (const orchestrator::ApplicationDocument& document : *documents) {
    const std::string& name = document.application.name();
    orch::CreateApplicationRequest request;
    *request.mutable_application() = document.application;
    request.set_upsert(upsert);
    orch::Application stored;
    std::unique_ptr<grpc::ClientContext> call = (*client)->NewCall();
    const grpc::Status status = (*client)->stub().CreateApplication(call.get(), request, &stored);
    if (!status.ok()) {
      // An unreachable server or a refused token fails every document the same way: say it
      // once. Anything else is about this document.
      const grpc::StatusCode code = status.error_code();
      const bool for_all =
          code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
          code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED;
      exit_code = ctx_.Fail(absl::StrCat(for_all ? "" : absl::StrCat(document.where, ": "),
                                         (*client)->Explain(status, name)));
      if (for_all) break;
      continue;
    }
    if (ctx_.options.output == OutputFormat::kTable) {
      ctx_.out << "application \"" << stored.name() << "\" "
               << (upsert ? absl::StrCat("applied (generation ", stored.generation(), ")")
                          : std::string("created"))
               << "\n";
    } else {
      printed.push_back(ApplicationToJson(stored, kWithStatus));
    }
  }
  if (ctx_.options.output != OutputFormat::kTable && !printed.empty()) {
    PrintValue(ctx_, printed.size() == 1 ? printed[0] : ListOf(std::move(printed)));
  }
  return exit_code;
}

int AppCommands::List() {
  if (!selector_.empty()) {
    absl::StatusOr<orchestrator::LabelSelector> selector =
        orchestrator::LabelSelector::Parse(selector_);
    if (!selector.ok()) return ctx_.Fail(selector.status().message(), kExitUsage);
  }
  absl::StatusOr<std::unique_ptr<OrchestratorClient>> client =
      OrchestratorClient::Connect(ctx_.options);
  if (!client.ok()) return ctx_.Fail(client.status().message(), kExitUsage);
  std::vector<orch::Application> apps;
  orch::ListApplicationsRequest request;
  request.set_label_selector(selector_);
  for (int page = 0; page < kMaxListPages; ++page) {
    orch::ListApplicationsResponse response;
    std::unique_ptr<grpc::ClientContext> call = (*client)->NewCall();
    const grpc::Status status = (*client)->stub().ListApplications(call.get(), request, &response);
    if (!status.ok()) return ctx_.Fail((*client)->Explain(status));
    for (orch::Application& app : *response.mutable_applications()) apps.push_back(std::move(app));
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  if (ctx_.options.output != OutputFormat::kTable) {
    Json items = Json::array();
    for (const orch::Application& app : apps) items.push_back(ApplicationToJson(app, kWithStatus));
    PrintValue(ctx_, ListOf(std::move(items)));
    return kExitOk;
  }
  if (apps.empty()) {
    ctx_.err << "No applications found"
             << (selector_.empty() ? "" : absl::StrCat(" matching ", selector_))
             << " (todoke app create -f FILE adds one).\n";
    return kExitOk;
  }
  const absl::Time now = absl::Now();
  Table table({"NAME", "SYNC", "HEALTH", "REVISION", "AGE"});
  for (const orch::Application& app : apps) table.AddRow(ListRow(app, now));
  table.Print(ctx_.out);
  return kExitOk;
}

namespace {

// Runs `body` after checking the name and connecting; the common start of NAME commands.
// Returns the exit code of a failed check, or of `body`.
template <typename Body>
int WithApp(const CommandContext& ctx, const std::string& name, Body body) {
  const std::string problem = InvalidAppNameReason(name);
  if (!problem.empty()) return ctx.Fail(problem, kExitUsage);
  absl::StatusOr<std::unique_ptr<OrchestratorClient>> client =
      OrchestratorClient::Connect(ctx.options);
  if (!client.ok()) return ctx.Fail(client.status().message(), kExitUsage);
  return body(**client);
}

}  // namespace

int AppCommands::Get() {
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::GetApplicationRequest request;
    request.set_name(name_);
    orch::Application app;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().GetApplication(call.get(), request, &app);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output == OutputFormat::kTable) {
      PrintApplication(app, ctx_.out, absl::Now());
    } else {
      PrintValue(ctx_, ApplicationToJson(app, kWithStatus));
    }
    return kExitOk;
  });
}

int AppCommands::Diff() {
  // As kubectl diff: 0 in sync, 1 different, 2 and above for errors (usage errors included).
  constexpr int kExitDiffError = 2;
  const std::string problem = InvalidAppNameReason(name_);
  if (!problem.empty()) return ctx_.Fail(problem, kExitUsage);
  absl::StatusOr<std::unique_ptr<OrchestratorClient>> client =
      OrchestratorClient::Connect(ctx_.options);
  if (!client.ok()) return ctx_.Fail(client.status().message(), kExitUsage);
  orch::DiffRequest request;
  request.set_name(name_);
  differ::v1::DiffResponse response;
  std::unique_ptr<grpc::ClientContext> call = (*client)->NewCall();
  const grpc::Status status = (*client)->stub().Diff(call.get(), request, &response);
  if (!status.ok()) return ctx_.Fail((*client)->Explain(status, name_), kExitDiffError);

  int different = 0;
  int unknown = 0;
  for (const differ::v1::ObjectDiff& object : response.objects()) {
    if (object.status() == types::v1::SYNC_STATUS_SYNCED) continue;
    if (object.status() == types::v1::SYNC_STATUS_UNKNOWN) {
      ++unknown;
    } else {
      ++different;
    }
    if (ctx_.options.output != OutputFormat::kTable) continue;
    if (object.status() == types::v1::SYNC_STATUS_UNKNOWN) {
      ctx_.out << "# " << KeyText(object.key()) << ": could not be compared: " << object.error()
               << "\n";
    } else if (!object.unified_diff().empty()) {
      ctx_.out << object.unified_diff();
      if (object.unified_diff().back() != '\n') ctx_.out << "\n";
    } else {
      ctx_.out << "# " << KeyText(object.key()) << ": " << SyncName(object.status()) << "\n";
    }
  }
  // A summary that disagrees with the rows (an old server) still counts as a difference.
  const types::v1::SyncStatus overall = response.summary().status();
  if (different == 0 && unknown == 0 && overall != types::v1::SYNC_STATUS_UNSPECIFIED &&
      overall != types::v1::SYNC_STATUS_SYNCED) {
    ++different;
  }
  if (ctx_.options.output != OutputFormat::kTable) PrintValue(ctx_, DiffJson(response));
  if (unknown > 0) {
    return ctx_.Fail(absl::StrCat(unknown, unknown == 1 ? " object" : " objects", " of \"", name_,
                                  "\" could not be compared (see above)"),
                     kExitDiffError);
  }
  return different > 0 ? 1 : kExitOk;
}

namespace {

// Follows operation `op` of application `name` until it finishes or `until` passes: prints a
// line per object as events arrive (table output), then a summary. Returns the exit code: 0
// when the operation succeeded.
int FollowOperation(const CommandContext& ctx, OrchestratorClient& client, EventFollower& events,
                    const std::string& name, const orch::Operation& op, absl::Time until) {
  const bool table = ctx.options.output == OutputFormat::kTable;
  orch::Operation finished;
  bool done = false;         // a poll saw the operation finished
  absl::Time done_at;        // when
  bool final_event = false;  // the operation's own last event arrived
  bool check_now = true;
  absl::Time next_poll = absl::Now();
  while (true) {
    if (check_now || absl::Now() >= next_poll) {
      orch::GetApplicationRequest request;
      request.set_name(name);
      orch::Application app;
      std::unique_ptr<grpc::ClientContext> call = client.NewCall(CallTimeout(client, until));
      const grpc::Status status = client.stub().GetApplication(call.get(), request, &app);
      if (!status.ok()) return ctx.Fail(client.Explain(status, name));
      if (app.status().operation().id() == op.id() &&
          IsFinished(app.status().operation().phase())) {
        finished = app.status().operation();
        if (!done) done_at = absl::Now();
        done = true;
      }
      check_now = false;
      next_poll = absl::Now() + kPollInterval;
    }
    // Finished: once its last event is in (so every object line is printed), or when no event
    // stream runs, or after a grace period for events still on their way.
    if (done && (final_event || !events.streaming() || absl::Now() >= done_at + kEventGrace)) {
      break;
    }
    if (absl::Now() >= until) break;
    absl::Time wake = std::min(until, next_poll);
    if (done) wake = std::min(wake, done_at + kEventGrace);
    for (const orch::Event& event : events.Take(wake)) {
      if (!event.app_name().empty() && event.app_name() != name) continue;
      if (event.operation_id() != 0 && event.operation_id() != op.id()) continue;
      if (event.has_key()) {
        if (table) {
          ctx.out << "  " << KeyText(event.key()) << ": "
                  << (event.message().empty() ? event.reason() : event.message()) << "\n";
          ctx.out.flush();
        }
        continue;
      }
      check_now = true;
      if (event.operation_id() == op.id() && IsFinalReason(event.reason())) final_event = true;
    }
  }
  if (!done) {
    return ctx.Fail(absl::StrCat("operation #", op.id(), " of \"", name,
                                 "\" has not finished in time; follow it with todoke app wait ",
                                 name, " or todoke app get ", name));
  }
  const bool succeeded = finished.phase() == orch::OPERATION_PHASE_SUCCEEDED;
  if (!table) {
    PrintValue(ctx, orchestrator::OperationToJson(finished));
    return succeeded ? kExitOk : kExitFailed;
  }
  // The per-object results of the history entry, when the orchestrator recorded one.
  std::map<std::string, int> actions;
  std::vector<orch::ResourceStatus> failures;
  {
    orch::HistoryRequest request;
    request.set_name(name);
    request.set_limit(20);
    orch::HistoryResponse history;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    if (client.stub().History(call.get(), request, &history).ok()) {
      for (const orch::HistoryEntry& entry : history.entries()) {
        if (entry.operation().id() != op.id()) continue;
        for (const orch::ResourceStatus& resource : entry.resources()) {
          ++actions[resource.action().empty() ? "done" : resource.action()];
          if (resource.action() == "failed") failures.push_back(resource);
        }
      }
    }
  }
  std::string summary =
      absl::StrCat("sync #", op.id(), " of \"", name, "\" ", PhaseName(finished.phase()));
  if (finished.has_started_at() && finished.has_finished_at()) {
    absl::StrAppend(
        &summary, " in ",
        DurationText(absl::Trunc(ToTime(finished.finished_at()) - ToTime(finished.started_at()),
                                 absl::Milliseconds(1))));
  }
  if (!finished.revision().empty()) {
    absl::StrAppend(&summary, " at ", ShortRevision(finished.revision()));
  }
  if (finished.dry_run()) absl::StrAppend(&summary, " (dry run)");
  if (!actions.empty()) {
    int total = 0;
    std::vector<std::string> counts;
    for (const auto& [action, count] : actions) {
      total += count;
      counts.push_back(absl::StrCat(count, " ", action));
    }
    absl::StrAppend(&summary, ": ", total, total == 1 ? " object" : " objects", " (",
                    absl::StrJoin(counts, ", "), ")");
  }
  if (!finished.message().empty()) absl::StrAppend(&summary, "; ", finished.message());
  ctx.out << summary << "\n";
  for (const orch::ResourceStatus& failure : failures) {
    ctx.out << "  failed: " << KeyText(failure.key()) << ": " << failure.message() << "\n";
  }
  return succeeded ? kExitOk : kExitFailed;
}

}  // namespace

int AppCommands::Sync() {
  absl::StatusOr<absl::Duration> bound = WaitBound(timeout_, kDefaultWaitTimeout);
  if (!bound.ok()) return ctx_.Fail(bound.status().message(), kExitUsage);
  if (!timeout_.empty() && !wait_) {
    return ctx_.Fail(
        "app sync --timeout bounds --wait; without --wait, use the global --timeout "
        "before the command words (todoke --timeout 1m app sync NAME)",
        kExitUsage);
  }
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    const absl::Time until = absl::Now() + *bound;
    // Registered before the sync starts, so that none of its events is missed.
    std::unique_ptr<EventFollower> events;
    if (wait_) events = std::make_unique<EventFollower>(client, name_, until);
    orch::SyncRequest request;
    request.set_name(name_);
    request.set_revision(revision_);
    request.set_prune(prune_);
    request.set_dry_run(dry_run_);
    request.set_force(force_conflicts_);
    orch::Operation op;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().Sync(call.get(), request, &op);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (!wait_) {
      if (ctx_.options.output == OutputFormat::kTable) {
        ctx_.out << "sync of \"" << name_ << "\" started: operation " << Describe(op) << "\n";
      } else {
        PrintValue(ctx_, orchestrator::OperationToJson(op));
      }
      return kExitOk;
    }
    if (ctx_.options.output == OutputFormat::kTable) {
      ctx_.out << "sync of \"" << name_ << "\" started: operation " << Describe(op) << "\n";
      ctx_.out.flush();
    }
    return FollowOperation(ctx_, client, *events, name_, op, until);
  });
}

int AppCommands::Refresh() {
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::RefreshRequest request;
    request.set_name(name_);
    orch::Application app;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().Refresh(call.get(), request, &app);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, ApplicationToJson(app, kWithStatus));
      return kExitOk;
    }
    ctx_.out << "application \"" << app.name() << "\" refreshed: " << SyncName(app.status().sync())
             << ", " << HealthName(app.status().health());
    if (!app.status().revision().empty()) {
      ctx_.out << ", at " << ShortRevision(app.status().revision());
    }
    ctx_.out << "\n";
    for (const orch::Condition& condition : app.status().conditions()) {
      ctx_.out << "  " << condition.type() << ": " << condition.message() << "\n";
    }
    return kExitOk;
  });
}

int AppCommands::History() {
  if (history_limit_ < 0) return ctx_.Fail("--limit must be 0 or more", kExitUsage);
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::HistoryRequest request;
    request.set_name(name_);
    request.set_limit(history_limit_);
    orch::HistoryResponse response;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().History(call.get(), request, &response);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output != OutputFormat::kTable) {
      Json entries = Json::array();
      for (const orch::HistoryEntry& entry : response.entries()) {
        entries.push_back(orchestrator::HistoryEntryToJson(entry));
      }
      PrintValue(ctx_, entries);
      return kExitOk;
    }
    if (response.entries().empty()) {
      ctx_.err << "No history for \"" << name_ << "\" yet (todoke app sync " << name_
               << " records one).\n";
      return kExitOk;
    }
    const absl::Time now = absl::Now();
    Table table({"ID", "REVISION", "PHASE", "STARTED", "DURATION", "BY", "MESSAGE"});
    for (const orch::HistoryEntry& entry : response.entries()) {
      const orch::Operation& op = entry.operation();
      std::string duration = "-";
      if (op.has_started_at() && op.has_finished_at()) {
        duration = DurationText(
            absl::Trunc(ToTime(op.finished_at()) - ToTime(op.started_at()), absl::Seconds(1)));
      }
      std::string message = op.message();
      if (message.empty()) message = Subject(entry.revision_message());
      table.AddRow({absl::StrCat(entry.id()),
                    entry.revision().empty() ? "-" : ShortRevision(entry.revision()),
                    PhaseName(op.phase()).empty() ? "-" : PhaseName(op.phase()),
                    op.has_started_at() ? absl::StrCat(Age(op.started_at(), now), " ago") : "-",
                    duration, op.initiated_by().empty() ? "-" : op.initiated_by(), message});
    }
    table.Print(ctx_.out);
    return kExitOk;
  });
}

int AppCommands::Rollback() {
  if (history_id_ <= 0) {
    return ctx_.Fail(
        absl::StrCat("history ID must be a positive number (todoke app history ", name_, ")"),
        kExitUsage);
  }
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::RollbackRequest request;
    request.set_name(name_);
    request.set_history_id(history_id_);
    orch::Operation op;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().Rollback(call.get(), request, &op);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        return ctx_.Fail(absl::StrCat(status.error_message(), " (todoke app history ", name_,
                                      " lists the entries; todoke app list the applications)"));
      }
      return ctx_.Fail(client.Explain(status, name_));
    }
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, orchestrator::OperationToJson(op));
      return kExitOk;
    }
    ctx_.out << "rollback of \"" << name_ << "\" to history entry " << history_id_
             << " started: operation " << Describe(op) << "\n"
             << "automated sync of \"" << name_
             << "\" is now off (todoke app apply -f FILE with syncPolicy.automated turns it on "
                "again)\n";
    return kExitOk;
  });
}

int AppCommands::Delete() {
  const std::string problem = InvalidAppNameReason(name_);
  if (!problem.empty()) return ctx_.Fail(problem, kExitUsage);
  if (cascade_ && !yes_) {
    const Terminal& terminal = ctx_.terminal;
    if (!terminal.interactive || terminal.in == nullptr) {
      return ctx_.Fail(absl::StrCat("app delete --cascade prunes every object \"", name_,
                                    "\" manages, and asks first; standard input is not a "
                                    "terminal, so pass --yes to confirm"),
                       kExitUsage);
    }
    ctx_.err << "Delete application \"" << name_ << "\" and prune every object it manages? [y/N] ";
    ctx_.err.flush();
    std::string answer;
    std::getline(*terminal.in, answer);
    answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
    if (answer != "y" && answer != "yes") return ctx_.Fail("not deleted");
  }
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::DeleteApplicationRequest request;
    request.set_name(name_);
    request.set_cascade(cascade_);
    orch::DeleteApplicationResponse response;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().DeleteApplication(call.get(), request, &response);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, Json{{"name", name_}, {"deleted", true}, {"cascade", cascade_}});
      return kExitOk;
    }
    ctx_.out << "application \"" << name_ << "\" deleted"
             << (cascade_ ? " with the objects it managed" : "; its objects were left in place")
             << "\n";
    return kExitOk;
  });
}

int AppCommands::Suspend(bool suspend) {
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::Application app;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    grpc::Status status;
    if (suspend) {
      orch::SuspendRequest request;
      request.set_name(name_);
      status = client.stub().Suspend(call.get(), request, &app);
    } else {
      orch::ResumeRequest request;
      request.set_name(name_);
      status = client.stub().Resume(call.get(), request, &app);
    }
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, ApplicationToJson(app, kWithStatus));
      return kExitOk;
    }
    ctx_.out << "application \"" << name_ << "\" "
             << (suspend ? "suspended (todoke app resume reconciles it again)" : "resumed") << "\n";
    return kExitOk;
  });
}

int AppCommands::TerminateOperation() {
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    orch::TerminateOperationRequest request;
    request.set_name(name_);
    orch::Operation op;
    std::unique_ptr<grpc::ClientContext> call = client.NewCall();
    const grpc::Status status = client.stub().TerminateOperation(call.get(), request, &op);
    if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, orchestrator::OperationToJson(op));
      return kExitOk;
    }
    ctx_.out << "operation " << Describe(op) << " of \"" << name_ << "\": asked to stop\n";
    return kExitOk;
  });
}

int AppCommands::Wait() {
  absl::StatusOr<absl::Duration> bound = WaitBound(timeout_, kDefaultWaitTimeout);
  if (!bound.ok()) return ctx_.Fail(bound.status().message(), kExitUsage);
  const bool want_sync = want_sync_ || !want_health_;
  const bool want_health = want_health_ || !want_sync_;
  return WithApp(ctx_, name_, [&](OrchestratorClient& client) {
    const absl::Time until = absl::Now() + *bound;
    EventFollower events(client, name_, until);
    orch::Application app;
    while (true) {
      orch::GetApplicationRequest request;
      request.set_name(name_);
      std::unique_ptr<grpc::ClientContext> call = client.NewCall(CallTimeout(client, until));
      const grpc::Status status = client.stub().GetApplication(call.get(), request, &app);
      if (!status.ok()) return ctx_.Fail(client.Explain(status, name_));
      const orch::OperationPhase phase = app.status().operation().phase();
      const bool busy =
          phase == orch::OPERATION_PHASE_QUEUED || phase == orch::OPERATION_PHASE_RUNNING;
      const bool synced = app.status().sync() == types::v1::SYNC_STATUS_SYNCED;
      const bool healthy = app.status().health() == types::v1::HEALTH_STATUS_HEALTHY;
      if (!busy && (synced || !want_sync) && (healthy || !want_health)) break;
      if (absl::Now() >= until) {
        std::vector<std::string> state;
        if (want_sync) state.push_back(absl::StrCat("sync is ", SyncName(app.status().sync())));
        if (want_health) {
          state.push_back(absl::StrCat("health is ", HealthName(app.status().health())));
        }
        if (busy) state.push_back(absl::StrCat("operation ", Describe(app.status().operation())));
        return ctx_.Fail(absl::StrCat("timed out after ", DurationText(*bound), " waiting for \"",
                                      name_, "\" to be ",
                                      want_sync && want_health ? "Synced and Healthy"
                                      : want_sync              ? "Synced"
                                                               : "Healthy",
                                      ": ", absl::StrJoin(state, ", ")));
      }
      // Any event of the app (or the poll interval) is a reason to look again.
      events.Take(std::min(until, absl::Now() + kPollInterval));
    }
    if (ctx_.options.output != OutputFormat::kTable) {
      PrintValue(ctx_, ApplicationToJson(app, kWithStatus));
    } else {
      ctx_.out << "application \"" << name_ << "\" is " << SyncName(app.status().sync()) << " and "
               << HealthName(app.status().health()) << "\n";
    }
    return kExitOk;
  });
}

int AppCommands::Watch() {
  absl::StatusOr<absl::Duration> bound = WaitBound(timeout_, kDefaultWatchTimeout);
  if (!bound.ok()) return ctx_.Fail(bound.status().message(), kExitUsage);
  if (!name_.empty()) {
    const std::string problem = InvalidAppNameReason(name_);
    if (!problem.empty()) return ctx_.Fail(problem, kExitUsage);
  }
  absl::StatusOr<std::unique_ptr<OrchestratorClient>> client =
      OrchestratorClient::Connect(ctx_.options);
  if (!client.ok()) return ctx_.Fail(client.status().message(), kExitUsage);
  orch::WatchRequest request;
  request.set_name(name_);
  std::unique_ptr<grpc::ClientContext> call = (*client)->NewCall(*bound);
  std::unique_ptr<grpc::ClientReaderInterface<orch::Event>> reader =
      (*client)->stub().Watch(call.get(), request);
  orch::Event event;
  bool registered = false;
  bool first = true;
  while (reader->Read(&event)) {
    if (event.type() == "Ready") {
      // On stderr, so that stdout stays events only: from here on no event is missed. A script
      // that runs the watch in the background waits for this line before acting.
      if (!registered) {
        ctx_.err << "watching events of "
                 << (name_.empty() ? std::string("every application")
                                   : absl::StrCat("application \"", name_, "\""))
                 << "\n";
        ctx_.err.flush();
      }
      registered = true;
      continue;
    }
    registered = true;
    switch (ctx_.options.output) {
      case OutputFormat::kJson:  // one object per line
        ctx_.out << EventJson(event).dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
        break;
      case OutputFormat::kYaml:  // one document per event
        ctx_.out << (first ? "" : "---\n") << EmitYaml(EventJson(event));
        break;
      case OutputFormat::kTable: {
        std::string line = absl::StrCat(TimeText(event.time()), "  ", event.app_name(), "  ",
                                        event.type(), "  ", event.reason());
        if (event.has_key()) absl::StrAppend(&line, "  ", KeyText(event.key()));
        if (event.reason() == "StatusChanged") {
          absl::StrAppend(&line, "  ", SyncName(event.sync()), ", ", HealthName(event.health()));
        }
        if (!event.message().empty()) absl::StrAppend(&line, ": ", event.message());
        ctx_.out << line << "\n";
        break;
      }
    }
    ctx_.out.flush();
    first = false;
    event.Clear();
  }
  const grpc::Status status = reader->Finish();
  // The server closing the stream, or the watch reaching its own bound, is how a watch ends.
  if (status.ok() || (registered && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    return kExitOk;
  }
  return ctx_.Fail((*client)->Explain(status, name_));
}

}  // namespace todoke::cli
