// Copyright 2026 The Cascade Authors.
//
// kill -9 at the engine level: contract §10, a process killed with kill -9, at
// whatever moment, keeps every change it had acknowledged. The store on its
// own is store_kill_test.cc.
//
// Each cycle forks a child that opens an engine on one shared data directory
// (so the history grows from cycle to cycle) with the real clock and a
// FakeTransport, learns the jobs and batches already there through the public
// API, and runs random operations (tests/durability/history.h: submits with
// children and dependencies, batches, every cancel, claims, heartbeats,
// finishes, failures, releases, aborts) from kChildThreads threads until it
// is killed. After each call that returned OK, the thread writes what the
// answer said to a pipe, one fixed-size record per job it named (id, team,
// state, attempts, progress, abort requested) and one per batch it created
// (id, team, top-level jobs).
// The parent kills the child with SIGKILL at a random moment (a quarter of
// the cycles count from the fork, so some kills land in the middle of the
// open and its recovery; the others from the child's first acknowledgement),
// reads every record the child managed to send, reopens the directory and
// checks everything acknowledged in this cycle and the ones before:
//   - every acknowledged job is there, in its team;
//   - a job an answer reported finished, error or manually_cancelled is in
//     exactly that state, with the attempts it had (terminal is final);
//   - no job has fewer attempts than an answer reported;
//   - a job an answer reported queued, rendering or ended is not pending
//     (no transition leads back to pending, contract §1);
//   - a job still in the attempt an answer reported it rendering in has at
//     least the progress reported;
//   - a job an answer reported with an abort requested has ended or is still
//     rendering with the abort requested (every way out of that attempt
//     ends the job, contract §7);
//   - every acknowledged batch is there and counts the top-level jobs its
//     submit created;
//   - the relations between jobs hold (CheckInvariants).
// Later changes that were not acknowledged may or may not be there: those
// are not checked. While the child runs, the parent also checks that it
// cannot open the same directory. After the last cycle the directory is
// opened once more, an hour later, and drained: every job that can run is
// claimed and finished and nothing is left waiting (DrainAndCheck).
//
// Seeded: CASCADE_ENGINE_KILL_SEED (default 20260419) and
// CASCADE_ENGINE_KILL_CYCLES (default 24) override; the seed is printed. It
// fixes the kill moments and the draws of each child thread; how the threads
// interleave, and so which jobs the draws land on and what the kill
// interrupts, is not repeatable. Three cycles in four use synchronous
// NORMAL, one FULL (a process kill must not tell them apart).

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/durability/history.h"
#include "tests/kill_harness.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using ::cascade::durability::AllJobs;
using ::cascade::durability::CheckInvariants;
using ::cascade::durability::DrainAndCheck;
using ::cascade::durability::History;
using ::cascade::durability::Names;
using ::cascade::durability::Operation;
using ::cascade::durability::Teams;
using ::cascade::testing::FakeTransport;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using SteadyClock = std::chrono::steady_clock;

constexpr int kChildThreads = 3;

// One thing an answer said, as the child sends it to the parent.
struct Ack {
  enum Kind : uint8_t { kJob = 1, kBatch = 2 };
  enum Flags : uint8_t { kCancelRequested = 1 };
  uint64_t id_hi;
  uint64_t id_lo;
  uint32_t cycle;
  // kJob: the job's attempts (-1 when the answer did not say);
  // kBatch: the top-level jobs its submit created.
  int32_t number;
  uint8_t kind;
  uint8_t team;    // index in Teams()
  uint8_t state;   // kJob: a JobState
  uint8_t flags;   // kJob: Flags
  float progress;  // kJob: as the answer said (the engine keeps a float)
};
static_assert(sizeof(Ack) == 32);
// A write of at most PIPE_BUF bytes to a pipe is atomic: a record is never
// interleaved with another thread's, nor cut short by the kill.
static_assert(PIPE_BUF % sizeof(Ack) == 0);

uint8_t TeamIndex(std::string_view team) {
  const auto& teams = Teams();
  return static_cast<uint8_t>(std::find(teams.begin(), teams.end(), team) - teams.begin());
}

// This Abseil's StrCat takes no std::string_view.
std::string Name(JobState state) { return std::string(StateName(state)); }

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed;
  if (value != nullptr && absl::SimpleAtoi(value, &parsed)) return parsed;
  return fallback;
}

