// Copyright 2026 The Cascade Authors.
//
// File: cascade/batch.h
// -----------------------------------------------------------------------------
// Results of submitting, reading and cancelling a batch (contract §4-5). The
// shapes mirror `BatchCreationResponse`, `BatchStatusResponse` and
// `BatchCancellationResponse`.
//
// Example:
//
//   std::vector<cascade::JobSpec> specs(100, spec);
//   auto created = engine->SubmitBatch("team-a", specs);
//   // created->status: kCreated, kPartial or kError
//   auto counts = engine->GetBatchCounts("team-a", created->batch_id);  // lock-free
//   auto cancelled = engine->CancelBatch("team-a", created->batch_id);

#ifndef CASCADE_BATCH_H_
#define CASCADE_BATCH_H_

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/ids.h"
#include "cascade/job.h"

namespace cascade {

// A job created by a submit, as `JobCreationResponse` (and its `children`).
struct CreatedJob {
  JobId id;
  JobState state = JobState::kQueued;
  OutputUrl output_url;  // made when read (cascade/job.h)
  std::vector<CreatedJob> children;
};

// ---- Submit -----------------------------------------------------------------

inline constexpr size_t kMaxBatchJobs = 1000;

enum class BatchSubmitStatus : uint8_t { kCreated, kPartial, kError };
std::string_view BatchSubmitStatusName(BatchSubmitStatus s);  // "created", ...

struct BatchJobResult {
  size_t index = 0;  // position in the request
  CreatedJob job;
};

struct BatchJobError {
  size_t index = 0;        // position in the request
  std::string error;       // human-readable
  std::string error_code;  // machine-readable: "invalid_argument", "not_found", ...
};

struct BatchSubmitResult {
  // When status is kError no job carries this id.
  BatchId batch_id;
  BatchSubmitStatus status = BatchSubmitStatus::kCreated;
  size_t total_jobs = 0;
  size_t success_count = 0;
  std::vector<BatchJobResult> jobs;   // in request order
  std::vector<BatchJobError> errors;  // in request order
};

// ---- Aggregate --------------------------------------------------------------

// Top-level jobs of a batch by state: one consistent snapshot, read without a
// lock. `by_state` sums to `total`.
struct BatchCounts {
  std::array<int, kNumJobStates> by_state{};  // indexed by JobState
  int total = 0;

  int count(JobState s) const { return by_state[static_cast<int>(s)]; }
  // Wire view (`BatchStatusResponse.stats`).
  int finished() const { return count(JobState::kFinished); }
  // error + manually_cancelled.
  int failed() const { return count(JobState::kError) + count(JobState::kCancelled); }
  // queued + pending + render:dorender.
  int pending() const {
    return count(JobState::kQueued) + count(JobState::kPending) + count(JobState::kRendering);
  }
};

enum class BatchStatus : uint8_t {
  kProcessing,  // some top-level job is not terminal
  kFinished,    // all terminal, at least one finished
  kError,       // all ended in error or were cancelled
};
std::string_view BatchStatusName(BatchStatus s);  // "processing", ...
BatchStatus StatusOf(const BatchCounts& counts);

// One top-level job of a batch, as `BatchStatusResponse.jobs[]`.
struct BatchJobView {
  size_t index = 0;
  Job job;
};

struct BatchView {
  BatchId batch_id;
  BatchStatus status = BatchStatus::kProcessing;
  BatchCounts counts;
  std::vector<BatchJobView> jobs;  // in request order
};

// ---- Cancel -----------------------------------------------------------------

enum class BatchCancelStatus : uint8_t { kCancelled, kPartial, kUnchanged };
std::string_view BatchCancelStatusName(BatchCancelStatus s);  // "cancelled", ...

// `BatchCancellationJobResult`.
struct BatchCancelJobResult {
  size_t index = 0;
  JobId id;
  bool cancelled = false;              // result: "cancelled" | "skipped"
  JobState state = JobState::kQueued;  // after the attempt
  std::string reason;                  // why it was skipped; empty when cancelled
};

struct BatchCancelResult {
  BatchId batch_id;
  BatchCancelStatus status = BatchCancelStatus::kUnchanged;
  size_t total_jobs = 0;
  size_t cancelled_count = 0;
  size_t skipped_count = 0;
  std::vector<BatchCancelJobResult> jobs;  // in request order
  // Every job cancelled, cascades included, each once, in id order.
  std::vector<Job> cancelled_jobs;
};

}  // namespace cascade

#endif  // CASCADE_BATCH_H_
