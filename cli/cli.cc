#include "cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/app_commands.h"
#include "cli/command_context.h"
#include "cli/completion.h"
#include "cli/render_command.h"
#include "common/grpc_client.h"
#include "common/object.h"
#include "common/version.h"
#include "common/yaml.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace todoke::cli {
namespace {

constexpr char kDescription[] =
    "todoke: a GitOps engine. Desired state lives in Git; todoke keeps each environment\n"
    "converging to it.";

// Under every command's --help: the options every command takes, wherever they stand.
constexpr char kGlobalFooter[] =
    "Global options (anywhere on the line; see todoke --help):\n"
    "  --server ADDR, -o table|json|yaml, --timeout D (each call's deadline), --token T";

constexpr char kRootFooter[] =
    "Global options may stand anywhere on the line. After `app sync`, `app wait` and `app watch`,\n"
    "--timeout is that command's own (how long to wait); before them it is each call's deadline.\n"
    "\n"
    "Environment:\n"
    "  TODOKE_SERVER   orchestrator address when --server is not given (else 127.0.0.1:7400)\n"
    "  TODOKE_TOKEN    bearer token when --token is not given\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 usage error; app diff: 0 in sync, 1 different, 2 error.\n"
    "\n"
    "Examples:\n"
    "  todoke render overlays/prod > prod.yaml\n"
    "  todoke app apply -f guestbook.yaml\n"
    "  todoke app sync guestbook --prune --wait\n"
    "  todoke app diff guestbook || echo out of sync";

// What the parser fills in before the global options are checked.
struct GlobalFlags {
  std::string server;
  std::string output = "table";
  std::string timeout = "30s";
  std::string token;
};

int HealthCommand(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> targets = args;
  if (targets.empty()) targets.push_back(ctx.options.server);
  bool all_serving = true;
  Json report = Json::array();
  for (const std::string& target : targets) {
    const size_t eq = target.find('=');
    const std::string name = eq == std::string::npos ? target : target.substr(0, eq);
    const std::string address = eq == std::string::npos ? target : target.substr(eq + 1);
    std::string state;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address);
    if (!channel.ok()) {
      state = std::string(channel.status().message());
      all_serving = false;
    } else {
      auto stub = grpc::health::v1::Health::NewStub(*channel);
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      auto call = ContextWithTimeout(ctx.options.timeout);
      grpc::Status status = stub->Check(call.get(), request, &response);
      state = status.ok()
                  ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
                  : absl::StrCat("UNREACHABLE (", status.error_message(), ")");
      if (!status.ok() || response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
        all_serving = false;
      }
    }
    report.push_back({{"name", name}, {"address", address}, {"status", state}});
  }
  if (ctx.options.output == OutputFormat::kTable) {
    ctx.out << "SERVICE\tADDRESS\tSTATUS\n";
    for (const auto& row : report) {
      ctx.out << row["name"].get<std::string>() << "\t" << row["address"].get<std::string>() << "\t"
              << row["status"].get<std::string>() << "\n";
    }
  } else if (ctx.options.output == OutputFormat::kJson) {
    ctx.out << report.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    ctx.out << EmitYaml(report);
  }
  return all_serving ? kExitOk : kExitFailed;
}

int VersionCommand(const CommandContext& ctx) {
  if (ctx.options.output == OutputFormat::kJson) {
    ctx.out << Json{{"client", TodokeVersion()}}.dump() << "\n";
  } else if (ctx.options.output == OutputFormat::kYaml) {
    ctx.out << EmitYaml(Json{{"client", TodokeVersion()}});
  } else {
    ctx.out << "todoke " << TodokeVersion() << "\n";
  }
  return kExitOk;
}

