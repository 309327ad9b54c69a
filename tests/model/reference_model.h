// Copyright 2026 The Cascade Authors.
//
// File: tests/model/reference_model.h
// -----------------------------------------------------------------------------
// A reference model of contract §1-7 (the worker calls: Claim, Heartbeat, Finish,
// Fail, Release, RequestAbort, and lease and abort expiry by RunDueWork), §10's
// retention (families purged by RunDueWork), §14 (attempts and retry backoff,
// time limits, Retry, holds, priorities) and §15's engine state (claims with
// "any of" tags, render logs, the worker list), as docs/semantics.md reads
// them. It is small, single-threaded and
// deliberately naive: jobs live in one plain vector in creation order, every
// lookup is a linear scan, dependents are found by scanning every job, and the
// cancellation, failure and revive closures are computed by applying their
// rules to every job again and again until nothing changes. It has no
// indexes, so it has no index to get wrong; it is meant to be read and
// believed.
//
// The model does not make ids. Whoever drives it passes the engine's answer
// to a submit, and the model names the new jobs with the ids found there
// (checking that they are fresh and increasing). Everything else it predicts:
// the status code of every call (and what its message must mention), the job
// each call returns, field by field, and the state of every job after it.
//
// Where the contract and semantics leave a choice open, a prediction allows every
// reading (and says so where it does it):
//   - a submit with errors of several kinds may fail with any of their codes;
//   - a call about an id naming a malformed team may be InvalidArgument or
//     NotFound;
//   - `stats.error` of a job cancelled by cascade may name any job the
//     request named, and of a job failed by propagation any prerequisite in
//     error or any dependent that ended without finishing (the exact one
//     depends on the engine's walk; see `ExpectedJob::error_options`). The
//     text a job shows is its recorded cause, which a later Retry follows:
//     once the engine has answered one, the driver pins it (PinError);
//   - tags are compared as sets;
//   - under the `random` pickup order a claim may take any matching job;
//   - a heartbeat with an invalid report about a job it may not touch may be
//     InvalidArgument or the lookup's error (which is checked first is open);
//   - RunDueWork may count only the jobs whose deadline was due, or every job
//     it changed (cascades and propagation included);
//   - a heartbeat with the lease of an attempt its time limit ended answers
//     cancel_requested (the job as it is, the lease expiring now) until that
//     lease would have run out; from then on until the next RunDueWork it may
//     also be refused as stale, and after it it is.
// RunDueWork handles the due jobs in deadline order, then creation order
// (an earlier job's cancel cascade can reach a job requeued before it); then
// the retry backoffs that are over; then (with a retention) it purges every
// family whose every job ended more than the retention ago (the model knows
// no webhooks, so no delivery holds a family back).
//
// Contract §14 as the model reads it (each point is contract text or what the
// engine's header says):
//   - an attempt that ends without success (a worker's fail, a release, a lost
//     lease, the time limit) uses one; with attempts left (and a fail not
//     marked final) the job is queued again, showing the attempt's error
//     ("lease expired after N attempts", the worker's text, "timed out after
//     N s"), not claimable before retry_at = end + backoff x 2^(attempts-1),
//     at most 24 h; else it ends in error with that text;
//   - a job whose abort was requested ends cancelled on a release or expiry
//     (as before), finished on a finish, and in error on a fail, whatever
//     attempts it has left (retrying it would undo the abort);
//   - the time limit runs from the claim; heartbeats do not move it; an abort
//     request replaces it with the abort's grace; when it and the lease end
//     at the same time, the time limit ends the attempt;
//   - a held job keeps its state and is never claimed; a held pending job
//     that becomes ready is held queued; holding a job that waits out a
//     backoff ends the wait; holding a held job (resuming one not held)
//     changes nothing, not even updatedAt;
//   - Retry revives the least fixpoint of "the named jobs; every ended job
//     whose recorded cause (the job its cascade came from, the prerequisite
//     or dependent that failed it) is in the set", refused when a revived job
//     has a prerequisite outside the set in manually_cancelled, or in error
//     when it does not ignore failures.
//
// Contract §15 as the model reads it (docs/semantics.md, "Render logs and the
// worker list"):
//   - a claim with `any_tags` takes the first job in pickup order among those
//     carrying every tag of `tags` and at least one of `any_tags`;
//   - a render log is every line its job's lease holders sent, each followed
//     by a newline, across attempts; it keeps the last 1 MiB, from the first
//     line that starts in it (a line longer than that: its last 1 MiB). The
//     model trims after each append, which keeps what trimming the whole
//     history once would (a cut never passes a line start a later cut
//     wants). AppendLog is fenced as a heartbeat is; over 10,000 lines or a
//     line with a NUL byte is InvalidArgument and changes nothing (the
//     worker is not seen either); a call with no lines logs nothing (GetLog
//     stays NotFound until something is logged). A purge takes the log;
//   - the worker list: a claim with a (valid lease and a) name sees its
//     worker, whether it finds a job or not, and sets its tags (`tags` then
//     `any_tags`, as sent) and lease length (the claim's, else the
//     default); a heartbeat, finish, fail, release or log call that passes
//     the fence sees the worker the lease was granted to. A heartbeat told
//     to stop by a time limit passed no fence and sees nobody. `last_seen`
//     never goes back. The jobs a worker holds are the rendering jobs whose
//     current lease was granted to it; `lost` when now - last_seen is over
//     two lease lengths, else `busy` when it holds a job of any team, else
//     `idle`; the list is in name order, each worker's jobs (the asking
//     team's only; a malformed team is no error and sees none) in id order.
// Example:
//
//   cascade::model::ReferenceModel model(options);
//   model.SetNow(clock.Now());
//   cascade::model::ExpectedStatus want = model.PredictSubmit("team-a", spec);
//   auto got = engine->Submit("team-a", spec);
//   if (std::string d = want.Mismatch(got.status()); !d.empty()) Fail(d);
//   if (got.ok()) {
//     auto created = model.ApplySubmit("team-a", spec, *got);  // takes the ids
//     ... DiffCreated(*created, *got) ...
//   }
//   auto cancelled = model.Cancel("team-a", id);  // predicts and applies
//
// NOTE: not thread-safe; one model per sequence.

