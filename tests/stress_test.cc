// Copyright 2026 The Cascade Authors.
//
// Stress test (contract §13): four threads share one engine with two teams, each
// running a fixed number of mixed operations (submit, batch submit, cancel,
// cancel many, batch cancel, list, get, batch counts, claim, heartbeat,
// finish, fail, release, abort) while the main thread keeps reading batch
// aggregates without a lock, and a clock thread advances the engine's
// ManualClock and calls RunDueWork, so leases run out and aborts pass their
// grace under the workers' feet. Every answer is checked for sanity as it
// comes (a batch's counts always sum to its total; terminal counts never go
// down; a job is never claimed while another worker's lease on it is still
// running; a worker holding a lease can always heartbeat, finish, fail or
// release its job, unless the lease ran out or an abort was requested). When
// all threads are done, a final RunDueWork runs and the engine's state is
// checked through the public API:
//   - every batch's aggregate equals a recount of its jobs;
//   - every job appears in exactly one state listing, and no acknowledged job
//     is missing (JobCount agrees);
//   - the closures of contract §3-4 hold: no queued or pending job has a
//     cancelled prerequisite, nor dependents that all ended cancelled or in
//     error; no pending job waits on nothing or on a failed prerequisite it
//     does not ignore;
//   - every job finished or failed by its worker stays so; a job's attempts
//     are the claims it got, never over max_attempts, and a job nobody
//     claimed never started;
//   - no job stays rendering with an expired lease, and every rendering job
//     has exactly one holder in the threads' bookkeeping, whose lease the
//     engine accepts.
// Runs under ThreadSanitizer in CI; the operation count is bounded (not
// timed). CASCADE_STRESS_OPS overrides the operations per thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

constexpr int kThreads = 4;
constexpr int kDefaultOpsPerThread = 10000;
constexpr const char* kTeams[] = {"team-a", "team-b"};
constexpr const char* kTagPool[] = {"hd", "4k", "urgent"};
constexpr size_t kMaxProblems = 30;
// The engine's worker options: short enough that the clock thread makes
// leases run out and aborts pass their grace often.
constexpr int kMaxAttempts = 2;
constexpr absl::Duration kLease = absl::Seconds(3);
constexpr absl::Duration kAbortGrace = absl::Seconds(1);

int OpsPerThread() {
  const char* text = std::getenv("CASCADE_STRESS_OPS");
  if (text == nullptr || *text == '\0') return kDefaultOpsPerThread;
  return std::max(1, std::atoi(text));
}

std::string Text(JobState s) { return std::string(StateName(s)); }

// What the threads learned from acknowledged answers, shared between them.
class Ledger {
 public:
  struct Batch {
    BatchId id;
    int team = 0;
    int top_level = 0;  // jobs created; 0 means the batch must not exist
  };

  void AddJobs(int team, const CreatedJob& created) {
    std::lock_guard<std::mutex> lock(mu_);
    AddTree(team, created);
  }
  void AddBatch(int team, const BatchSubmitResult& result) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const BatchJobResult& job : result.jobs) AddTree(team, job.job);
    batches_.push_back({result.batch_id, team, static_cast<int>(result.jobs.size())});
  }
  // A random acknowledged job of `team`, if any.
  std::optional<JobId> RandomJob(int team, std::mt19937_64& rng) const {
    std::lock_guard<std::mutex> lock(mu_);
    const std::vector<JobId>& ids = jobs_[team];
    if (ids.empty()) return std::nullopt;
    return ids[std::uniform_int_distribution<size_t>(0, ids.size() - 1)(rng)];
  }
  std::optional<Batch> RandomBatch(int team, std::mt19937_64& rng) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const Batch*> own;
    for (const Batch& b : batches_) {
      if (b.team == team) own.push_back(&b);
    }
    if (own.empty()) return std::nullopt;
    return *own[std::uniform_int_distribution<size_t>(0, own.size() - 1)(rng)];
  }
  std::optional<Batch> RandomAnyBatch(std::mt19937_64& rng) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (batches_.empty()) return std::nullopt;
    return batches_[std::uniform_int_distribution<size_t>(0, batches_.size() - 1)(rng)];
  }
  // A worker's lease on a job, as the threads' bookkeeping knows it.
  struct Holder {
    int thread = 0;
    std::string token;
    absl::Time expires_at;
    int attempt = 0;  // the job's attempt number this claim began
  };

  // Records a claim; returns the previous holder if one never let go of the
  // job (its lease must have run out for this claim to be right).
  std::optional<Holder> RecordClaim(JobId id, Holder holder) {
    std::lock_guard<std::mutex> lock(mu_);
    ++claims_[id];
    std::optional<Holder> previous;
    if (auto it = holders_.find(id); it != holders_.end()) {
      // Threads record after the engine answered, so a later attempt's claim
      // may be recorded first; then this claim's lease is already gone, and
      // the later holder stays.
      if (it->second.attempt > holder.attempt) return std::nullopt;
      previous = it->second;
    }
    holders_[id] = std::move(holder);
    return previous;
  }
  // A heartbeat extended the lease `token` (if it is still the job's).
  void RecordExtension(JobId id, const std::string& token, absl::Time expires_at) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    if (it != holders_.end() && it->second.token == token) it->second.expires_at = expires_at;
  }
  // A worker is about to release its job: from then on another may claim it.
  void LetGo(JobId id, const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    if (it != holders_.end() && it->second.token == token) holders_.erase(it);
  }
  // How a worker left a claimed job: it holds it no more.
  void RecordOutcome(JobId id, const std::string& token, JobState state) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    if (it != holders_.end() && it->second.token == token) holders_.erase(it);
    // Workers record after the engine answered, so an earlier attempt's
    // requeue may be recorded after the final one: an end is never undone.
    const auto is_end = [](JobState s) {
      return s == JobState::kFinished || s == JobState::kError || s == JobState::kCancelled;
    };
    auto [pos, added] = outcome_.try_emplace(id, state);
    if (!added && (is_end(state) || !is_end(pos->second))) pos->second = state;
  }

  std::vector<JobId> Jobs(int team) const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_[team];
  }
  std::vector<Batch> Batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  absl::flat_hash_map<JobId, JobState> Outcomes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return outcome_;
  }
  absl::flat_hash_map<JobId, int> Claims() const {
    std::lock_guard<std::mutex> lock(mu_);
    return claims_;
  }
  absl::flat_hash_map<JobId, Holder> Holders() const {
    std::lock_guard<std::mutex> lock(mu_);
    return holders_;
  }

 private:
  // REQUIRES: mu_ held.
  void AddTree(int team, const CreatedJob& created) {
    jobs_[team].push_back(created.id);
    for (const CreatedJob& child : created.children) AddTree(team, child);
  }

  // A std::mutex, not an absl::Mutex: ThreadSanitizer sees std::mutex
  // (through pthread), but not an absl::Mutex of an Abseil built without
  // it, and would report the test's own bookkeeping as racy.
  mutable std::mutex mu_;
  // All guarded by mu_.
  std::vector<JobId> jobs_[2];
  std::vector<Batch> batches_;
  absl::flat_hash_map<JobId, int> claims_;
  absl::flat_hash_map<JobId, Holder> holders_;  // leases no worker let go of
  absl::flat_hash_map<JobId, JobState> outcome_;
};

