// Copyright 2026 The Cascade Authors.
//
// The durable-transitions workload (contract §12), shared by the programs
// that run it on different stores so that their figures are of the same
// operation: cascade_durability_bench (the SQLite store, bench/
// durability_benchmark.cc) and cascade_postgres_bench (the PostgreSQL store,
// bench/postgres_benchmark.cc).
//
// A worker's cycle: Claim({}) of the oldest queued leaf job, then
// Finish(id, token, {}). That is 2 state transitions (queued -> rendering ->
// finished) in 2 engine calls, each acknowledged once the rows it changed are
// durable. Before the timed loop the engine is given every job the run can
// claim (QueueLeafJobs), so the queue never runs dry.

#ifndef CASCADE_BENCH_TRANSITIONS_H_
#define CASCADE_BENCH_TRANSITIONS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_common.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"

namespace cascade::bench {

inline constexpr int64_t kTransitionsPerCycle = 2;

// Submits `jobs` queued leaf jobs (rounded up to a multiple of kBatchSize):
// SubmitBatch of 1000 LeafSpec()s for kTeam, `clock` advanced 1 ms per batch.
// Aborts the process on an error (the run would measure nothing).
inline void QueueLeafJobs(Engine& engine, AtomicClock& clock, size_t jobs) {
  const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
  for (size_t queued = 0; queued < jobs; queued += kBatchSize) {
    clock.AdvanceMillis(1);
    absl::StatusOr<BatchSubmitResult> result = engine.SubmitBatch(kTeam, specs);
    if (!result.ok()) Die("SubmitBatch", result.status());
    if (result->success_count != kBatchSize) {
      Die("SubmitBatch", absl::InternalError("not every spec was created"));
    }
  }
}

// One worker's cycle: Claim({}) (any queued job, the default lease), then
// Finish(id, token, {}) (keep the planned output URL).
inline absl::Status WorkerCycle(Engine& engine) {
  static const ClaimRequest kRequest;
  static const FinishReport kReport;
  absl::StatusOr<ClaimedJob> claimed = engine.Claim(kRequest);
  if (!claimed.ok()) return claimed.status();
  absl::StatusOr<Job> finished = engine.Finish(claimed->job.id, claimed->lease.token, kReport);
  if (!finished.ok()) return finished.status();
  benchmark::DoNotOptimize(finished);
  return absl::OkStatus();
}

}  // namespace cascade::bench

#endif  // CASCADE_BENCH_TRANSITIONS_H_
