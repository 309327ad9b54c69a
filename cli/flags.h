// Copyright 2026 The Cascade Authors.
//
// `cascade`'s command line (docs/cli.md), parsed with CLI11 into one
// struct, so that it can be tested without a server:
//
//   cascade [--url URL] [--token T] [--json] [--timeout S] COMMAND [ARGS]
//
// The global flags may also follow the command (`cascade list --json`).
// --url defaults to $CASCADE_URL, else http://127.0.0.1:8080; --token to
// $CASCADE_TOKEN.

#ifndef CASCADE_CLI_FLAGS_H_
#define CASCADE_CLI_FLAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade::cli {

enum class Command {
  kSubmit,
  kList,
  kGet,
  kCancel,
  kRetry,
  kSuspend,
  kResume,
  kAbort,
  kWatch,
  kGraph,
  kLogs,
  kWorkers,
};

// `list`'s filters and paging: GET /jobs' query parameters (docs/http.md).
struct ListFlags {
  std::vector<std::string> states;          // --state a,b   -> states
  std::vector<std::string> exclude_states;  // --exclude-state -> exclude_states
  std::vector<std::string> tags;            // --tag a,b     -> tags
  std::optional<int> limit;                 // --limit N     -> limit
  std::optional<int> from;                  // --from N      -> from (offset)
  std::string from_date;                    // --from-date T -> from_date
  std::string to_date;                      // --to-date T   -> to_date
  std::string sort;                         // --sort S      -> sort
  bool minimal = false;                     // --minimal     -> minimal=true
  std::string batch;                        // --batch ID: the batch's jobs instead
};

struct Invocation {
  Command command = Command::kList;
  // Global.
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  bool json = false;
  absl::Duration timeout = absl::Seconds(30);
  // submit
  std::string file;  // "-": standard input
  bool wait = false;
  // list
  ListFlags list;
  // get, cancel (one or more), retry (one or more), suspend, resume, abort,
  // graph, logs
  std::vector<std::string> ids;
  // watch
  std::string watch_batch;
  std::string watch_job;
  // graph
  bool svg = false;
  // --help anywhere: `help_text` is the help of the command it followed
  // (or the program's), and nothing else is set.
  bool help = false;
  std::string help_text;
};

// Parses argv[1..]. InvalidArgument with CLI11's words (naming the flag) for
// an unknown command or flag, a missing argument, or a bad value; and for
// list --batch with GET /jobs' filters, a --url the HTTP client cannot send
// to, or a token with control characters.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args);

// The program's --help text.
std::string Usage();

}  // namespace cascade::cli

#endif  // CASCADE_CLI_FLAGS_H_
