// Copyright 2026 The Cascade Authors.
//
// cascade-worker's flags on CLI11 (Debian's libcli11-dev, header-only). CLI11
// reports errors by throwing; they are caught here and become a Status.

#include "worker/flags.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cascade::worker {
namespace {

constexpr char kDescription[] =
    "cascade-worker: a render node for cascade-server. It claims jobs, runs the command its\n"
    "config maps each job's template to (an argv, no shell), heartbeats, streams the output\n"
    "to the job's log, and finishes or fails the job. SIGTERM or SIGINT: stop claiming,\n"
    "terminate the commands, release their jobs, exit 0. docs/workers.md has the details.";

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "cascade-worker";
  return name;
}

// The app, bound to `flags` and `lease_seconds`.
std::unique_ptr<CLI::App> MakeApp(WorkerFlags& flags, double& lease_seconds) {
  auto app = std::make_unique<CLI::App>(kDescription, "cascade-worker");
  app->set_help_flag("--help", "Print this help and exit");
  app->add_option("--server", flags.server,
                  "cascade-server's URL, e.g. http://127.0.0.1:8080 (/api/v2 is added)")
      ->required();
  app->add_option("--token", flags.token, "a worker token of the server (--worker-token there)")
      ->envname("CASCADE_WORKER_TOKEN")
      ->required();
  app->add_option("--config", flags.config, "the JSON file mapping template ids to commands")
      ->required();
  app->add_option("--name", flags.name, "this worker's name in claims and the worker list")
      ->default_str("the host name");
  app->add_option("--tags", flags.tags, "claim only jobs carrying all these tags (a,b)")
      ->delimiter(',');
  app->add_option("--slots", flags.slots, "jobs rendered at once")
      ->check(CLI::Range(1, 256))
      ->default_val(1);
  app->add_option("--lease-seconds", lease_seconds,
                  "the lease to ask for (default: the server's --lease-seconds)")
      ->check(CLI::Range(0.001, 86400.0));
  return app;
}

}  // namespace

absl::StatusOr<WorkerFlags> ParseWorkerFlags(const std::vector<std::string>& args) {
  WorkerFlags flags;
  double lease_seconds = 0;
  std::unique_ptr<CLI::App> app = MakeApp(flags, lease_seconds);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
  try {
    app->parse(reversed);
  } catch (const CLI::CallForHelp&) {
    WorkerFlags help;
    help.help = true;
    return help;
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (flags.name.empty()) flags.name = HostName();
  for (char c : flags.token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("--token: holds a control character");
    }
  }
  for (const std::string& tag : flags.tags) {
    if (tag.empty()) return absl::InvalidArgumentError("--tags: an empty tag");
  }
  if (lease_seconds > 0) flags.lease = absl::Milliseconds(std::llround(lease_seconds * 1000));
  return flags;
}

std::string WorkerUsage() {
  WorkerFlags flags;
  double lease_seconds = 0;
  return MakeApp(flags, lease_seconds)->help();
}

}  // namespace cascade::worker