// Problems found by any thread, reported by the main one.
class Problems {
 public:
  void Add(std::string problem) {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    if (problems_.size() < kMaxProblems) problems_.push_back(std::move(problem));
  }
  void Report() const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& p : problems_) ADD_FAILURE() << p;
    if (count_ > problems_.size()) ADD_FAILURE() << (count_ - problems_.size()) << " more problems";
  }

 private:
  mutable std::mutex mu_;              // std::mutex: see Ledger::mu_
  std::vector<std::string> problems_;  // guarded by mu_
  size_t count_ = 0;                   // guarded by mu_
};

// True iff `jobs` are in strictly increasing id order (so also unique).
bool StrictlyIncreasing(const std::vector<Job>& jobs) {
  for (size_t i = 1; i < jobs.size(); ++i) {
    if (!(jobs[i - 1].id < jobs[i].id)) return false;
  }
  return true;
}

bool Contains(const std::vector<Job>& jobs, JobId id) {
  return std::any_of(jobs.begin(), jobs.end(), [&](const Job& j) { return j.id == id; });
}

int Sum(const BatchCounts& counts) {
  int sum = 0;
  for (int n : counts.by_state) sum += n;
  return sum;
}

// One thread's share of the work: a fixed number of random operations for
// its team, plus worker calls on any team's jobs.
class Client {
 public:
  Client(Engine& engine, const ManualClock& clock, Ledger& ledger, Problems& problems, int index)
      : engine_(engine),
        clock_(clock),
        index_(index),
        ledger_(ledger),
        problems_(problems),
        team_index_(index % 2),
        team_(kTeams[index % 2]),
        rng_(1000 + index) {}

  void Run(int ops) {
    for (int i = 0; i < ops; ++i) {
      const int pick = static_cast<int>(Uniform(100));
      if (pick < 18) {
        Submit();
      } else if (pick < 26) {
        SubmitBatch();
      } else if (pick < 36) {
        Cancel();
      } else if (pick < 42) {
        CancelMany();
      } else if (pick < 46) {
        CancelBatch();
      } else if (pick < 53) {
        List();
      } else if (pick < 61) {
        ReadCounts();
      } else if (pick < 64) {
        Get();
      } else if (pick < 76) {
        Claim();
      } else if (pick < 79) {
        RequestAbort();
      } else {
        EndAttempt();
      }
    }
  }

 private:
  struct Held {
    JobId id;
    std::string team;
    std::string token;
    absl::Time expires_at;
  };