// Checks the global flags and fills `options` from them and the environment. The message of a
// bad value, or "".
std::string ApplyGlobalFlags(const GlobalFlags& flags, GlobalOptions* options) {
  if (!flags.server.empty()) {
    options->server = flags.server;
  } else if (const char* env = std::getenv("TODOKE_SERVER"); env != nullptr && *env != '\0') {
    options->server = env;
  }
  if (!flags.token.empty()) {
    options->token = flags.token;
  } else if (const char* env = std::getenv("TODOKE_TOKEN"); env != nullptr) {
    options->token = env;
  }
  if (flags.output == "table") {
    options->output = OutputFormat::kTable;
  } else if (flags.output == "json") {
    options->output = OutputFormat::kJson;
  } else if (flags.output == "yaml") {
    options->output = OutputFormat::kYaml;
  } else {
    return absl::StrCat("output format \"", flags.output, "\" is not table, json or yaml");
  }
  if (!absl::ParseDuration(flags.timeout, &options->timeout) ||
      options->timeout <= absl::ZeroDuration()) {
    return absl::StrCat("--timeout \"", flags.timeout,
                        "\" is not a duration (like 500ms, 30s, 2m)");
  }
  return "";
}

// The subcommands chosen on the line, outermost first (empty: none).
std::vector<CLI::App*> ChosenPath(CLI::App& root) {
  std::vector<CLI::App*> path;
  for (CLI::App* app = &root;;) {
    std::vector<CLI::App*> chosen = app->get_subcommands();
    if (chosen.empty()) return path;
    app = chosen.front();
    path.push_back(app);
  }
}

std::string CommandName(const std::vector<CLI::App*>& path) {
  std::string name = "todoke";
  for (const CLI::App* app : path) absl::StrAppend(&name, " ", app->get_name());
  return name;
}

