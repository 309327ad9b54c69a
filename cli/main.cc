// Copyright 2026 The Cascade Authors.
//
// cascade: the command line of cascade-server (docs/cli.md). Parses the
// flags (cli/flags.h), sets SIGINT up for the commands that run until it
// (watch, submit --wait), and runs the command (cli/commands.h). Exit
// status: cli/client.h, ExitCode.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace cascade::cli {
namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void OnInterrupt(int) { interrupted.store(true); }

int Main(int argc, char** argv) {
  absl::StatusOr<Invocation> inv = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!inv.ok()) {
    std::cerr << "cascade: " << inv.status().message() << "\n"
              << "Run 'cascade --help' for the commands and flags.\n";
    return kExitUsage;
  }
  if (inv->help) {
    std::cout << inv->help_text;
    return kExitOk;
  }
  // Only the commands that run until told to stop take SIGINT themselves;
  // the others die of it as programs do.
  if (inv->command == Command::kWatch || (inv->command == Command::kSubmit && inv->wait)) {
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
  }
  Console console;
  console.in = &std::cin;
  console.out = &std::cout;
  console.err = &std::cerr;
  console.out_tty = isatty(STDOUT_FILENO) == 1;
  console.err_tty = isatty(STDERR_FILENO) == 1;
  console.interrupted = &interrupted;
  const int code = RunCommand(*inv, console);
  std::cout.flush();
  return code;
}

}  // namespace
}  // namespace cascade::cli

int main(int argc, char** argv) { return cascade::cli::Main(argc, argv); }
