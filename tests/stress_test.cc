// Copyright 2026 The Cascade Authors.
//
// Stress test (contract §13): four threads share one engine with two teams, each
// running a fixed number of mixed operations (submit, batch submit, cancel,
// cancel many, batch cancel, list, get, batch counts, claim, heartbeat,
// finish, fail to be retried or final, release, abort, and contract §14's
// retry, suspend, resume, batch suspend and resume, priority changes) while
// the main thread keeps reading batch aggregates without a lock, and a clock
// thread advances the engine's ManualClock and calls RunDueWork, so leases
// run out, attempts pass their time limits, retry backoffs end and aborts
// pass their grace under the workers' feet. Specs carry their own max
// attempts, backoffs and time limits. Every answer is checked for sanity as
// it comes (a batch's counts always sum to its total; the finished count
// never goes down; a job is never claimed while another worker's lease on it
// is still running and its attempt within its time limit, nor while a
// Suspend answer showed it held and no call that could release it (Retry,
// Resume, ResumeBatch of its team) has started since, nor before the
// retry_at a failed attempt's answer showed (by the clock after the claim
// and by its startedAt; see StressFoundTest), nor with no attempts left; a
// failed attempt comes back queued exactly when it has attempts left and
// was not final, waiting until its end + backoff x 2^(attempts-1); a revived
// job comes back with a fresh start; a worker holding a lease can always
// heartbeat, finish, fail or release its job, unless the lease ran out, the
// time limit passed or an abort was requested).
//
// Contract §15: the threads claim as named workers ("node-<thread>"; now and
// then unnamed) with all-of and "any of" tags (a claimed job carries every
// all-of tag and one of the any-of ones), append to the logs of the jobs
// they hold (short lines, now and then a burst of 300-400 KiB ones, so logs pass
// their 1 MiB bound; a stale lease is refused), and list the workers. Each
// log a thread reads is at most 1 MiB, whole lines (it starts at a line
// start and ends with a newline), and only grows between two reads by the
// same thread, unless the bound cut it (then it is within a line of 1 MiB).
// Each list is in name order, names only the threads' workers, lists only
// the asking team's jobs, and a worker listing a job is busy (its lease, of
// the default length and never extended, ran out less than two lease
// lengths after the worker was last seen, and RunDueWork ends it within a
// clock step). A thread's own worker lists only jobs the thread claimed
// under its name and holds, with the tags of its last named claim, the
// default lease length, and a last sighting between the start of its last
// call that could see it and now.
//
// When all threads are done, a final RunDueWork runs and the engine's state
// is checked through the public API:
//   - every batch's aggregate equals a recount of its jobs;
//   - every job appears in exactly one state listing, and no acknowledged job
//     is missing (JobCount agrees);
//   - the closures of contract §3-4 hold: no queued or pending job has a
//     cancelled prerequisite, nor dependents that all ended cancelled or in
//     error; no pending job waits on nothing or on a failed prerequisite it
//     does not ignore;
//   - every job finished by its worker stays so, and one failed by its
//     worker or cancelled stays so unless a Retry revived it; a job's
//     attempts are the claims it got (since its last revival, for a revived
//     one), never over its max_attempts, and a job nobody claimed never
//     started;
//   - the revive fixpoint left no orphan: an ended job whose text names the
//     job its end came from ("Cancelled: cascade from X", "prerequisite X
//     failed", "dependent X failed") names one that is still ended so; a job
//     that ran out of attempts ("lease expired after N attempts", "timed
//     out after N s") used every one;
//   - only queued and pending jobs are held, only queued ones not held wait
//     for a retry_at, and that is still ahead;
//   - no job stays rendering with an expired lease or past its time limit,
//     and every rendering job has exactly one holder in the threads'
//     bookkeeping, whose lease the engine accepts;
//   - the worker list names exactly the rendering jobs whose current holder
//     claimed under its name, under that name (contract §15); every log is
//     whole lines within 1 MiB, and only claimed jobs have one.
// Runs under ThreadSanitizer in CI; the operation count is bounded (not
// timed). CASCADE_STRESS_OPS overrides the operations per thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
// Contract §15: the render log bound, and the longest line the threads send.
constexpr size_t kLogBound = size_t{1} << 20;
constexpr size_t kLongestLine = 400'000 + 64;
constexpr size_t kMaxProblems = 30;
// The engine's worker options: short enough that the clock thread makes
// leases run out, time limits pass, backoffs end and aborts pass their grace
// often. Specs override the attempts, the backoff and the time limit now and
// then.
constexpr int kMaxAttempts = 2;
constexpr absl::Duration kLease = absl::Seconds(3);
constexpr absl::Duration kAbortGrace = absl::Seconds(1);
constexpr absl::Duration kRetryBackoff = absl::Milliseconds(300);
constexpr absl::Duration kRenderTimeout = absl::Seconds(5);
constexpr absl::Duration kMaxRetryWait = absl::Hours(24);

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

  // A job's retry backoff and time limit (its spec's, else the engine's).
  struct Policy {
    absl::Duration backoff = kRetryBackoff;
    std::optional<absl::Duration> timeout = kRenderTimeout;
  };

  void AddJobs(int team, const CreatedJob& created, const JobSpec& spec) {
    std::lock_guard<std::mutex> lock(mu_);
    AddTree(team, created, spec);
  }
  void AddBatch(int team, const BatchSubmitResult& result, const std::vector<JobSpec>& specs) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const BatchJobResult& job : result.jobs) AddTree(team, job.job, specs[job.index]);
    batches_.push_back({result.batch_id, team, static_cast<int>(result.jobs.size())});
  }
  // Unknown until the thread that made the job has recorded it (another
  // thread may claim it first).
  std::optional<Policy> PolicyOf(JobId id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = policies_.find(id);
    if (it == policies_.end()) return std::nullopt;
    return it->second;
  }

  // Holds (contract §14). A job a Suspend answer showed held cannot be
  // claimed until something releases it: a Resume or ResumeBatch, or its
  // end and a Retry (which also revives ended jobs, undoing what an earlier
  // answer showed). Each team brackets the calls of those kinds
  // (StartRelease, EndRelease); ReleaseEpoch is a snapshot of them, and
  // NoReleaseSince tells whether none can have taken effect since one.
  static constexpr uint64_t kInFlight = ~uint64_t{0};
  uint64_t ReleaseEpoch(int team) const {
    std::lock_guard<std::mutex> lock(mu_);
    return EpochLocked(team);
  }
  bool NoReleaseSince(int team, uint64_t epoch) const {
    std::lock_guard<std::mutex> lock(mu_);
    return NoReleaseSinceLocked(team, epoch);
  }
  void StartRelease(int team) {
    std::lock_guard<std::mutex> lock(mu_);
    ++releases_started_[team];
    ++releases_in_flight_[team];
  }
  void EndRelease(int team) {
    std::lock_guard<std::mutex> lock(mu_);
    --releases_in_flight_[team];
  }
  // A Suspend (or SuspendBatch) answer showed the job held; `epoch` was
  // read before the call.
  void ConfirmHeld(JobId id, int team, uint64_t epoch) {
    std::lock_guard<std::mutex> lock(mu_);
    if (epoch == kInFlight || !NoReleaseSinceLocked(team, epoch)) return;
    held_since_[id] = epoch;
  }
  // True iff the job must still be held (asked after its claim answered).
  bool MustBeHeld(JobId id, int team) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_since_.find(id);
    return it != held_since_.end() && NoReleaseSinceLocked(team, it->second);
  }
  // A failed attempt's answer: the job's `attempts`, the retry_at it showed
  // (none: claimable at once) and its team's ReleaseEpoch read before the
  // call (a hold and a Resume end a wait early).
  void RecordRequeue(JobId id, int attempts, std::optional<absl::Time> retry_at,
                     uint64_t releases) {
    std::lock_guard<std::mutex> lock(mu_);
    requeues_[id] = {attempts, retry_at, releases};
  }
  // The retry_at the job `id` of `team` showed after the attempt before
  // `attempt`, if known and nothing since may have ended its wait early.
  std::optional<absl::Time> RetryAtBefore(JobId id, int team, int attempt) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = requeues_.find(id);
    if (it == requeues_.end() || it->second.attempts != attempt - 1 ||
        !NoReleaseSinceLocked(team, it->second.releases)) {
      return std::nullopt;
    }
    return it->second.retry_at;
  }
  void RecordRevived(const std::vector<Job>& jobs) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Job& job : jobs) ++revivals_[job.id];
  }
  absl::flat_hash_map<JobId, int> Revivals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return revivals_;
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
    int attempt = 0;                       // the job's attempt number this claim began
    std::optional<absl::Time> time_limit;  // when the attempt times out
    // Its team's ReleaseEpoch read before the claim: while no release has
    // happened since, the job's attempts only grow, so they order its claims.
    uint64_t releases_before = 0;
    bool named = false;  // claimed under the thread's worker name
    // The lease no longer holds the job at `now` (its worker may not know).
    bool Over(absl::Time now) const {
      return expires_at <= now || (time_limit.has_value() && *time_limit <= now);
    }
  };

  // Records a claim of a job of team `team`; returns an earlier holder that
  // never let go of the job and whose lease was still running at `now`
  // (a problem: two workers hold the job), if it can tell.
  std::optional<Holder> RecordClaim(JobId id, int team, Holder holder, absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    ++claims_[id];
    std::optional<Holder> problem;
    std::vector<Holder>& holders = holders_[id];
    // A Retry started since either claim may have revived the job in between
    // (its attempts start again): then which came first is not known, and
    // both stay.
    auto ordered = [&](const Holder& h) {
      return NoReleaseSinceLocked(team, h.releases_before) &&
             NoReleaseSinceLocked(team, holder.releases_before);
    };
    // Threads record after the engine answered, so a later attempt's claim
    // may be recorded first; then this claim's lease is already gone, and
    // the later holder stays.
    for (const Holder& h : holders) {
      if (ordered(h) && h.attempt > holder.attempt) return std::nullopt;
    }
    for (auto it = holders.begin(); it != holders.end();) {
      if (!ordered(*it)) {
        ++it;
        continue;
      }
      if (!it->Over(now)) problem = *it;
      it = holders.erase(it);
    }
    holders.push_back(std::move(holder));
    return problem;
  }
  // A heartbeat extended the lease `token` (if it is still the job's).
  void RecordExtension(JobId id, const std::string& token, absl::Time expires_at) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Holder& h : holders_[id]) {
      if (h.token == token) h.expires_at = expires_at;
    }
  }
  // A worker is about to end its attempt: from then on another may claim it.
  void LetGo(JobId id, const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    EraseHolder(id, token);
  }
  // How a worker left a claimed job: it holds it no more.
  void RecordOutcome(JobId id, const std::string& token, JobState state) {
    std::lock_guard<std::mutex> lock(mu_);
    EraseHolder(id, token);
    // Workers record after the engine answered, so an earlier attempt's
    // requeue may be recorded after the final one: an end is not undone
    // (but by a Retry, which the final checks allow for).
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
  absl::flat_hash_map<JobId, std::vector<Holder>> Holders() const {
    std::lock_guard<std::mutex> lock(mu_);
    return holders_;
  }

 private:
  // REQUIRES: mu_ held.
  uint64_t EpochLocked(int team) const {
    return releases_in_flight_[team] > 0 ? kInFlight : releases_started_[team];
  }
  // REQUIRES: mu_ held.
  bool NoReleaseSinceLocked(int team, uint64_t epoch) const {
    return epoch != kInFlight && EpochLocked(team) == epoch;
  }
  // REQUIRES: mu_ held.
  void EraseHolder(JobId id, const std::string& token) {
    auto it = holders_.find(id);
    if (it == holders_.end()) return;
    std::vector<Holder>& holders = it->second;
    holders.erase(std::remove_if(holders.begin(), holders.end(),
                                 [&](const Holder& h) { return h.token == token; }),
                  holders.end());
    if (holders.empty()) holders_.erase(it);
  }

  // REQUIRES: mu_ held.
  void AddTree(int team, const CreatedJob& created, const JobSpec& spec) {
    jobs_[team].push_back(created.id);
    Policy& policy = policies_[created.id];
    policy.backoff = spec.retry_backoff.value_or(kRetryBackoff);
    policy.timeout = spec.timeout.has_value() ? spec.timeout : kRenderTimeout;
    for (size_t i = 0; i < created.children.size(); ++i) {
      AddTree(team, created.children[i], spec.children[i]);
    }
  }

  // A std::mutex, not an absl::Mutex: ThreadSanitizer sees std::mutex
  // (through pthread), but not an absl::Mutex of an Abseil built without
  // it, and would report the test's own bookkeeping as racy.
  mutable std::mutex mu_;
  // All guarded by mu_.
  std::vector<JobId> jobs_[2];
  std::vector<Batch> batches_;
  absl::flat_hash_map<JobId, int> claims_;
  absl::flat_hash_map<JobId, std::vector<Holder>> holders_;  // leases no worker let go of
  absl::flat_hash_map<JobId, JobState> outcome_;
  absl::flat_hash_map<JobId, Policy> policies_;
  uint64_t releases_started_[2] = {0, 0};
  int releases_in_flight_[2] = {0, 0};
  absl::flat_hash_map<JobId, uint64_t> held_since_;
  struct Requeue {
    int attempts = 0;
    std::optional<absl::Time> retry_at;
    uint64_t releases = 0;
  };
  absl::flat_hash_map<JobId, Requeue> requeues_;
  absl::flat_hash_map<JobId, int> revivals_;
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
      const int pick = static_cast<int>(Uniform(118));
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
      } else if (pick < 100) {
        EndAttempt();
      } else if (pick < 104) {
        Retry();
      } else if (pick < 106) {
        Suspend();
      } else if (pick < 108) {
        Resume();
      } else if (pick < 109) {
        HoldBatch();
      } else if (pick < 110) {
        SetPriority();
      } else if (pick < 115) {
        AppendLog();
      } else {
        ListWorkers();
      }
    }
  }

 private:
  struct Held {
    JobId id;
    std::string team;
    std::string token;
    absl::Time expires_at;
    std::optional<absl::Time> time_limit;  // when the attempt times out
    int attempt = 0;                       // the job's attempts once claimed
    bool named = false;                    // claimed under worker_
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
    // Contract §14: the spec's own attempts, backoff and time limit.
    if (Chance(0.2)) spec.max_attempts = 1 + static_cast<int>(Uniform(4));
    if (Chance(0.2)) spec.retry_backoff = absl::Milliseconds(static_cast<int64_t>(Uniform(1500)));
    if (Chance(0.2)) spec.timeout = absl::Milliseconds(500 + static_cast<int64_t>(Uniform(4000)));
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
    ledger_.AddJobs(team_index_, *created, spec);
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
    ledger_.AddBatch(team_index_, *result, specs);
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
    const uint64_t releases = ledger_.ReleaseEpoch(team_index_);
    absl::StatusOr<std::vector<Job>> r = engine_.Cancel(team_, *id);
    if (r.ok()) {
      CheckCancelled("Cancel", *r);
      if (!Contains(*r, *id)) Problem("Cancel: the named job is not in the answer");
    } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
      // Not cancellable then, so not now either: the only ways back are a
      // rendering job requeued (released, failed, timed out, or its lease
      // ran out) and an ended one revived by a Retry.
      ExpectStillUncancellable("Cancel", *id, releases);
    } else {
      Problem(absl::StrCat("Cancel(", id->ToString(), "): ", r.status().ToString()));
    }
  }

  // After a refusal naming `id` as not cancellable; `releases` is the team's
  // ReleaseEpoch read before the call.
  void ExpectStillUncancellable(const char* call, JobId id, uint64_t releases) {
    absl::StatusOr<Job> job = engine_.Get(team_, id);
    const bool requeued = job.ok() && job->state == JobState::kQueued && job->attempts > 0;
    const bool maybe_revived = !ledger_.NoReleaseSince(team_index_, releases);
    if (!job.ok() || (IsCancellable(job->state) && !requeued && !maybe_revived)) {
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
    const uint64_t releases = ledger_.ReleaseEpoch(team_index_);
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
          ExpectStillUncancellable("CancelMany", id, releases);
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
    const bool named = !Chance(0.1);
    if (named) request.worker = worker_;
    if (Chance(0.2)) request.tags.push_back(kTagPool[Uniform(3)]);
    if (Chance(0.2)) {
      for (int n = 1 + static_cast<int>(Uniform(2)); n > 0; --n) {
        request.any_tags.push_back(kTagPool[Uniform(3)]);
      }
      if (Chance(0.2)) request.any_tags.push_back("nope");
    }
    uint64_t releases[2];
    for (int t = 0; t < 2; ++t) releases[t] = ledger_.ReleaseEpoch(t);
    if (named) {
      // Seen by this claim, found job or not.
      seen_after_ = std::max(seen_after_, clock_.Now());
      last_tags_ = request.tags;
      last_tags_.insert(last_tags_.end(), request.any_tags.begin(), request.any_tags.end());
      claimed_named_ = true;
    }
    absl::StatusOr<ClaimedJob> claimed = engine_.Claim(request);
    if (!claimed.ok()) {
      if (claimed.status().code() != absl::StatusCode::kNotFound) {
        Problem(absl::StrCat("Claim: ", claimed.status().ToString()));
      }
      return;
    }
    const Job& job = claimed->job;
    const int team = job.team == kTeams[0] ? 0 : 1;
    // When the attempt times out; InfinitePast when the job's time limit is
    // not known yet (it may have passed at any time).
    const std::optional<Ledger::Policy> policy = ledger_.PolicyOf(job.id);
    std::optional<absl::Time> time_limit;
    if (!policy.has_value()) {
      time_limit = absl::InfinitePast();
    } else if (policy->timeout.has_value() && job.stats.started_at.has_value()) {
      time_limit = *job.stats.started_at + *policy->timeout;
    }
    const absl::Time now = clock_.Now();  // read after the claim
    std::optional<Ledger::Holder> previous =
        ledger_.RecordClaim(job.id, team,
                            {index_, claimed->lease.token, claimed->lease.expires_at, job.attempts,
                             time_limit, releases[team], named},
                            now);
    // Two workers never hold the same job: a job claimed again had its
    // earlier lease run out or its attempt time out.
    if (previous.has_value()) {
      Problem(absl::StrCat("job ", job.id.ToString(), " was claimed while thread ",
                           previous->thread, " held a lease until ",
                           absl::FormatTime(previous->expires_at)));
    }
    if (job.state != JobState::kRendering || job.attempts < 1 || job.attempts > job.max_attempts ||
        claimed->lease.token.empty() || job.cancel_requested || job.suspended ||
        job.retry_at.has_value()) {
      Problem(absl::StrCat("Claim answered job ", job.id.ToString(), " in ", Text(job.state),
                           ", attempts ", job.attempts, "/", job.max_attempts, ", suspended ",
                           job.suspended));
    }
    // Contract §14: a held job is never claimed, nor one before the retry_at
    // its last failed attempt's answer showed.
    if (ledger_.MustBeHeld(job.id, team)) {
      Problem(absl::StrCat("job ", job.id.ToString(), " was claimed while a Suspend held it"));
    }
    // Both the clock after the claim and the claim's own stamp: the engine
    // reads the clock under its lock, so a claim that waited for the lock
    // while a RunDueWork ended the wait is stamped after it.
    if (std::optional<absl::Time> retry_at = ledger_.RetryAtBefore(job.id, team, job.attempts);
        retry_at.has_value()) {
      if (now < *retry_at || job.stats.started_at < *retry_at) {
        Problem(absl::StrCat("job ", job.id.ToString(), " was claimed at ", absl::FormatTime(now),
                             " (startedAt ", absl::FormatTime(*job.stats.started_at),
                             "), before its retryAt ", absl::FormatTime(*retry_at)));
      }
    }
    for (const std::string& tag : request.tags) {
      if (std::find(job.tags.begin(), job.tags.end(), tag) == job.tags.end()) {
        Problem(absl::StrCat("Claim(tags=", tag, ") answered a job without it"));
      }
    }
    if (!request.any_tags.empty() &&
        std::none_of(request.any_tags.begin(), request.any_tags.end(), [&](const std::string& t) {
          return std::find(job.tags.begin(), job.tags.end(), t) != job.tags.end();
        })) {
      Problem(absl::StrCat("Claim(any_tags=", absl::StrJoin(request.any_tags, ","),
                           ") answered a job with none of them"));
    }
    held_.push_back({job.id, job.team, claimed->lease.token, claimed->lease.expires_at, time_limit,
                     job.attempts, named});
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
  // job was taken from it: its lease ran out or its attempt timed out (the
  // clock is read after the refusal), or an abort was requested (and its
  // grace ran out).
  void ExpectLost(const char* call, const Held& held, const absl::Status& status) {
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      const absl::Time now = clock_.Now();
      if (now >= held.expires_at) return;
      if (held.time_limit.has_value() && now >= *held.time_limit) return;
      absl::StatusOr<Job> job = engine_.Get(held.team, held.id);
      if (job.ok() && job->cancel_requested) return;
    }
    Problem(absl::StrCat(call, "(", held.id.ToString(), ") by its lease holder, lease until ",
                         absl::FormatTime(held.expires_at), ": ", status.ToString()));
  }

  // A failed attempt's answer (a fail, or a release without an abort): back
  // to queued exactly when attempts are left and the failure was not final,
  // waiting until its end + backoff x 2^(attempts-1) (at most 24 h) if the
  // job has a backoff; else in error.
  // `releases`: the team's ReleaseEpoch read before the call.
  void CheckAttemptEnd(const char* call, const Held& held, const Job& job, bool final,
                       uint64_t releases) {
    const bool retried = !final && job.attempts < job.max_attempts;
    const std::optional<Ledger::Policy> policy = ledger_.PolicyOf(held.id);
    std::optional<absl::Time> retry_at;
    if (retried && policy.has_value() && policy->backoff > absl::ZeroDuration()) {
      retry_at = job.stats.updated_at +
                 std::min(policy->backoff * (int64_t{1} << (job.attempts - 1)), kMaxRetryWait);
    }
    if (job.state != (retried ? JobState::kQueued : JobState::kError) ||
        job.attempts > job.max_attempts || (policy.has_value() && job.retry_at != retry_at) ||
        job.suspended) {
      Problem(absl::StrCat(call, "(", held.id.ToString(), ") left it ", Text(job.state), " after ",
                           job.attempts, "/", job.max_attempts, " attempts (final ", final,
                           "), retryAt ",
                           job.retry_at.has_value() ? absl::FormatTime(*job.retry_at) : "null",
                           ", want ", retry_at.has_value() ? absl::FormatTime(*retry_at) : "null"));
    }
    if (retried) ledger_.RecordRequeue(held.id, job.attempts, job.retry_at, releases);
  }

  // Heartbeats, finishes, fails or releases a job this thread holds. The
  // call must succeed unless the clock thread took the job away meanwhile
  // (its lease ran out, its attempt timed out, or an abort's grace ran out).
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
      absl::Status log = engine_.AppendLog(held.id, held.token + "-stale", {"stale"});
      if (log.code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("AppendLog with a wrong lease: ", log.ToString()));
      }
    }
    // A call that passes the lease's fence sees its worker.
    const absl::Time before_call = clock_.Now();
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
      if (beat->cancel_requested &&
          (beat->job.state != JobState::kRendering || beat->job.attempts != held.attempt ||
           beat->lease.expires_at < before + kLease)) {
        // The attempt ran past its time limit, which ended it: the answer
        // says stop, with the job as it is and the lease ending at once.
        held_.erase(held_.begin() + at);
        ledger_.LetGo(held.id, held.token);
        if (!held.time_limit.has_value() || clock_.Now() < *held.time_limit ||
            beat->lease.token != held.token) {
          Problem(absl::StrCat("Heartbeat(", held.id.ToString(), ") said stop, lease until ",
                               absl::FormatTime(beat->lease.expires_at),
                               ", with no time limit passed"));
        }
        return;
      }
      if (beat->job.state != JobState::kRendering || beat->lease.token != held.token ||
          beat->lease.expires_at < before + kLease) {
        Problem(absl::StrCat("Heartbeat(", held.id.ToString(), ") answered ", Text(beat->job.state),
                             ", lease until ", absl::FormatTime(beat->lease.expires_at),
                             ", called at ", absl::FormatTime(before)));
      }
      Seen(held, before_call);
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
      Seen(held, before_call);
      if (released->state != JobState::kCancelled) {
        Problem(absl::StrCat("Release of aborted job ", held.id.ToString(), " left it ",
                             Text(released->state)));
      }
      ledger_.RecordOutcome(held.id, held.token, released->state);
      return;
    }
    held_.erase(held_.begin() + at);
    if (pick < 65) {
      absl::StatusOr<Job> done = engine_.Finish(held.id, held.token, FinishReport{});
      if (!done.ok()) {
        ExpectLost("Finish", held, done.status());
        return;
      }
      Seen(held, before_call);
      if (done->state != JobState::kFinished) {
        Problem(absl::StrCat("Finish(", held.id.ToString(), ") left it ", Text(done->state)));
      }
      ledger_.RecordOutcome(held.id, held.token, JobState::kFinished);
      return;
    }
    // From here on another worker may claim the job again.
    ledger_.LetGo(held.id, held.token);
    const int team = held.team == kTeams[0] ? 0 : 1;
    const uint64_t releases = ledger_.ReleaseEpoch(team);
    if (pick < 80) {
      const bool retry = Chance(0.5);
      absl::StatusOr<Job> done =
          engine_.Fail(held.id, held.token, {.error = "render crashed", .retry = retry});
      if (!done.ok()) {
        ExpectLost("Fail", held, done.status());
        return;
      }
      Seen(held, before_call);
      // A fail of a job asked to abort ends it in error, retry or not.
      CheckAttemptEnd("Fail", held, *done, !retry || done->cancel_requested, releases);
      ledger_.RecordOutcome(held.id, held.token, done->state);
      return;
    }
    absl::StatusOr<Job> released = engine_.Release(held.id, held.token);
    if (!released.ok()) {
      ExpectLost("Release", held, released.status());
      return;
    }
    Seen(held, before_call);
    if (released->cancel_requested) {
      if (released->state != JobState::kCancelled) {
        Problem(absl::StrCat("Release of aborted job ", held.id.ToString(), " left it ",
                             Text(released->state)));
      }
    } else {
      CheckAttemptEnd("Release", held, *released, /*final=*/false, releases);
    }
    ledger_.RecordOutcome(held.id, held.token, released->state);
  }

  // ---- Contract §15 ----------------------------------------------------------------

  // Appends to the log of a job this thread holds, then reads it back and
  // checks it (CheckLog). A refusal is right only if the job was taken
  // from the thread.
  void AppendLog() {
    if (held_.empty()) return;
    const size_t at = Uniform(held_.size());
    // Now and then a burst of big lines, enough to pass the bound.
    const int appends = Chance(0.01) ? 4 : 1;
    for (int i = 0; i < appends; ++i) {
      if (!AppendLogTo(at, /*big=*/appends > 1)) return;
    }
  }

  // One append to the log of held_[at]; false if the lease was lost.
  bool AppendLogTo(size_t at, bool big) {
    const Held held = held_[at];
    std::vector<std::string> lines;
    if (big) {
      lines.push_back(
          absl::StrCat("L", index_, " big ",
                       std::string(300'000 + Uniform(100'000), static_cast<char>('a' + index_))));
    }
    for (int n = static_cast<int>(Uniform(4)); n > 0; --n) {
      lines.push_back(absl::StrCat("L", index_, " ", held.id.ToString(), " ", log_lines_++));
    }
    const absl::Time before_call = clock_.Now();
    const absl::Status appended = engine_.AppendLog(held.id, held.token, lines);
    if (!appended.ok()) {
      held_.erase(held_.begin() + at);
      ExpectLost("AppendLog", held, appended);
      return false;
    }
    Seen(held, before_call);
    ++logs_appended_;
    absl::StatusOr<std::string> log = engine_.GetLog(held.team, held.id);
    if (!log.ok()) {
      // Nothing logged yet (an append of no lines), or the log is gone.
      if (log.status().code() != absl::StatusCode::kNotFound || !lines.empty()) {
        Problem(absl::StrCat("GetLog(", held.id.ToString(), ") after an append of ", lines.size(),
                             " lines: ", log.status().ToString()));
      }
      return true;
    }
    CheckLog(held.id, *log);
    return true;
  }

  // A log this thread read: whole lines within the bound, and, against the
  // last one it read of the same job, grown, or cut by the bound.
  void CheckLog(JobId id, const std::string& log) {
    if (log.size() > kLogBound || log.empty() || log.back() != '\n' || log[0] != 'L') {
      Problem(absl::StrCat("log of ", id.ToString(), ": ", log.size(), " bytes, starting \"",
                           absl::CEscape(log.substr(0, 20)), "\", not whole lines within 1 MiB"));
    }
    std::string& last = last_logs_[id];
    if (log.compare(0, last.size(), last) != 0) {
      // Not grown: cut, so within a line of the bound.
      ++logs_cut_;
      if (log.size() + kLongestLine < kLogBound) {
        Problem(absl::StrCat("log of ", id.ToString(), " went from ", last.size(), " to ",
                             log.size(), " bytes, not by the 1 MiB bound"));
      }
    }
    last = log;
  }

  // A call with `held`'s lease that started at `before` passed its fence.
  void Seen(const Held& held, absl::Time before) {
    if (held.named) seen_after_ = std::max(seen_after_, before);
  }

  // The worker list, as this thread's team or the other sees it.
  void ListWorkers() {
    const int team = Chance(0.8) ? team_index_ : 1 - team_index_;
    const std::vector<WorkerInfo> workers = engine_.ListWorkers(kTeams[team]);
    const absl::Time now = clock_.Now();  // read after the list
    ++lists_;
    for (size_t i = 0; i < workers.size(); ++i) {
      const WorkerInfo& w = workers[i];
      if (i > 0 && !(workers[i - 1].name < w.name)) Problem("ListWorkers: not in name order");
      if (w.name.size() != 6 || w.name.rfind("node-", 0) != 0) {
        Problem(
            absl::StrCat("ListWorkers: a worker no thread is: \"", absl::CEscape(w.name), "\""));
      }
      if (!w.jobs.empty() && w.status != WorkerStatus::kBusy) {
        Problem(absl::StrCat("ListWorkers: ", w.name, " lists ", w.jobs.size(), " jobs but is ",
                             std::string(WorkerStatusName(w.status))));
      }
      for (JobId id : w.jobs) {
        absl::StatusOr<Job> job = engine_.Get(kTeams[team], id);
        if (!job.ok()) {
          Problem(absl::StrCat("ListWorkers(", kTeams[team], "): ", w.name, " lists job ",
                               id.ToString(),
                               ", which the team cannot read: ", job.status().ToString()));
        }
      }
      if (w.name != worker_) continue;
      // This thread's own worker: only it claims under this name.
      for (JobId id : w.jobs) {
        const bool mine = std::any_of(held_.begin(), held_.end(), [&](const Held& h) {
          return h.id == id && h.named && h.team == kTeams[team];
        });
        if (!mine) {
          Problem(absl::StrCat("ListWorkers: ", w.name, " lists job ", id.ToString(),
                               ", which it does not hold"));
        }
      }
      if (claimed_named_ && (w.tags != last_tags_ || w.lease != kLease)) {
        Problem(absl::StrCat("ListWorkers: ", w.name, " has tags [", absl::StrJoin(w.tags, ","),
                             "] and lease ", absl::FormatDuration(w.lease),
                             "; its last claim had [", absl::StrJoin(last_tags_, ","), "] and ",
                             absl::FormatDuration(kLease)));
      }
      if (w.last_seen < seen_after_ || w.last_seen > now) {
        Problem(absl::StrCat("ListWorkers: ", w.name, " last seen ", absl::FormatTime(w.last_seen),
                             ", not between ", absl::FormatTime(seen_after_), " and ",
                             absl::FormatTime(now)));
      }
    }
  }

 public:
  int64_t logs_appended() const { return logs_appended_; }
  int64_t logs_cut() const { return logs_cut_; }
  int64_t lists() const { return lists_; }

 private:
  // ---- Contract §14 ----------------------------------------------------------------

  // 1-3 distinct jobs of the team.
  std::vector<JobId> SomeJobs() {
    std::vector<JobId> ids;
    const int n = 1 + static_cast<int>(Uniform(3));
    for (int i = 0; i < n; ++i) {
      std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
      if (id.has_value() && std::find(ids.begin(), ids.end(), *id) == ids.end()) {
        ids.push_back(*id);
      }
    }
    return ids;
  }

  // Jobs a §14 call answered: unique, in id order, the team's; `holds` says
  // what their hold must be (if anything).
  void CheckAnswered(const char* call, const std::vector<Job>& jobs, std::optional<bool> holds) {
    if (!StrictlyIncreasing(jobs)) Problem(absl::StrCat(call, ": answer not unique in id order"));
    for (const Job& job : jobs) {
      if (job.team != team_ || !IsCancellable(job.state) ||
          (holds.has_value() && job.suspended != *holds)) {
        Problem(absl::StrCat(call, ": answered job ", job.id.ToString(), " of ", job.team, " ",
                             Text(job.state), ", suspended ", job.suspended));
      }
    }
  }

  void Retry() {
    // Mostly jobs that ended (so that something is revived), found by Get.
    std::vector<JobId> ids;
    for (JobId id : SomeJobs()) {
      absl::StatusOr<Job> job = engine_.Get(team_, id);
      if (Chance(0.2) ||
          (job.ok() && (job->state == JobState::kError || job->state == JobState::kCancelled))) {
        ids.push_back(id);
      }
    }
    if (ids.empty()) return;
    ledger_.StartRelease(team_index_);
    absl::StatusOr<std::vector<Job>> r = engine_.Retry(team_, ids);
    ledger_.EndRelease(team_index_);
    if (!r.ok()) {
      // Not retryable (any more), or a revived job would wait forever.
      if (r.status().code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("Retry: ", r.status().ToString()));
      }
      return;
    }
    ledger_.RecordRevived(*r);
    CheckAnswered("Retry", *r, false);
    for (JobId id : ids) {
      if (!Contains(*r, id)) Problem("Retry: a named job is not in the answer");
    }
    for (const Job& job : *r) {
      if (job.attempts != 0 || job.progress != 0.0 || job.stats.error.has_value() ||
          job.stats.error_at.has_value() || job.stats.started_at.has_value() ||
          job.stats.finished_at.has_value() || job.cancel_requested || job.retry_at.has_value()) {
        Problem(absl::StrCat("Retry: revived job ", job.id.ToString(), " has no fresh start"));
      }
    }
  }

  void Suspend() {
    const std::vector<JobId> ids = SomeJobs();
    if (ids.empty()) return;
    const uint64_t releases = ledger_.ReleaseEpoch(team_index_);
    absl::StatusOr<std::vector<Job>> r = engine_.Suspend(team_, ids);
    if (!r.ok()) {
      if (r.status().code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("Suspend: ", r.status().ToString()));
      }
      return;
    }
    CheckAnswered("Suspend", *r, true);
    if (r->size() != ids.size()) Problem("Suspend: not every named job is in the answer");
    for (const Job& job : *r) ledger_.ConfirmHeld(job.id, team_index_, releases);
  }

  void Resume() {
    const std::vector<JobId> ids = SomeJobs();
    if (ids.empty()) return;
    ledger_.StartRelease(team_index_);
    absl::StatusOr<std::vector<Job>> r = engine_.Resume(team_, ids);
    ledger_.EndRelease(team_index_);
    if (!r.ok()) {
      if (r.status().code() != absl::StatusCode::kFailedPrecondition) {
        Problem(absl::StrCat("Resume: ", r.status().ToString()));
      }
      return;
    }
    CheckAnswered("Resume", *r, false);
    if (r->size() != ids.size()) Problem("Resume: not every named job is in the answer");
  }

  void HoldBatch() {
    std::optional<Ledger::Batch> batch = ledger_.RandomBatch(team_index_, rng_);
    if (!batch.has_value()) return;
    const bool suspend = Chance(0.5);
    const uint64_t releases = ledger_.ReleaseEpoch(team_index_);
    if (!suspend) ledger_.StartRelease(team_index_);
    absl::StatusOr<std::vector<Job>> r =
        suspend ? engine_.SuspendBatch(team_, batch->id) : engine_.ResumeBatch(team_, batch->id);
    if (!suspend) ledger_.EndRelease(team_index_);
    const char* call = suspend ? "SuspendBatch" : "ResumeBatch";
    if (batch->top_level == 0) {
      if (r.status().code() != absl::StatusCode::kNotFound) {
        Problem(absl::StrCat(call, " of an all-invalid batch: ", r.status().ToString()));
      }
      return;
    }
    if (!r.ok()) {
      Problem(absl::StrCat(call, ": ", r.status().ToString()));
      return;
    }
    CheckAnswered(call, *r, suspend);
    for (const Job& job : *r) {
      if (job.batch_id != batch->id) Problem(absl::StrCat(call, ": a job of another batch"));
      if (suspend) ledger_.ConfirmHeld(job.id, team_index_, releases);
    }
  }

  void SetPriority() {
    std::optional<JobId> id = ledger_.RandomJob(team_index_, rng_);
    if (!id.has_value()) return;
    const int32_t priority = static_cast<int32_t>(Uniform(6));
    absl::StatusOr<Job> r = engine_.SetPriority(team_, *id, priority);
    if (r.ok()) {
      if (r->priority != priority || !IsCancellable(r->state)) {
        Problem(absl::StrCat("SetPriority answered ", id->ToString(), " in ", Text(r->state),
                             " with priority ", r->priority));
      }
    } else if (r.status().code() != absl::StatusCode::kFailedPrecondition) {
      Problem(absl::StrCat("SetPriority(", id->ToString(), "): ", r.status().ToString()));
    }
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
  // Contract §15.
  const std::string worker_ = absl::StrCat("node-", index_);
  bool claimed_named_ = false;
  std::vector<std::string> last_tags_;  // of the last named claim
  // When the latest call that saw worker_ started.
  absl::Time seen_after_ = absl::InfinitePast();
  absl::flat_hash_map<JobId, std::string> last_logs_;  // the last log read of each job
  int64_t log_lines_ = 0;
  int64_t logs_appended_ = 0, logs_cut_ = 0, lists_ = 0;
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
  options.retry_backoff = kRetryBackoff;
  options.render_timeout = kRenderTimeout;
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
  std::atomic<int64_t> logs_appended{0}, logs_cut{0}, worker_lists{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(*engine, clock, ledger, problems, t);
      client.Run(ops);
      logs_appended += client.logs_appended();
      logs_cut += client.logs_cut();
      worker_lists += client.lists();
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
  // is one consistent snapshot, so it sums to the total, and since finished
  // is final, its count never goes down between two reads (error and
  // manually_cancelled ones can: a Retry revives them).
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
      if (counts->count(JobState::kFinished) < it->second.count(JobState::kFinished)) {
        problems.Add(absl::StrCat("GetBatchCounts: finished went down from ",
                                  it->second.count(JobState::kFinished), " to ",
                                  counts->count(JobState::kFinished)));
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
  const absl::flat_hash_map<JobId, std::vector<Ledger::Holder>> holders = ledger.Holders();
  const absl::flat_hash_map<JobId, int> revivals = ledger.Revivals();
  int64_t revived = 0, held = 0, waiting = 0, logs = 0;
  // Contract §15: the worker list as it is now (the heartbeats below see
  // workers, but change no lease): job -> the worker listing it.
  absl::flat_hash_map<JobId, std::string> listed_under;
  for (int team = 0; team < 2; ++team) {
    for (const WorkerInfo& w : engine->ListWorkers(kTeams[team])) {
      if (!w.jobs.empty()) EXPECT_EQ(w.status, WorkerStatus::kBusy) << w.name;
      for (JobId id : w.jobs) {
        EXPECT_TRUE(listed_under.emplace(id, w.name).second) << id.ToString() << " listed twice";
        EXPECT_TRUE(all.contains(id) && all.at(id).team == kTeams[team])
            << w.name << " lists " << id.ToString() << " under the wrong team";
      }
    }
  }
  for (const auto& [id, job] : all) {
    const std::string name = absl::StrCat("job ", id.ToString(), " (", Text(job.state), ")");
    const bool was_revived = revivals.contains(id);
    revived += was_revived;
    held += job.suspended;
    waiting += job.retry_at.has_value();
    std::vector<JobId> prerequisites = job.children;
    prerequisites.insert(prerequisites.end(), job.depends_on.begin(), job.depends_on.end());
    bool all_resolved = true;
    // A job that went on past a prerequisite in error (ignoring failures)
    // stays so when a Retry revives that prerequisite.
    bool went_on = true;
    for (JobId p : prerequisites) {
      ASSERT_TRUE(all.contains(p)) << name << " needs an unknown job " << p.ToString();
      const JobState ps = all.at(p).state;
      const bool resolved = ps == JobState::kFinished ||
                            (ps == JobState::kError &&
                             job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore);
      all_resolved = all_resolved && resolved;
      went_on = went_on &&
                (resolved || (revivals.contains(p) &&
                              job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore));
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
      EXPECT_TRUE(went_on) << name << " started before its prerequisites were done";
    }
    if (job.state == JobState::kPending) {
      EXPECT_FALSE(all_resolved) << name << " waits for nothing";
    }
    auto d = dependents.find(id);
    // A job a worker released (or whose lease ran out) after its dependents
    // ended is back in the queue: requeueing runs no cascade (semantics.md).
    // A Retry may revive a job whose dependents stay ended (contract §14
    // revives what ended because of the named jobs, nothing more).
    if (IsCancellable(job.state) && job.attempts == 0 && !was_revived && d != dependents.end()) {
      const bool all_ended = std::all_of(d->second.begin(), d->second.end(), [&](JobId dep) {
        const JobState ds = all.at(dep).state;
        return ds == JobState::kCancelled || ds == JobState::kError;
      });
      EXPECT_FALSE(all_ended) << name << " is useless: every dependent ended (rule U)";
    }
    // Contract §14: held jobs are queued or pending; a job waiting out a
    // backoff is queued, not held, and its retry_at is still ahead (the
    // final RunDueWork ended the others).
    if (job.suspended) EXPECT_TRUE(IsCancellable(job.state)) << name << " is held";
    if (job.retry_at.has_value()) {
      EXPECT_TRUE(job.state == JobState::kQueued && !job.suspended) << name << " waits";
      EXPECT_GT(*job.retry_at, end) << name << " waits past its retryAt";
    }
    // Only the workers of this test start jobs: a job's attempts are its
    // claims (since its last revival: at most its claims), never over its
    // max_attempts, and a job nobody claimed never started. A job its
    // worker finished stays so, and one it failed or cancelled stays so
    // unless a Retry revived it; one that ended without a worker says why
    // (contract §1, §3, §4, §7, §14).
    auto outcome = outcomes.find(id);
    const int claim_count = claims.contains(id) ? claims.at(id) : 0;
    if (was_revived) {
      EXPECT_LE(job.attempts, claim_count) << name;
    } else {
      EXPECT_EQ(job.attempts, claim_count) << name;
    }
    EXPECT_LE(job.attempts, job.max_attempts) << name;
    EXPECT_GE(job.max_attempts, 1) << name;
    const std::string error = job.stats.error ? job.stats.error->str() : "";
    // The job a text names as the cause of an end: the revive fixpoint
    // brings every job back with the one it names, so that one has not been
    // revived (and is still ended so).
    auto names_ended = [&](const std::string& prefix, const std::string& suffix, JobState want) {
      if (error.rfind(prefix, 0) != 0 || error.size() < prefix.size() + suffix.size() ||
          error.compare(error.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return false;
      }
      absl::StatusOr<JobId> from =
          JobId::Parse(error.substr(prefix.size(), error.size() - prefix.size() - suffix.size()));
      EXPECT_TRUE(from.ok() && all.contains(*from) && all.at(*from).state == want &&
                  all.at(*from).team == job.team)
          << name << ": " << error << " (that job is "
          << (from.ok() && all.contains(*from) ? Text(all.at(*from).state) : "unknown") << ")";
      return true;
    };
    if (job.state == JobState::kCancelled) {
      if (!names_ended("Cancelled: cascade from ", "", JobState::kCancelled)) {
        EXPECT_EQ(error, "Cancelled via API") << name;
      }
      EXPECT_TRUE(job.stats.error_at.has_value()) << name;
    }
    if (job.state == JobState::kError) {
      const bool out_of_attempts =
          error == absl::StrCat("lease expired after ", job.attempts, " attempts") ||
          error.rfind("timed out after ", 0) == 0;
      if (out_of_attempts) {
        EXPECT_EQ(job.attempts, job.max_attempts) << name << " ended with attempts left: " << error;
      }
      const bool caused = names_ended("prerequisite ", " failed", JobState::kError) ||
                          names_ended("dependent ", " failed", JobState::kError);
      if (outcome == outcomes.end() || outcome->second != JobState::kError) {
        EXPECT_TRUE(out_of_attempts || caused || was_revived) << name << ": " << error;
      } else {
        EXPECT_TRUE(out_of_attempts || caused || error == "render crashed")
            << name << ": " << error;
      }
    }
    if (outcome != outcomes.end() &&
        (outcome->second == JobState::kFinished ||
         (!was_revived &&
          (outcome->second == JobState::kError || outcome->second == JobState::kCancelled)))) {
      EXPECT_EQ(job.state, outcome->second) << name;
    }
    if (claim_count > 0) {
      if (!was_revived) EXPECT_TRUE(job.stats.started_at.has_value()) << name;
    } else {
      EXPECT_NE(job.state, JobState::kRendering) << name << " renders but nobody claimed it";
      EXPECT_NE(job.state, JobState::kFinished) << name << " finished but nobody claimed it";
    }
    // Leases: after the final RunDueWork no rendering job has an expired
    // lease or a passed time limit, and exactly one holder in the
    // bookkeeping whose lease the engine accepts. A lease nobody let go of
    // on a job that is not rendering ran out or timed out, or its job was
    // aborted (or revived: the abort it had is forgotten).
    // Its log: whole lines within 1 MiB; none if nobody claimed it.
    absl::StatusOr<std::string> log = engine->GetLog(job.team, id);
    if (log.ok()) {
      ++logs;
      EXPECT_TRUE(log->size() <= kLogBound && !log->empty() && log->back() == '\n' &&
                  log->front() == 'L')
          << name << ": a log of " << log->size() << " bytes";
      EXPECT_GT(claim_count, 0) << name << " has a log but nobody claimed it";
    } else {
      EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound) << name;
    }
    auto job_holders = holders.find(id);
    auto listed = listed_under.find(id);
    if (job.state == JobState::kRendering) {
      ASSERT_NE(job_holders, holders.end()) << name << " renders but no thread holds it";
      int current = 0;
      for (const Ledger::Holder& h : job_holders->second) {
        absl::StatusOr<HeartbeatResult> beat = engine->Heartbeat(id, h.token, HeartbeatReport{});
        // A time-out's answer (a lease ending now) is no hold on the job.
        if (!beat.ok() || beat->lease.expires_at <= end) continue;
        ++current;
        // The worker list names it under its holder's name, if it claimed
        // with one (contract §15).
        if (h.named) {
          EXPECT_TRUE(listed != listed_under.end() &&
                      listed->second == absl::StrCat("node-", h.thread))
              << name << " is held by node-" << h.thread << ", listed under "
              << (listed == listed_under.end() ? "nobody" : listed->second);
        } else {
          EXPECT_EQ(listed, listed_under.end()) << name << ": an unnamed claim's job is listed";
        }
        EXPECT_GT(h.expires_at, end) << name << " renders with an expired lease";
        if (h.time_limit.has_value() && *h.time_limit != absl::InfinitePast()) {
          EXPECT_GT(*h.time_limit, end) << name << " renders past its time limit";
        }
      }
      EXPECT_EQ(current, 1) << name << ": threads holding a lease the engine accepts";
    } else if (job_holders != holders.end() || listed != listed_under.end()) {
      EXPECT_EQ(listed, listed_under.end()) << name << " is listed by a worker but not rendering";
      if (job_holders == holders.end()) continue;
      for (const Ledger::Holder& h : job_holders->second) {
        EXPECT_TRUE(h.Over(end) || job.cancel_requested || was_revived)
            << name << " was taken from thread " << h.thread << " before its lease ran out";
      }
    }
  }
  int by_state[kNumJobStates] = {};
  for (const auto& [id, job] : all) ++by_state[static_cast<int>(job.state)];
  std::cout << "jobs: " << acknowledged << ", batches: " << ledger.Batches().size()
            << ", claimed jobs: " << claims.size() << ", worker outcomes: " << outcomes.size()
            << ", jobs ended by RunDueWork: " << due_jobs << ", lock-free reads: " << reads
            << ", revived jobs: " << revived << ", held at the end: " << held
            << ", waiting at the end: " << waiting << "\n"
            << "log appends: " << logs_appended.load()
            << ", logs cut by the bound (as read): " << logs_cut.load()
            << ", jobs with a log: " << logs << ", worker lists read: " << worker_lists.load()
            << "\n";
  for (int s = 0; s < kNumJobStates; ++s) {
    std::cout << "  " << Text(static_cast<JobState>(s)) << ": " << by_state[s] << "\n";
  }
}

// ---- What the stress test found --------------------------------------------------

// A manual clock that can stop one thread inside Now(), after it read the
// time, until told to go on: what another call does meanwhile shows whether
// the time was read under the engine's lock.
class GatedClock final : public Clock {
 public:
  absl::Time Now() const override {
    const absl::Time now = clock_.Now();
    std::unique_lock<std::mutex> lock(mu_);
    if (gated_ == std::this_thread::get_id()) {
      gated_ = std::thread::id();
      stopped_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    }
    return now;
  }
  bool IsManual() const override { return true; }
  void Advance(absl::Duration d) { clock_.Advance(d); }
  // The next Now() on the calling thread stops.
  void GateThisThread() {
    std::lock_guard<std::mutex> lock(mu_);
    gated_ = std::this_thread::get_id();
  }
  void WaitUntilStopped() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stopped_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  ManualClock clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::thread::id gated_;  // guarded by mu_
  mutable bool stopped_ = false;   // guarded by mu_
  bool open_ = false;              // guarded by mu_
};

// The stress test saw claims whose startedAt was before the retryAt whose end
// let them happen (one in a few thousand claims of a waiting job): Claim read
// the clock before it took the engine's lock, so when a RunDueWork ended the
// wait while the claim waited for the lock, the claim was stamped with the
// earlier time. Contract §14: a job waiting out its backoff "is not
// claimable before retryAt". Every call now reads the clock under the lock.
TEST(StressFoundTest, AClaimIsNotStampedBeforeTheRetryAtThatHeldItBack) {
  GatedClock clock;
  Options options;
  options.clock = &clock;
  options.id_seed = 5;
  options.max_attempts = 2;
  options.retry_backoff = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE((*engine)->Submit("team-a", testing::LeafSpec()).ok());
  absl::StatusOr<ClaimedJob> first = (*engine)->Claim(ClaimRequest{});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Job> failed =
      (*engine)->Fail(first->job.id, first->lease.token, {.error = "crash", .retry = true});
  ASSERT_TRUE(failed.ok() && failed->retry_at.has_value());
  absl::StatusOr<ClaimedJob> second;
  std::thread worker([&] {
    clock.GateThisThread();
    second = (*engine)->Claim(ClaimRequest{});
  });
  clock.WaitUntilStopped();  // the claim read the time, under the lock
  clock.Advance(absl::Seconds(1));
  size_t ended = 0;
  std::thread timer([&] { ended = (*engine)->RunDueWork(); });  // waits for the claim
  clock.Open();
  worker.join();
  timer.join();
  // The claim ran at the time it read, before the backoff was over: nothing
  // to claim. Then the timer ended the wait.
  EXPECT_EQ(second.status().code(), absl::StatusCode::kNotFound) << second.status();
  EXPECT_EQ(ended, 1u);
  absl::StatusOr<ClaimedJob> third = (*engine)->Claim(ClaimRequest{});
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_GE(third->job.stats.started_at, failed->retry_at);
}

}  // namespace
}  // namespace cascade