  uint64_t Uniform(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Problem(std::string what) { problems_.Add(absl::StrCat(team_, ": ", what)); }

  JobSpec RandomSpec(bool allow_deps) {
    JobSpec spec = testing::LeafSpec();
    if (Chance(0.3)) spec.tags.push_back(kTagPool[Uniform(3)]);
    spec.priority = static_cast<int32_t>(Uniform(3));
    if (Chance(0.25)) {
      const int n = 1 + static_cast<int>(Uniform(3));
      for (int i = 0; i < n; ++i) spec.children.push_back(testing::LeafSpec("child"));
    }
    if (allow_deps && Chance(0.35)) {
      if (std::optional<JobId> dep = ledger_.RandomJob(team_index_, rng_)) {
        spec.depends_on.push_back(*dep);
      }
    }
    if (Chance(0.15)) spec.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    return spec;
  }

  void Submit() {
    JobSpec spec = RandomSpec(/*allow_deps=*/true);
    const bool invalid = Chance(0.05);
    if (invalid) spec.tags.push_back("not a tag");
    absl::StatusOr<CreatedJob> created = engine_.Submit(team_, spec);
    if (invalid) {
      if (created.status().code() != absl::StatusCode::kInvalidArgument) {
        Problem(absl::StrCat("Submit with a bad tag: ", created.status().ToString()));
      }
      return;
    }
    if (!created.ok()) {
      // The only legitimate refusal: the prerequisite ended meanwhile.
      if (spec.depends_on.empty() ||
          created.status().code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("Submit: ", created.status().ToString()));
      }
      return;
    }
    const bool must_wait = !spec.children.empty();
    const bool may_wait = must_wait || !spec.depends_on.empty();
    if ((must_wait && created->state != JobState::kPending) ||
        (!may_wait && created->state != JobState::kQueued) ||
        created->children.size() != spec.children.size()) {
      Problem(absl::StrCat("Submit answered ", Text(created->state), " with ",
                           created->children.size(), " children for a spec with ",
                           spec.children.size(), " children and ", spec.depends_on.size(),
                           " dependsOn"));
    }
    for (const CreatedJob& child : created->children) {
      if (child.state != JobState::kQueued) {
        Problem(absl::StrCat("new child ", child.id.ToString(), " is ", Text(child.state)));
      }
    }
    ledger_.AddJobs(team_index_, *created);
  }

  void SubmitBatch() {
    std::vector<JobSpec> specs;
    const int n = 1 + static_cast<int>(Uniform(5));
    int invalid = 0;
    for (int i = 0; i < n; ++i) {
      specs.push_back(RandomSpec(/*allow_deps=*/true));
      if (Chance(0.1)) {
        specs.back().template_id = std::string(300, 'x');
        ++invalid;
      }
    }
    absl::StatusOr<BatchSubmitResult> result = engine_.SubmitBatch(team_, specs);
    if (!result.ok()) {
      Problem(absl::StrCat("SubmitBatch: ", result.status().ToString()));
      return;
    }
    const size_t created = result->jobs.size();
    const BatchSubmitStatus want_status = created == specs.size() ? BatchSubmitStatus::kCreated
                                          : created == 0          ? BatchSubmitStatus::kError
                                                                  : BatchSubmitStatus::kPartial;
    if (result->total_jobs != specs.size() || result->success_count != created ||
        created + result->errors.size() != specs.size() || result->status != want_status ||
        result->errors.size() < static_cast<size_t>(invalid)) {
      Problem(absl::StrCat("SubmitBatch of ", specs.size(), " (", invalid, " invalid): total ",
                           result->total_jobs, ", success ", result->success_count, ", jobs ",
                           created, ", errors ", result->errors.size(), ", status ",
                           std::string(BatchSubmitStatusName(result->status))));
    }
    for (size_t i = 1; i < result->jobs.size(); ++i) {
      if (result->jobs[i - 1].index >= result->jobs[i].index) {
        Problem("SubmitBatch: jobs[] not in request order");
      }
    }
    ledger_.AddBatch(team_index_, *result);
  }

  // Checks a cancel's answer: unique, id order, all cancelled, all ours.
  void CheckCancelled(const char* call, const std::vector<Job>& jobs) {
    if (!StrictlyIncreasing(jobs)) Problem(absl::StrCat(call, ": answer not unique in id order"));
    for (const Job& job : jobs) {
      if (job.state != JobState::kCancelled || job.team != team_) {
        Problem(absl::StrCat(call, ": answered job ", job.id.ToString(), " of ", job.team,
                             " in state ", Text(job.state)));
      }
    }
  }

