// Copyright 2026 The Cascade Authors.
//
// File: cascade/engine.h
// -----------------------------------------------------------------------------
// The engine: jobs, their dependency graph, batches, cancellation and workers,
// in one thread-safe object. docs/contract.md is the behaviour contract; this header
// says what each call does and how it fails.
//
// Every client call is scoped to a team: another team's jobs and batches do
// not exist for it (NotFound), are never listed and never reached by a
// cascade. Worker calls serve the whole farm.
//
// Example:
//
//   auto engine = cascade::Engine::Create(cascade::Options{});
//   cascade::JobSpec spec;
//   spec.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
//   auto created = (*engine)->Submit("team-a", spec);         // queued
//   auto cancelled = (*engine)->Cancel("team-a", created->id);
//   // cancelled->front().state == cascade::JobState::kCancelled
//
// Thread safety: every method may be called from any thread at any time.

#ifndef CASCADE_ENGINE_H_
#define CASCADE_ENGINE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cascade/batch.h"
#include "cascade/events.h"
#include "cascade/ids.h"
#include "cascade/job.h"
#include "cascade/list_query.h"
#include "cascade/options.h"
#include "cascade/webhook.h"

namespace cascade {

inline constexpr size_t kMaxCancelIds = 1000;

// A worker's hold on a rendering job. Calls about the job must present the
// token; once the job is requeued or given to another worker the token is
// stale and every call carrying it fails with FailedPrecondition.
struct Lease {
  std::string token;
  absl::Time expires_at;
};

struct ClaimRequest {
  // The worker's name: free text; a non-empty one is remembered in the
  // worker list (ListWorkers) with `tags`, `any_tags` and the lease length.
  std::string worker;
  std::vector<std::string> tags;  // only jobs carrying all of these
  // Only jobs carrying at least one of these, when not empty (nexrender v1's
  // pickup matching, contract §15).
  std::vector<std::string> any_tags;
  std::optional<absl::Duration> lease;  // default: Options::lease_duration
};

struct ClaimedJob {
  Job job;
  Lease lease;
  std::string payload;  // JobSpec::payload
};

struct FinishReport {
  // Replaces the planned outputUrl when non-empty.
  std::string output_url;
};

struct FailReport {
  // stats.error; empty means "render failed". At most 4096 bytes are kept.
  std::string error;
  // False: no retry can fix this (bad input); the job ends in error at once,
  // whatever attempts it has left.
  bool retry = true;
};

struct HeartbeatReport {
  // 0-100. A value below the current progress is accepted and changes
  // nothing (progress never decreases within an attempt).
  std::optional<double> progress;
  // The lease's new length from now; default: the length the claim granted.
  std::optional<absl::Duration> extend;
};

// Contract §15: the render log kept per job (the last kMaxJobLogBytes).
inline constexpr size_t kMaxJobLogBytes = size_t{1} << 20;
// At most this many lines in one AppendLog call.
inline constexpr size_t kMaxLogLinesPerCall = 10000;

// What the worker list says of a worker (contract §15).
enum class WorkerStatus : uint8_t {
  kBusy = 0,  // holds at least one job, seen within two lease lengths
  kIdle = 1,  // holds none, seen within two lease lengths
  kLost = 2,  // not seen for two lease lengths (its last lease's)
};
// "busy", "idle", "lost".
std::string_view WorkerStatusName(WorkerStatus status);

struct WorkerInfo {
  std::string name;
  // The tags of its last claim (all-of, then any-of), as it sent them.
  std::vector<std::string> tags;
  absl::Time last_seen;
  absl::Duration lease;  // the length of the last lease it was granted
  WorkerStatus status = WorkerStatus::kIdle;
  // The rendering jobs it holds, in id order (only the asking team's).
  std::vector<JobId> jobs;
};

struct HeartbeatResult {
  Job job;
  Lease lease;  // the same token, a later expiry
  // Stop rendering: an abort was requested (Release the job, which then ends
  // manually_cancelled), or the attempt ran past its time limit (it already
  // ended; the lease is no longer valid).
  bool cancel_requested = false;
};

class Engine {
 public:
  // Makes an engine: in memory, or, with `options.durability.data_dir`, one
  // that restores the state journaled there and journals every change.
  // InvalidArgument if `options` breaks a REQUIRES; for a data directory,
  // the errors of docs/durability.md ("Errors at open"): FailedPrecondition
  // (in use, not a directory, a newer version), DataLoss (damaged), ...
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Engine>> Create(const Options& options);

  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- Submit ---------------------------------------------------------------