#ifndef CASCADE_TESTS_MODEL_REFERENCE_MODEL_H_
#define CASCADE_TESTS_MODEL_REFERENCE_MODEL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "cascade/cascade.h"

namespace cascade::model {

// ---- Expected answers -------------------------------------------------------

// One acceptable outcome of a call.
struct StatusAlternative {
  absl::StatusCode code = absl::StatusCode::kOk;
  // Each of these must appear in the status message.
  std::vector<std::string> mention_all;
  // When not empty, at least one of these must appear in the message.
  std::vector<std::string> mention_any;
  // The status must carry field violations (cascade/status.h).
  bool needs_field_violations = false;
};

// The outcomes the model accepts for a call: usually exactly one.
struct ExpectedStatus {
  std::vector<StatusAlternative> alternatives;

  static ExpectedStatus Ok() { return {{StatusAlternative{}}}; }
  static ExpectedStatus Error(StatusAlternative alternative) { return {{std::move(alternative)}}; }

  // True iff OK is the only acceptable outcome.
  bool ok() const;
  // True iff `code` is one of the alternatives' codes.
  bool Allows(absl::StatusCode code) const;
  // The alternative with `code`, or null.
  const StatusAlternative* Find(absl::StatusCode code) const;
  // "" when `status` matches one alternative; otherwise what is wrong.
  std::string Mismatch(const absl::Status& status) const;
  // As Mismatch, for a batch's per-spec error: `error_code` is the
  // ErrorCodeName of the code and `message` the text.
  std::string MismatchEntry(const std::string& error_code, const std::string& message) const;
  std::string ToString() const;
};

template <typename T>
struct Expected {
  ExpectedStatus status;
  T value{};  // meaningful only when status.ok()
};

// A job as the engine should return it. When `error_options` is not empty,
// `stats.error` must equal one of them and `job.stats.error` is not compared.
struct ExpectedJob {
  Job job;
  std::vector<std::string> error_options;
};

// The expected answer of List. For the orders that are defined (oldest,
// newest, priority), `jobs` is the page, in order. For `random`, `jobs` holds
// every match (before paging) and the page must be `count` distinct ones.
struct ExpectedList {
  ExpectedStatus status;
  std::vector<ExpectedJob> jobs;
  bool any_order = false;
  size_t count = 0;
};

struct ExpectedBatchSubmit {
  BatchId batch_id;
  BatchSubmitStatus status = BatchSubmitStatus::kCreated;
  size_t total_jobs = 0;
  size_t success_count = 0;
  std::vector<BatchJobResult> jobs;                       // request order
  std::vector<std::pair<size_t, ExpectedStatus>> errors;  // request order
};

struct ExpectedBatchView {
  BatchId batch_id;
  BatchStatus status = BatchStatus::kProcessing;
  BatchCounts counts;
  std::vector<std::pair<size_t, ExpectedJob>> jobs;  // (request index, job)
};

struct ExpectedBatchCancel {
  BatchId batch_id;
  BatchCancelStatus status = BatchCancelStatus::kUnchanged;
  size_t total_jobs = 0;
  size_t cancelled_count = 0;
  size_t skipped_count = 0;
  std::vector<BatchCancelJobResult> jobs;   // request order
  std::vector<ExpectedJob> cancelled_jobs;  // id order
};

struct ExpectedClaim {
  ExpectedJob job;
  absl::Time lease_expires_at;
  std::string payload;
};

struct ExpectedHeartbeat {
  ExpectedJob job;
  absl::Time lease_expires_at;
  bool cancel_requested = false;
};

// RunDueWork's count: either reading of "how many jobs it changed".
struct ExpectedDueWork {
  size_t due = 0;          // jobs whose lease, abort, time limit or backoff was due
  size_t changed = 0;      // every job that changed, cascades included
  size_t timed_out = 0;    // of `due`: attempts their time limit ended
  size_t waits_ended = 0;  // of `due`: retry backoffs that were over
};

// ---- The model's state ------------------------------------------------------

struct ModelJob {
  // What Get should return (but see error_options). Contract §14's state is
  // in it too: `max_attempts`, `suspended` (held), and `retry_at` (set while
  // the job waits out a retry backoff).
  Job job;
  std::vector<std::string> error_options;
  // Parallel to error_options: the job each reading names as the cause of
  // the job's end (a cascade's origin, the failed prerequisite or
  // dependent), or none. Retry follows it.
  std::vector<std::optional<JobId>> cause_options;
  std::string payload;
  // The job's retry backoff and time limit (its spec's, else the engine's).
  absl::Duration retry_backoff;
  std::optional<absl::Duration> timeout;
  std::string lease_token;  // the engine's token while rendering
  // While rendering: the lease the claim granted, its expiry, the attempt's
  // time limit if it has one, and the abort deadline once an abort was
  // requested.
  absl::Duration lease_length;
  absl::Time lease_expires_at;
  std::optional<absl::Time> time_limit;
  std::optional<absl::Time> abort_deadline;
  // While rendering: the worker the lease was granted to ("" for a claim
  // without a name).
  std::string lease_worker;
  // Contract §15: the render log, once something was logged.
  std::optional<std::string> log;
};

// A worker the list remembers (contract §15).
struct ModelWorker {
  std::string name;
  std::vector<std::string> tags;  // its last claim's: all-of, then any-of
  absl::Time last_seen;
  absl::Duration lease;  // its last claim's lease length
};

// The lease of an attempt its time limit ended: its worker's heartbeats are
// told to stop until the lease would have run out.
struct TimedOutLease {
  JobId id;
  std::string token;
  absl::Time would_expire;
  bool forgotten = false;  // a RunDueWork at or after would_expire ran
};

struct ModelBatch {
  BatchId id;
  std::string team;
  // (request index, job id) of each top-level job created, in request order.
  // Empty for a batch whose every spec was invalid: it does not exist.
  std::vector<std::pair<size_t, JobId>> top_level;
};

// ---- The model --------------------------------------------------------------

class ReferenceModel {
 public:
  // Uses `options.output_url_template`, `options.lease_duration`,
  // `options.max_attempts`, `options.retry_backoff`, `options.render_timeout`,
  // `options.abort_grace`, `options.pickup_order` and
  // `options.durability.retention`; the rest of `options` does not change
  // what the model predicts. REQUIRES: no webhooks (the model knows none,
  // and a delivery in flight holds a purge back), and fewer than 4096 jobs
  // (what one RunDueWork of the engine walks at most for its purges).
  explicit ReferenceModel(const Options& options);