  void Cancel() {
    if (Chance(0.1)) {
      // Another team's job does not exist for this one.
      if (std::optional<JobId> other = ledger_.RandomJob(1 - team_index_, rng_)) {
        absl::StatusOr<std::vector<Job>> r = engine_.Cancel(team_, *other);
        if (r.status().code() != absl::StatusCode::kNotFound) {
          Problem(absl::StrCat("Cancel of another team's job: ", r.status().ToString()));
        }
      }
      return;
    }
    std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
    if (!id.has_value()) return;
    absl::StatusOr<std::vector<Job>> r = engine_.Cancel(team_, *id);
    if (r.ok()) {
      CheckCancelled("Cancel", *r);
      if (!Contains(*r, *id)) Problem("Cancel: the named job is not in the answer");
    } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
      // Not cancellable then, so not now either: the only way back is a
      // rendering job requeued (released, or its lease ran out).
      ExpectStillUncancellable("Cancel", *id);
    } else {
      Problem(absl::StrCat("Cancel(", id->ToString(), "): ", r.status().ToString()));
    }
  }

  // After a refusal naming `id` as not cancellable.
  void ExpectStillUncancellable(const char* call, JobId id) {
    absl::StatusOr<Job> job = engine_.Get(team_, id);
    const bool requeued = job.ok() && job->state == JobState::kQueued && job->attempts > 0;
    if (!job.ok() || (IsCancellable(job->state) && !requeued)) {
      Problem(absl::StrCat(call, " refused ", id.ToString(), " as not cancellable; it is ",
                           job.ok() ? Text(job->state) : job.status().ToString()));
    }
  }

  void CancelMany() {
    std::vector<JobId> ids;
    const int n = 1 + static_cast<int>(Uniform(3));
    for (int i = 0; i < n; ++i) {
      std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
      if (id.has_value() && std::find(ids.begin(), ids.end(), *id) == ids.end()) {
        ids.push_back(*id);
      }
    }
    if (ids.empty()) return;
    absl::StatusOr<std::vector<Job>> r = engine_.CancelMany(team_, ids);
    if (r.ok()) {
      CheckCancelled("CancelMany", *r);
      for (JobId id : ids) {
        if (!Contains(*r, id)) Problem("CancelMany: a named job is not in the answer");
      }
    } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
      // The refusal lists the named jobs that are not cancellable (and
      // nothing changed): each of those stays so.
      bool named_any = false;
      for (JobId id : ids) {
        if (absl::StrContains(r.status().message(), id.ToString())) {
          named_any = true;
          ExpectStillUncancellable("CancelMany", id);
        }
      }
      if (!named_any) {
        Problem(absl::StrCat("CancelMany refusal names no job: ", r.status().ToString()));
      }
    } else {
      Problem(absl::StrCat("CancelMany: ", r.status().ToString()));
    }
  }

  void CancelBatch() {
    std::optional<Ledger::Batch> batch = ledger_.RandomBatch(team_index_, rng_);
    if (!batch.has_value()) return;
    absl::StatusOr<BatchCancelResult> r = engine_.CancelBatch(team_, batch->id);
    if (batch->top_level == 0) {
      if (r.status().code() != absl::StatusCode::kNotFound) {
        Problem(absl::StrCat("CancelBatch of an all-invalid batch: ", r.status().ToString()));
      }
      return;
    }
    if (!r.ok()) {
      Problem(absl::StrCat("CancelBatch: ", r.status().ToString()));
      return;
    }
    const size_t total = static_cast<size_t>(batch->top_level);
    size_t cancelled = 0;
    for (const BatchCancelJobResult& job : r->jobs) {
      if (job.cancelled) {
        ++cancelled;
        if (job.state != JobState::kCancelled || !job.reason.empty() ||
            !std::any_of(r->cancelled_jobs.begin(), r->cancelled_jobs.end(),
                         [&](const Job& j) { return j.id == job.id; })) {
          Problem("CancelBatch: a cancelled top-level job is inconsistent");
        }
      } else if (IsCancellable(job.state) || job.reason.empty()) {
        Problem(absl::StrCat("CancelBatch: skipped a job that is ", Text(job.state)));
      }
    }
    const BatchCancelStatus want_status = cancelled == total ? BatchCancelStatus::kCancelled
                                          : cancelled > 0    ? BatchCancelStatus::kPartial
                                                             : BatchCancelStatus::kUnchanged;
    if (r->total_jobs != total || r->jobs.size() != total || r->cancelled_count != cancelled ||
        r->skipped_count != total - cancelled || r->status != want_status) {
      Problem(absl::StrCat("CancelBatch: total ", r->total_jobs, " (want ", total, "), jobs ",
                           r->jobs.size(), ", cancelled ", r->cancelled_count, " (counted ",
                           cancelled, "), skipped ", r->skipped_count));
    }
    CheckCancelled("CancelBatch", r->cancelled_jobs);
  }

  void List() {
    ListQuery query;
    if (Chance(0.7)) query.states.push_back(static_cast<JobState>(Uniform(kNumJobStates)));
    const SortOrder orders[] = {SortOrder::kOldestFirst, SortOrder::kNewestFirst,
                                SortOrder::kPriority};
    query.sort = orders[Uniform(3)];
    query.limit = 1 + Uniform(50);
    query.offset = Uniform(20);
    absl::StatusOr<std::vector<Job>> r = engine_.List(team_, query);
    if (!r.ok()) {
      Problem(absl::StrCat("List: ", r.status().ToString()));
      return;
    }
    if (r->size() > query.limit) Problem("List: more jobs than the limit");
    absl::flat_hash_set<JobId> seen;
    for (size_t i = 0; i < r->size(); ++i) {
      const Job& job = (*r)[i];
      if (job.team != team_) Problem("List: another team's job");
      if (!seen.insert(job.id).second) Problem("List: a job listed twice");
      if (!query.states.empty() && job.state != query.states[0]) {
        Problem(
            absl::StrCat("List(states=", Text(query.states[0]), "): a job in ", Text(job.state)));
      }
      if (i == 0) continue;
      const Job& prev = (*r)[i - 1];
      bool ordered = true;
      switch (query.sort) {
        case SortOrder::kOldestFirst:
          ordered = prev.id < job.id;
          break;
        case SortOrder::kNewestFirst:
          ordered = job.id < prev.id;
          break;
        default:
          ordered =
              prev.priority > job.priority || (prev.priority == job.priority && prev.id < job.id);
          break;
      }
      if (!ordered) {
        Problem(
            absl::StrCat("List(sort=", std::string(SortOrderName(query.sort)), "): out of order"));
      }
    }
  }

  void ReadCounts() {
    std::optional<Ledger::Batch> batch = ledger_.RandomBatch(team_index_, rng_);
    if (!batch.has_value()) return;
    absl::StatusOr<BatchCounts> counts = engine_.GetBatchCounts(team_, batch->id);
    if (batch->top_level == 0) {
      if (counts.status().code() != absl::StatusCode::kNotFound) {
        Problem(
            absl::StrCat("GetBatchCounts of an all-invalid batch: ", counts.status().ToString()));
      }
      return;
    }
    if (!counts.ok()) {
      Problem(absl::StrCat("GetBatchCounts: ", counts.status().ToString()));
      return;
    }
    if (Sum(*counts) != counts->total || counts->total != batch->top_level) {
      Problem(absl::StrCat("GetBatchCounts: counts sum to ", Sum(*counts), ", total ",
                           counts->total, ", top-level jobs ", batch->top_level));
    }
  }

  void Get() {
    std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
    if (!id.has_value()) return;
    absl::StatusOr<Job> job = engine_.Get(team_, *id);
    if (!job.ok() || job->id != *id || job->team != team_) {
      Problem(absl::StrCat("Get(", id->ToString(), "): ", job.status().ToString()));
    }
  }

  void Claim() {
    ClaimRequest request;
    request.worker = team_;
    if (Chance(0.2)) request.tags.push_back(kTagPool[Uniform(3)]);
    absl::StatusOr<ClaimedJob> claimed = engine_.Claim(request);
    if (!claimed.ok()) {
      if (claimed.status().code() != absl::StatusCode::kNotFound) {
        Problem(absl::StrCat("Claim: ", claimed.status().ToString()));
      }
      return;
    }
    const Job& job = claimed->job;
    std::optional<Ledger::Holder> previous = ledger_.RecordClaim(
        job.id, {index_, claimed->lease.token, claimed->lease.expires_at, job.attempts});
    // Two workers never hold the same job: a job claimed again had its
    // earlier lease run out (the clock is read after the claim).
    if (previous.has_value() && previous->expires_at > clock_.Now()) {
      Problem(absl::StrCat("job ", job.id.ToString(), " was claimed while thread ",
                           previous->thread, " held a lease until ",
                           absl::FormatTime(previous->expires_at)));
    }
    if (job.state != JobState::kRendering || job.attempts < 1 || job.attempts > kMaxAttempts ||
        claimed->lease.token.empty() || job.cancel_requested) {
      Problem(absl::StrCat("Claim answered job ", job.id.ToString(), " in ", Text(job.state),
                           ", attempts ", job.attempts));
    }
    for (const std::string& tag : request.tags) {
      if (std::find(job.tags.begin(), job.tags.end(), tag) == job.tags.end()) {
        Problem(absl::StrCat("Claim(tags=", tag, ") answered a job without it"));
      }
    }
    held_.push_back({job.id, job.team, claimed->lease.token, claimed->lease.expires_at});
  }

  void RequestAbort() {
    std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
    if (!id.has_value()) return;
    absl::StatusOr<Job> r = engine_.RequestAbort(team_, *id);
    if (r.ok()) {
      if (r->state != JobState::kRendering || !r->cancel_requested) {
        Problem(absl::StrCat("RequestAbort answered ", id->ToString(), " in ", Text(r->state),
                             ", cancelRequested ", r->cancel_requested));
      }
    } else if (r.status().code() != absl::StatusCode::kFailedPrecondition) {
      Problem(absl::StrCat("RequestAbort(", id->ToString(), "): ", r.status().ToString()));
    }
  }

  // A worker's call refused with FailedPrecondition is right only if the
  // job was taken from it: its lease ran out (the clock is read after the
  // refusal), or an abort was requested (and its grace ran out).
  void ExpectLost(const char* call, const Held& held, const absl::Status& status) {
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      if (clock_.Now() >= held.expires_at) return;
      absl::StatusOr<Job> job = engine_.Get(held.team, held.id);
      if (job.ok() && job->cancel_requested) return;
    }
    Problem(absl::StrCat(call, "(", held.id.ToString(), ") by its lease holder, lease until ",
                         absl::FormatTime(held.expires_at), ": ", status.ToString()));
  }

  // Heartbeats, finishes, fails or releases a job this thread holds. The
  // call must succeed unless the clock thread took the job away meanwhile
  // (its lease ran out, or an abort's grace did).
  void EndAttempt() {
    if (held_.empty()) {
      Claim();
      return;
    }
    const size_t at = Uniform(held_.size());
    Held held = held_[at];
    if (Chance(0.05)) {
      absl::StatusOr<Job> stale = engine_.Finish(held.id, held.token + "-stale", FinishReport{});
      if (stale.status().code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("Finish with a wrong lease: ", stale.status().ToString()));
      }
    }
    const int pick = static_cast<int>(Uniform(100));
    if (pick < 35) {
      HeartbeatReport report;
      report.progress = static_cast<double>(Uniform(101));
      const absl::Time before = clock_.Now();
      absl::StatusOr<HeartbeatResult> beat = engine_.Heartbeat(held.id, held.token, report);
      if (!beat.ok()) {
        held_.erase(held_.begin() + at);
        ExpectLost("Heartbeat", held, beat.status());
        return;
      }
      if (beat->job.state != JobState::kRendering || beat->lease.token != held.token ||
          beat->lease.expires_at < before + kLease) {
        Problem(absl::StrCat("Heartbeat(", held.id.ToString(), ") answered ", Text(beat->job.state),
                             ", lease until ", absl::FormatTime(beat->lease.expires_at),
                             ", called at ", absl::FormatTime(before)));
      }
      held_[at].expires_at = beat->lease.expires_at;
      ledger_.RecordExtension(held.id, held.token, beat->lease.expires_at);
      if (!beat->cancel_requested) return;
      // Acknowledge the abort by releasing the job: it ends cancelled.
      held_.erase(held_.begin() + at);
      ledger_.LetGo(held.id, held.token);
      absl::StatusOr<Job> released = engine_.Release(held.id, held.token);
      if (!released.ok()) {
        ExpectLost("Release after an abort", held, released.status());
        return;
      }
      if (released->state != JobState::kCancelled) {
        Problem(absl::StrCat("Release of aborted job ", held.id.ToString(), " left it ",
                             Text(released->state)));
      }
      ledger_.RecordOutcome(held.id, held.token, released->state);
      return;
    }
    held_.erase(held_.begin() + at);
    if (pick < 80) {
      const bool finish = pick < 65;
      absl::StatusOr<Job> done =
          finish ? engine_.Finish(held.id, held.token, FinishReport{})
                 : engine_.Fail(held.id, held.token, {.error = "render crashed", .retry = false});
      const JobState want = finish ? JobState::kFinished : JobState::kError;
      if (!done.ok()) {
        ExpectLost(finish ? "Finish" : "Fail", held, done.status());
        return;
      }
      if (done->state != want) {
        Problem(absl::StrCat(finish ? "Finish(" : "Fail(", held.id.ToString(), ") left it ",
                             Text(done->state)));
      }
      ledger_.RecordOutcome(held.id, held.token, want);
      return;
    }
    ledger_.LetGo(held.id, held.token);
    absl::StatusOr<Job> released = engine_.Release(held.id, held.token);
    if (!released.ok()) {
      ExpectLost("Release", held, released.status());
      return;
    }
    const JobState want = released->cancel_requested          ? JobState::kCancelled
                          : released->attempts < kMaxAttempts ? JobState::kQueued
                                                              : JobState::kError;
    if (released->state != want || released->attempts > kMaxAttempts) {
      Problem(absl::StrCat("Release(", held.id.ToString(), ") left it ", Text(released->state),
                           " after ", released->attempts, " attempts"));
    }
    ledger_.RecordOutcome(held.id, held.token, released->state);
  }

  Engine& engine_;
  const ManualClock& clock_;
  const int index_;
  Ledger& ledger_;
  Problems& problems_;
  const int team_index_;
  const std::string team_;
  std::mt19937_64 rng_;
  std::vector<Held> held_;  // leases this thread holds (or held, if taken away)
};