// ---- The child ----------------------------------------------------------------

[[noreturn]] void Die(int code, const std::string& what) {
  std::fprintf(stderr, "engine_kill_test child: %s\n", what.c_str());
  _exit(code);
}

// Collects the records of one answer, then sends them.
class AckWriter {
 public:
  AckWriter(int fd, uint32_t cycle) : fd_(fd), cycle_(cycle) {}

  void Job(JobId id, std::string_view team, JobState state, int attempts, bool abort = false,
           double progress = 0) {
    records_.push_back({id.hi(), id.lo(), cycle_, attempts, Ack::kJob, TeamIndex(team),
                        static_cast<uint8_t>(state),
                        static_cast<uint8_t>(abort ? Ack::kCancelRequested : 0),
                        static_cast<float>(progress)});
  }
  void Job(const ::cascade::Job& job) {
    Job(job.id, job.team, job.state, job.attempts, job.cancel_requested, job.progress);
  }
  void Created(const CreatedJob& created, std::string_view team) {
    Job(created.id, team, created.state, 0);
    for (const CreatedJob& child : created.children) Created(child, team);
  }
  void Batch(BatchId id, std::string_view team, size_t top_level) {
    records_.push_back({id.hi(), id.lo(), cycle_, static_cast<int32_t>(top_level), Ack::kBatch,
                        TeamIndex(team), 0, 0, 0});
  }

  // Writes the records collected, at most PIPE_BUF bytes at a time.
  void Send() {
    const char* data = reinterpret_cast<const char*>(records_.data());
    size_t left = records_.size() * sizeof(Ack);
    while (left > 0) {
      const size_t n = std::min<size_t>(left, PIPE_BUF);
      if (write(fd_, data, n) != static_cast<ssize_t>(n)) {
        Die(5, absl::StrCat("write to the pipe: ", std::strerror(errno)));
      }
      data += n;
      left -= n;
    }
    records_.clear();
  }

 private:
  const int fd_;
  const uint32_t cycle_;
  std::vector<Ack> records_;
};

// The jobs, batches and leases the child's threads know of, shared by them:
// what History draws its targets from.
struct Known {
  std::mutex mu;
  Names names;
  absl::flat_hash_map<JobId, size_t> index;  // job id -> position in names.jobs

  void AddJob(JobId id, const std::string& team) {
    index.emplace(id, names.jobs.size());
    names.jobs.push_back(id);
    names.job_teams.push_back(team);
  }
  void AddCreated(const CreatedJob& created, const std::string& team) {
    AddJob(created.id, team);
    for (const CreatedJob& child : created.children) AddCreated(child, team);
  }
};

