// Copyright 2026 The Cascade Authors.
//
// StateCounts: how many jobs of a batch or of a job's family are in each
// state, as `cascade submit --wait` follows them, read from one answer of
// the server:
//   - a batch: GET /batches/{id}, whose stats.byState counts the batch's
//     top-level jobs (a parent ends after its nested children, so they are
//     done when it is);
//   - a job: GET /jobs/{id}/graph, the job's family in Graphviz DOT (every
//     job nesting and dependsOn join it to), one node per job whose label
//     ends in its state. One request either way, however large the family.

#ifndef CASCADE_CLI_COUNTS_H_
#define CASCADE_CLI_COUNTS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json.hpp"

namespace cascade::cli {

struct StateCounts {
  int queued = 0;
  int pending = 0;
  int rendering = 0;  // render:dorender
  int finished = 0;
  int error = 0;
  int cancelled = 0;  // manually_cancelled

  int total() const { return queued + pending + rendering + finished + error + cancelled; }
  int ended() const { return finished + error + cancelled; }
  // Every job ended (and there is one at least).
  bool done() const { return total() > 0 && ended() == total(); }

  bool operator==(const StateCounts&) const = default;
};

// Adds one job in the state the API names `state` (queued, pending,
// render:dorender, finished, error, manually_cancelled); false, and nothing
// added, for any other name.
bool CountState(std::string_view state, StateCounts* counts);

// The counts of a BatchStatusResponse (GET /batches/{id}): its
// stats.byState, or, from a server without that extension, stats' total,
// finished, error (cancelled jobs are counted there) and pending (queued,
// pending and rendering together, counted as queued). InvalidArgument when
// it is not such an answer.
absl::StatusOr<StateCounts> CountsFromBatch(const boost::json::value& batch);

// The counts of GET /jobs/{id}/graph's DOT: each node's label is
// "<id>\n<state>" (an edge's label has no line break). InvalidArgument when
// no node is found.
absl::StatusOr<StateCounts> CountsFromGraph(std::string_view dot);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_COUNTS_H_