// ---- Final checks ----------------------------------------------------------------

// Every job of `team`, read state by state through List (paged), checking
// that no job shows up in two state listings.
absl::flat_hash_map<JobId, Job> ListAllByState(Engine& engine, const std::string& team) {
  absl::flat_hash_map<JobId, Job> jobs;
  for (int s = 0; s < kNumJobStates; ++s) {
    const JobState state = static_cast<JobState>(s);
    ListQuery query;
    query.states = {state};
    query.limit = ListQuery::kMaxLimit;
    for (query.offset = 0;; query.offset += query.limit) {
      absl::StatusOr<std::vector<Job>> page = engine.List(team, query);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (Job& job : *page) {
        EXPECT_EQ(job.state, state) << job.id.ToString() << " listed under " << Text(state);
        EXPECT_TRUE(jobs.emplace(job.id, job).second)
            << "job " << job.id.ToString() << " appears in more than one state listing";
      }
      if (page->size() < query.limit) break;
    }
  }
  return jobs;
}

TEST(StressTest, ConcurrentClientsAndWorkersKeepEveryInvariant) {
  ManualClock clock;
  Options options;
  options.clock = &clock;
  options.id_seed = 99;
  options.max_attempts = kMaxAttempts;
  options.lease_duration = kLease;
  options.abort_grace = kAbortGrace;
  absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<Engine> engine = *std::move(created);
  Ledger ledger;
  Problems problems;
  const int ops = OpsPerThread();

  // A subscriber sees every transition while the threads work (its queue is
  // big enough never to drop); checked against the final states below.
  std::mutex events_mu;
  std::vector<TransitionEvent> events;  // guarded by events_mu
  SubscribeOptions subscribe;
  subscribe.max_queued = size_t{1} << 24;
  Subscription subscription = engine->Subscribe(
      [&](const TransitionEvent& e) {
        std::lock_guard<std::mutex> lock(events_mu);
        events.push_back(e);
      },
      subscribe);

  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(*engine, clock, ledger, problems, t);
      client.Run(ops);
    });
  }
  // The clock thread: time moves (up to 0.5 s a step) and what is due runs,
  // concurrently with every other call, until the clients are done.
  std::atomic<bool> clients_done{false};
  int64_t due_jobs = 0;
  std::thread ticker([&] {
    std::mt19937_64 tick_rng(11);
    while (!clients_done.load()) {
      clock.Advance(absl::Milliseconds(std::uniform_int_distribution<int64_t>(0, 500)(tick_rng)));
      due_jobs += static_cast<int64_t>(engine->RunDueWork());
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });

  // The main thread reads batch aggregates while the others work: each read
  // is one consistent snapshot, so it sums to the total, and since terminal
  // states are final, no terminal count ever goes down between two reads.
  std::mt19937_64 rng(7);
  absl::flat_hash_map<BatchId, BatchCounts> last_seen;
  std::thread stopper([&] {
    for (std::thread& t : threads) t.join();
    clients_done.store(true);
    ticker.join();
    done.store(true);
  });
  int64_t reads = 0;
  while (!done.load()) {
    std::optional<Ledger::Batch> batch = ledger.RandomAnyBatch(rng);
    if (!batch.has_value() || batch->top_level == 0) {
      std::this_thread::yield();
      continue;
    }
    absl::StatusOr<BatchCounts> counts = engine->GetBatchCounts(kTeams[batch->team], batch->id);
    ++reads;
    if (!counts.ok()) {
      problems.Add(absl::StrCat("GetBatchCounts: ", counts.status().ToString()));
      continue;
    }
    if (Sum(*counts) != counts->total || counts->total != batch->top_level) {
      problems.Add(absl::StrCat("GetBatchCounts (lock-free read): counts sum to ", Sum(*counts),
                                ", total ", counts->total, ", top-level jobs ", batch->top_level));
    }
    auto [it, first] = last_seen.try_emplace(batch->id, *counts);
    if (!first) {
      for (JobState s : {JobState::kFinished, JobState::kError, JobState::kCancelled}) {
        if (counts->count(s) < it->second.count(s)) {
          problems.Add(absl::StrCat("GetBatchCounts: ", Text(s), " went down from ",
                                    it->second.count(s), " to ", counts->count(s)));
        }
      }
      it->second = *counts;
    }
  }
  stopper.join();
  problems.Report();

  // ---- Afterwards, through the public API only, once what is due ran.
  due_jobs += static_cast<int64_t>(engine->RunDueWork());
  const absl::Time end = clock.Now();
  size_t acknowledged = 0;
  absl::flat_hash_map<JobId, Job> all;
  for (int team = 0; team < 2; ++team) {
    const std::vector<JobId> ids = ledger.Jobs(team);
    acknowledged += ids.size();
    absl::flat_hash_map<JobId, Job> listed = ListAllByState(*engine, kTeams[team]);
    // No job lost: every acknowledged submit is listed under exactly one state.
    EXPECT_EQ(listed.size(), ids.size()) << kTeams[team];
    for (JobId id : ids) {
      auto it = listed.find(id);
      ASSERT_NE(it, listed.end()) << "acknowledged job " << id.ToString() << " is missing";
      absl::StatusOr<Job> got = engine->Get(kTeams[team], id);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->state, it->second.state) << id.ToString();
      EXPECT_EQ(got->team, kTeams[team]);
      all.emplace(id, *std::move(got));
    }
  }
  EXPECT_EQ(engine->JobCount(), acknowledged);

  // Events: numbered 1, 2, 3, ... with no gap; per job, the first is its
  // creation, each starts where the one before ended, and the last ends in
  // the job's final state.
  ASSERT_TRUE(subscription.Flush());
  EXPECT_EQ(subscription.dropped(), 0u);
  {
    std::lock_guard<std::mutex> lock(events_mu);
    absl::flat_hash_map<JobId, JobState> last;
    for (size_t i = 0; i < events.size(); ++i) {
      const TransitionEvent& e = events[i];
      ASSERT_EQ(e.sequence, i + 1) << "events out of order or missing";
      auto [it, first] = last.try_emplace(e.job_id, e.to);
      if (first) {
        EXPECT_FALSE(e.from.has_value()) << e.job_id.ToString() << ": first event is no creation";
      } else {
        EXPECT_EQ(e.from, std::optional<JobState>(it->second)) << e.job_id.ToString();
        it->second = e.to;
      }
    }
    EXPECT_EQ(last.size(), acknowledged);
    for (const auto& [id, job] : all) {
      auto it = last.find(id);
      ASSERT_NE(it, last.end()) << id.ToString() << " has no event";
      EXPECT_EQ(it->second, job.state) << id.ToString() << ": last event disagrees with Get";
    }
  }

  // Batches: the aggregate equals a recount of the batch's jobs.
  for (const Ledger::Batch& batch : ledger.Batches()) {
    const char* team = kTeams[batch.team];
    absl::StatusOr<BatchCounts> counts = engine->GetBatchCounts(team, batch.id);
    absl::StatusOr<BatchView> view = engine->GetBatch(team, batch.id);
    if (batch.top_level == 0) {
      EXPECT_EQ(counts.status().code(), absl::StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(counts.ok()) << counts.status();
    ASSERT_TRUE(view.ok()) << view.status();
    BatchCounts recount;
    for (const BatchJobView& job : view->jobs) {
      ++recount.by_state[static_cast<int>(job.job.state)];
      ++recount.total;
      EXPECT_EQ(job.job.state, all.at(job.job.id).state);
      EXPECT_FALSE(job.job.parent_id.has_value()) << "a nested child is listed as top-level";
    }
    EXPECT_EQ(recount.total, batch.top_level);
    EXPECT_EQ(counts->by_state, recount.by_state) << "batch " << batch.id.ToString();
    EXPECT_EQ(counts->total, recount.total);
    EXPECT_EQ(view->counts.by_state, recount.by_state);
    EXPECT_EQ(view->status, StatusOf(recount));
  }

  // Closure (contract §3-4, semantics.md), from the jobs' own views.
  absl::flat_hash_map<JobId, std::vector<JobId>> dependents;
  for (const auto& [id, job] : all) {
    for (JobId p : job.children) dependents[p].push_back(id);
    for (JobId p : job.depends_on) dependents[p].push_back(id);
  }
  const absl::flat_hash_map<JobId, JobState> outcomes = ledger.Outcomes();
  const absl::flat_hash_map<JobId, int> claims = ledger.Claims();
  const absl::flat_hash_map<JobId, Ledger::Holder> holders = ledger.Holders();
  for (const auto& [id, job] : all) {
    const std::string name = absl::StrCat("job ", id.ToString(), " (", Text(job.state), ")");
    std::vector<JobId> prerequisites = job.children;
    prerequisites.insert(prerequisites.end(), job.depends_on.begin(), job.depends_on.end());
    bool all_resolved = true;
    for (JobId p : prerequisites) {
      ASSERT_TRUE(all.contains(p)) << name << " needs an unknown job " << p.ToString();
      const JobState ps = all.at(p).state;
      const bool resolved = ps == JobState::kFinished ||
                            (ps == JobState::kError &&
                             job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore);
      all_resolved = all_resolved && resolved;
      if (IsCancellable(job.state)) {
        EXPECT_NE(ps, JobState::kCancelled) << name << " has a cancelled prerequisite (rule R)";
      }
      if (job.state == JobState::kPending &&
          job.on_prerequisite_failure == PrerequisiteFailurePolicy::kFail) {
        EXPECT_NE(ps, JobState::kError) << name << " waits on a failed prerequisite";
      }
    }
    if (job.state == JobState::kQueued || job.state == JobState::kRendering ||
        job.state == JobState::kFinished) {
      EXPECT_TRUE(all_resolved) << name << " started before its prerequisites were done";
    }
    if (job.state == JobState::kPending) {
      EXPECT_FALSE(all_resolved) << name << " waits for nothing";
    }
    auto d = dependents.find(id);
    // A job a worker released (or whose lease ran out) after its dependents
    // ended is back in the queue: requeueing runs no cascade (semantics.md).
    if (IsCancellable(job.state) && job.attempts == 0 && d != dependents.end()) {
      const bool all_ended = std::all_of(d->second.begin(), d->second.end(), [&](JobId dep) {
        const JobState ds = all.at(dep).state;
        return ds == JobState::kCancelled || ds == JobState::kError;
      });
      EXPECT_FALSE(all_ended) << name << " is useless: every dependent ended (rule U)";
    }
    // Only the workers of this test start jobs: a job's attempts are its
    // claims, never over max_attempts, and a job nobody claimed never
    // started. A job its worker finished or failed stays so; one that ended
    // without a worker says why (contract §1, §3, §4, §7).
    auto outcome = outcomes.find(id);
    const int claim_count = claims.contains(id) ? claims.at(id) : 0;
    EXPECT_EQ(job.attempts, claim_count) << name;
    EXPECT_LE(job.attempts, kMaxAttempts) << name;
    if (job.state == JobState::kCancelled) {
      const std::string error = job.stats.error.value_or("");
      const std::string prefix = "Cancelled: cascade from ";
      if (error.rfind(prefix, 0) == 0) {
        absl::StatusOr<JobId> from = JobId::Parse(error.substr(prefix.size()));
        EXPECT_TRUE(from.ok() && all.contains(*from) &&
                    all.at(*from).state == JobState::kCancelled && all.at(*from).team == job.team)
            << name << ": " << error;
      } else {
        EXPECT_EQ(error, "Cancelled via API") << name;
      }
      EXPECT_TRUE(job.stats.error_at.has_value()) << name;
    }
    if (job.state == JobState::kError &&
        (outcome == outcomes.end() || outcome->second != JobState::kError)) {
      const std::string error = job.stats.error.value_or("");
      const bool expired = error == absl::StrCat("lease expired after ", kMaxAttempts, " attempts");
      EXPECT_TRUE(expired ||
                  ((error.rfind("prerequisite ", 0) == 0 || error.rfind("dependent ", 0) == 0) &&
                   error.size() > 7 && error.substr(error.size() - 7) == " failed"))
          << name << ": " << error;
    }
    if (outcome != outcomes.end() &&
        (outcome->second == JobState::kFinished || outcome->second == JobState::kError ||
         outcome->second == JobState::kCancelled)) {
      EXPECT_EQ(job.state, outcome->second) << name;
    }
    if (claim_count > 0) {
      EXPECT_TRUE(job.stats.started_at.has_value()) << name;
    } else {
      EXPECT_NE(job.state, JobState::kRendering) << name << " renders but nobody claimed it";
      EXPECT_NE(job.state, JobState::kFinished) << name << " finished but nobody claimed it";
    }
    // Leases: after the final RunDueWork no rendering job has an expired
    // lease, and each has exactly one holder (the bookkeeping keeps one per
    // job), whose token the engine still accepts. A lease nobody let go of
    // on a job that is not rendering ran out, or its job was aborted.
    auto holder = holders.find(id);
    if (job.state == JobState::kRendering) {
      ASSERT_NE(holder, holders.end()) << name << " renders but no thread holds it";
      EXPECT_GT(holder->second.expires_at, end) << name << " renders with an expired lease";
      absl::StatusOr<HeartbeatResult> beat =
          engine->Heartbeat(id, holder->second.token, HeartbeatReport{});
      EXPECT_TRUE(beat.ok()) << name << ": thread " << holder->second.thread
                             << "'s lease is refused: " << beat.status();
    } else if (holder != holders.end()) {
      EXPECT_TRUE(holder->second.expires_at <= end || job.cancel_requested)
          << name << " was taken from thread " << holder->second.thread
          << " before its lease ran out";
    }
  }
  int by_state[kNumJobStates] = {};
  for (const auto& [id, job] : all) ++by_state[static_cast<int>(job.state)];
  std::cout << "jobs: " << acknowledged << ", batches: " << ledger.Batches().size()
            << ", claimed jobs: " << claims.size() << ", worker outcomes: " << outcomes.size()
            << ", jobs ended by RunDueWork: " << due_jobs << ", lock-free reads: " << reads << "\n";
  for (int s = 0; s < kNumJobStates; ++s) {
    std::cout << "  " << Text(static_cast<JobState>(s)) << ": " << by_state[s] << "\n";
  }
}

}  // namespace
}  // namespace cascade