// Draws one operation, runs it and acknowledges what the answer said. Like
// durability::Apply, but several threads share `known`, and the answer goes
// to the pipe.
void Step(Engine& engine, History& history, Known& known, AckWriter& acks) {
  Operation op;
  std::vector<JobSpec> specs;
  std::vector<JobId> targets;
  std::string team;  // of the first target
  std::string token;
  std::pair<BatchId, std::string> batch;
  {
    std::lock_guard<std::mutex> lock(known.mu);
    const Names& names = known.names;
    op = history.Next(names);
    specs = op.specs;
    for (size_t i = 0; i < specs.size(); ++i) {
      for (size_t d : op.depends_on[i]) specs[i].depends_on.push_back(names.jobs[d]);
    }
    if (op.kind == Operation::kCancelBatch) {
      batch = names.batches[op.targets[0]];
    } else if (!op.targets.empty()) {
      for (size_t t : op.targets) targets.push_back(names.jobs[t]);
      team = names.job_teams[op.targets[0]];
      auto lease = names.leases.find(op.targets[0]);
      if (lease != names.leases.end()) token = lease->second;
    }
  }
  // Forgets the lease `token` of the first target, unless it was replaced.
  auto forget_lease = [&] {
    std::lock_guard<std::mutex> lock(known.mu);
    auto lease = known.names.leases.find(op.targets[0]);
    if (lease != known.names.leases.end() && lease->second == token) {
      known.names.leases.erase(lease);
    }
  };

  switch (op.kind) {
    case Operation::kSubmit: {
      absl::StatusOr<CreatedJob> created = engine.Submit(op.team, specs[0]);
      if (!created.ok()) return;
      acks.Created(*created, op.team);
      acks.Send();
      std::lock_guard<std::mutex> lock(known.mu);
      known.AddCreated(*created, op.team);
      return;
    }
    case Operation::kSubmitBatch: {
      absl::StatusOr<BatchSubmitResult> result = engine.SubmitBatch(op.team, specs);
      if (!result.ok()) return;
      if (result->success_count > 0) acks.Batch(result->batch_id, op.team, result->jobs.size());
      for (const BatchJobResult& r : result->jobs) acks.Created(r.job, op.team);
      acks.Send();
      std::lock_guard<std::mutex> lock(known.mu);
      for (const BatchJobResult& r : result->jobs) known.AddCreated(r.job, op.team);
      if (result->success_count > 0) known.names.batches.emplace_back(result->batch_id, op.team);
      return;
    }
    case Operation::kCancel:
    case Operation::kCancelMany: {
      absl::StatusOr<std::vector<Job>> cancelled = op.kind == Operation::kCancel
                                                       ? engine.Cancel(team, targets[0])
                                                       : engine.CancelMany(team, targets);
      if (!cancelled.ok()) return;
      for (const Job& job : *cancelled) acks.Job(job);
      acks.Send();
      return;
    }
    case Operation::kCancelBatch: {
      absl::StatusOr<BatchCancelResult> result = engine.CancelBatch(batch.second, batch.first);
      if (!result.ok()) return;
      for (const Job& job : result->cancelled_jobs) acks.Job(job);
      // The skipped ones too: the answer says which state each is in.
      for (const BatchCancelJobResult& r : result->jobs) acks.Job(r.id, batch.second, r.state, -1);
      acks.Send();
      return;
    }
    case Operation::kClaim: {
      ClaimRequest request;
      request.tags = op.tags;
      request.lease = op.advance;
      absl::StatusOr<ClaimedJob> claimed = engine.Claim(request);
      if (!claimed.ok()) return;
      acks.Job(claimed->job);
      acks.Send();
      std::lock_guard<std::mutex> lock(known.mu);
      // A job another thread made is known once that thread has recorded it;
      // until then its claim is left to run out.
      auto it = known.index.find(claimed->job.id);
      if (it != known.index.end()) known.names.leases[it->second] = claimed->lease.token;
      return;
    }
    case Operation::kHeartbeat: {
      HeartbeatReport report;
      report.progress = op.progress;
      absl::StatusOr<HeartbeatResult> beat = engine.Heartbeat(targets[0], token, report);
      if (!beat.ok()) {
        forget_lease();  // stale: the lease ended meanwhile
        return;
      }
      acks.Job(beat->job);
      acks.Send();
      return;
    }
    case Operation::kFinish:
    case Operation::kFail:
    case Operation::kRelease: {
      absl::StatusOr<Job> job =
          op.kind == Operation::kFinish ? engine.Finish(targets[0], token, {})
          : op.kind == Operation::kFail
              ? engine.Fail(targets[0], token, {.error = "render failed", .retry = false})
              : engine.Release(targets[0], token);
      forget_lease();
      if (!job.ok()) return;
      acks.Job(*job);
      acks.Send();
      return;
    }
    case Operation::kAbort: {
      absl::StatusOr<Job> job = engine.RequestAbort(team, targets[0]);
      if (!job.ok()) return;
      acks.Job(*job);
      acks.Send();
      return;
    }
    case Operation::kAdvance:
      // The real clock moves by itself; this only runs what is due now,
      // beside the engine's own timer thread.
      engine.RunDueWork();
      return;
    case Operation::kReplay:
      for (const std::string& t : Teams()) {
        absl::StatusOr<std::vector<DeadLetter>> letters = engine.ListDeadLetters(t);
        if (letters.ok() && !letters->empty()) {
          engine.ReplayDeadLetter(t, letters->front().delivery_id).IgnoreError();
          return;
        }
      }
      return;
  }
}