  // The engine's clock: the time every following call happens at.
  // REQUIRES: never earlier than the previous value.
  void SetNow(absl::Time now);
  absl::Time now() const { return now_; }

  // ---- Submit -----------------------------------------------------------------

  // How Submit(team, spec) must answer. Changes nothing.
  ExpectedStatus PredictSubmit(std::string_view team, const JobSpec& spec) const;

  // Records a submit the engine accepted, naming the jobs with the ids of
  // `engine_answer` (same tree shape as `spec`). Returns the CreatedJob the
  // engine should have answered, or Internal when the answer cannot be
  // mapped onto `spec` (wrong shape, an id reused or not above every earlier
  // id). REQUIRES: PredictSubmit(team, spec).ok().
  absl::StatusOr<CreatedJob> ApplySubmit(std::string_view team, const JobSpec& spec,
                                         const CreatedJob& engine_answer);

  // How the SubmitBatch call as a whole must answer (by its team and size).
  ExpectedStatus PredictSubmitBatch(std::string_view team, size_t num_specs) const;

  // Records a batch submit the engine accepted (each valid spec created, each
  // invalid one reported), taking the batch id and the job ids from
  // `engine_answer`. Returns the expected result, or Internal when the answer
  // created a different set of specs than the model predicts (the model
  // cannot name jobs it did not expect) or reuses ids.
  // REQUIRES: PredictSubmitBatch(team, specs.size()).ok().
  absl::StatusOr<ExpectedBatchSubmit> ApplySubmitBatch(std::string_view team,
                                                       absl::Span<const JobSpec> specs,
                                                       const BatchSubmitResult& engine_answer);