  // Creates the job and its nested children, all or nothing. The job is
  // pending if it has an unfinished prerequisite (a child, or a `depends_on`
  // job not finished), else queued.
  // Errors: InvalidArgument (field violations for each bad field);
  // NotFound (a `depends_on` id unknown to the team); FailedPrecondition (a
  // `depends_on` job already in error or manually_cancelled).
  [[nodiscard]] virtual absl::StatusOr<CreatedJob> Submit(std::string_view team,
                                                          const JobSpec& spec) = 0;

  // Submits 1-1000 specs under one new batch id. Each spec is validated on
  // its own: valid ones are created, invalid ones reported by index.
  // Errors: InvalidArgument when `specs` is empty or over 1000; otherwise the
  // per-spec outcome is in the result.
  [[nodiscard]] virtual absl::StatusOr<BatchSubmitResult> SubmitBatch(
      std::string_view team, absl::Span<const JobSpec> specs) = 0;

  // The same, for entries some of which already failed (a server reads a
  // batch body entry by entry, and an entry that does not parse is still an
  // entry): a failed entry is reported at its index with its status's
  // message (which lists its field violations) and not created; every entry keeps
  // its request position as its batch index.
  [[nodiscard]] virtual absl::StatusOr<BatchSubmitResult> SubmitBatchEntries(
      std::string_view team, absl::Span<const absl::StatusOr<JobSpec>> entries) = 0;

  // ---- Read -----------------------------------------------------------------

  // The job's family, in id order: every job the dependency graph joins it
  // to (nested children and parents, prerequisites and dependents),
  // transitively, the job included. Each Job's `children`, `depends_on` and
  // `parent_id` give the edges. NotFound unless the job belongs to `team`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> GetFamily(std::string_view team,
                                                                   JobId id) const = 0;

  // The job, if it belongs to `team`; NotFound otherwise.
  [[nodiscard]] virtual absl::StatusOr<Job> Get(std::string_view team, JobId id) const = 0;

  // What the job was created from (JobSpec::payload, as ClaimedJob carries
  // it), if it belongs to `team`; NotFound otherwise. cascade-server answers
  // a nexrender v1 job's JSON from it (contract §15).
  [[nodiscard]] virtual absl::StatusOr<std::string> GetPayload(std::string_view team,
                                                               JobId id) const = 0;

