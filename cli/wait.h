// Copyright 2026 The Cascade Authors.
//
// WaitForJobs: `cascade submit --wait`. Shows the progress line
// (cli/progress.h) of a batch or of a job's family until every job has
// ended, and returns the last counts.
//
// How it learns of changes: a thread follows the event stream
// (cli/event_stream.h, GET /events?batch=ID or ?job=ID); each transition
// (or reset) it reads makes the main thread read the counts again
// (cli/counts.h: GET /batches/{id}, or GET /jobs/{id}/graph), at most four
// times a second however many events arrive. The counts are also read every
// 2 s whatever the stream does, so that a missed event, a stream that
// cannot connect or a server without /events never makes it hang.
//
// Example:
//
//   std::atomic<bool> interrupted{false};  // set by a SIGINT handler
//   absl::StatusOr<StateCounts> last = WaitForJobs(
//       api, {.batch = true, .id = batch_id},
//       {.out = &std::cout, .tty = isatty(1), .interrupted = &interrupted});
//   return last.ok() && last->finished == last->total() ? 0 : 3;

#ifndef CASCADE_CLI_WAIT_H_
#define CASCADE_CLI_WAIT_H_

#include <atomic>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/counts.h"

namespace cascade::cli {

struct WaitTarget {
  bool batch = true;  // a batch id; else a job id (its family)
  std::string id;
};

struct WaitOptions {
  std::ostream* out = nullptr;  // REQUIRED: where the progress goes
  bool tty = false;             // redraw one line (a terminal), or a line per change
  // When set (by a SIGINT handler), the wait ends within about 100 ms with
  // Cancelled. May be null.
  const std::atomic<bool>* interrupted = nullptr;
  absl::Duration poll_interval = absl::Seconds(2);        // reads without an event
  absl::Duration min_read_gap = absl::Milliseconds(250);  // at most 4 reads/s
  // Reads failing with no answer (or a 5xx, 429) are tried again until they
  // have failed for this long in a row; then the last error is returned.
  absl::Duration give_up_after = absl::Seconds(60);
};

// Waits until every job of `target` has ended. Returns the counts then.
// Errors: the server's refusal to read the target (404 when it does not
// exist, 401, ...); reads failing for give_up_after; Cancelled when
// interrupted. The progress shown ends with ProgressEnd in every case.
absl::StatusOr<StateCounts> WaitForJobs(const ApiClient& client, const WaitTarget& target,
                                        const WaitOptions& options);

// One read of the counts of `target` (the route the file comment names).
absl::StatusOr<StateCounts> ReadCounts(const ApiClient& client, const WaitTarget& target);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_WAIT_H_