  // ---- Read -----------------------------------------------------------------

  Expected<ExpectedJob> Get(std::string_view team, JobId id) const;
  ExpectedList List(std::string_view team, const ListQuery& query) const;
  Expected<BatchCounts> GetBatchCounts(std::string_view team, BatchId id) const;
  Expected<ExpectedBatchView> GetBatch(std::string_view team, BatchId id) const;
  size_t JobCount() const { return jobs_.size(); }

  // ---- Cancel: predict, and apply when OK ------------------------------------

  Expected<std::vector<ExpectedJob>> Cancel(std::string_view team, JobId id);
  Expected<std::vector<ExpectedJob>> CancelMany(std::string_view team, absl::Span<const JobId> ids);
  Expected<ExpectedBatchCancel> CancelBatch(std::string_view team, BatchId id);

  // ---- Workers: predict, and apply when OK -----------------------------------

  // The first queued job of any team carrying every requested tag (and, when
  // `request.any_tags` is not empty, at least one of those), in the pickup
  // order: oldest, newest, or highest priority then oldest. Under the
  // random order any such job may come first: the model takes the one the
  // engine answered (`engine_choice`) if it is one of them. A named claim
  // with a valid lease sees its worker, whatever it finds.
  Expected<ExpectedClaim> Claim(const ClaimRequest& request,
                                std::optional<JobId> engine_choice = std::nullopt);
  // Records the lease token the engine gave for the job `Claim` predicted.
  void SetLeaseToken(JobId id, std::string token);
  Expected<ExpectedJob> Finish(JobId id, std::string_view lease_token, const FinishReport& report);
  // With attempts left and `report.retry` (and no abort requested), the job
  // is queued again; otherwise it ends in error.
  Expected<ExpectedJob> Fail(JobId id, std::string_view lease_token, const FailReport& report);
  Expected<ExpectedJob> Fail(JobId id, std::string_view lease_token, std::string_view error) {
    return Fail(id, lease_token, FailReport{.error = std::string(error)});
  }
  Expected<ExpectedHeartbeat> Heartbeat(JobId id, std::string_view lease_token,
                                        const HeartbeatReport& report);
  Expected<ExpectedJob> Release(JobId id, std::string_view lease_token);
  Expected<ExpectedJob> RequestAbort(std::string_view team, JobId id);
  // Every rendering job whose lease expiry, time limit or abort deadline is
  // at or before now ends its attempt; then every job whose retry backoff is
  // over becomes claimable (see the .cc).
  ExpectedDueWork RunDueWork();

  // ---- Contract §15: predict, and apply when OK ---------------------------------

  // Appends `lines` to the job's log if `lease_token` is its current lease.
  ExpectedStatus AppendLog(JobId id, std::string_view lease_token,
                           absl::Span<const std::string> lines);
  // The team's job's log; NotFound for an unknown job or one with no log.
  Expected<std::string> GetLog(std::string_view team, JobId id) const;
  // Every worker seen, by name, each with `team`'s jobs it holds; statuses
  // at now().
  std::vector<WorkerInfo> ListWorkers(std::string_view team) const;

  // ---- Contract §14: predict, and apply when OK ---------------------------------