// The command line, built afresh for each Run.
class CommandLine {
 public:
  CommandLine(CommandContext& ctx, const std::vector<std::string>& args)
      : ctx_(ctx), app_commands_(ctx) {
    // Declaring the `app` subcommands costs about 0.6M instructions (most of what CLI11 costs
    // here), a tenth of a whole `todoke render`: declared only when the line may need them.
    const bool app_subcommands = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
      return arg == "app" || arg == "completion" || arg == "help";
    });
    Build(app_subcommands);
  }

  int Run(const std::vector<std::string>& args) {
    try {
      root_.parse(std::vector<std::string>(args.rbegin(), args.rend()));
    } catch (const CLI::CallForHelp&) {
      ctx_.out << root_.help();
      return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
      ctx_.out << root_.help("", CLI::AppFormatMode::All);
      return kExitOk;
    } catch (const CLI::ParseError& e) {
      // Every argument is read before requirements are checked: an unknown flag is the first
      // thing to report (`app get --nmae web` should not say "NAME is required").
      if (!root_.remaining().empty()) return UnexpectedArgument();
      return Usage(e.what());
    }
    if (!root_.remaining().empty()) return UnexpectedArgument();
    const std::string problem = ApplyGlobalFlags(global_flags_, &ctx_.options);
    if (!problem.empty()) return Usage(problem);
    if (!action_) {
      // A command that needs a subcommand (todoke, todoke app): its help, as a usage error.
      ctx_.err << root_.help();
      return kExitUsage;
    }
    return action_();
  }

 private:
  // Reports the first argument nothing took: an unknown flag, command or argument.
  int UnexpectedArgument() {
    const std::vector<std::string> extras = root_.remaining();
    const std::vector<CLI::App*> path = ChosenPath(root_);
    const std::string& extra = extras.front();
    if (extra.size() > 1 && extra[0] == '-') {
      return Usage(absl::StrCat("unknown flag \"", extra, "\""));
    }
    if (path.empty()) return Usage(absl::StrCat("unknown command \"", extra, "\""));
    if (!action_ && !path.back()->get_subcommands([](CLI::App*) { return true; }).empty()) {
      return Usage(
          absl::StrCat("unknown ", path.back()->get_name(), " subcommand \"", extra, "\""));
    }
    return Usage(absl::StrCat("unexpected argument \"", extra, "\""));
  }

  int Usage(absl::string_view problem) {
    const std::string command = CommandName(ChosenPath(root_));
    ctx_.err << command << ": " << problem << "\n\nRun `" << command << " --help` for usage.\n";
    return kExitUsage;
  }

  void Build(bool app_subcommands) {
    root_.name("todoke");
    root_.description(kDescription);
    root_.footer(kRootFooter);
    root_.require_subcommand(0, 1);
    root_.fallthrough();  // inherited: global options are read after the command words too
    root_
        .add_option("--server", global_flags_.server,
                    "Orchestrator: host:port, a list or dns:///name:port (default "
                    "$TODOKE_SERVER, else 127.0.0.1:7400)")
        ->type_name("ADDR");
    root_.add_option("-o,--output", global_flags_.output, "table (default), json or yaml")
        ->type_name("FORMAT");
    root_.add_option("--timeout", global_flags_.timeout, "Deadline of each call (default 30s)")
        ->type_name("DURATION");
    root_
        .add_option("--token", global_flags_.token,
                    "Bearer token for the orchestrator (default $TODOKE_TOKEN)")
        ->type_name("TOKEN");

    auto command = [&](const std::string& name, const std::string& description,
                       std::function<int()> run) {
      CLI::App* sub = root_.add_subcommand(name, description);
      sub->footer(kGlobalFooter);
      sub->callback([this, run = std::move(run)]() { action_ = run; });
      return sub;
    };
    command("version", "Print the client version", [this] { return VersionCommand(ctx_); });

    CLI::App* health = command("health",
                               "Check gRPC health of todoke services (exit 1 if any is not "
                               "serving; default: the --server address)",
                               [this] { return HealthCommand(ctx_, health_targets_); });
    health->add_option("TARGET", health_targets_, "[NAME=]ADDRESS of a service (repeatable)")
        ->type_name("[NAME=]ADDR");

    CLI::App* render = command("render", kRenderSummary, [this] {
      return RunRender(render_flags_, ctx_.options.output == OutputFormat::kJson, ctx_.out,
                       ctx_.err);
    });
    AddRenderFlags(*render, &render_flags_);
    render->footer(absl::StrCat(kRenderDescription, "\n\n", kGlobalFooter));

    app_commands_.Register(root_, &action_, kGlobalFooter, app_subcommands);

    CLI::App* completion = command("completion", "Print a shell completion script (bash)", [this] {
      if (shell_ != "bash")
        return Usage(
            absl::StrCat("completion for \"", shell_, "\" is not available; only bash is"));
      ctx_.out << BashCompletion(root_);
      return kExitOk;
    });
    completion->add_option("SHELL", shell_, "bash")->required()->type_name("");

    CLI::App* help = command("help", "Show the help of todoke or of a command", [this] {
      CLI::App* app = &root_;
      std::string name = "todoke";
      for (const std::string& word : help_words_) {
        CLI::App* sub = nullptr;
        try {
          sub = app->get_subcommand(word);
        } catch (const CLI::OptionNotFound&) {
        }
        if (sub == nullptr) {
          return Usage(absl::StrCat("no command \"", word, "\" under ", name));
        }
        app = sub;
        absl::StrAppend(&name, " ", word);
      }
      ctx_.out << app->help(name == "todoke" ? "" : name.substr(0, name.rfind(' ')));
      return kExitOk;
    });
    help->add_option("COMMAND", help_words_, "Command words (todoke help app sync)")->type_name("");

    // Extras are collected (not thrown) at the root only, to report them in our own words; set
    // last so that no subcommand inherits it.
    root_.allow_extras();
  }

  CommandContext& ctx_;
  CLI::App root_;
  GlobalFlags global_flags_;
  std::function<int()> action_;
  AppCommands app_commands_;
  RenderFlags render_flags_;
  std::vector<std::string> health_targets_;
  std::string shell_;
  std::vector<std::string> help_words_;
};

}  // namespace

int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err,
        const Terminal& terminal) {
  CommandContext ctx{GlobalOptions{}, out, err, terminal};
  try {
    CommandLine command_line(ctx, args);
    return command_line.Run(args);
  } catch (const std::exception& e) {
    // Nothing should throw past the parser; if something does, it is a bug, not a crash.
    err << "todoke: internal error: " << e.what() << "\n";
    return kExitFailed;
  }
}

int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  return Run(std::move(args), out, err, Terminal{&std::cin, isatty(STDIN_FILENO) == 1});
}

}  // namespace todoke::cli
