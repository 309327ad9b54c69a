// Copyright 2026 The Cascade Authors.
//
// `cascade`'s flags on CLI11 (Debian's libcli11-dev, header-only). CLI11
// reports errors by throwing; they are caught here and become a Status.

#include "cli/flags.h"

#include <cmath>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/client.h"

namespace cascade::cli {
namespace {

constexpr char kDescription[] =
    "cascade: the command line of cascade-server (docs/cli.md).\n"
    "Tables for people; --json prints the server's answers as they are, for scripts.\n"
    "Exit status: 0 ok, 1 the server refused, 2 usage, 3 submit --wait: not every job\n"
    "finished, 4 no answer from the server, 130 interrupted.";

// The app, bound to `inv` (and `timeout_seconds`, turned into inv.timeout
// after parsing).
std::unique_ptr<CLI::App> MakeApp(Invocation& inv, double& timeout_seconds) {
  auto app = std::make_unique<CLI::App>(kDescription, "cascade");
  app->set_help_flag("--help,-h", "Print this help and exit");
  app->require_subcommand(1);
  // Subcommands made from here on pass the flags they do not know to the
  // app: the global flags work after the command too.
  app->fallthrough();
  app->add_option("--url", inv.url, "cascade-server's URL (/api/v2 is added)")
      ->envname("CASCADE_URL")
      ->default_str("http://127.0.0.1:8080");
  app->add_option("--token", inv.token, "a client token (--token of the server)")
      ->envname("CASCADE_TOKEN");
  app->add_flag("--json", inv.json, "print the server's JSON as it is");
  app->add_option("--timeout", timeout_seconds, "seconds a request may take (30)")
      ->check(CLI::Range(0.001, 86400.0));

  CLI::App* submit = app->add_subcommand(
      "submit", "submit a job (JobCreation) or a batch (BatchCreation, {\"jobs\": [...]})");
  submit->add_option("FILE", inv.file, "the JSON body; - reads standard input")->required();
  submit->add_flag("--wait", inv.wait,
                   "show progress until every job ended; exit 0 only if all finished");

  CLI::App* list = app->add_subcommand("list", "list jobs (GET /jobs), or a batch's jobs");
  list->add_option("--state", inv.list.states, "only jobs in these states (a,b)")->delimiter(',');
  list->add_option("--exclude-state", inv.list.exclude_states, "no jobs in these states")
      ->delimiter(',');
  list->add_option("--tag", inv.list.tags, "only jobs carrying all these tags (a,b)")
      ->delimiter(',');
  list->add_option("--limit", inv.list.limit, "at most N jobs (1-1000; server default 100)");
  list->add_option("--from", inv.list.from, "skip the first N jobs (paging)");
  list->add_option("--from-date", inv.list.from_date, "created at or after (RFC 3339)");
  list->add_option("--to-date", inv.list.to_date, "created before (RFC 3339)");
  list->add_option("--sort", inv.list.sort, "oldest_first, newest_first, priority or random");
  list->add_flag("--minimal", inv.list.minimal, "without stats (with --json)");
  list->add_option("--batch", inv.list.batch, "the top-level jobs of this batch instead");

  auto one_id = [&](const char* name, const char* what) {
    CLI::App* sub = app->add_subcommand(name, what);
    sub->add_option("ID", inv.ids, "a job id")->required()->expected(1);
    return sub;
  };
  one_id("get", "show a job");
  CLI::App* cancel =
      app->add_subcommand("cancel", "cancel queued or pending jobs and their cascade");
  cancel->add_option("ID", inv.ids, "job ids (several: all or none)")->required();
  CLI::App* retry =
      app->add_subcommand("retry", "revive failed or cancelled jobs and their family");
  retry->add_option("ID", inv.ids, "job ids (several: all or none)")->required();
  one_id("suspend", "hold a queued or pending job");
  one_id("resume", "let a held job be claimed again");
  one_id("abort", "ask the worker rendering a job to stop");

  CLI::App* watch = app->add_subcommand("watch", "print the event stream until Ctrl-C");
  watch->add_option("--batch", inv.watch_batch, "only this batch's jobs");
  watch->add_option("--job", inv.watch_job, "only this job's family (with --batch: both)");

  CLI::App* graph = one_id("graph", "print a job's family as Graphviz DOT");
  graph->add_flag("--svg", inv.svg, "as SVG, laid out by the server");
  one_id("logs", "print a job's render log");
  app->add_subcommand("workers", "list the workers");
  return app;
}

Command CommandNamed(const std::string& name) {
  static const struct {
    const char* name;
    Command command;
  } kCommands[] = {
      {"submit", Command::kSubmit}, {"list", Command::kList},   {"get", Command::kGet},
      {"cancel", Command::kCancel}, {"retry", Command::kRetry}, {"suspend", Command::kSuspend},
      {"resume", Command::kResume}, {"abort", Command::kAbort}, {"watch", Command::kWatch},
      {"graph", Command::kGraph},   {"logs", Command::kLogs},   {"workers", Command::kWorkers}};
  for (const auto& c : kCommands) {
    if (name == c.name) return c.command;
  }
  return Command::kList;  // not reached: CLI11 knows only these
}

}  // namespace

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  double timeout_seconds = 30;
  std::unique_ptr<CLI::App> app = MakeApp(inv, timeout_seconds);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
  try {
    app->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    Invocation help;
    help.help = true;
    // The help of the command it followed, if any.
    const std::vector<CLI::App*> chosen = app->get_subcommands();
    help.help_text = chosen.empty() ? app->help() : chosen.front()->help();
    return help;
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  inv.command = CommandNamed(app->get_subcommands().front()->get_name());
  inv.timeout = absl::Milliseconds(std::llround(timeout_seconds * 1000));
  if (absl::Status url = CheckServerUrl(inv.url); !url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--url: ", url.message()));
  }
  for (char c : inv.token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("--token: holds a control character");
    }
  }
  const ListFlags& l = inv.list;
  if (inv.command == Command::kList && !l.batch.empty() &&
      (!l.exclude_states.empty() || !l.tags.empty() || l.limit || l.from || !l.from_date.empty() ||
       !l.to_date.empty() || !l.sort.empty() || l.minimal)) {
    return absl::InvalidArgumentError(
        "list --batch: only --state may go with it (GET /jobs' other filters do not apply to "
        "a batch)");
  }
  return inv;
}

std::string Usage() {
  Invocation inv;
  double timeout_seconds = 30;
  return MakeApp(inv, timeout_seconds)->help();
}

}  // namespace cascade::cli