  // Revives the named jobs (each in error or manually_cancelled) and every
  // job that ended because one of the set did, transitively; in id order.
  Expected<std::vector<ExpectedJob>> Retry(std::string_view team, absl::Span<const JobId> ids);
  // Holds or releases 1-1000 distinct queued or pending jobs; answers every
  // named job, in id order.
  Expected<std::vector<ExpectedJob>> Suspend(std::string_view team, absl::Span<const JobId> ids);
  Expected<std::vector<ExpectedJob>> Resume(std::string_view team, absl::Span<const JobId> ids);
  // The same for every queued or pending job of the batch (nested children
  // included); answers the jobs whose hold changed, in id order.
  Expected<std::vector<ExpectedJob>> SuspendBatch(std::string_view team, BatchId id);
  Expected<std::vector<ExpectedJob>> ResumeBatch(std::string_view team, BatchId id);
  Expected<ExpectedJob> SetPriority(std::string_view team, JobId id, int32_t priority);

  // Records which of a job's acceptable `stats.error` texts the engine
  // answered: from then on the job shows exactly that one, and a Retry
  // follows the cause it names. InvalidArgument if `text` is not one of
  // them. A job that shows no reason (not ended) is left as it is.
  absl::Status PinError(JobId id, std::string_view text);

  // ---- Inspection -------------------------------------------------------------

  // Every job, in creation (= id) order.
  const std::vector<ModelJob>& jobs() const { return jobs_; }
  // Every batch the engine answered, in creation order (all-invalid ones too).
  const std::vector<ModelBatch>& batches() const { return batches_; }
  // The job with this id in any team, or null.
  const ModelJob* FindAnyTeam(JobId id) const;
  // The leases time limits ended, oldest first.
  const std::vector<TimedOutLease>& timed_out_leases() const { return timed_out_; }
  // Every worker seen, in the order first seen.
  const std::vector<ModelWorker>& workers() const { return workers_; }
  // The ids of the jobs retention purged, in the order purged.
  const std::vector<JobId>& purged() const { return purged_; }

 private:
  ModelJob* FindInTeam(std::string_view team, JobId id);
  const ModelJob* FindInTeam(std::string_view team, JobId id) const;
  ModelJob* FindAnyTeamMutable(JobId id);
  // The rendering job `id` if `lease_token` is its lease (sets `*job`), else
  // the error a worker call must get. Sees nobody: the caller does (Seen)
  // once the call passed every check.
  ExpectedStatus FindLeased(JobId id, std::string_view lease_token, ModelJob** job);
  // The worker holding `job`'s lease (if it has a name) is seen now.
  void Seen(const ModelJob& job);
  ModelWorker* FindWorker(std::string_view name);
  // Retention: purges every family whose every job ended before now minus
  // the retention.
  void PurgeExpired();
  // How an attempt ended without success.
  enum class AttemptEnd { kFail, kFinalFail, kRelease, kLeaseExpired, kTimedOut };
  // Fail, release, expiry and time-out: requeue (after the backoff), error
  // after max_attempts (or a final fail), or (an abort was requested)
  // manually_cancelled with the cancel cascade (error for a fail). `text`:
  // the worker's, for a fail.
  void EndAttempt(ModelJob& job, AttemptEnd how, const std::string& text = "");
  // Ends a job in `state` (error or manually_cancelled) now, with these
  // readings of its stats.error and their causes; it is no longer held,
  // waiting or leased.
  void EndJob(ModelJob& job, JobState state, std::vector<std::string> texts,
              std::vector<std::optional<JobId>> causes);
  // The size, duplicate and lookup checks of a call naming 1-1000 jobs (the
  // first that fails decides); OK when all are the team's.
  ExpectedStatus CheckNamed(std::string_view team, absl::Span<const JobId> ids) const;
  // Holds (or releases) the job if it is not (or is): true if it changed.
  bool SetHold(ModelJob& job, bool hold);
  Expected<std::vector<ExpectedJob>> Hold(std::string_view team, absl::Span<const JobId> ids,
                                          bool hold);
  Expected<std::vector<ExpectedJob>> HoldBatch(std::string_view team, BatchId id, bool hold);
  const ModelBatch* FindBatch(std::string_view team, BatchId id) const;

  // The prerequisites of a job: its nested children, then its dependsOn.
  static std::vector<JobId> PrerequisitesOf(const Job& job);
  // The jobs that have `id` as a prerequisite (by scanning every job).
  std::vector<const ModelJob*> DependentsOf(JobId id) const;

  // Validation of one spec tree (depth 0 = the submitted spec).
  struct SpecProblems {
    std::vector<FieldViolation> violations;
    std::vector<std::string> unknown_deps;  // ids, as text
    std::vector<std::string> dead_deps;     // ids in error or cancelled
    size_t job_count = 0;
  };
  void Validate(std::string_view team, const JobSpec& spec, const std::string& field, int depth,
                SpecProblems& problems) const;

