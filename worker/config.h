// Copyright 2026 The Cascade Authors.
//
// cascade-worker's config file (--config FILE): which command renders which
// template. JSON, checked whole when the worker starts; the worker does not
// start with a config that has any error.
//
//   {
//     "graceSeconds": 10,
//     "commands": {
//       "01HZX3C5Y5V7E8W3J6T9Q2M1NB": {
//         "argv": ["ffmpeg", "-y", "-f", "lavfi", "-i", "testsrc=duration=2",
//                  "-progress", "pipe:1", "{output}"],
//         "progress": "out_time_us=(?<done>\\d+)",
//         "progressTotal": 2000000,
//         "finalExitCodes": [1],
//         "env": {"JOB_ID": "{id}"}
//       },
//       "*": {"argv": ["render", "--job", "{id}", "--out", "{output}"]}
//     }
//   }
//
// Top level (no other keys):
//   commands       required; an object with at least one entry. A key is a
//                  template id (26 of A-Z, 0-9) or "*", which matches any
//                  template (and a job without one). The exact id wins.
//   graceSeconds   optional, default 10, above 0 and at most 3600: how long a
//                  command has between SIGTERM and SIGKILL.
// A command (no other keys):
//   argv           required; a non-empty array of strings, each a template
//                  (worker/placeholders.h). argv[0] is the program, found on
//                  PATH unless it holds a '/'; no shell is involved.
//   env            optional; {"NAME": "value template"} added to (or
//                  replacing in) the worker's environment. NAME: letters,
//                  digits and '_', not starting with a digit.
//   progress       optional; a regex read on every output line (stdout and
//                  stderr) for the progress (worker/progress.h).
//   progressTotal  a number above 0, or a template that fills to one: what a
//                  progress regex's lone (?<done>...) group is a part of.
//                  Required by such a regex; refused otherwise.
//   finalExitCodes optional; exit codes 1-255 that mean "no retry can fix
//                  this": the job's fail says "retry": false.
// Every problem is reported (InvalidArgument, one line each, as
// "<file>: <field>: <why>"), e.g.
//   "farm.json: commands.*.argv[2]: unknown placeholder {ouput} ...".

#ifndef CASCADE_WORKER_CONFIG_H_
#define CASCADE_WORKER_CONFIG_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/placeholders.h"
#include "worker/progress.h"

namespace cascade::worker {

struct CommandConfig {
  std::vector<Template> argv;
  std::vector<std::pair<std::string, Template>> env;  // in the file's order
  std::optional<ProgressPattern> progress;
  // progressTotal: a fixed number, or a template filled per job.
  std::optional<double> progress_total;
  std::optional<Template> progress_total_template;
  std::set<int> final_exit_codes;
};

struct WorkerConfig {
  // By template id; "*" is the fallback.
  std::map<std::string, CommandConfig, std::less<>> commands;
  absl::Duration grace = absl::Seconds(10);

  // The command for a job of `template_id` (nullopt: a job without one): the
  // exact entry, else "*", else nullptr.
  const CommandConfig* Find(const std::optional<std::string>& template_id) const;
};

// Reads a config from `text`; `source` names it in messages (the file name).
[[nodiscard]] absl::StatusOr<WorkerConfig> ParseWorkerConfig(std::string_view text,
                                                             std::string_view source);

// Reads the file at `path` and parses it. NotFound / PermissionDenied
// (errno's words) when it cannot be read.
[[nodiscard]] absl::StatusOr<WorkerConfig> LoadWorkerConfig(const std::string& path);

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_CONFIG_H_
