// Copyright 2026 The Cascade Authors.
//
// Model-based test (contract §13): seeded random operation sequences run on the
// engine and on the reference model (tests/model/reference_model.h) side by
// side. Every answer (status code, message, content) is compared after every
// operation, every job's state after every operation, and every job, batch and
// listing in full at the end of each sequence.
//
// Each sequence is 30-60 operations (one in twenty: 150-300) on a fresh
// engine (ManualClock, id seed = the sequence's seed) with two teams and a
// few dozen jobs, so families, shared prerequisites (dependsOn), batches,
// nested children, invalid specs, malformed teams, unknown and other teams'
// ids all come up often. Workers claim, heartbeat (progress, lease extension),
// finish, fail (to be retried, or final) and release, with current, stale,
// timed-out and wrong leases; clients request aborts, retry ended jobs
// (families and all), suspend and resume jobs and batches, and change
// priorities; specs carry their own max attempts, retry backoffs (up to a
// few seconds) and time limits (up to 20 s), valid or not. The clock jumps
// now and then past leases, abort graces, time limits and backoffs, and
// RunDueWork (sometimes right after a jump) ends them. Each sequence has its
// own Options::max_attempts (1-3), retry_backoff (none or 1.5 s),
// render_timeout (none or 8 s), lease length and abort grace; one in three
// has a retention of two minutes, so RunDueWork purges ended families (and
// their logs) under the calls' feet.
//
// Contract §15: workers claim under names from a small pool (or none), with
// all-of and "any of" tags (known and unknown); the lease holders (and
// stale, wrong and timed-out leases) append to render logs: mostly short
// lines (empty ones, ones holding \r, \n or bytes that are not UTF-8), now
// and then 10,000 lines (the limit), 10,001 or a NUL byte (refused). One
// sequence in ten is log-heavy: big lines (100-700 KiB, some holding
// newlines) and lines just under and over 1 MiB, so the 1 MiB bound cuts
// logs at line starts and inside a line too long to keep whole. Clients read
// logs (their own team's, another's, unknown ids, malformed teams) and list
// workers; the clock now and then jumps exactly to a worker's "lost"
// boundary (two lease lengths after it was last seen) or one millisecond
// past it. After every operation the worker list (of one team, by turns) is
// compared with the model's; each append is followed by a read of its log;
// at the end every job's log from both teams and the list of every team.
//
// The main test runs the default pickup order; three smaller ones run the
// others. ModelFoundTest keeps a minimal reproduction of each difference the
// sequences found; ReferenceModelTest shows, on hand-worked cases, that the
// model says what the contract and semantics.md say.
//
//   CASCADE_MODEL_SEQUENCES=N   sequences of the main test (default 10000; 1000
//                               under TSan); the others run a tenth as many
//   CASCADE_MODEL_SEED=S        run only the sequence with seed S
//   CASCADE_MODEL_VERBOSE=1     print every operation
//   CASCADE_MODEL_MAX_FAILURES=N  stop after N failing sequences (default 5)
//
// A failure names the seed and the operation, lists the operations that led
// to it and the ids they used, and how to run that sequence alone.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/reference_model.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::model::DiffBatchCancel;
using ::cascade::model::DiffBatchSubmit;
using ::cascade::model::DiffBatchView;
using ::cascade::model::DiffClaim;
using ::cascade::model::DiffCounts;
using ::cascade::model::DiffCreated;
using ::cascade::model::DiffJob;
using ::cascade::model::DiffJobs;
using ::cascade::model::DiffList;
using ::cascade::model::ExpectedStatus;
using ::cascade::model::ModelBatch;
using ::cascade::model::ModelJob;
using ::cascade::model::ReferenceModel;

constexpr const char* kTeams[] = {"team-a", "team-b"};
constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
constexpr const char* kTagPool[] = {"hd", "4k", "urgent", "night"};
// Worker names (contract §15); "" claims without a name.
constexpr const char* kWorkerPool[] = {"", "node-1", "node-2", "render-3"};
// 10,000 sequences take seconds in an optimized build and a few minutes
// under AddressSanitizer. The test is single-threaded, so ThreadSanitizer
// has nothing to find in it: there it runs a tenth as many.
#if defined(__SANITIZE_THREAD__)
constexpr uint64_t kDefaultSequences = 1'000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr uint64_t kDefaultSequences = 1'000;
#else
constexpr uint64_t kDefaultSequences = 10'000;
#endif
#else
constexpr uint64_t kDefaultSequences = 10'000;
#endif

// The engine's Options::output_url_template, by seed.
constexpr const char* kUrlTemplates[] = {
    "file:///tmp/cascade/outputs/{id}.mp4",  // the default
    "s3://renders/{team}/{batch}/{id}.mp4",
    "https://cdn.example.com/{batch}{id}",
};

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::strtoull(text, nullptr, 10);
}

std::string StatusText(const absl::Status& s) { return s.ToString(); }

// A spec with a template and nothing else.
JobSpec BareSpec() {
  JobSpec spec;
  spec.template_id = kTemplate;
  return spec;
}

// What the sequences did, summed over all of them: shows that the random
// operations reach the interesting paths (cascades, propagation, errors).
struct Coverage {
  std::map<std::string, std::map<std::string, int64_t>> calls;  // name -> code -> count
  int64_t cascaded_cancels = 0;                 // cancels that took more jobs than named
  int64_t propagated_errors = 0;                // jobs failed by propagation
  int64_t promoted_by_ignore = 0;               // finishes/fails that queued a waiting job
  int64_t due_jobs = 0;                         // jobs RunDueWork ended (expired or aborted)
  std::map<std::string, int64_t> attempt_ends;  // "Release -> queued", ...
  int64_t timed_out = 0;                        // attempts RunDueWork ended by their time limit
  int64_t waits_ended = 0;                      // retry backoffs RunDueWork ended
  int64_t timed_out_heartbeats = 0;             // heartbeats told to stop by a time-out
  int64_t revived = 0;                          // jobs revived by Retry
  int64_t revived_beyond_named = 0;             // retries that revived more than they named
  int64_t blocked_retries = 0;                  // retries refused for an ended prerequisite
  int64_t pinned = 0;                           // ambiguous texts pinned to the engine's
  int64_t jobs = 0;
  // Contract §15.
  int64_t any_tag_claims = 0;    // claims with any_tags that took a job
  int64_t logs_cut = 0;          // appends after which a log was at its 1 MiB bound
  int64_t logs_cut_in_line = 0;  // of those: kept from inside a line (too long to keep whole)
  int64_t max_log_bytes = 0;
  std::map<std::string, int64_t> worker_status;  // "busy", ... as listed after operations
  int64_t lost_boundary_jumps = 0;
  int64_t purged = 0;  // jobs retention purged

  void Call(const std::string& name, absl::StatusCode code) {
    ++calls[name][absl::StatusCodeToString(code)];
  }
  std::string ToString() const {
    std::string out;
    for (const auto& [name, codes] : calls) {
      std::vector<std::string> parts;
      for (const auto& [code, n] : codes) parts.push_back(absl::StrCat(code, " ", n));
      absl::StrAppend(&out, "  ", name, ": ", absl::StrJoin(parts, ", "), "\n");
    }
    absl::StrAppend(&out, "  cancels with a cascade: ", cascaded_cancels,
                    "\n  jobs failed by propagation: ", propagated_errors,
                    "\n  finish/fail that queued a waiting job: ", promoted_by_ignore,
                    "\n  jobs ended by RunDueWork: ", due_jobs, " (time limits ", timed_out,
                    ", retry backoffs over ", waits_ended, ")",
                    "\n  heartbeats told to stop after a time-out: ", timed_out_heartbeats,
                    "\n  jobs revived: ", revived,
                    "\n  retries that revived more than they named: ", revived_beyond_named,
                    "\n  retries refused for an ended prerequisite: ", blocked_retries,
                    "\n  ambiguous error texts pinned: ", pinned,
                    "\n  any-tag claims that took a job: ", any_tag_claims,
                    "\n  appends that left a log at 1 MiB: ", logs_cut, " (cut inside a line ",
                    logs_cut_in_line, "), longest log ", max_log_bytes, " bytes",
                    "\n  jumps to a worker's lost boundary: ", lost_boundary_jumps,
                    "\n  jobs purged by retention: ", purged, "\n");
    for (const auto& [status, n] : worker_status) {
      absl::StrAppend(&out, "  workers listed ", status, ": ", n, "\n");
    }
    for (const auto& [end, n] : attempt_ends) absl::StrAppend(&out, "  ", end, ": ", n, "\n");
    absl::StrAppend(&out, "  jobs created: ", jobs, "\n");
    return out;
  }
};