  // Checks that `id` may name a new job or batch: well formed, unused, and
  // above every id seen so far. Records it.
  absl::Status TakeId(JobId id, std::vector<JobId>& taken_now);
  // Makes the jobs of one spec tree (into pending_commit_), named by the ids
  // of `answer`, and returns the CreatedJob the engine should have answered.
  absl::StatusOr<CreatedJob> AddTree(std::string_view team, const JobSpec& spec,
                                     const CreatedJob& answer, std::optional<BatchId> batch,
                                     std::optional<JobId> parent, std::vector<JobId>& taken_now);
  // Adds pending_commit_ to the jobs and `taken_now` to the ids seen.
  void Commit(const std::vector<JobId>& taken_now);
  std::string PlanOutputUrl(const JobSpec& spec, JobId id, std::string_view team,
                            std::optional<BatchId> batch) const;

  // Cancels the least fixpoint of rules E, R and U containing `named`
  // (every one cancellable, or the rendering job an abort ended), and
  // returns the cancelled jobs in id order. U reaches only prerequisites of
  // jobs this call cancels (see the .cc).
  // `named_texts_also_cascade`: a named job may also carry a cascade text
  // (used by the batch cancel, see the .cc).
  std::vector<ExpectedJob> CancelClosure(const std::vector<JobId>& named,
                                         bool named_texts_also_cascade);
  // After `origin` went to error: failure propagation (contract §3), reaching
  // out from `origin` (see the .cc).
  void PropagateFailure(JobId origin);
  // PrerequisitesMet: pending jobs whose prerequisites are all resolved
  // become queued.
  void PromoteReadyJobs();
  // True iff every prerequisite of `job` is finished, or in error and `job`
  // ignores failed prerequisites.
  bool AllPrerequisitesResolved(const Job& job) const;

  ExpectedJob ToExpected(const ModelJob& job) const { return {job.job, job.error_options}; }
  BatchCounts CountsOf(const ModelBatch& batch) const;

  std::string output_url_template_;
  absl::Duration lease_duration_;
  int max_attempts_;
  absl::Duration retry_backoff_;
  std::optional<absl::Duration> render_timeout_;
  absl::Duration abort_grace_;
  SortOrder pickup_order_;
  absl::Duration retention_;
  absl::Time now_ = absl::UnixEpoch();
  std::vector<ModelJob> jobs_;  // creation order
  std::vector<ModelBatch> batches_;
  std::vector<JobId> all_ids_;            // every job and batch id the engine gave
  std::vector<ModelJob> pending_commit_;  // jobs of the submit being applied
  std::vector<TimedOutLease> timed_out_;
  std::vector<ModelWorker> workers_;  // first seen first
  std::vector<JobId> purged_;
};

// ---- Comparing with the engine's answers ------------------------------------
// Each returns "" when the engine's answer is what the model expects, else a
// description of every difference.

std::string DiffJob(const ExpectedJob& want, const Job& got);
std::string DiffJobs(const std::vector<ExpectedJob>& want, const std::vector<Job>& got);
std::string DiffCreated(const CreatedJob& want, const CreatedJob& got);
std::string DiffCounts(const BatchCounts& want, const BatchCounts& got);
std::string DiffList(const ExpectedList& want, const std::vector<Job>& got);
std::string DiffBatchSubmit(const ExpectedBatchSubmit& want, const BatchSubmitResult& got);
std::string DiffBatchView(const ExpectedBatchView& want, const BatchView& got);
std::string DiffBatchCancel(const ExpectedBatchCancel& want, const BatchCancelResult& got);
std::string DiffClaim(const ExpectedClaim& want, const ClaimedJob& got);
// `given_token` is the token the heartbeat presented: the answer repeats it.
std::string DiffHeartbeat(const ExpectedHeartbeat& want, std::string_view given_token,
                          const HeartbeatResult& got);
// Every field of every worker, in order. A log is compared as bytes
// (DiffLog says where two first differ).
std::string DiffWorkers(const std::vector<WorkerInfo>& want, const std::vector<WorkerInfo>& got);
std::string DiffLog(const std::string& want, const std::string& got);

// Human-readable forms for failure messages.
std::string DescribeJob(const Job& job);
std::string DescribeSpec(const JobSpec& spec);

}  // namespace cascade::model

#endif  // CASCADE_TESTS_MODEL_REFERENCE_MODEL_H_