// The child: opens the engine and runs operations from kChildThreads threads
// until it is killed.
[[noreturn]] void RunChild(const std::string& dir, uint32_t cycle, DurabilityOptions::Sync sync,
                           uint64_t seed, int ack_fd) {
  FakeTransport transport(Clock::Real());  // webhooks reach no network
  Options options;
  options.webhooks.transport = &transport;
  options.durability.data_dir = dir;
  options.durability.sync = sync;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  if (!engine.ok()) Die(3, engine.status().ToString());

  Known known;
  for (const std::string& team : Teams()) {
    std::set<BatchId> batches;
    for (const Job& job : AllJobs(**engine, team)) {
      known.AddJob(job.id, team);
      if (job.batch_id && batches.insert(*job.batch_id).second) {
        known.names.batches.emplace_back(*job.batch_id, team);
      }
    }
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kChildThreads; ++t) {
    threads.emplace_back([&, t] {
      History history(seed * 1000003 + cycle * 31 + static_cast<uint64_t>(t));
      AckWriter acks(ack_fd, cycle);
      while (true) Step(**engine, history, known, acks);
    });
  }
  for (std::thread& t : threads) t.join();  // never: the threads never end
  _exit(6);
}

// ---- The parent ---------------------------------------------------------------

using AckReader = ::cascade::testing::RecordReader<Ack>;

// What the answers acknowledged so far say about one job.
struct JobFacts {
  uint8_t team = 0;
  std::optional<JobState> end;  // the terminal state an answer reported
  int end_attempts = -1;        // its attempts then, when the answer said
  int attempts = 0;             // the most attempts any answer reported
  bool left_pending = false;    // an answer reported it queued, rendering or ended
  // The last attempt in which an answer reported it rendering, and the most
  // progress reported in it.
  int rendering_attempt = -1;
  float progress = 0;
  // An answer reported an abort requested (which only ends with the job).
  bool abort_requested = false;
};

// Everything acknowledged, over all the cycles so far.
class Acknowledged {
 public:
  // Adds one record. Returns what is wrong if it contradicts an earlier one
  // (two answers that report different ends of one job), else "".
  std::string Add(const Ack& ack) {
    const Ulid id(ack.id_hi, ack.id_lo);
    if (ack.kind == Ack::kBatch) {
      auto [it, inserted] = batches_.try_emplace(id, ack.team, ack.number);
      if (!inserted && it->second.second != ack.number) {
        return absl::StrCat("batch ", id.ToString(), " acknowledged with ", it->second.second,
                            " and with ", ack.number, " jobs");
      }
      return "";
    }
    const JobState state = static_cast<JobState>(ack.state);
    JobFacts& facts = jobs_[id];
    facts.team = ack.team;
    facts.attempts = std::max(facts.attempts, ack.number);
    facts.left_pending |= state != JobState::kPending;
    facts.abort_requested |= (ack.flags & Ack::kCancelRequested) != 0;
    if (state == JobState::kRendering && ack.number >= facts.rendering_attempt) {
      if (ack.number > facts.rendering_attempt) facts.progress = 0;
      facts.rendering_attempt = ack.number;
      facts.progress = std::max(facts.progress, ack.progress);
    }
    if (!IsTerminal(state)) return "";
    if (facts.end && *facts.end != state) {
      return absl::StrCat("job ", id.ToString(), " acknowledged ", Name(*facts.end), " and ",
                          Name(state));
    }
    facts.end = state;
    if (ack.number >= 0) {
      if (facts.end_attempts >= 0 && facts.end_attempts != ack.number) {
        return absl::StrCat("job ", id.ToString(), " acknowledged ", Name(state), " with ",
                            facts.end_attempts, " and with ", ack.number, " attempts");
      }
      facts.end_attempts = ack.number;
    }
    return "";
  }

