// Copyright 2026 The Cascade Authors.
//
// File: tests/model/reference_model.h
// -----------------------------------------------------------------------------
// A reference model of contract §1-7 (the worker calls: Claim, Heartbeat, Finish,
// Fail, Release, RequestAbort, and lease and abort expiry by RunDueWork), as
// docs/semantics.md reads them. It is small, single-threaded and
// deliberately naive: jobs live in one plain vector in creation order, every
// lookup is a linear scan, dependents are found by scanning every job, and the
// cancellation and failure closures are computed by applying their rules to
// every job again and again until nothing changes. It has no indexes, so it
// has no index to get wrong; it is meant to be read and believed.
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
//     depends on the engine's walk; see `ExpectedJob::error_options`);
//   - tags are compared as sets;
//   - under the `random` pickup order a claim may take any matching job;
//   - a heartbeat with an invalid report about a job it may not touch may be
//     InvalidArgument or the lookup's error (which is checked first is open);
//   - RunDueWork may count only the jobs whose deadline was due, or every job
//     it changed (cascades and propagation included).
// RunDueWork handles the due jobs in deadline order, then creation order
// (an earlier job's cancel cascade can reach a job requeued before it).
//
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
  size_t due = 0;      // jobs whose lease or abort deadline was due
  size_t changed = 0;  // every job that changed, cascades included
};

// ---- The model's state ------------------------------------------------------

struct ModelJob {
  Job job;  // what Get should return (but see error_options)
  std::vector<std::string> error_options;
  std::string payload;
  std::string lease_token;  // the engine's token while rendering
  // While rendering: the lease the claim granted, its expiry, and the abort
  // deadline once an abort was requested.
  absl::Duration lease_length;
  absl::Time lease_expires_at;
  std::optional<absl::Time> abort_deadline;
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
  // `options.max_attempts`, `options.abort_grace` and `options.pickup_order`;
  // the rest of `options` does not change what the
  // model predicts.
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

  // The first queued job of any team carrying every requested tag, in the
  // pickup order: oldest, newest, or highest priority then oldest. Under
  // the random order any such job may come first: the model takes the one
  // the engine answered (`engine_choice`) if it is one of them.
  Expected<ExpectedClaim> Claim(const ClaimRequest& request,
                                std::optional<JobId> engine_choice = std::nullopt);
  // Records the lease token the engine gave for the job `Claim` predicted.
  void SetLeaseToken(JobId id, std::string token);
  Expected<ExpectedJob> Finish(JobId id, std::string_view lease_token, const FinishReport& report);
  Expected<ExpectedJob> Fail(JobId id, std::string_view lease_token, std::string_view error);
  Expected<ExpectedHeartbeat> Heartbeat(JobId id, std::string_view lease_token,
                                        const HeartbeatReport& report);
  Expected<ExpectedJob> Release(JobId id, std::string_view lease_token);
  Expected<ExpectedJob> RequestAbort(std::string_view team, JobId id);
  // Every rendering job whose lease expiry or abort deadline is at or before
  // now ends its attempt (see the .cc).
  ExpectedDueWork RunDueWork();

  // ---- Inspection -------------------------------------------------------------

  // Every job, in creation (= id) order.
  const std::vector<ModelJob>& jobs() const { return jobs_; }
  // Every batch the engine answered, in creation order (all-invalid ones too).
  const std::vector<ModelBatch>& batches() const { return batches_; }
  // The job with this id in any team, or null.
  const ModelJob* FindAnyTeam(JobId id) const;

 private:
  ModelJob* FindInTeam(std::string_view team, JobId id);
  const ModelJob* FindInTeam(std::string_view team, JobId id) const;
  ModelJob* FindAnyTeamMutable(JobId id);
  // The rendering job `id` if `lease_token` is its lease (sets `*job`), else
  // the error a worker call must get.
  ExpectedStatus FindLeased(JobId id, std::string_view lease_token, ModelJob** job);
  // Release and expiry: requeue, error after max_attempts, or (an abort was
  // requested) manually_cancelled with the cancel cascade.
  void EndAttempt(ModelJob& job);
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
  absl::Duration abort_grace_;
  SortOrder pickup_order_;
  absl::Time now_ = absl::UnixEpoch();
  std::vector<ModelJob> jobs_;  // creation order
  std::vector<ModelBatch> batches_;
  std::vector<JobId> all_ids_;            // every job and batch id the engine gave
  std::vector<ModelJob> pending_commit_;  // jobs of the submit being applied
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

// Human-readable forms for failure messages.
std::string DescribeJob(const Job& job);
std::string DescribeSpec(const JobSpec& spec);

}  // namespace cascade::model

#endif  // CASCADE_TESTS_MODEL_REFERENCE_MODEL_H_
