// Copyright 2026 The Cascade Authors.
//
// The commands of `cascade` (docs/cli.md): each makes its calls through an
// ApiClient, prints for people or, with --json, the server's answer as it
// came, and returns the exit status (cli/client.h, ExitCode).

#ifndef CASCADE_CLI_COMMANDS_H_
#define CASCADE_CLI_COMMANDS_H_

#include <atomic>
#include <istream>
#include <ostream>

#include "cli/flags.h"

namespace cascade::cli {

// Where a command reads and writes.
struct Console {
  std::istream* in = nullptr;   // submit -
  std::ostream* out = nullptr;  // results, progress
  std::ostream* err = nullptr;  // errors, notes
  bool out_tty = false;         // isatty(stdout): submit --wait redraws one line
  bool err_tty = false;         // isatty(stderr): the same with --json (progress on stderr)
  // Set by SIGINT: ends submit --wait (exit 130) and watch (exit 0). May be
  // null.
  const std::atomic<bool>* interrupted = nullptr;
};

// Runs `inv` (not a --help one) and returns the exit status.
int RunCommand(const Invocation& inv, const Console& console);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_COMMANDS_H_