  // Checks `engine` against every acknowledgement; returns what is wrong, one
  // line each, at most `max_problems` of them.
  std::vector<std::string> Check(const Engine& engine, size_t max_problems = 20) const {
    std::vector<std::string> problems;
    auto problem = [&](std::string text) {
      if (problems.size() < max_problems) problems.push_back(std::move(text));
    };
    for (const auto& [id, facts] : jobs_) {
      const std::string& team = Teams()[facts.team];
      const std::string who = absl::StrCat("acknowledged job ", id.ToString());
      absl::StatusOr<Job> job = engine.Get(team, id);
      if (!job.ok()) {
        problem(absl::StrCat(who, " is lost: ", job.status().ToString()));
        continue;
      }
      if (facts.end && job->state != *facts.end) {
        problem(absl::StrCat(who, " was ", Name(*facts.end), " and is now ", Name(job->state)));
      }
      if (facts.end && facts.end_attempts >= 0 && job->attempts != facts.end_attempts) {
        problem(absl::StrCat(who, " ended after ", facts.end_attempts, " attempts and now has ",
                             job->attempts));
      }
      if (job->attempts < facts.attempts) {
        problem(
            absl::StrCat(who, " had ", facts.attempts, " attempts and now has ", job->attempts));
      }
      if (facts.left_pending && job->state == JobState::kPending) {
        problem(absl::StrCat(who, " was past pending and is pending again"));
      }
      // Within an attempt progress never decreases, and an abort requested
      // stays requested until the attempt ends the job (contract §1, §7).
      const bool same_attempt =
          job->state == JobState::kRendering && job->attempts == facts.rendering_attempt;
      if (same_attempt && job->progress < facts.progress) {
        problem(absl::StrCat(who, " was at ", facts.progress, "% in attempt ",
                             facts.rendering_attempt, " and is now at ", job->progress, "%"));
      }
      if (facts.abort_requested && !IsTerminal(job->state) &&
          !(job->state == JobState::kRendering && job->cancel_requested)) {
        problem(absl::StrCat(who, " had an abort requested and is now ", Name(job->state),
                             job->cancel_requested ? "" : " without it"));
      }
    }
    for (const auto& [id, batch] : batches_) {
      const auto& [team, top_level] = batch;
      absl::StatusOr<BatchCounts> counts = engine.GetBatchCounts(Teams()[team], id);
      if (!counts.ok()) {
        problem(absl::StrCat("acknowledged batch ", id.ToString(),
                             " is lost: ", counts.status().ToString()));
        continue;
      }
      int sum = 0;
      for (int n : counts->by_state) sum += n;
      if (counts->total != top_level || sum != top_level) {
        problem(absl::StrCat("acknowledged batch ", id.ToString(), " of ", top_level,
                             " jobs counts ", counts->total, " (by state: ", sum, ")"));
      }
    }
    return problems;
  }

  size_t jobs() const { return jobs_.size(); }
  size_t batches() const { return batches_.size(); }

 private:
  std::map<Ulid, JobFacts> jobs_;
  std::map<Ulid, std::pair<uint8_t, int>> batches_;  // id -> (team, top-level jobs)
};

// Options for the parent's engines: a ManualClock, so that nothing moves
// while a check reads the engine call by call (with the real clock, the
// engine's timer thread could end a lease between two reads of
// CheckInvariants and make it see half a cascade); and no syncs, which only
// matter to an OS crash (the drain at the end commits once per call).
Options ParentOptions(const std::string& dir, ManualClock* clock, FakeTransport* transport) {
  Options options;
  options.clock = clock;
  options.webhooks.transport = transport;
  options.durability.data_dir = dir;
  options.durability.sync = DurabilityOptions::Sync::kOff;
  return options;
}

// Opens the directory at the real time now, checks it against `acked`, and
// closes it. Returns the number of jobs it holds.
size_t Verify(const std::string& dir, const Acknowledged& acked, int cycle) {
  ManualClock clock(absl::Now());
  FakeTransport transport(&clock);
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(ParentOptions(dir, &clock, &transport));
  EXPECT_THAT(engine, IsOk()) << "cycle " << cycle << ": reopening after the kill";
  if (!engine.ok()) return 0;
  for (const std::string& problem : acked.Check(**engine)) {
    ADD_FAILURE() << "cycle " << cycle << ": " << problem;
  }
  EXPECT_EQ(CheckInvariants(**engine), "") << "cycle " << cycle;
  return (*engine)->JobCount();
}