// One random sequence: a fresh engine and a fresh model, driven together.
class Sequence {
 public:
  Sequence(uint64_t seed, SortOrder pickup_order, bool verbose, Coverage& coverage)
      : seed_(seed),
        pickup_order_(pickup_order),
        verbose_(verbose),
        coverage_(coverage),
        rng_(seed),
        clock_(absl::FromUnixSeconds(1'700'000'000)),
        output_url_template_(kUrlTemplates[seed % std::size(kUrlTemplates)]),
        log_heavy_(seed % 10 == 7),
        model_(MakeOptions()) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(MakeOptions());
    if (engine.ok()) engine_ = *std::move(engine);
    create_status_ = engine.status();
  }

  // Runs the sequence. Returns "" when the engine agreed with the model on
  // everything, else a report of the first difference.
  std::string Run() {
    if (!create_status_.ok()) return absl::StrCat("Engine::Create: ", StatusText(create_status_));
    // Mostly short sequences; one in twenty is long, for bigger graphs.
    const int num_ops =
        Chance(0.05) ? 150 + static_cast<int>(Uniform(151)) : 30 + static_cast<int>(Uniform(31));
    for (op_index_ = 0; op_index_ < num_ops; ++op_index_) {
      // Whole milliseconds (timestamps have millisecond precision): mostly
      // small steps, sometimes seconds, now and then a jump past leases and
      // abort graces, after which RunDueWork often runs at once.
      std::string advanced;
      const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
      int64_t ms = 0;
      if (r < 0.35) {
        ms = static_cast<int64_t>(Uniform(300));
      } else if (r < 0.42) {
        ms = 1000 * (1 + static_cast<int64_t>(Uniform(20)));
      } else if (r < 0.45) {
        ms = 1000 * (30 + static_cast<int64_t>(Uniform(600))) + static_cast<int64_t>(Uniform(1000));
      }
      if (!model_.workers().empty() && Chance(0.015)) {
        // To a worker's lost boundary (two lease lengths after it was last
        // seen: not lost yet), or a millisecond past it.
        const model::ModelWorker& w = PickFrom(model_.workers());
        const absl::Time boundary = w.last_seen + 2 * w.lease + absl::Milliseconds(Uniform(2));
        if (boundary > clock_.Now()) {
          ms = absl::ToInt64Milliseconds(boundary - clock_.Now());
          ++coverage_.lost_boundary_jumps;
        }
      }
      if (ms > 0) {
        clock_.Advance(absl::Milliseconds(ms));
        advanced = absl::StrCat("[+", ms, "ms] ");
      }
      model_.SetNow(clock_.Now());
      static const OpEntry kRunDueWorkOp = {&Sequence::RunDueWork, 0};
      const OpEntry& op = ms >= 1000 && Chance(0.5) ? kRunDueWorkOp : PickOp();
      what_.clear();
      std::string mismatch = (this->*op.run)();
      log_.push_back(advanced + what_);
      if (verbose_) {
        std::cout << "seed " << seed_ << " op " << op_index_ << ": " << log_.back() << "\n";
      }
      // Every job's state after every operation (reads included: they
      // must change nothing).
      if (mismatch.empty()) mismatch = CheckStates();
      if (!mismatch.empty()) return Report(mismatch);
    }
    what_ = "final check of every job, batch and listing";
    if (std::string mismatch = CheckEverything(); !mismatch.empty()) return Report(mismatch);
    coverage_.jobs += static_cast<int64_t>(model_.jobs().size() + model_.purged().size());
    coverage_.purged += static_cast<int64_t>(model_.purged().size());
    return "";
  }

 private:
  using OpFn = std::string (Sequence::*)();
  struct OpEntry {
    OpFn run;
    int weight;
  };

  Options MakeOptions() {
    Options options;
    options.clock = &clock_;
    options.id_seed = seed_;
    options.output_url_template = output_url_template_;
    options.pickup_order = pickup_order_;
    // Seeds take turns at two lease lengths, two abort graces, 1-3
    // attempts, two retry backoffs and two render timeouts.
    options.lease_duration = (seed_ / 3) % 2 == 0 ? absl::Seconds(60) : absl::Minutes(5);
    options.abort_grace = (seed_ / 5) % 2 == 0 ? absl::Seconds(30) : absl::Seconds(4);
    options.max_attempts = 1 + static_cast<int>((seed_ / 7) % 3);
    options.retry_backoff = (seed_ / 11) % 2 == 0 ? absl::ZeroDuration() : absl::Milliseconds(1500);
    if ((seed_ / 13) % 2 == 1) options.render_timeout = absl::Seconds(8);
    if ((seed_ / 17) % 3 == 1) options.durability.retention = absl::Minutes(2);
    return options;
  }

  const OpEntry& PickOp() {
    static const OpEntry kOps[] = {
        {&Sequence::Submit, 22},    {&Sequence::SubmitBatch, 8},  {&Sequence::Cancel, 12},
        {&Sequence::CancelMany, 8}, {&Sequence::CancelBatch, 6},  {&Sequence::Claim, 14},
        {&Sequence::Finish, 7},     {&Sequence::Fail, 5},         {&Sequence::List, 7},
        {&Sequence::Get, 3},        {&Sequence::ReadBatch, 4},    {&Sequence::Heartbeat, 9},
        {&Sequence::Release, 5},    {&Sequence::RequestAbort, 5}, {&Sequence::RunDueWork, 3},
        {&Sequence::Retry, 6},      {&Sequence::Suspend, 4},      {&Sequence::Resume, 4},
        {&Sequence::HoldBatch, 3},  {&Sequence::SetPriority, 4},  {&Sequence::AppendLog, 8},
        {&Sequence::GetLog, 3},     {&Sequence::ListWorkers, 2},
    };
    // Log-heavy sequences append more often.
    static const OpEntry kAppendLogOp = {&Sequence::AppendLog, 0};
    if (log_heavy_ && Chance(0.15)) return kAppendLogOp;
    int total = 0;
    for (const OpEntry& op : kOps) total += op.weight;
    int pick = static_cast<int>(Uniform(total));
    for (const OpEntry& op : kOps) {
      if (pick < op.weight) return op;
      pick -= op.weight;
    }
    return kOps[0];
  }

  // ---- Random choices -----------------------------------------------------------

  uint64_t Uniform(uint64_t n) {  // [0, n)
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  const T& PickFrom(const std::vector<T>& v) {
    return v[Uniform(v.size())];
  }

  // One of the two teams; now and then a malformed team name (empty, or
  // over 128 bytes), or a third team at the 128-byte limit.
  std::string Team() {
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.01) return "";
    if (r < 0.02) return std::string(129, 't');
    if (r < 0.03) return std::string(128, 't');
    return kTeams[Uniform(2)];
  }
  // A team as reports show it: long names abbreviated.
  static std::string Short(const std::string& team) {
    return team.size() <= 16 ? absl::StrCat("\"", team, "\"")
                             : absl::StrCat("<", team.size(), "-byte team>");
  }
  static std::vector<std::string> ValidTeams() {
    return {kTeams[0], kTeams[1], std::string(128, 't')};
  }
  static std::string OtherTeam(const std::string& team) {
    return team == kTeams[0] ? kTeams[1] : kTeams[0];
  }
  JobState RandomState() { return static_cast<JobState>(Uniform(kNumJobStates)); }
  Ulid UnknownId() { return Ulid(rng_() >> 1, rng_()); }

  std::vector<JobId> JobsOf(const std::string& team, bool cancellable_only = false) const {
    std::vector<JobId> ids;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.team == team && (!cancellable_only || IsCancellable(job.job.state))) {
        ids.push_back(job.job.id);
      }
    }
    return ids;
  }

  // An id for a dependsOn: mostly the team's own jobs that have not ended
  // in error or cancelled (so that graphs grow), sometimes any of its jobs.
  JobId DependencyId(const std::string& team) {
    std::vector<JobId> live;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.team == team && job.job.state != JobState::kError &&
          job.job.state != JobState::kCancelled) {
        live.push_back(job.job.id);
      }
    }
    const std::vector<JobId> own = JobsOf(team);
    const std::vector<JobId> other = JobsOf(OtherTeam(team));
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.7 && !live.empty()) return PickFrom(live);
    if (r < 0.85 && !own.empty()) return PickFrom(own);
    if (r < 0.93 && !other.empty()) return PickFrom(other);
    return UnknownId();
  }

  // An id to read or cancel: a cancellable job of the team with probability
  // `p_cancellable`, else any of its jobs, another team's, an unknown id, or
  // a batch id.
  JobId TargetId(const std::string& team, double p_cancellable) {
    if (Chance(p_cancellable)) {
      const std::vector<JobId> ids = JobsOf(team, /*cancellable_only=*/true);
      if (!ids.empty()) return PickFrom(ids);
    }
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    const std::vector<JobId> own = JobsOf(team);
    const std::vector<JobId> other = JobsOf(OtherTeam(team));
    if (r < 0.7 && !own.empty()) return PickFrom(own);
    if (r < 0.8 && !other.empty()) return PickFrom(other);
    if (r < 0.9 && !model_.batches().empty()) return PickFrom(model_.batches()).id;
    return UnknownId();
  }

  BatchId BatchTarget(const std::string& team) {
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.75 && !model_.batches().empty()) {
      std::vector<BatchId> own;
      for (const ModelBatch& b : model_.batches()) {
        if (b.team == team) own.push_back(b.id);
      }
      if (!own.empty() && Chance(0.8)) return PickFrom(own);
      return PickFrom(model_.batches()).id;
    }
    if (r < 0.85) return UnknownId();
    const std::vector<JobId> own = JobsOf(team);
    return own.empty() ? UnknownId() : PickFrom(own);
  }

  JobSpec RandomSpec(const std::string& team, int depth) {
    JobSpec spec;
    spec.template_id = Chance(0.1) ? "" : kTemplate;
    spec.composition = Chance(0.5) ? "main" : "intro";
    spec.total_assets = static_cast<int>(Uniform(4));
    for (const char* tag : kTagPool) {
      if (Chance(0.2)) spec.tags.push_back(tag);
    }
    spec.priority = static_cast<int32_t>(Uniform(4)) - 1;
    if (Chance(0.02)) {
      spec.priority =
          Chance(0.5) ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max();
    }
    if (Chance(depth == 0 ? 0.4 : 0.1) && (!JobsOf(team).empty() || Chance(0.2))) {
      const int n = 1 + static_cast<int>(Uniform(2));
      for (int i = 0; i < n; ++i) {
        const JobId id = DependencyId(team);
        if (std::find(spec.depends_on.begin(), spec.depends_on.end(), id) ==
            spec.depends_on.end()) {
          spec.depends_on.push_back(id);
        }
      }
    }
    if (Chance(0.2)) spec.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    if (Chance(0.15)) spec.output_url = "s3://renders/{team}/{batch}/{id}.mov";
    if (Chance(0.02)) spec.output_url = "gs://r/{id}/{id}-{team}.mov";
    if (Chance(0.02)) spec.output_url = "file:///plain.mov";
    if (Chance(0.3)) spec.payload = absl::StrCat("payload-", Uniform(1000));
    // Contract §14: whole milliseconds, short enough for the clock's jumps.
    if (Chance(0.15)) spec.max_attempts = 1 + static_cast<int>(Uniform(4));
    if (Chance(0.15))
      spec.retry_backoff = absl::Milliseconds(500 * static_cast<int64_t>(Uniform(5)));
    if (Chance(0.12))
      spec.timeout = absl::Milliseconds(500 + static_cast<int64_t>(Uniform(20'000)));
    if (depth < 2 && Chance(depth == 0 ? 0.35 : 0.15)) {
      const int n = 1 + static_cast<int>(Uniform(3));
      for (int i = 0; i < n; ++i) spec.children.push_back(RandomSpec(team, depth + 1));
    }
    return spec;
  }

  // Breaks one rule of cascade/job.h (each is InvalidArgument), or names a
  // job the team cannot depend on.
  void MakeInvalid(const std::string& team, JobSpec& spec, bool allow_big) {
    switch (Uniform(allow_big ? 15 : 12)) {
      case 0:
        spec.tags.push_back("");
        break;
      case 1:
        spec.tags.push_back("bad tag");
        break;
      case 2:
        spec.tags.push_back(std::string(65, 't'));
        break;
      case 3:
        spec.tags.clear();
        for (int i = 0; i < 33; ++i) spec.tags.push_back(absl::StrCat("t", i));
        break;
      case 4:
        spec.template_id = std::string(257, 'T');
        break;
      case 5:
        spec.composition = std::string(257, 'c');
        break;
      case 6:
        if (spec.depends_on.empty()) spec.depends_on.push_back(DependencyId(team));
        spec.depends_on.push_back(spec.depends_on.front());
        break;
      case 7: {
        JobSpec* level = &spec;
        for (int i = 0; i < 12; ++i) {
          level->children.push_back(BareSpec());
          level = &level->children.back();
        }
        break;
      }
      case 8:
        if (spec.children.empty()) spec.children.push_back(RandomSpec(team, 1));
        MakeInvalid(team, spec.children[Uniform(spec.children.size())], false);
        break;
      case 9:
        spec.max_attempts = Chance(0.5) ? 0 : 21;
        break;
      case 10:
        spec.retry_backoff =
            Chance(0.5) ? absl::Milliseconds(-1) : absl::Hours(24) + absl::Milliseconds(1);
        break;
      case 11: {
        const absl::Duration bad[] = {absl::ZeroDuration(), absl::Seconds(-1),
                                      absl::Hours(24 * 7) + absl::Milliseconds(1)};
        spec.timeout = bad[Uniform(std::size(bad))];
        break;
      }
      case 12:
        spec.depends_on.push_back(UnknownId());
        break;
      case 13:
        spec.children.assign(1001, BareSpec());
        break;
      case 14:
        spec.payload.assign((size_t{1} << 20) + 1, 'p');
        break;
    }
  }

  // Values at the edge of the limits, all valid.
  void MakeBoundary(JobSpec& spec) {
    switch (Uniform(4)) {
      case 3:
        spec.max_attempts = 20;
        spec.retry_backoff = absl::Hours(24);
        spec.timeout = absl::Hours(24 * 7);
        break;
      case 0:
        spec.template_id = std::string(256, 'T');
        break;
      case 1:
        spec.tags = {std::string(64, 'x'), "a.b:c/d-e_f"};
        break;
      case 2:
        spec.tags.clear();
        for (int i = 0; i < 32; ++i) spec.tags.push_back(absl::StrCat("t", i));
        break;
    }
  }

  JobSpec SpecForSubmit(const std::string& team) {
    JobSpec spec = RandomSpec(team, 0);
    if (Chance(0.15)) {
      MakeInvalid(team, spec, Chance(0.1));
    } else if (Chance(0.05)) {
      MakeBoundary(spec);
    }
    return spec;
  }

  // ---- Names for reports ----------------------------------------------------------

  // "j3" for the fourth job created, "b1" for the second batch, else the id.
  std::string Name(Ulid id) const {
    const std::vector<ModelJob>& jobs = model_.jobs();
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].job.id == id) return absl::StrCat("j", i);
    }
    const std::vector<ModelBatch>& batches = model_.batches();
    for (size_t i = 0; i < batches.size(); ++i) {
      if (batches[i].id == id) return absl::StrCat("b", i);
    }
    const std::vector<JobId>& purged = model_.purged();
    for (size_t i = 0; i < purged.size(); ++i) {
      if (purged[i] == id) return absl::StrCat("purged", i);
    }
    return absl::StrCat("unknown:", id.ToString());
  }
  std::string Names(absl::Span<const JobId> ids) const {
    std::vector<std::string> names;
    for (JobId id : ids) names.push_back(Name(id));
    return absl::StrCat("[", absl::StrJoin(names, ","), "]");
  }

  std::string Report(const std::string& mismatch) const {
    std::string out = absl::StrCat("seed ", seed_, ", op ", op_index_, " (", what_, "):\n",
                                   mismatch, "\n\nOperations of this sequence:\n");
    for (size_t i = 0; i < log_.size(); ++i) absl::StrAppend(&out, "  ", i, ": ", log_[i], "\n");
    absl::StrAppend(&out, "Jobs (model's view after the operation):\n");
    const std::vector<ModelJob>& jobs = model_.jobs();
    for (size_t i = 0; i < jobs.size(); ++i) {
      absl::StrAppend(&out, "  j", i, " = ", model::DescribeJob(jobs[i].job), "\n");
    }
    for (size_t i = 0; i < model_.batches().size(); ++i) {
      const ModelBatch& b = model_.batches()[i];
      std::vector<JobId> top;
      for (const auto& [index, id] : b.top_level) top.push_back(id);
      absl::StrAppend(&out, "  b", i, " = ", b.id.ToString(), " ", b.team, " ", Names(top), "\n");
    }
    for (size_t i = 0; i < model_.purged().size(); ++i) {
      absl::StrAppend(&out, "  purged", i, " = ", model_.purged()[i].ToString(), "\n");
    }
    for (const model::ModelWorker& w : model_.workers()) {
      absl::StrAppend(&out, "  worker \"", w.name, "\" tags=[", absl::StrJoin(w.tags, ","),
                      "] lastSeen=", absl::FormatTime(w.last_seen, absl::UTCTimeZone()),
                      " lease=", absl::FormatDuration(w.lease), "\n");
    }
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.state == JobState::kRendering && !job.lease_worker.empty()) {
        absl::StrAppend(&out, "  ", Name(job.job.id), " held by \"", job.lease_worker, "\"\n");
      }
    }
    absl::StrAppend(&out, "Pickup order: ", std::string(SortOrderName(pickup_order_)),
                    "\nRun it alone: CASCADE_MODEL_SEED=", seed_, " ./model_test --gtest_filter=",
                    ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(), ".",
                    ::testing::UnitTest::GetInstance()->current_test_info()->name(), "\n");
    return out;
  }

  // Compares the status, and records the call for the coverage summary.
  std::string CheckStatus(const std::string& call, const ExpectedStatus& want,
                          const absl::Status& got) {
    coverage_.Call(call, got.code());
    return want.Mismatch(got);
  }

  // ---- Operations -------------------------------------------------------------------

  std::string Submit() {
    const std::string team = Team();
    const JobSpec spec = SpecForSubmit(team);
    what_ = absl::StrCat("Submit(", Short(team), ", ", model::DescribeSpec(spec), ")");
    const ExpectedStatus want = model_.PredictSubmit(team, spec);
    absl::StatusOr<CreatedJob> got = engine_->Submit(team, spec);
    if (std::string m = CheckStatus("Submit", want, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    absl::StatusOr<CreatedJob> expected = model_.ApplySubmit(team, spec, *got);
    if (!expected.ok()) return std::string(expected.status().message());
    return DiffCreated(*expected, *got);
  }

  std::string SubmitBatch() {
    const std::string team = Team();
    std::vector<JobSpec> specs;
    if (Chance(0.02)) {
      // empty: InvalidArgument
    } else if (Chance(0.01)) {
      specs.assign(1001, BareSpec());
    } else {
      const int n = 1 + static_cast<int>(Uniform(4));
      for (int i = 0; i < n; ++i) {
        JobSpec spec = RandomSpec(team, 0);
        if (Chance(0.2)) MakeInvalid(team, spec, false);
        specs.push_back(std::move(spec));
      }
    }
    std::vector<std::string> described;
    for (const JobSpec& s : specs) described.push_back(model::DescribeSpec(s));
    if (described.size() > 8) described = {absl::StrCat(described.size(), " specs")};
    what_ = absl::StrCat("SubmitBatch(", Short(team), ", [", absl::StrJoin(described, ", "), "])");
    const ExpectedStatus want = model_.PredictSubmitBatch(team, specs.size());
    absl::StatusOr<BatchSubmitResult> got = engine_->SubmitBatch(team, specs);
    if (std::string m = CheckStatus("SubmitBatch", want, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    auto expected = model_.ApplySubmitBatch(team, specs, *got);
    if (!expected.ok()) return std::string(expected.status().message());
    absl::StrAppend(&what_, " -> ", Name(got->batch_id));
    return DiffBatchSubmit(*expected, *got);
  }

  std::string Cancel() {
    const std::string team = Team();
    const JobId id = TargetId(team, 0.5);
    what_ = absl::StrCat("Cancel(", Short(team), ", ", Name(id), ")");
    auto want = model_.Cancel(team, id);
    absl::StatusOr<std::vector<Job>> got = engine_->Cancel(team, id);
    if (std::string m = CheckStatus("Cancel", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    if (want.value.size() > 1) ++coverage_.cascaded_cancels;
    return DiffJobs(want.value, *got);
  }

  std::string CancelMany() {
    const std::string team = Team();
    std::vector<JobId> ids;
    if (Chance(0.02)) {
      // empty: InvalidArgument
    } else if (Chance(0.01)) {
      for (int i = 0; i < 1001; ++i) ids.push_back(UnknownId());
    } else {
      const int n = 1 + static_cast<int>(Uniform(4));
      for (int i = 0; i < n; ++i) {
        JobId id = TargetId(team, 0.6);
        for (int retry = 0; retry < 3 && std::find(ids.begin(), ids.end(), id) != ids.end();
             ++retry) {
          id = TargetId(team, 0.6);
        }
        ids.push_back(id);
      }
      if (Chance(0.12)) ids.insert(ids.begin() + Uniform(ids.size() + 1), PickFrom(ids));
    }
    what_ = absl::StrCat("CancelMany(", Short(team), ", ",
                         ids.size() > 8 ? absl::StrCat(ids.size(), " ids") : Names(ids), ")");
    auto want = model_.CancelMany(team, ids);
    absl::StatusOr<std::vector<Job>> got = engine_->CancelMany(team, ids);
    if (std::string m = CheckStatus("CancelMany", want.status, got.status()); !m.empty()) {
      return m;
    }
    if (!got.ok()) return "";
    if (want.value.size() > ids.size()) ++coverage_.cascaded_cancels;
    return DiffJobs(want.value, *got);
  }

  std::string CancelBatch() {
    const std::string team = Team();
    const BatchId id = BatchTarget(team);
    what_ = absl::StrCat("CancelBatch(", Short(team), ", ", Name(id), ")");
    auto want = model_.CancelBatch(team, id);
    absl::StatusOr<BatchCancelResult> got = engine_->CancelBatch(team, id);
    if (std::string m = CheckStatus("CancelBatch", want.status, got.status()); !m.empty()) {
      return m;
    }
    if (!got.ok()) return "";
    if (want.value.cancelled_jobs.size() > want.value.cancelled_count) {
      ++coverage_.cascaded_cancels;
    }
    return DiffBatchCancel(want.value, *got);
  }

  std::string Claim() {
    ClaimRequest request;
    request.worker = kWorkerPool[Uniform(std::size(kWorkerPool))];
    if (Chance(0.2)) request.tags.push_back(kTagPool[Uniform(4)]);
    if (Chance(0.05)) request.tags.push_back(kTagPool[Uniform(4)]);
    // Contract §15: "any of" tags (nexrender v1's pickups), now and then
    // one no job carries.
    if (Chance(0.25)) {
      const int n = 1 + static_cast<int>(Uniform(3));
      for (int i = 0; i < n; ++i) request.any_tags.push_back(kTagPool[Uniform(4)]);
      if (Chance(0.15)) request.any_tags.push_back("no-such-tag");
    }
    // Long leases, short ones (that a jump outlives), and invalid ones.
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.2) {
      request.lease = absl::Minutes(10 + static_cast<int64_t>(Uniform(50)));
    } else if (r < 0.45) {
      request.lease = absl::Milliseconds(500 + static_cast<int64_t>(Uniform(120'000)));
    } else if (r < 0.47) {
      request.lease = Chance(0.5) ? absl::ZeroDuration() : absl::Seconds(-1);
    }
    what_ = absl::StrCat(
        "Claim(\"", request.worker, "\", tags=[", absl::StrJoin(request.tags, ","), "]",
        request.any_tags.empty()
            ? ""
            : absl::StrCat(", any_tags=[", absl::StrJoin(request.any_tags, ","), "]"),
        request.lease.has_value() ? absl::StrCat(", lease ", absl::FormatDuration(*request.lease))
                                  : "",
        ")");
    absl::StatusOr<ClaimedJob> got = engine_->Claim(request);
    auto want = model_.Claim(request, got.ok() ? std::optional<JobId>(got->job.id) : std::nullopt);
    if (std::string m = CheckStatus("Claim", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    model_.SetLeaseToken(want.value.job.job.id, got->lease.token);
    past_leases_.emplace_back(got->job.id, got->lease.token);
    absl::StrAppend(&what_, " -> ", Name(got->job.id));
    if (!request.any_tags.empty()) ++coverage_.any_tag_claims;
    return DiffClaim(want.value, *got);
  }

  // A job id and lease token for the worker calls: mostly a rendering job
  // with its lease, sometimes a wrong lease, a lease of an earlier claim
  // (stale once the job was requeued), a job that is not rendering, or an
  // unknown id.
  std::pair<JobId, std::string> WorkerTarget() {
    // The lease of an attempt a time limit ended, mostly a recent one.
    const std::vector<model::TimedOutLease>& timed_out = model_.timed_out_leases();
    if (!timed_out.empty() && Chance(0.06)) {
      const model::TimedOutLease& t =
          Chance(0.7) ? timed_out.back() : timed_out[Uniform(timed_out.size())];
      return {t.id, t.token};
    }
    std::vector<const ModelJob*> rendering;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.state == JobState::kRendering) rendering.push_back(&job);
    }
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.75 && !rendering.empty()) {
      const ModelJob* job = PickFrom(rendering);
      return {job->job.id, job->lease_token};
    }
    if (r < 0.83 && !rendering.empty()) {
      const ModelJob* job = PickFrom(rendering);
      const ModelJob* other = PickFrom(rendering);
      if (other->lease_token != job->lease_token && Chance(0.5)) {
        return {job->job.id, other->lease_token};
      }
      return {job->job.id, job->lease_token + "-stale"};
    }
    if (r < 0.9 && !past_leases_.empty()) return PickFrom(past_leases_);
    if (r < 0.96 && !model_.jobs().empty()) {
      const ModelJob& job = PickFrom(model_.jobs());
      return {job.job.id, job.lease_token.empty() ? "no-lease" : job.lease_token};
    }
    return {UnknownId(), "no-lease"};
  }

  // Counts the queued jobs, to see finishes and failures that queue one.
  int QueuedCount() const {
    int n = 0;
    for (const ModelJob& job : model_.jobs()) n += job.job.state == JobState::kQueued;
    return n;
  }
  int ErrorCount() const {
    int n = 0;
    for (const ModelJob& job : model_.jobs()) n += job.job.state == JobState::kError;
    return n;
  }

  std::string Finish() {
    const auto [id, token] = WorkerTarget();
    FinishReport report;
    if (Chance(0.3)) report.output_url = absl::StrCat("s3://final/", Uniform(100), ".mp4");
    what_ = absl::StrCat("Finish(", Name(id), ", token ", token == "no-lease" ? "none" : "given",
                         report.output_url.empty() ? "" : ", outputUrl", ")");
    const int queued_before = QueuedCount();
    auto want = model_.Finish(id, token, report);
    absl::StatusOr<Job> got = engine_->Finish(id, token, report);
    if (std::string m = CheckStatus("Finish", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    if (QueuedCount() > queued_before) ++coverage_.promoted_by_ignore;
    return DiffJob(want.value, *got);
  }

  std::string Fail() {
    const auto [id, token] = WorkerTarget();
    FailReport report;
    // Mostly a short text; now and then none ("render failed") or one over
    // the 4096 bytes kept.
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.05) {
      report.error = "";
    } else if (r < 0.08) {
      report.error = std::string(4000, 'e') + std::string(200, 'f');
    } else {
      report.error = absl::StrCat("render crashed (exit ", Uniform(5), ")");
    }
    report.retry = Chance(0.6);
    what_ = absl::StrCat(
        "Fail(", Name(id), ", token ", TokenName(id, token), ", \"",
        report.error.size() > 40 ? absl::StrCat(report.error.size(), " bytes") : report.error,
        "\", retry ", report.retry ? "true" : "false", ")");
    const int errors_before = ErrorCount();
    const int queued_before = QueuedCount();
    auto want = model_.Fail(id, token, report);
    absl::StatusOr<Job> got = engine_->Fail(id, token, report);
    if (std::string m = CheckStatus("Fail", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    ++coverage_.attempt_ends[absl::StrCat(report.retry ? "Fail" : "Fail (final)", " -> ",
                                          WireState(want.value.job.state))];
    absl::StrAppend(&what_, " -> ", WireState(got->state));
    if (got->state == JobState::kError) {
      coverage_.propagated_errors += ErrorCount() - errors_before - 1;
    }
    if (QueuedCount() > queued_before + (got->state == JobState::kQueued ? 1 : 0)) {
      ++coverage_.promoted_by_ignore;
    }
    return DiffJob(want.value, *got);
  }

  // What a token is in reports: the job's lease, an earlier one, or other.
  std::string TokenName(JobId id, const std::string& token) const {
    if (token == "no-lease") return "none";
    const ModelJob* job = model_.FindAnyTeam(id);
    if (job != nullptr && !token.empty() && token == job->lease_token) return "current";
    for (const auto& [past_id, past] : past_leases_) {
      if (past == token) return past_id == id ? "earlier" : absl::StrCat(Name(past_id), "'s");
    }
    return "wrong";
  }

  std::string Heartbeat() {
    const auto [id, token] = WorkerTarget();
    HeartbeatReport report;
    std::string described;
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.6) {
      // Quarter steps: exact in any floating-point width the engine keeps.
      report.progress = 0.25 * static_cast<double>(Uniform(401));
    } else if (r < 0.66) {
      const double bad[] = {-0.25, 100.25, -1e9, std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity()};
      report.progress = bad[Uniform(std::size(bad))];
    }
    if (report.progress.has_value()) absl::StrAppend(&described, ", progress ", *report.progress);
    if (Chance(0.3)) {
      report.extend = absl::Milliseconds(1000 + static_cast<int64_t>(Uniform(300'000)));
    } else if (Chance(0.03)) {
      report.extend = Chance(0.5) ? absl::ZeroDuration() : absl::Milliseconds(-5);
    }
    if (report.extend.has_value()) {
      absl::StrAppend(&described, ", extend ", absl::FormatDuration(*report.extend));
    }
    what_ = absl::StrCat("Heartbeat(", Name(id), ", token ", TokenName(id, token), described, ")");
    auto want = model_.Heartbeat(id, token, report);
    absl::StatusOr<HeartbeatResult> got = engine_->Heartbeat(id, token, report);
    if (std::string m = CheckStatus("Heartbeat", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    if (got->cancel_requested) absl::StrAppend(&what_, " -> cancel requested");
    if (got->cancel_requested && got->job.state != JobState::kRendering) {
      ++coverage_.timed_out_heartbeats;
    }
    return model::DiffHeartbeat(want.value, token, *got);
  }

  std::string Release() {
    const auto [id, token] = WorkerTarget();
    what_ = absl::StrCat("Release(", Name(id), ", token ", TokenName(id, token), ")");
    auto want = model_.Release(id, token);
    absl::StatusOr<Job> got = engine_->Release(id, token);
    if (std::string m = CheckStatus("Release", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    ++coverage_.attempt_ends[absl::StrCat("Release -> ", WireState(want.value.job.state))];
    absl::StrAppend(&what_, " -> ", WireState(got->state));
    return DiffJob(want.value, *got);
  }

  std::string RequestAbort() {
    const std::string team = Team();
    JobId id;
    std::vector<JobId> rendering;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.team == team && job.job.state == JobState::kRendering) {
        rendering.push_back(job.job.id);
      }
    }
    id = !rendering.empty() && Chance(0.75) ? PickFrom(rendering) : TargetId(team, 0.0);
    what_ = absl::StrCat("RequestAbort(", Short(team), ", ", Name(id), ")");
    auto want = model_.RequestAbort(team, id);
    absl::StatusOr<Job> got = engine_->RequestAbort(team, id);
    if (std::string m = CheckStatus("RequestAbort", want.status, got.status()); !m.empty()) {
      return m;
    }
    if (!got.ok()) return "";
    return DiffJob(want.value, *got);
  }

  std::string RunDueWork() {
    what_ = "RunDueWork()";
    std::vector<std::pair<JobId, JobState>> due_before;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.state == JobState::kRendering) due_before.emplace_back(job.job.id, job.job.state);
    }
    const model::ExpectedDueWork want = model_.RunDueWork();
    const size_t got = engine_->RunDueWork();
    coverage_.Call("RunDueWork", absl::StatusCode::kOk);
    coverage_.due_jobs += static_cast<int64_t>(want.due);
    coverage_.timed_out += static_cast<int64_t>(want.timed_out);
    coverage_.waits_ended += static_cast<int64_t>(want.waits_ended);
    for (const auto& [id, state] : due_before) {
      const JobState now = model_.FindAnyTeam(id)->job.state;
      if (now != state) ++coverage_.attempt_ends[absl::StrCat("expired -> ", WireState(now))];
    }
    absl::StrAppend(&what_, " -> ", got);
    if (got != want.due && got != want.changed) {
      return absl::StrCat("RunDueWork: want ", want.due, " (jobs due) or ", want.changed,
                          " (jobs changed), got ", got);
    }
    return "";
  }

  static std::string WireState(JobState s) { return std::string(StateName(s)); }

  // ---- Contract §15 ----------------------------------------------------------------

  // `bytes` of text for a big log line: a pattern that changes every byte,
  // with newlines inside it now and then (a line the worker sent may hold
  // several).
  std::string BigText(size_t bytes) {
    // A block of a prime length, repeated (copies are cheap; a byte loop
    // over megabytes is not), then the newlines.
    std::string block(4093, ' ');
    const char first = static_cast<char>('a' + Uniform(26));
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(first + i % 7);
    std::string text;
    text.reserve(bytes + block.size());
    while (text.size() < bytes) text += block;
    text.resize(bytes);
    if (Chance(0.5)) {
      const size_t every = 1000 + Uniform(200'000);
      for (size_t i = every - 1; i < bytes; i += every) text[i] = '\n';
    }
    return text;
  }

  // The lines of an AppendLog: mostly a few short ones; now and then none,
  // many, the most one call takes (10,000), one too many or a NUL byte
  // (refused). Log-heavy sequences add big lines and lines near 1 MiB.
  std::vector<std::string> LogLines(std::string& described) {
    std::vector<std::string> lines;
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.01) {
      lines.assign(kMaxLogLinesPerCall + 1, "x");
      described = "10001 lines";
      return lines;
    }
    if (r < 0.02) {
      lines.assign(kMaxLogLinesPerCall, "f");
      described = "10000 lines";
      return lines;
    }
    if (r < 0.05) {
      lines = {"frame 1", std::string("bad\0byte", 8)};
      if (Chance(0.5)) std::swap(lines[0], lines[1]);
      described = "a NUL byte";
      return lines;
    }
    if (r < 0.08) {
      described = "no lines";
      return lines;
    }
    if (log_heavy_ && r < 0.45) {
      const double size = std::uniform_real_distribution<double>(0, 1)(rng_);
      // Big lines; a line just under or over the bound (1 MiB with its
      // newline); now and then one with small lines around it.
      const size_t bytes = size < 0.75  ? 100'000 + Uniform(600'000)
                           : size < 0.9 ? kMaxJobLogBytes - 2 + Uniform(3)
                                        : kMaxJobLogBytes + Uniform(5000);
      lines.push_back(BigText(bytes));
      if (Chance(0.3)) lines.insert(lines.begin(), "before");
      if (Chance(0.3)) lines.push_back("after");
      described = absl::StrCat(lines.size(), " lines, ", bytes, "-byte line");
      return lines;
    }
    const int n =
        Chance(0.05) ? 50 + static_cast<int>(Uniform(200)) : 1 + static_cast<int>(Uniform(4));
    for (int i = 0; i < n; ++i) {
      const double kind = std::uniform_real_distribution<double>(0, 1)(rng_);
      if (kind < 0.05) {
        lines.push_back("");
      } else if (kind < 0.1) {
        lines.push_back("progress 50%\rprogress 60%");
      } else if (kind < 0.15) {
        lines.push_back("two\nlines");
      } else if (kind < 0.18) {
        lines.push_back("not utf-8 \xff\xfe");
      } else {
        lines.push_back(absl::StrCat("frame ", Uniform(1000), " fps=", Uniform(60)));
      }
    }
    described = absl::StrCat(n, " lines");
    return lines;
  }

  std::string AppendLog() {
    const auto [id, token] = WorkerTarget();
    std::string described;
    const std::vector<std::string> lines = LogLines(described);
    what_ = absl::StrCat("AppendLog(", Name(id), ", token ", TokenName(id, token), ", ", described,
                         ")");
    size_t bytes_before = 0, bytes_sent = 0;
    if (const ModelJob* job = model_.FindAnyTeam(id); job != nullptr && job->log.has_value()) {
      bytes_before = job->log->size();
    }
    for (const std::string& line : lines) bytes_sent += line.size() + 1;
    const ExpectedStatus want = model_.AppendLog(id, token, lines);
    const absl::Status got = engine_->AppendLog(id, token, lines);
    if (std::string m = CheckStatus("AppendLog", want, got); !m.empty()) return m;
    if (!got.ok()) return "";
    // The log as it is now, from its team.
    const ModelJob* job = model_.FindAnyTeam(id);
    auto want_log = model_.GetLog(job->job.team, id);
    absl::StatusOr<std::string> got_log = engine_->GetLog(job->job.team, id);
    if (std::string m = want_log.status.Mismatch(got_log.status()); !m.empty()) {
      return absl::StrCat("GetLog after the append: ", m);
    }
    if (!got_log.ok()) return "";
    coverage_.max_log_bytes =
        std::max(coverage_.max_log_bytes, static_cast<int64_t>(got_log->size()));
    if (bytes_before + bytes_sent > kMaxJobLogBytes) {
      ++coverage_.logs_cut;
      // Kept from inside a line: the whole bound, its last line longer.
      const size_t last_newline = want_log.value.rfind('\n', want_log.value.size() - 2);
      if (want_log.value.size() == kMaxJobLogBytes && last_newline == std::string::npos) {
        ++coverage_.logs_cut_in_line;
      }
    }
    absl::StrAppend(&what_, " -> ", got_log->size(), " bytes");
    return model::DiffLog(want_log.value, *got_log);
  }

  std::string GetLog() {
    const std::string team = Team();
    JobId id;
    std::vector<JobId> logged;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.team == team && job.log.has_value()) logged.push_back(job.job.id);
    }
    id = !logged.empty() && Chance(0.6) ? PickFrom(logged) : TargetId(team, 0.0);
    what_ = absl::StrCat("GetLog(", Short(team), ", ", Name(id), ")");
    auto want = model_.GetLog(team, id);
    absl::StatusOr<std::string> got = engine_->GetLog(team, id);
    if (std::string m = CheckStatus("GetLog", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    return model::DiffLog(want.value, *got);
  }

  std::string ListWorkers() {
    const std::string team = Team();
    what_ = absl::StrCat("ListWorkers(", Short(team), ")");
    coverage_.Call("ListWorkers", absl::StatusCode::kOk);
    return model::DiffWorkers(model_.ListWorkers(team), engine_->ListWorkers(team));
  }

  // ---- Contract §14 ----------------------------------------------------------------

  // 1-1000 ids for Retry, Suspend and Resume: mostly jobs of the team that
  // `wanted` picks out, sometimes any of its jobs, another team's, an unknown
  // id, a repeat, none or too many.
  std::vector<JobId> NamedIds(const std::string& team, bool (*wanted)(const ModelJob&)) {
    std::vector<JobId> ids;
    if (Chance(0.02)) return ids;  // empty: InvalidArgument
    if (Chance(0.01)) {
      for (int i = 0; i < 1001; ++i) ids.push_back(UnknownId());
      return ids;
    }
    std::vector<JobId> fitting;
    for (const ModelJob& job : model_.jobs()) {
      if (job.job.team == team && wanted(job)) fitting.push_back(job.job.id);
    }
    const int n = Chance(0.7) ? 1 : 2 + static_cast<int>(Uniform(2));
    for (int i = 0; i < n; ++i) {
      JobId id = !fitting.empty() && Chance(0.8) ? PickFrom(fitting) : TargetId(team, 0.3);
      for (int retry = 0; retry < 3 && std::find(ids.begin(), ids.end(), id) != ids.end();
           ++retry) {
        id = !fitting.empty() ? PickFrom(fitting) : TargetId(team, 0.3);
      }
      ids.push_back(id);
    }
    if (Chance(0.05)) ids.insert(ids.begin() + Uniform(ids.size() + 1), PickFrom(ids));
    return ids;
  }
  std::string Describe(const std::vector<JobId>& ids) const {
    return ids.size() > 8 ? absl::StrCat(ids.size(), " ids") : Names(ids);
  }

  std::string Retry() {
    const std::string team = Team();
    const std::vector<JobId> ids = NamedIds(team, [](const ModelJob& job) {
      return job.job.state == JobState::kError || job.job.state == JobState::kCancelled;
    });
    what_ = absl::StrCat("Retry(", Short(team), ", ", Describe(ids), ")");
    bool all_ended = true;  // to tell the two refusals apart in the coverage
    for (JobId id : ids) {
      const ModelJob* job = model_.FindAnyTeam(id);
      all_ended = all_ended && job != nullptr &&
                  (job->job.state == JobState::kError || job->job.state == JobState::kCancelled);
    }
    auto want = model_.Retry(team, ids);
    absl::StatusOr<std::vector<Job>> got = engine_->Retry(team, ids);
    if (std::string m = CheckStatus("Retry", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) {
      if (all_ended && got.status().code() == absl::StatusCode::kFailedPrecondition) {
        ++coverage_.blocked_retries;
      }
      return "";
    }
    coverage_.revived += static_cast<int64_t>(got->size());
    if (got->size() > ids.size()) ++coverage_.revived_beyond_named;
    absl::StrAppend(&what_, " -> ", got->size(), " revived");
    return DiffJobs(want.value, *got);
  }

  std::string Hold(bool suspend) {
    const std::string team = Team();
    const std::vector<JobId> ids =
        suspend ? NamedIds(team, [](const ModelJob& job) { return IsCancellable(job.job.state); })
                : NamedIds(team, [](const ModelJob& job) { return job.job.suspended; });
    const char* call = suspend ? "Suspend" : "Resume";
    what_ = absl::StrCat(call, "(", Short(team), ", ", Describe(ids), ")");
    auto want = suspend ? model_.Suspend(team, ids) : model_.Resume(team, ids);
    absl::StatusOr<std::vector<Job>> got =
        suspend ? engine_->Suspend(team, ids) : engine_->Resume(team, ids);
    if (std::string m = CheckStatus(call, want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    return DiffJobs(want.value, *got);
  }
  std::string Suspend() { return Hold(true); }
  std::string Resume() { return Hold(false); }

  std::string HoldBatch() {
    const std::string team = Team();
    const BatchId id = BatchTarget(team);
    const bool suspend = Chance(0.5);
    const char* call = suspend ? "SuspendBatch" : "ResumeBatch";
    what_ = absl::StrCat(call, "(", Short(team), ", ", Name(id), ")");
    auto want = suspend ? model_.SuspendBatch(team, id) : model_.ResumeBatch(team, id);
    absl::StatusOr<std::vector<Job>> got =
        suspend ? engine_->SuspendBatch(team, id) : engine_->ResumeBatch(team, id);
    if (std::string m = CheckStatus(call, want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    absl::StrAppend(&what_, " -> ", got->size(), " changed");
    return DiffJobs(want.value, *got);
  }

  std::string SetPriority() {
    const std::string team = Team();
    const JobId id = TargetId(team, 0.7);
    int32_t priority = static_cast<int32_t>(Uniform(5)) - 2;
    if (Chance(0.02)) {
      priority =
          Chance(0.5) ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max();
    }
    what_ = absl::StrCat("SetPriority(", Short(team), ", ", Name(id), ", ", priority, ")");
    auto want = model_.SetPriority(team, id, priority);
    absl::StatusOr<Job> got = engine_->SetPriority(team, id, priority);
    if (std::string m = CheckStatus("SetPriority", want.status, got.status()); !m.empty()) {
      return m;
    }
    if (!got.ok()) return "";
    return DiffJob(want.value, *got);
  }

  absl::Time SomeTime() {
    if (model_.jobs().empty() || Chance(0.1)) return clock_.Now();
    const absl::Time created = PickFrom(model_.jobs()).job.stats.created_at;
    return created + absl::Milliseconds(static_cast<int64_t>(Uniform(3)) - 1);
  }

  std::string List() {
    const std::string team = Team();
    ListQuery query;
    if (Chance(0.4)) {
      const int n = 1 + static_cast<int>(Uniform(2));
      for (int i = 0; i < n; ++i) query.states.push_back(RandomState());
    }
    if (Chance(0.2)) query.exclude_states.push_back(RandomState());
    if (Chance(0.15)) query.from_date = SomeTime();
    if (Chance(0.15)) query.to_date = SomeTime();
    if (Chance(0.2)) query.tags.push_back(kTagPool[Uniform(4)]);
    if (Chance(0.05)) query.tags.push_back(kTagPool[Uniform(4)]);
    query.sort = static_cast<SortOrder>(Uniform(4));
    query.offset = Chance(0.7) ? 0 : Uniform(6);
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    query.limit = r < 0.04 ? 0 : r < 0.07 ? 1001 : r < 0.15 ? 1000 : 1 + Uniform(8);
    query.minimal = Chance(0.5);
    std::vector<std::string> states, excluded;
    for (JobState s : query.states) states.push_back(std::string(StateName(s)));
    for (JobState s : query.exclude_states) excluded.push_back(std::string(StateName(s)));
    what_ =
        absl::StrCat("List(", Short(team), ", states=[", absl::StrJoin(states, ","), "] exclude=[",
                     absl::StrJoin(excluded, ","), "] tags=[", absl::StrJoin(query.tags, ","),
                     "] sort=", std::string(SortOrderName(query.sort)), " from=", query.offset,
                     " limit=", query.limit, query.from_date.has_value() ? " from_date" : "",
                     query.to_date.has_value() ? " to_date" : "", ")");
    const model::ExpectedList want = model_.List(team, query);
    absl::StatusOr<std::vector<Job>> got = engine_->List(team, query);
    if (std::string m = CheckStatus("List", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    return DiffList(want, *got);
  }

  std::string Get() {
    const std::string team = Team();
    const JobId id = TargetId(team, 0.0);
    what_ = absl::StrCat("Get(", Short(team), ", ", Name(id), ")");
    auto want = model_.Get(team, id);
    absl::StatusOr<Job> got = engine_->Get(team, id);
    if (std::string m = CheckStatus("Get", want.status, got.status()); !m.empty()) return m;
    if (!got.ok()) return "";
    return DiffJob(want.value, *got);
  }

  std::string ReadBatch() {
    const std::string team = Team();
    const BatchId id = BatchTarget(team);
    if (Chance(0.5)) {
      what_ = absl::StrCat("GetBatchCounts(", Short(team), ", ", Name(id), ")");
      auto want = model_.GetBatchCounts(team, id);
      absl::StatusOr<BatchCounts> got = engine_->GetBatchCounts(team, id);
      if (std::string m = CheckStatus("GetBatchCounts", want.status, got.status()); !m.empty()) {
        return m;
      }
      return got.ok() ? DiffCounts(want.value, *got) : "";
    }
    what_ = absl::StrCat("GetBatch(", Short(team), ", ", Name(id), ")");
    auto want = model_.GetBatch(team, id);
    absl::StatusOr<BatchView> got = engine_->GetBatch(team, id);
    if (std::string m = CheckStatus("GetBatch", want.status, got.status()); !m.empty()) return m;
    return got.ok() ? DiffBatchView(want.value, *got) : "";
  }

  // ---- Whole-state checks -------------------------------------------------------

  // After every operation: the number of jobs and the state of each.
  std::string CheckStates() {
    if (engine_->JobCount() != model_.JobCount()) {
      return absl::StrCat("JobCount: want ", model_.JobCount(), ", got ", engine_->JobCount());
    }
    for (const ModelJob& job : model_.jobs()) {
      absl::StatusOr<Job> got = engine_->Get(job.job.team, job.job.id);
      if (!got.ok()) {
        return absl::StrCat("Get(", job.job.team, ", ", Name(job.job.id),
                            "): ", StatusText(got.status()));
      }
      if (got->state != job.job.state) {
        return absl::StrCat("job ", Name(job.job.id), " (", job.job.id.ToString(), ") is ",
                            std::string(StateName(got->state)), "; the model says ",
                            std::string(StateName(job.job.state)));
      }
      // Which of several acceptable texts the engine shows is its recorded
      // cause, which a Retry follows: the model takes it.
      if (job.error_options.size() > 1) {
        absl::Status pinned = model_.PinError(
            job.job.id, got->stats.error ? got->stats.error->str() : std::string("(null)"));
        if (!pinned.ok()) return std::string(pinned.message());
        ++coverage_.pinned;
      }
    }
    // The worker list, as one team sees it (the teams take turns).
    const std::string team = kTeams[op_index_ % 2];
    const std::vector<WorkerInfo> workers = model_.ListWorkers(team);
    for (const WorkerInfo& w : workers)
      ++coverage_.worker_status[std::string(WorkerStatusName(w.status))];
    if (std::string d = model::DiffWorkers(workers, engine_->ListWorkers(team)); !d.empty()) {
      return absl::StrCat("ListWorkers(", team, ") after the operation: ", d);
    }
    return "";
  }

  // At the end: every job in full (and hidden from the other team), every
  // batch from both teams, and full listings in each defined order.
  std::string CheckEverything() {
    if (std::string m = CheckStates(); !m.empty()) return m;
    for (const ModelJob& job : model_.jobs()) {
      absl::StatusOr<Job> got = engine_->Get(job.job.team, job.job.id);
      if (std::string d = DiffJob({job.job, job.error_options}, *got); !d.empty()) return d;
      const std::string other = OtherTeam(job.job.team);
      if (std::string m = model_.Get(other, job.job.id)
                              .status.Mismatch(engine_->Get(other, job.job.id).status());
          !m.empty()) {
        return absl::StrCat("Get(", other, ", ", Name(job.job.id), "): ", m);
      }
      // Its log, from its team and from the other.
      for (const std::string& team : {job.job.team, other}) {
        auto want_log = model_.GetLog(team, job.job.id);
        absl::StatusOr<std::string> got_log = engine_->GetLog(team, job.job.id);
        std::string m = want_log.status.Mismatch(got_log.status());
        if (m.empty() && got_log.ok()) m = model::DiffLog(want_log.value, *got_log);
        if (!m.empty()) return absl::StrCat("GetLog(", team, ", ", Name(job.job.id), "): ", m);
      }
    }
    // A purged job's log went with it.
    for (JobId id : model_.purged()) {
      for (const std::string& team : {kTeams[0], kTeams[1]}) {
        absl::StatusOr<std::string> got_log = engine_->GetLog(team, id);
        if (got_log.status().code() != absl::StatusCode::kNotFound) {
          return absl::StrCat("GetLog(", team, ", ", Name(id),
                              ") of a purged job: ", StatusText(got_log.status()));
        }
      }
    }
    std::vector<std::string> teams = ValidTeams();
    teams.push_back("");  // a malformed team lists the workers, with no jobs
    for (const std::string& team : teams) {
      if (std::string d = model::DiffWorkers(model_.ListWorkers(team), engine_->ListWorkers(team));
          !d.empty()) {
        return absl::StrCat("ListWorkers(", Short(team), "): ", d);
      }
    }
    for (const ModelBatch& batch : model_.batches()) {
      for (const std::string& team : ValidTeams()) {
        auto want_counts = model_.GetBatchCounts(team, batch.id);
        absl::StatusOr<BatchCounts> got_counts = engine_->GetBatchCounts(team, batch.id);
        std::string m = want_counts.status.Mismatch(got_counts.status());
        if (m.empty() && got_counts.ok()) m = DiffCounts(want_counts.value, *got_counts);
        if (!m.empty()) {
          return absl::StrCat("GetBatchCounts(", Short(team), ", ", Name(batch.id), "): ", m);
        }
        auto want_view = model_.GetBatch(team, batch.id);
        absl::StatusOr<BatchView> got_view = engine_->GetBatch(team, batch.id);
        m = want_view.status.Mismatch(got_view.status());
        if (m.empty() && got_view.ok()) m = DiffBatchView(want_view.value, *got_view);
        if (!m.empty())
          return absl::StrCat("GetBatch(", Short(team), ", ", Name(batch.id), "): ", m);
      }
    }
    for (const std::string& team : ValidTeams()) {
      for (SortOrder order : {SortOrder::kOldestFirst, SortOrder::kNewestFirst,
                              SortOrder::kPriority, SortOrder::kRandom}) {
        ListQuery query;
        query.sort = order;
        query.limit = ListQuery::kMaxLimit;
        const model::ExpectedList want = model_.List(team, query);
        absl::StatusOr<std::vector<Job>> got = engine_->List(team, query);
        std::string m = want.status.Mismatch(got.status());
        if (m.empty() && got.ok()) m = DiffList(want, *got);
        if (!m.empty()) {
          return absl::StrCat("List(", Short(team), ", sort=", std::string(SortOrderName(order)),
                              "): ", m);
        }
      }
    }
    return "";
  }

  const uint64_t seed_;
  const SortOrder pickup_order_;
  const bool verbose_;
  Coverage& coverage_;
  std::mt19937_64 rng_;
  ManualClock clock_;
  const std::string output_url_template_;
  const bool log_heavy_;  // big log lines and lines near 1 MiB (contract §15)
  ReferenceModel model_;
  std::unique_ptr<Engine> engine_;
  absl::Status create_status_;
  int op_index_ = 0;
  std::string what_;
  std::vector<std::string> log_;
  std::vector<std::pair<JobId, std::string>> past_leases_;  // every lease given
};

// Runs sequences with seeds 1..`sequences` (or only CASCADE_MODEL_SEED),
// each on an engine claiming in `pickup_order`, and reports every failing
// one (up to CASCADE_MODEL_MAX_FAILURES).
void RunSequences(uint64_t sequences, SortOrder pickup_order) {
  const std::optional<uint64_t> only_seed = EnvNumber("CASCADE_MODEL_SEED");
  const bool verbose = EnvNumber("CASCADE_MODEL_VERBOSE").value_or(0) != 0;
  const uint64_t max_failures = EnvNumber("CASCADE_MODEL_MAX_FAILURES").value_or(5);
  const uint64_t first = only_seed.value_or(1);
  const uint64_t last = only_seed.has_value() ? *only_seed : sequences;

  Coverage coverage;
  uint64_t failures = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    Sequence sequence(seed, pickup_order, verbose || only_seed.has_value(), coverage);
    if (std::string report = sequence.Run(); !report.empty()) {
      ADD_FAILURE() << report;
      if (++failures >= max_failures) {
        ADD_FAILURE() << "stopping after " << failures << " failing sequences";
        break;
      }
    }
  }
  std::cout << "Calls over " << (last - first + 1) << " sequences (pickup order "
            << SortOrderName(pickup_order) << "):\n"
            << coverage.ToString();
}

uint64_t SequenceCount() {
  return EnvNumber("CASCADE_MODEL_SEQUENCES").value_or(kDefaultSequences);
}

// The engine as configured by default (pickup order oldest_first).
TEST(ModelTest, RandomSequencesMatchReferenceModel) {
  RunSequences(SequenceCount(), SortOrder::kOldestFirst);
}

// The other pickup orders of contract §7 (Options::pickup_order), a tenth as
// many sequences each. Under `random` the model accepts any queued job that
// matches the claim.
TEST(ModelTest, RandomSequencesMatchReferenceModelWithNewestFirstPickup) {
  RunSequences(std::max<uint64_t>(1, SequenceCount() / 10), SortOrder::kNewestFirst);
}
TEST(ModelTest, RandomSequencesMatchReferenceModelWithPriorityPickup) {
  RunSequences(std::max<uint64_t>(1, SequenceCount() / 10), SortOrder::kPriority);
}
TEST(ModelTest, RandomSequencesMatchReferenceModelWithRandomPickup) {
  RunSequences(std::max<uint64_t>(1, SequenceCount() / 10), SortOrder::kRandom);
}

// ---- Minimal reproductions of differences the sequences found ------------------

// Seeds 126, 200, ... of RandomSequencesMatchReferenceModel: a claim asking
// for the same tag twice matched nothing. A job carrying the tag carries
// "all of these tags" (engine.h ClaimRequest::tags, contract §7).
TEST(ModelFoundTest, ClaimWithARepeatedTagMatchesAJobCarryingIt) {
  testing::DeterministicEngine engine;
  JobSpec spec = testing::LeafSpec();
  spec.tags = {"4k"};
  ASSERT_THAT(engine->Submit("team-a", spec), testing::IsOk());
  ClaimRequest request;
  request.tags = {"4k", "4k"};
  EXPECT_THAT(engine->Claim(request), testing::IsOk());
}

// RandomSequencesMatchReferenceModelWith{NewestFirst,Priority}Pickup: claims
// ignored Options::pickup_order and always took the oldest queued job (contract
// §7: "which job comes next is the engine's pickup order"; semantics.md, Workers: "the
// next queued job in pickup order").
TEST(ModelFoundTest, ClaimFollowsTheConfiguredPickupOrder) {
  for (SortOrder order : {SortOrder::kNewestFirst, SortOrder::kPriority}) {
    ManualClock clock;
    Options options;
    options.clock = &clock;
    options.id_seed = 1;
    options.pickup_order = order;
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
    ASSERT_THAT(engine, testing::IsOk());
    JobSpec older = testing::LeafSpec();
    JobSpec newer = testing::LeafSpec();
    newer.priority = 5;
    ASSERT_THAT((*engine)->Submit("team-a", older), testing::IsOk());
    absl::StatusOr<CreatedJob> want = (*engine)->Submit("team-a", newer);
    ASSERT_THAT(want, testing::IsOk());
    absl::StatusOr<ClaimedJob> claimed = (*engine)->Claim(ClaimRequest{});
    ASSERT_THAT(claimed, testing::IsOk());
    EXPECT_EQ(claimed->job.id, want->id) << "pickup order " << SortOrderName(order);
  }
}

// ---- The model on its own ------------------------------------------------------
// A few hand-worked cases from contract §3-4 and semantics.md, to show the model
// says what the documents say. The model does not make ids; these tests name
// jobs 1, 2, 3, ... in creation order as an engine would.

class ReferenceModelTest : public ::testing::Test {
 protected:
  ReferenceModelTest() : model_(Options{}) { model_.SetNow(absl::FromUnixSeconds(1'700'000'000)); }

  // Submits `spec` to the model, naming its jobs in pre-order.
  CreatedJob Submit(const JobSpec& spec, std::string_view team = "team-a") {
    EXPECT_TRUE(model_.PredictSubmit(team, spec).ok());
    CreatedJob answer = Name(spec);
    absl::StatusOr<CreatedJob> created = model_.ApplySubmit(team, spec, answer);
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }

  CreatedJob Name(const JobSpec& spec) {
    CreatedJob created;
    created.id = Ulid(1, next_id_++);
    for (const JobSpec& child : spec.children) created.children.push_back(Name(child));
    return created;
  }

  JobState StateOf(JobId id) { return model_.FindAnyTeam(id)->job.state; }
  std::vector<std::string> ErrorOptionsOf(JobId id) {
    return model_.FindAnyTeam(id)->error_options;
  }

  static std::vector<JobId> Ids(const std::vector<model::ExpectedJob>& jobs) {
    std::vector<JobId> ids;
    for (const model::ExpectedJob& j : jobs) ids.push_back(j.job.id);
    return ids;
  }

  std::string ClaimToken() {
    auto claim = model_.Claim(ClaimRequest{});
    EXPECT_TRUE(claim.status.ok());
    const std::string token = absl::StrCat("lease-", next_id_++);
    model_.SetLeaseToken(claim.value.job.job.id, token);
    return token;
  }

  ReferenceModel model_;
  uint64_t next_id_ = 1;
};

TEST_F(ReferenceModelTest, ChildCancelsParentAndWaitingSiblings) {
  const CreatedJob family = Submit(testing::FamilySpec(3));
  const JobId parent = family.id;
  const JobId c0 = family.children[0].id, c1 = family.children[1].id, c2 = family.children[2].id;
  EXPECT_EQ(family.state, JobState::kPending);
  ClaimToken();  // the oldest queued job: c0
  ASSERT_EQ(StateOf(c0), JobState::kRendering);

  auto cancelled = model_.Cancel("team-a", c1);
  ASSERT_TRUE(cancelled.status.ok());
  EXPECT_EQ(Ids(cancelled.value), (std::vector<JobId>{parent, c1, c2}));
  EXPECT_EQ(StateOf(c0), JobState::kRendering);
  EXPECT_EQ(ErrorOptionsOf(c1), std::vector<std::string>{"Cancelled via API"});
  const std::string from_c1 = "Cancelled: cascade from " + c1.ToString();
  EXPECT_EQ(ErrorOptionsOf(parent), std::vector<std::string>{from_c1});
  EXPECT_EQ(ErrorOptionsOf(c2), std::vector<std::string>{from_c1});
}

TEST_F(ReferenceModelTest, ParentCancelsWaitingChildren) {
  const CreatedJob family = Submit(testing::FamilySpec(2));
  auto cancelled = model_.Cancel("team-a", family.id);
  ASSERT_TRUE(cancelled.status.ok());
  EXPECT_EQ(cancelled.value.size(), 3u);
}

TEST_F(ReferenceModelTest, SharedPrerequisiteSurvivesUntilLastDependentIsCancelled) {
  const JobId a = Submit(testing::LeafSpec()).id;
  JobSpec needs_a = testing::LeafSpec();
  needs_a.depends_on = {a};
  const JobId b = Submit(needs_a).id;
  const JobId c = Submit(needs_a).id;
  EXPECT_EQ(StateOf(b), JobState::kPending);

  auto first = model_.Cancel("team-a", b);
  ASSERT_TRUE(first.status.ok());
  EXPECT_EQ(Ids(first.value), std::vector<JobId>{b});
  auto second = model_.Cancel("team-a", c);
  ASSERT_TRUE(second.status.ok());
  EXPECT_EQ(Ids(second.value), (std::vector<JobId>{a, c}));
}

TEST_F(ReferenceModelTest, FailedChildFailsParentAndWaitingSiblings) {
  const CreatedJob family = Submit(testing::FamilySpec(2));
  const JobId parent = family.id, c0 = family.children[0].id, c1 = family.children[1].id;
  const std::string token = ClaimToken();  // c0
  auto failed = model_.Fail(c0, token, FailReport{.error = "out of memory", .retry = false});
  ASSERT_TRUE(failed.status.ok());
  EXPECT_EQ(StateOf(parent), JobState::kError);
  // c1 failed too (because of the parent), so it is a failed prerequisite
  // of the parent as well: the model accepts either in the parent's text.
  EXPECT_THAT(ErrorOptionsOf(parent),
              ::testing::Contains("prerequisite " + c0.ToString() + " failed"));
  EXPECT_EQ(StateOf(c1), JobState::kError);
  EXPECT_EQ(ErrorOptionsOf(c1),
            std::vector<std::string>{"dependent " + parent.ToString() + " failed"});
}

TEST_F(ReferenceModelTest, IgnoringParentProceedsWhenTheOtherChildrenFinish) {
  JobSpec spec = testing::FamilySpec(2);
  spec.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
  const CreatedJob family = Submit(spec);
  const JobId parent = family.id, c1 = family.children[1].id;
  const std::string t0 = ClaimToken();  // c0
  const std::string t1 = ClaimToken();  // c1
  ASSERT_TRUE(model_.Fail(family.children[0].id, t0, FailReport{.error = "crash", .retry = false})
                  .status.ok());
  EXPECT_EQ(StateOf(parent), JobState::kPending);
  ASSERT_TRUE(model_.Finish(c1, t1, FinishReport{}).status.ok());
  EXPECT_EQ(StateOf(parent), JobState::kQueued);
}

TEST_F(ReferenceModelTest, CancelManyChecksSizeThenDuplicatesThenIdsThenStates) {
  const JobId a = Submit(testing::LeafSpec()).id;
  const JobId b = Submit(testing::LeafSpec()).id;
  const JobId unknown(7, 7);
  ClaimToken();  // a
  EXPECT_TRUE(model_.CancelMany("team-a", {}).status.Allows(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(model_.CancelMany("team-a", std::vector<JobId>{b, unknown, b})
                  .status.Allows(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(model_.CancelMany("team-a", std::vector<JobId>{a, unknown})
                  .status.Allows(absl::StatusCode::kNotFound));
  EXPECT_TRUE(model_.CancelMany("team-b", std::vector<JobId>{b})
                  .status.Allows(absl::StatusCode::kNotFound));
  EXPECT_TRUE(model_.CancelMany("team-a", std::vector<JobId>{b, a})
                  .status.Allows(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(StateOf(b), JobState::kQueued);  // nothing changed
}

TEST_F(ReferenceModelTest, SubmitWithDeadPrerequisiteIsRejected) {
  const JobId a = Submit(testing::LeafSpec()).id;
  ASSERT_TRUE(model_.Cancel("team-a", a).status.ok());
  JobSpec spec = testing::LeafSpec();
  spec.depends_on = {a};
  EXPECT_TRUE(model_.PredictSubmit("team-a", spec).Allows(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(model_.PredictSubmit("team-b", spec).Allows(absl::StatusCode::kNotFound));
}

TEST(ReferenceModelPickupTest, ClaimsInThePickupOrder) {
  const struct {
    SortOrder order;
    int want;  // index of the job claimed first
  } kCases[] = {
      {SortOrder::kOldestFirst, 0}, {SortOrder::kNewestFirst, 2}, {SortOrder::kPriority, 1}};
  for (const auto& c : kCases) {
    Options options;
    options.pickup_order = c.order;
    ReferenceModel model(options);
    std::vector<JobId> ids;
    for (int32_t priority : {0, 5, 5}) {
      JobSpec spec = testing::LeafSpec();
      spec.priority = priority;
      CreatedJob answer;
      answer.id = Ulid(1, ids.size() + 1);
      ASSERT_TRUE(model.ApplySubmit("team-a", spec, answer).ok());
      ids.push_back(answer.id);
    }
    auto claim = model.Claim(ClaimRequest{});
    ASSERT_TRUE(claim.status.ok());
    EXPECT_EQ(claim.value.job.job.id, ids[c.want]) << SortOrderName(c.order);
  }
}

TEST_F(ReferenceModelTest, PriorityListingIsHighestFirstThenOldest) {
  JobSpec low = testing::LeafSpec(), high = testing::LeafSpec();
  high.priority = 5;
  const JobId l0 = Submit(low).id, h0 = Submit(high).id, l1 = Submit(low).id, h1 = Submit(high).id;
  ListQuery query;
  query.sort = SortOrder::kPriority;
  EXPECT_EQ(Ids(model_.List("team-a", query).jobs), (std::vector<JobId>{h0, h1, l0, l1}));
  query.offset = 1;
  query.limit = 2;
  EXPECT_EQ(Ids(model_.List("team-a", query).jobs), (std::vector<JobId>{h1, l0}));
}

// ---- Contract §14 ------------------------------------------------------------------

TEST_F(ReferenceModelTest, AFailureFromAChildIsRetriedWithTheFamilyItEnded) {
  const CreatedJob family = Submit(testing::FamilySpec(2));
  const JobId parent = family.id, c0 = family.children[0].id, c1 = family.children[1].id;
  const std::string token = ClaimToken();  // c0
  ASSERT_TRUE(model_.Fail(c0, token, FailReport{.error = "bad input", .retry = false}).status.ok());
  ASSERT_EQ(StateOf(parent), JobState::kError);  // prerequisite c0 failed
  ASSERT_EQ(StateOf(c1), JobState::kError);      // dependent parent failed

  // The parent alone would wait for c0 forever.
  EXPECT_TRUE(model_.Retry("team-a", std::vector<JobId>{parent})
                  .status.Allows(absl::StatusCode::kFailedPrecondition));
  auto revived = model_.Retry("team-a", std::vector<JobId>{c0});
  ASSERT_TRUE(revived.status.ok());
  EXPECT_EQ(Ids(revived.value), (std::vector<JobId>{parent, c0, c1}));
  EXPECT_EQ(StateOf(parent), JobState::kPending);
  EXPECT_EQ(StateOf(c0), JobState::kQueued);
  const Job& again = model_.FindAnyTeam(c0)->job;
  EXPECT_EQ(again.attempts, 0);
  EXPECT_FALSE(again.stats.error.has_value());
  EXPECT_FALSE(again.stats.started_at.has_value());
  EXPECT_FALSE(again.stats.error_at.has_value());
}

TEST_F(ReferenceModelTest, RetryFollowsTheCauseTheEngineShowed) {
  // b needs a and c; a fails, so b fails, and c (whose only dependent b
  // failed) too, its text naming b.
  const JobId a = Submit(testing::LeafSpec()).id;
  const JobId c = Submit(testing::LeafSpec()).id;
  JobSpec needs_both = testing::LeafSpec();
  needs_both.depends_on = {a, c};
  const JobId b = Submit(needs_both).id;
  const std::string token = ClaimToken();  // a
  ASSERT_TRUE(model_.Fail(a, token, FailReport{.error = "x", .retry = false}).status.ok());
  ASSERT_EQ(StateOf(c), JobState::kError);
  EXPECT_EQ(ErrorOptionsOf(c), std::vector<std::string>{"dependent " + b.ToString() + " failed"});
  EXPECT_FALSE(model_.PinError(c, "dependent nobody failed").ok());
  auto revived = model_.Retry("team-a", std::vector<JobId>{a});
  ASSERT_TRUE(revived.status.ok());
  EXPECT_EQ(Ids(revived.value), (std::vector<JobId>{a, c, b}));
}

TEST_F(ReferenceModelTest, AFinalFailEndsTheJobWithAttemptsLeft) {
  const JobId a = Submit(testing::LeafSpec()).id;
  std::string token = ClaimToken();
  auto failed = model_.Fail(a, token, FailReport{.error = "crash"});  // retry: true
  ASSERT_TRUE(failed.status.ok());
  EXPECT_EQ(failed.value.job.state, JobState::kQueued);
  EXPECT_EQ(failed.value.job.stats.error, "crash");  // shown while it waits
  token = ClaimToken();
  failed = model_.Fail(a, token, FailReport{.error = "", .retry = false});
  ASSERT_TRUE(failed.status.ok());
  EXPECT_EQ(failed.value.job.state, JobState::kError);
  EXPECT_EQ(failed.value.job.stats.error, "render failed");
  EXPECT_EQ(failed.value.job.attempts, 2);
}

TEST_F(ReferenceModelTest, TheBackoffDoublesPerFailedAttemptUpTo24Hours) {
  JobSpec spec = testing::LeafSpec();
  spec.max_attempts = 20;
  spec.retry_backoff = absl::Hours(5);
  const JobId a = Submit(spec).id;
  absl::Time now = model_.now();
  for (int attempt = 1; attempt <= 4; ++attempt) {
    const std::string token = ClaimToken();
    auto released = model_.Release(a, token);
    ASSERT_TRUE(released.status.ok());
    const absl::Duration want = std::min(absl::Hours(5) * (1 << (attempt - 1)), absl::Hours(24));
    EXPECT_EQ(released.value.job.retry_at, now + want) << "attempt " << attempt;
    EXPECT_EQ(released.value.job.stats.error,
              absl::StrCat("lease expired after ", attempt, " attempts"));
    EXPECT_TRUE(model_.Claim(ClaimRequest{}).status.Allows(absl::StatusCode::kNotFound));
    now += want;
    model_.SetNow(now);
    EXPECT_EQ(model_.RunDueWork().waits_ended, 1u);
  }
}

TEST_F(ReferenceModelTest, ATimeLimitEndsTheAttemptAndStopsItsWorker) {
  JobSpec spec = testing::LeafSpec();
  spec.timeout = absl::Seconds(10);
  const JobId a = Submit(spec).id;
  const absl::Time start = model_.now();
  const std::string token = ClaimToken();
  model_.SetNow(start + absl::Seconds(8));
  HeartbeatReport extend;
  extend.extend = absl::Minutes(10);  // moves the lease, not the time limit
  ASSERT_TRUE(model_.Heartbeat(a, token, extend).status.ok());
  model_.SetNow(start + absl::Seconds(10));
  EXPECT_EQ(model_.RunDueWork().timed_out, 1u);
  EXPECT_EQ(StateOf(a), JobState::kQueued);
  EXPECT_EQ(model_.FindAnyTeam(a)->job.stats.error, "timed out after 10 s");
  auto beat = model_.Heartbeat(a, token, HeartbeatReport{});
  ASSERT_TRUE(beat.status.ok());
  EXPECT_TRUE(beat.value.cancel_requested);
  EXPECT_EQ(beat.value.job.job.state, JobState::kQueued);
  EXPECT_TRUE(
      model_.Finish(a, token, FinishReport{}).status.Allows(absl::StatusCode::kFailedPrecondition));
  // Once the lease would have run out, and a RunDueWork noticed, it is stale.
  model_.SetNow(start + absl::Seconds(8) + absl::Minutes(10));
  model_.RunDueWork();
  EXPECT_TRUE(model_.Heartbeat(a, token, HeartbeatReport{})
                  .status.Allows(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ReferenceModelTest, AHeldPendingJobThatBecomesReadyStaysHeld) {
  const CreatedJob family = Submit(testing::FamilySpec(1));
  auto held = model_.Suspend("team-a", std::vector<JobId>{family.id});
  ASSERT_TRUE(held.status.ok());
  const std::string token = ClaimToken();  // the child
  ASSERT_TRUE(model_.Finish(family.children[0].id, token, FinishReport{}).status.ok());
  EXPECT_EQ(StateOf(family.id), JobState::kQueued);
  EXPECT_TRUE(model_.FindAnyTeam(family.id)->job.suspended);
  EXPECT_TRUE(model_.Claim(ClaimRequest{}).status.Allows(absl::StatusCode::kNotFound));
  ASSERT_TRUE(model_.Resume("team-a", std::vector<JobId>{family.id}).status.ok());
  EXPECT_TRUE(model_.Claim(ClaimRequest{}).status.ok());
  // Rendering now: neither held nor reprioritized.
  EXPECT_TRUE(model_.Suspend("team-a", std::vector<JobId>{family.id})
                  .status.Allows(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(model_.SetPriority("team-a", family.id, 9)
                  .status.Allows(absl::StatusCode::kFailedPrecondition));
}

// ---- Contract §15 ------------------------------------------------------------------

TEST_F(ReferenceModelTest, AnAnyTagClaimTakesTheFirstJobCarryingOneOfTheTags) {
  JobSpec plain = testing::LeafSpec(), hd = testing::LeafSpec(), gpu_4k = testing::LeafSpec();
  hd.tags = {"hd"};
  gpu_4k.tags = {"gpu", "4k"};
  Submit(plain);
  const JobId h = Submit(hd).id;
  const JobId g = Submit(gpu_4k).id;
  ClaimRequest request;
  request.any_tags = {"4k", "nope"};
  auto claim = model_.Claim(request);
  ASSERT_TRUE(claim.status.ok());
  EXPECT_EQ(claim.value.job.job.id, g);
  request.any_tags = {"4k", "hd"};
  request.tags = {"gpu"};  // and every all-of tag: g is taken
  EXPECT_TRUE(model_.Claim(request).status.Allows(absl::StatusCode::kNotFound));
  request.tags.clear();
  claim = model_.Claim(request);
  ASSERT_TRUE(claim.status.ok());
  EXPECT_EQ(claim.value.job.job.id, h);
}

TEST_F(ReferenceModelTest, ALogKeepsItsLastMebibyteFromALineStart) {
  const JobId a = Submit(testing::LeafSpec()).id;
  EXPECT_TRUE(model_.GetLog("team-a", a).status.Allows(absl::StatusCode::kNotFound));
  std::string token = ClaimToken();
  ASSERT_TRUE(model_.AppendLog(a, token, {}).ok());  // nothing logged
  EXPECT_TRUE(model_.GetLog("team-a", a).status.Allows(absl::StatusCode::kNotFound));
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"start", "two\nlines"}).ok());
  // A stale lease may not write; the log outlives the attempt.
  ASSERT_TRUE(model_.Release(a, token).status.ok());
  EXPECT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"late"})
                  .Allows(absl::StatusCode::kFailedPrecondition));
  token = ClaimToken();
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"first"}).ok());
  EXPECT_EQ(model_.GetLog("team-a", a).value, "start\ntwo\nlines\nfirst\n");
  EXPECT_TRUE(model_.GetLog("team-b", a).status.Allows(absl::StatusCode::kNotFound));
  // 22 + 1048574 bytes: the first line starting in the last 1 MiB is the big one.
  const std::string big(kMaxJobLogBytes - 3, 'x');
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{big}).ok());
  EXPECT_TRUE(model_.GetLog("team-a", a).value == big + "\n");
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"next"}).ok());
  EXPECT_EQ(model_.GetLog("team-a", a).value, "next\n");
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"more", "and more"}).ok());
  EXPECT_EQ(model_.GetLog("team-a", a).value, "next\nmore\nand more\n");
  // A line longer than the bound, with no line start after it: its last 1 MiB.
  std::string huge(kMaxJobLogBytes + 3, 'y');
  huge[0] = 'z';
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{huge}).ok());
  EXPECT_TRUE(model_.GetLog("team-a", a).value == huge.substr(4) + "\n");
  // Refusals change nothing.
  EXPECT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{std::string("a\0b", 3)})
                  .Allows(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(model_.AppendLog(a, token, std::vector<std::string>(kMaxLogLinesPerCall + 1, "l"))
                  .Allows(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(model_.GetLog("team-a", a).value == huge.substr(4) + "\n");
  ASSERT_TRUE(model_.AppendLog(a, token, std::vector<std::string>{"end"}).ok());
  EXPECT_EQ(model_.GetLog("team-a", a).value, "end\n");
}

TEST_F(ReferenceModelTest, AWorkerIsBusyIdleThenLostAfterTwoLeaseLengths) {
  const absl::Time start = model_.now();
  const JobId a = Submit(testing::LeafSpec()).id;
  const JobId b = Submit(testing::LeafSpec(), "team-b").id;
  ClaimRequest request;
  request.worker = "node";
  request.tags = {};
  request.any_tags = {"x", "x"};  // kept as sent: finds nothing, still seen
  request.lease = absl::Seconds(10);
  EXPECT_TRUE(model_.Claim(request).status.Allows(absl::StatusCode::kNotFound));
  std::vector<WorkerInfo> workers = model_.ListWorkers("team-a");
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].tags, (std::vector<std::string>{"x", "x"}));
  EXPECT_EQ(workers[0].status, WorkerStatus::kIdle);
  request.any_tags.clear();
  auto first = model_.Claim(request);  // a
  ASSERT_TRUE(first.status.ok());
  model_.SetLeaseToken(a, "t-a");
  model_.SetNow(start + absl::Seconds(5));
  ASSERT_TRUE(model_.Claim(request).status.ok());  // b
  model_.SetLeaseToken(b, "t-b");
  workers = model_.ListWorkers("team-b");
  EXPECT_EQ(workers[0].jobs, std::vector<JobId>{b});
  EXPECT_EQ(workers[0].status, WorkerStatus::kBusy);
  EXPECT_TRUE(model_.ListWorkers("").front().jobs.empty());
  // A heartbeat sees it; an unnamed claim is nobody.
  model_.SetNow(start + absl::Seconds(8));
  ASSERT_TRUE(model_.Heartbeat(a, "t-a", HeartbeatReport{}).status.ok());
  EXPECT_EQ(model_.ListWorkers("team-a")[0].last_seen, start + absl::Seconds(8));
  EXPECT_EQ(model_.ListWorkers("team-a").size(), 1u);
  // Lost only past two lease lengths, holding jobs or not.
  model_.SetNow(start + absl::Seconds(28));
  EXPECT_EQ(model_.ListWorkers("team-a")[0].status, WorkerStatus::kBusy);
  model_.SetNow(start + absl::Seconds(28) + absl::Milliseconds(1));
  EXPECT_EQ(model_.ListWorkers("team-a")[0].status, WorkerStatus::kLost);
  model_.RunDueWork();  // the leases end: it holds nothing
  workers = model_.ListWorkers("team-a");
  EXPECT_TRUE(workers[0].jobs.empty());
  EXPECT_EQ(workers[0].status, WorkerStatus::kLost);
}

}  // namespace
}  // namespace cascade