  // Jobs of `team` matching `query`, in its order, paged. Served from
  // per-state and per-tag indexes: a narrow filter does not scan every job.
  // Errors: InvalidArgument if limit is 0 or over 1000.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> List(std::string_view team,
                                                              const ListQuery& query) const = 0;

  // The batch's top-level jobs by state: lock-free, one consistent snapshot.
  // NotFound if the team has no such batch.
  [[nodiscard]] virtual absl::StatusOr<BatchCounts> GetBatchCounts(std::string_view team,
                                                                   BatchId id) const = 0;

  // Counts plus each top-level job. NotFound as above.
  [[nodiscard]] virtual absl::StatusOr<BatchView> GetBatch(std::string_view team,
                                                           BatchId id) const = 0;

  // Number of jobs held, all teams and states.
  virtual size_t JobCount() const = 0;

  // ---- Cancel (contract §4) -----------------------------------------------------

  // Cancels the job and its cascade (rules E, R, U). Returns every job
  // cancelled, each once, in id order.
  // Errors: NotFound; FailedPrecondition if the job is not queued or pending.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> Cancel(std::string_view team,
                                                                JobId id) = 0;

  // Cancels 1-1000 distinct jobs and their cascades atomically: all of them,
  // or (on any error) none, with nothing interleaved.
  // Errors: InvalidArgument (empty, over 1000, duplicates: each listed);
  // NotFound (listing every unknown id); FailedPrecondition (listing every
  // named job that is not cancellable, with its state).
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> CancelMany(
      std::string_view team, absl::Span<const JobId> ids) = 0;

  // Best-effort: cancels each top-level job of the batch that still can be,
  // reporting each. NotFound if the team has no such batch.
  [[nodiscard]] virtual absl::StatusOr<BatchCancelResult> CancelBatch(std::string_view team,
                                                                      BatchId id) = 0;

  // ---- Workers (contract §7) ----------------------------------------------------

  // Hands the next queued job (pickup order, optional tags) to a worker.
  // NotFound when no queued job matches.
  [[nodiscard]] virtual absl::StatusOr<ClaimedJob> Claim(const ClaimRequest& request) = 0;

  // Ends the attempt successfully: finished, progress 100, renderDuration.
  // Errors: NotFound (unknown job); FailedPrecondition (not rendering, or a
  // stale lease).
  [[nodiscard]] virtual absl::StatusOr<Job> Finish(JobId id, std::string_view lease_token,
                                                   const FinishReport& report) = 0;

  // Ends the attempt as a failure with `report.error` as stats.error. With
  // attempts left and `report.retry`, the job goes back to queued, claimable
  // once its retry backoff has passed (Job::retry_at); otherwise it ends in
  // error and that propagates to its dependents (contract §3, §14). Errors as
  // Finish.
  [[nodiscard]] virtual absl::StatusOr<Job> Fail(JobId id, std::string_view lease_token,
                                                 const FailReport& report) = 0;
  [[nodiscard]] absl::StatusOr<Job> Fail(JobId id, std::string_view lease_token,
                                         std::string_view error) {
    return Fail(id, lease_token, FailReport{.error = std::string(error)});
  }

  // Extends the lease and records progress; tells the worker whether an abort
  // was requested. A heartbeat with the lease of an attempt that ran past its
  // time limit (which ended it) answers cancel_requested and the job as it is
  // now, changing nothing. Errors: InvalidArgument (progress outside 0-100,
  // or a non-positive extension); NotFound; FailedPrecondition (not
  // rendering, or a stale lease).
  [[nodiscard]] virtual absl::StatusOr<HeartbeatResult> Heartbeat(
      JobId id, std::string_view lease_token, const HeartbeatReport& report) = 0;

  // Ends the attempt without a result: the job goes back to queued (the
  // attempt counted, the retry backoff applies), or to error when it has used
  // its max_attempts. A job whose abort was requested ends
  // manually_cancelled instead: releasing it is how a worker acknowledges.
  // Errors as Finish.
  [[nodiscard]] virtual absl::StatusOr<Job> Release(JobId id, std::string_view lease_token) = 0;

  // Asks the worker rendering the job to stop: `cancel_requested` becomes
  // true and the worker learns it on its next heartbeat. If the job is not
  // released within Options::abort_grace it is cancelled without the worker.
  // Errors: NotFound; FailedPrecondition unless the job is rendering.
  [[nodiscard]] virtual absl::StatusOr<Job> RequestAbort(std::string_view team, JobId id) = 0;

  // ---- Render logs and the worker list (contract §15) -------------------------

  // Appends `lines` to the job's render log, each followed by a newline; the
  // log keeps its last kMaxJobLogBytes, cut at a line start. Fenced like
  // Heartbeat: only the holder of the job's current lease may write. The log
  // is journaled, outlives the attempt (a retried job's log goes on) and is
  // purged with the job.
  // Errors: InvalidArgument (over kMaxLogLinesPerCall lines, or a line
  // holding a NUL byte); NotFound; FailedPrecondition (not rendering, or a
  // stale lease).
  [[nodiscard]] virtual absl::Status AppendLog(JobId id, std::string_view lease_token,
                                               absl::Span<const std::string> lines) = 0;

  // The team's job's render log. NotFound for an unknown job, or one with
  // nothing logged.
  [[nodiscard]] virtual absl::StatusOr<std::string> GetLog(std::string_view team,
                                                           JobId id) const = 0;

  // Every worker that claimed (with a name) or heartbeat, by name; each lists
  // only `team`'s jobs among those it holds. Its status is judged at the
  // clock's current time.
  [[nodiscard]] virtual std::vector<WorkerInfo> ListWorkers(std::string_view team) const = 0;

  // ---- Retries, holds and priorities (contract §14) -------------------------

  // Revives 1-1000 distinct jobs in error or manually_cancelled, with every
  // job that ended because one of them ended (its cascade, a failed
  // prerequisite, failed dependents), transitively, atomically. Each revived
  // job gets a fresh attempt budget, progress 0, no error, start or finish
  // time, and goes to queued or pending by its prerequisites. Returns every
  // revived job once, in id order.
  // Errors: InvalidArgument (empty, over 1000, duplicates); NotFound (every
  // unknown id); FailedPrecondition (a named job not in error or
  // manually_cancelled, or a revived job with a failed or cancelled
  // prerequisite outside the set: each named).
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> Retry(std::string_view team,
                                                               absl::Span<const JobId> ids) = 0;

  // Holds 1-1000 distinct queued or pending jobs: they keep their state and
  // are never claimed until resumed; a pending one that becomes ready waits
  // as queued. A job already held is left as it is. Returns the jobs.
  // Errors as Retry; FailedPrecondition for a job rendering or ended.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> Suspend(std::string_view team,
                                                                 absl::Span<const JobId> ids) = 0;
  // Lets held jobs be claimed again (a job not held is left as it is).
  // Errors as Suspend.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> Resume(std::string_view team,
                                                                absl::Span<const JobId> ids) = 0;
  // Suspend or Resume every job of the batch, nested children included, that
  // is queued or pending; the others are left as they are. Returns the jobs
  // whose hold changed. NotFound if the team has no such batch.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> SuspendBatch(std::string_view team,
                                                                      BatchId id) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<Job>> ResumeBatch(std::string_view team,
                                                                     BatchId id) = 0;

  // Changes a queued or pending job's priority; its place in the `priority`
  // pickup order changes at once. Errors: NotFound; FailedPrecondition
  // unless the job is queued or pending.
  [[nodiscard]] virtual absl::StatusOr<Job> SetPriority(std::string_view team, JobId id,
                                                        int32_t priority) = 0;

  // ---- Time -----------------------------------------------------------------

  // Runs what is due at the clock's current time: leases that ran out and
  // attempts past their time limit end as failed attempts (back to queued,
  // or error after max_attempts), aborts past their grace end
  // manually_cancelled, and jobs whose retry backoff is over become
  // claimable. Returns how many jobs changed. With a real clock
  // a background thread of the engine calls this; with a ManualClock nothing
  // happens until the caller does, so tests are deterministic.
  virtual size_t RunDueWork() = 0;

  // ---- Events and webhooks (cascade/events.h, cascade/webhook.h) ------------

  // Calls `callback` with every transition from now on, in order, on a thread
  // of the subscription's own; the engine never waits for it. Ends when the
  // returned Subscription is stopped or destroyed.
  [[nodiscard]] virtual Subscription Subscribe(EventCallback callback,
                                               const SubscribeOptions& options) = 0;
  [[nodiscard]] Subscription Subscribe(EventCallback callback) {
    return Subscribe(std::move(callback), SubscribeOptions{});
  }

  // The team's webhook deliveries that used up their attempts, oldest first.
  [[nodiscard]] virtual absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(
      std::string_view team) const = 0;
  // Gives a dead letter of the team a new round of attempts, due at once,
  // under the same Cascade-Delivery-Id and body. NotFound if `delivery_id`
  // is not one of the team's dead letters.
  virtual absl::Status ReplayDeadLetter(std::string_view team, std::string_view delivery_id) = 0;
  // The outbox's size now and its totals since the engine started.
  virtual OutboxCounts GetOutboxCounts() const = 0;

  // ---- High availability ------------------------------------------------------

  // The engine's leader lease, with a PostgreSQL URL; nullopt otherwise.
  // Cheap (no I/O): a server asks it at every request.
  virtual std::optional<LeaderStatus> Leader() const = 0;

 protected:
  Engine() = default;
};

}  // namespace cascade

#endif  // CASCADE_ENGINE_H_