TEST(EngineKillTest, EveryAcknowledgedAnswerSurvivesKillNine) {
  const uint64_t seed = EnvOr("CASCADE_ENGINE_KILL_SEED", 20260419);
  const int cycles = static_cast<int>(EnvOr("CASCADE_ENGINE_KILL_CYCLES", 24));
  std::printf("[          ] seed %" PRIu64
              ", %d cycles (CASCADE_ENGINE_KILL_SEED, CASCADE_ENGINE_KILL_CYCLES)\n",
              seed, cycles);
  std::mt19937_64 rng(seed);
  std::string dir_template =
      (fs::path(::testing::TempDir()) / "cascade-engine-kill-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const std::string dir = dir_template;

  Acknowledged acked;
  size_t total_acks = 0;
  int killed_before_any_ack = 0;
  const SteadyClock::time_point start = SteadyClock::now();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const DurabilityOptions::Sync sync =
        cycle % 4 == 3 ? DurabilityOptions::Sync::kFull : DurabilityOptions::Sync::kNormal;
    const bool from_fork = rng() % 4 == 0;
    const auto delay = std::chrono::milliseconds(from_fork ? rng() % 150 : rng() % 250);

    // No engine is open here: the parent has one thread when it forks.
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir, static_cast<uint32_t>(cycle), sync, seed, fds[1]);
    }
    close(fds[1]);
    AckReader reader(fds[0]);
    std::vector<Ack> acks;
    SteadyClock::time_point deadline =
        from_fork ? SteadyClock::now() + delay : SteadyClock::time_point::max();
    const SteadyClock::time_point give_up = SteadyClock::now() + std::chrono::seconds(60);
    bool open = true;
    bool checked_lock = false;
    const SteadyClock::time_point forked = SteadyClock::now();
    double first_ack_ms = -1;
    while (open && SteadyClock::now() < deadline) {
      open = reader.ReadSome(5, &acks);
      if (!acks.empty() && !checked_lock) {
        checked_lock = true;
        first_ack_ms =
            std::chrono::duration<double, std::milli>(SteadyClock::now() - forked).count();
        if (deadline == SteadyClock::time_point::max()) deadline = SteadyClock::now() + delay;
        // The child holds the directory: another engine cannot open it (and,
        // refused before it starts, leaves no thread behind).
        ManualClock clock(absl::Now());
        FakeTransport transport(&clock);
        EXPECT_THAT(Engine::Create(ParentOptions(dir, &clock, &transport)),
                    StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr(absl::StrCat("is in use: another Cascade store holds ", dir,
                                                    "/LOCK (it names process ", pid, ")"))));
      }
      if (SteadyClock::now() > give_up) {
        ADD_FAILURE() << "cycle " << cycle << ": no acknowledgement in 60 s";
        break;
      }
    }
    ASSERT_TRUE(open) << "cycle " << cycle << ": the child exited by itself (see its stderr)";
    const std::string reaped = ::cascade::testing::KillAndReap(pid, fds[0], reader, &acks);
    ASSERT_EQ(reaped, "") << "cycle " << cycle;

    for (const Ack& ack : acks) {
      ASSERT_TRUE((ack.kind == Ack::kJob || ack.kind == Ack::kBatch) && ack.team < Teams().size() &&
                  ack.state < kNumJobStates)
          << "cycle " << cycle << ": a torn record";
      ASSERT_EQ(ack.cycle, static_cast<uint32_t>(cycle));
      const std::string contradiction = acked.Add(ack);
      EXPECT_EQ(contradiction, "") << "cycle " << cycle << ": two answers disagree";
    }
    total_acks += acks.size();
    if (acks.empty()) ++killed_before_any_ack;
    const size_t jobs = Verify(dir, acked, cycle);
    std::printf(
        "[          ] cycle %d (%s, kill %lld ms after %s): %zu acknowledged, the first %.0f ms "
        "after the fork; %zu jobs in the directory\n",
        cycle, sync == DurabilityOptions::Sync::kFull ? "FULL" : "NORMAL",
        static_cast<long long>(delay.count()), from_fork ? "the fork" : "the first acknowledgement",
        acks.size(), first_ack_ms, jobs);
    std::fflush(stdout);
    if (::testing::Test::HasFailure()) break;
  }

  if (!::testing::Test::HasFailure()) {
    // An hour later every lease has run out: what is left can all be run.
    ManualClock clock(absl::Now() + absl::Hours(1));
    FakeTransport transport(&clock);
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Create(ParentOptions(dir, &clock, &transport));
    ASSERT_THAT(engine, IsOk());
    EXPECT_EQ(DrainAndCheck(**engine, clock), "");
    // Terminal is final: the drain changed no acknowledged end.
    for (const std::string& problem : acked.Check(**engine)) {
      ADD_FAILURE() << "after the drain: " << problem;
    }
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf(
      "[          ] %zu acknowledgements (%zu jobs, %zu batches) over %d cycles (%d killed "
      "before their first acknowledgement) in %.1f s\n",
      total_acks, acked.jobs(), acked.batches(), cycles, killed_before_any_ack, seconds);
  EXPECT_GT(total_acks, 0u);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace cascade
