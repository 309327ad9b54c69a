// Copyright 2026 The Cascade Authors.
//
// The engine with a data directory (contract §10): what reopening restores, what
// a failed store does to the engine, and what a damaged journal does at open.
// The store on its own is store_test.cc; kill -9 is engine_kill_test.cc.

#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "engine/engine_impl.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/durability/history.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using ::cascade::durability::Apply;
using ::cascade::durability::Canonical;
using ::cascade::durability::CheckInvariants;
using ::cascade::durability::CheckWorkersAgainst;
using ::cascade::durability::DrainAndCheck;
using ::cascade::durability::Dump;
using ::cascade::durability::ForgetLeasesOfJobsNotRendering;
using ::cascade::durability::History;
using ::cascade::durability::Names;
using ::cascade::durability::Operation;
using ::cascade::durability::Outcome;
using ::cascade::durability::SightingAllowance;
using ::cascade::testing::FakeTransport;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cascade-durability-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DurabilityTest : public ::testing::Test {
 protected:
  Options MakeOptions(const std::string& dir) {
    Options options;
    options.clock = &clock_;
    options.id_seed = 42;
    options.webhooks.transport = &transport_;
    options.durability.data_dir = dir;
    options.durability.sync = DurabilityOptions::Sync::kOff;  // kills, not power cuts, here
    return options;
  }
  std::unique_ptr<Engine> Open(const std::string& dir) {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(MakeOptions(dir));
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  ManualClock clock_;
  FakeTransport transport_{&clock_};
  TempDir dir_;
};

TEST_F(DurabilityTest, AnEngineWithoutADataDirectoryWritesNothing) {
  Options options = MakeOptions("");
  auto engine = Engine::Create(options);
  ASSERT_THAT(engine, IsOk());
  ASSERT_THAT((*engine)->Submit("team-a", testing::LeafSpec()), IsOk());
  EXPECT_TRUE(fs::is_empty(dir_.path()));
}

TEST_F(DurabilityTest, RetentionMustBePositive) {
  Options options = MakeOptions(dir_.path());
  options.durability.retention = absl::ZeroDuration();
  EXPECT_THAT(Engine::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("durability.retention")));
}

TEST_F(DurabilityTest, ASecondEngineOnTheSameDirectoryIsRefused) {
  auto first = Open(dir_.path());
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
}

// Progress reports journal nothing, yet a subscriber must not hear of one
// before the claim it follows, which waits to be durable (contract §8).
TEST_F(DurabilityTest, ProgressReportsArePublishedInOrderWithDurableTransitions) {
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  std::mutex mu;
  std::vector<TransitionEvent> events;
  Subscription subscription = engine->Subscribe(
      [&](const TransitionEvent& e) {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(e);
      },
      {.progress = true});
  for (int round = 0; round < 20; ++round) {
    auto job = engine->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(job, IsOk());
    auto claimed = engine->Claim({});
    ASSERT_THAT(claimed, IsOk());
    for (double progress : {25.0, 75.0}) {
      ASSERT_THAT(engine->Heartbeat(claimed->job.id, claimed->lease.token, {.progress = progress}),
                  IsOk());
    }
    ASSERT_THAT(engine->Finish(claimed->job.id, claimed->lease.token, {}), IsOk());
  }
  ASSERT_TRUE(subscription.Flush(absl::Minutes(2)));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(events.size(), 20u * 5);
  for (size_t i = 0; i < events.size(); i += 5) {
    EXPECT_EQ(events[i].cause, TransitionCause::kSubmitted) << i;
    EXPECT_EQ(events[i + 1].cause, TransitionCause::kClaimed) << i;
    EXPECT_EQ(events[i + 2].cause, TransitionCause::kProgress) << i;
    EXPECT_EQ(events[i + 2].progress, 25.0) << i;
    EXPECT_EQ(events[i + 3].cause, TransitionCause::kProgress) << i;
    EXPECT_EQ(events[i + 3].progress, 75.0) << i;
    EXPECT_EQ(events[i + 4].cause, TransitionCause::kFinished) << i;
    EXPECT_EQ(events[i + 2].sequence, events[i + 1].sequence) << i;
  }
}

// Many callers at once, each waiting for its own group and publishing the
// events of every group durable by then: every event is published once, in
// one order, each job's in the order it happened.
TEST_F(DurabilityTest, EventsOfManyDurableCallersArePublishedOnceEachInOrder) {
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  std::mutex mu;
  std::vector<TransitionEvent> events;
  Subscription subscription = engine->Subscribe([&](const TransitionEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  });
  constexpr int kThreads = 8, kRounds = 25;
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        ASSERT_THAT(engine->Submit("team-a", testing::LeafSpec()), IsOk());
        auto claimed = engine->Claim({});
        ASSERT_THAT(claimed, IsOk());
        ASSERT_THAT(engine->Finish(claimed->job.id, claimed->lease.token, {}), IsOk());
      }
    });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_TRUE(subscription.Flush(absl::Minutes(2)));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(events.size(), size_t{kThreads} * kRounds * 3);
  std::map<JobId, std::vector<TransitionCause>> by_job;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) EXPECT_GT(events[i].sequence, events[i - 1].sequence) << i;
    by_job[events[i].job_id].push_back(events[i].cause);
  }
  ASSERT_EQ(by_job.size(), size_t{kThreads} * kRounds);
  for (const auto& [id, causes] : by_job) {
    EXPECT_THAT(causes, ElementsAre(TransitionCause::kSubmitted, TransitionCause::kClaimed,
                                    TransitionCause::kFinished))
        << id.ToString();
  }
}

TEST_F(DurabilityTest, ReopeningRestoresJobsBatchesLeasesAndDependencies) {
  std::string before;
  JobId dependent;
  std::string token;
  JobId claimed_id;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    auto family = engine->Submit("team-a", testing::FamilySpec(2));
    ASSERT_THAT(family, IsOk());
    JobSpec spec = testing::LeafSpec();
    spec.depends_on = {family->id};
    auto dep = engine->Submit("team-a", spec);
    ASSERT_THAT(dep, IsOk());
    dependent = dep->id;
    std::vector<JobSpec> batch(3, testing::LeafSpec());
    ASSERT_THAT(engine->SubmitBatch("team-b", batch), IsOk());
    auto claimed = engine->Claim({});
    ASSERT_THAT(claimed, IsOk());
    claimed_id = claimed->job.id;
    token = claimed->lease.token;
    before = Dump(*engine);
  }
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(Dump(*engine), before);
  EXPECT_EQ(engine->JobCount(), 7u);
  // The lease survived: its token still finishes the job.
  EXPECT_THAT(engine->Finish(claimed_id, token, {}), IsOk());
  // And the graph did: finishing the whole family queues the dependent.
  EXPECT_EQ(durability::DrainAndCheck(*engine, clock_), "");
  auto job = engine->Get("team-a", dependent);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kFinished);
}

TEST_F(DurabilityTest, CountersRebuiltAtOpenDriveTheCascadeRules) {
  JobId shared, second, waiting;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    auto a = engine->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(a, IsOk());
    shared = a->id;
    JobSpec spec = testing::LeafSpec();
    spec.depends_on = {shared};
    auto d1 = engine->Submit("team-a", spec);
    auto d2 = engine->Submit("team-a", spec);
    ASSERT_THAT(d1, IsOk());
    ASSERT_THAT(d2, IsOk());
    second = d2->id;
    // `shared` keeps a live dependent, so it is not cancelled with d1.
    ASSERT_THAT(engine->Cancel("team-a", d1->id), IsOk());
    // A job waiting for `shared` and another job.
    auto b = engine->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(b, IsOk());
    JobSpec both = testing::LeafSpec();
    both.depends_on = {shared, b->id};
    auto w = engine->Submit("team-a", both);
    ASSERT_THAT(w, IsOk());
    waiting = w->id;
  }
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  // Rule U, with the live-dependent counts rebuilt at open (d1 was cancelled
  // before the reopen and must not count).
  ASSERT_THAT(engine->Cancel("team-a", second), IsOk());
  auto job = engine->Get("team-a", shared);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kQueued);  // `waiting` still needs it
  ASSERT_THAT(engine->Cancel("team-a", waiting), IsOk());
  job = engine->Get("team-a", shared);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kCancelled);
  ASSERT_TRUE(job->stats.error.has_value());
  EXPECT_THAT(job->stats.error->str(), HasSubstr(waiting.ToString()));
}

TEST_F(DurabilityTest, ALeaseThatRanOutWhileClosedEndsAtOpen) {
  JobId id;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    auto created = engine->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(created, IsOk());
    id = created->id;
    ClaimRequest request;
    request.lease = absl::Seconds(10);
    ASSERT_THAT(engine->Claim(request), IsOk());
  }
  clock_.Advance(absl::Minutes(5));
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  auto job = engine->Get("team-a", id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kQueued);  // back in the queue, as any expiry
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->stats.updated_at, clock_.Now());
}

TEST_F(DurabilityTest, AnAbortWhoseGraceRanOutWhileClosedCancelsAtOpen) {
  JobId id;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    auto created = engine->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(created, IsOk());
    id = created->id;
    ASSERT_THAT(engine->Claim({}), IsOk());
    ASSERT_THAT(engine->RequestAbort("team-a", id), IsOk());
  }
  clock_.Advance(absl::Minutes(1));  // past the 30 s grace, inside the lease
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  auto job = engine->Get("team-a", id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kCancelled);
}

// Contract §14's rows: a job waiting out its backoff (retryAt), held jobs
// (queued and pending), a spec's own max attempts, backoff and time limit, a
// lease with a time limit, and jobs a Retry revived. Reopening restores
// them exactly, and they go on as they would have.
TEST_F(DurabilityTest, ReopeningRestoresRetriesHoldsAndTimeLimits) {
  std::string before;
  JobId waiting, held, held_family, timed, failed, dependent;
  std::string timed_token;
  absl::Time retry_at;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    JobSpec spec = testing::LeafSpec();
    spec.max_attempts = 4;
    spec.retry_backoff = absl::Seconds(10);
    spec.priority = 9;  // claimed first
    auto a = engine->Submit("team-a", spec);
    ASSERT_THAT(a, IsOk());
    waiting = a->id;
    auto claimed = engine->Claim({});
    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->job.id, waiting);
    auto back = engine->Fail(waiting, claimed->lease.token, {.error = "crash", .retry = true});
    ASSERT_THAT(back, IsOk());
    ASSERT_TRUE(back->retry_at.has_value());
    retry_at = *back->retry_at;

    auto b = engine->Submit("team-a", testing::LeafSpec());
    auto f = engine->Submit("team-a", testing::FamilySpec(2));
    ASSERT_THAT(b, IsOk());
    ASSERT_THAT(f, IsOk());
    held = b->id;
    held_family = f->id;
    ASSERT_THAT(engine->Suspend("team-a", std::vector<JobId>{held, held_family}), IsOk());
    ASSERT_THAT(engine->SuspendBatch("team-a", BatchId()).status(),
                StatusIs(absl::StatusCode::kNotFound));

    // The family's children are queued before c: claim them out of the way.
    for (const CreatedJob& child : f->children) {
      auto c = engine->Claim({});
      ASSERT_THAT(c, IsOk());
      ASSERT_EQ(c->job.id, child.id);
    }
    JobSpec limited = testing::LeafSpec();
    limited.timeout = absl::Seconds(20);
    auto c = engine->Submit("team-a", limited);
    ASSERT_THAT(c, IsOk());
    timed = c->id;
    ClaimRequest request;
    request.lease = absl::Minutes(5);
    auto claimed_c = engine->Claim(request);
    ASSERT_THAT(claimed_c, IsOk());
    ASSERT_EQ(claimed_c->job.id, timed);
    timed_token = claimed_c->lease.token;

    auto d = engine->Submit("team-b", testing::LeafSpec());
    ASSERT_THAT(d, IsOk());
    failed = d->id;
    JobSpec needs_d = testing::LeafSpec();
    needs_d.depends_on = {failed};
    auto e = engine->Submit("team-b", needs_d);
    ASSERT_THAT(e, IsOk());
    dependent = e->id;
    auto claimed_d = engine->Claim({});
    ASSERT_THAT(claimed_d, IsOk());
    ASSERT_EQ(claimed_d->job.id, failed);
    ASSERT_THAT(engine->Fail(failed, claimed_d->lease.token, {.error = "bad", .retry = false}),
                IsOk());
    auto revived = engine->Retry("team-b", std::vector<JobId>{failed});
    ASSERT_THAT(revived, IsOk());
    ASSERT_EQ(revived->size(), 2u);  // and its dependent, which failed with it
    before = Dump(*engine);
  }
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(Dump(*engine), before);
  auto job = engine->Get("team-a", waiting);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->retry_at, retry_at);
  EXPECT_EQ(job->max_attempts, 4);
  EXPECT_EQ(job->stats.error, "crash");
  job = engine->Get("team-a", held_family);
  ASSERT_THAT(job, IsOk());
  EXPECT_TRUE(job->suspended);
  EXPECT_EQ(job->state, JobState::kPending);

  // The time limit came back with the lease: 20 s from the claim, whatever
  // the lease says; the backoff too.
  clock_.Advance(absl::Seconds(19));
  engine->RunDueWork();
  job = engine->Get("team-a", timed);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kRendering);
  clock_.Advance(absl::Seconds(1));
  engine->RunDueWork();
  job = engine->Get("team-a", timed);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->stats.error, "timed out after 20 s");
  job = engine->Get("team-a", waiting);
  ASSERT_THAT(job, IsOk());
  EXPECT_FALSE(job->retry_at.has_value());
  // The held jobs stay held: the claims take the others (the revived pair's
  // first job, the waiting one, the timed-out one), never them.
  std::vector<JobId> claimed;
  for (int i = 0; i < 10; ++i) {
    auto c = engine->Claim({});
    if (!c.ok()) break;
    claimed.push_back(c->job.id);
  }
  EXPECT_THAT(claimed, ::testing::UnorderedElementsAre(waiting, timed, failed));
  ASSERT_THAT(engine->Resume("team-a", std::vector<JobId>{held}), IsOk());
  auto c = engine->Claim({});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->job.id, held);
  job = engine->Get("team-b", dependent);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kPending);  // waits for the revived `failed`
}

// Contract §15's state across a reopen: a render log cut by its 1 MiB bound
// whose journal rows were compacted comes back byte for byte; each lease
// names its worker again (the worker lists the job, and the lease still
// writes to the log); a worker's tags and lease length come back, and its
// last sighting as the journal has it: here, where the clock is ours, at
// exactly the value journaled (the claim at t0, then the heartbeat a quarter
// lease later; the five heartbeats after it were not journaled). Then
// retention purges the finished jobs with their logs, rows and all (a log
// row naming no job would be DataLoss at the next open).
TEST_F(DurabilityTest, ReopeningRestoresLogsAndWorkersAndAPurgeTakesTheLogRows) {
  const absl::Time t0 = clock_.Now();
  JobId a, b;
  std::string token_a, token_b, log_a;
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    auto created_b = engine->Submit("team-b", testing::LeafSpec());
    JobSpec gpu = testing::LeafSpec();
    gpu.tags = {"gpu"};
    auto created_a = engine->Submit("team-a", gpu);
    ASSERT_THAT(created_b, IsOk());
    ASSERT_THAT(created_a, IsOk());
    a = created_a->id;
    b = created_b->id;
    auto claim_b = engine->Claim({.worker = "node-1", .lease = absl::Seconds(30)});
    ASSERT_THAT(claim_b, IsOk());
    ASSERT_EQ(claim_b->job.id, b);
    token_b = claim_b->lease.token;
    auto claim_a = engine->Claim({.worker = "node-1",
                                  .tags = {"gpu"},
                                  .any_tags = {"gpu", "cpu"},
                                  .lease = absl::Seconds(60)});
    ASSERT_THAT(claim_a, IsOk());
    ASSERT_EQ(claim_a->job.id, a);
    token_a = claim_a->lease.token;
    EXPECT_THAT(engine->Claim({.worker = "node-2", .tags = {"none"}, .lease = absl::Seconds(40)}),
                StatusIs(absl::StatusCode::kNotFound));
    // Rows of 6 + 2 x 900,001 bytes, then a line longer than the bound and a
    // short one: over twice the bound, so one row holding the log as it is
    // (the short line: the long one has no line start in the last 1 MiB)
    // replaces them all. A row left behind would come back at the reopen.
    ASSERT_THAT(engine->AppendLog(a, token_a, std::vector<std::string>{"start"}), IsOk());
    for (char c : {'x', 'y'}) {
      std::string big(900'000, c);
      for (size_t i = 999; i < big.size(); i += 1000) big[i] = '\n';
      ASSERT_THAT(engine->AppendLog(a, token_a, std::vector<std::string>{big}), IsOk());
    }
    ASSERT_THAT(engine->AppendLog(a, token_a,
                                  std::vector<std::string>{std::string(kMaxJobLogBytes + 10, 'z'),
                                                           "after the long line"}),
                IsOk());
    ASSERT_THAT(engine->AppendLog(a, token_a, std::vector<std::string>{"tail 1", "tail 2"}),
                IsOk());
    for (int s = 1; s <= 20; ++s) {
      clock_.Advance(absl::Seconds(1));
      ASSERT_THAT(engine->Heartbeat(a, token_a, {}), IsOk());
    }
    absl::StatusOr<std::string> log = engine->GetLog("team-a", a);
    ASSERT_THAT(log, IsOk());
    log_a = *log;
    ASSERT_EQ(log_a, "after the long line\ntail 1\ntail 2\n");
    std::vector<WorkerInfo> workers = engine->ListWorkers("team-a");
    ASSERT_EQ(workers.size(), 2u);
    EXPECT_EQ(workers[0].last_seen, t0 + absl::Seconds(20));
  }
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    absl::StatusOr<std::string> log = engine->GetLog("team-a", a);
    ASSERT_THAT(log, IsOk());
    EXPECT_TRUE(*log == log_a) << "a log of " << log->size()
                               << " bytes: " << absl::CEscape(log->substr(0, 100));
    EXPECT_THAT(engine->GetLog("team-b", b), StatusIs(absl::StatusCode::kNotFound));
    std::vector<WorkerInfo> workers = engine->ListWorkers("team-a");
    ASSERT_EQ(workers.size(), 2u);
    EXPECT_EQ(workers[0].name, "node-1");
    EXPECT_EQ(workers[0].tags, (std::vector<std::string>{"gpu", "gpu", "cpu"}));
    EXPECT_EQ(workers[0].lease, absl::Seconds(60));
    EXPECT_EQ(workers[0].last_seen, t0 + absl::Seconds(15));  // within the allowance:
    EXPECT_LT(t0 + absl::Seconds(20) - workers[0].last_seen, SightingAllowance(absl::Seconds(60)));
    EXPECT_EQ(workers[0].status, WorkerStatus::kBusy);
    EXPECT_EQ(workers[0].jobs, std::vector<JobId>{a});
    EXPECT_EQ(workers[1].name, "node-2");
    EXPECT_EQ(workers[1].tags, std::vector<std::string>{"none"});
    EXPECT_EQ(workers[1].last_seen, t0);
    EXPECT_EQ(workers[1].status, WorkerStatus::kIdle);
    EXPECT_EQ(engine->ListWorkers("team-b")[0].jobs, std::vector<JobId>{b});
    // The lease still writes, and sees its worker.
    ASSERT_THAT(engine->AppendLog(a, token_a, std::vector<std::string>{"after the reopen"}),
                IsOk());
    EXPECT_EQ(engine->ListWorkers("team-a")[0].last_seen, clock_.Now());
    ASSERT_THAT(engine->Finish(a, token_a, {}), IsOk());
    ASSERT_THAT(engine->Finish(b, token_b, {}), IsOk());
    EXPECT_TRUE(engine->ListWorkers("team-a")[0].jobs.empty());
  }
  Options options = MakeOptions(dir_.path());
  options.durability.retention = absl::Minutes(1);
  {
    auto engine = Engine::Create(options);
    ASSERT_THAT(engine, IsOk());
    clock_.Advance(absl::Minutes(2));
    (*engine)->RunDueWork();
    EXPECT_EQ((*engine)->JobCount(), 0u);
    EXPECT_THAT((*engine)->GetLog("team-a", a), StatusIs(absl::StatusCode::kNotFound));
  }
  auto engine = Engine::Create(options);  // no log row is left naming a purged job
  ASSERT_THAT(engine, IsOk());
  EXPECT_EQ((*engine)->JobCount(), 0u);
  EXPECT_EQ((*engine)->ListWorkers("team-a").size(), 2u);  // workers outlive their jobs
}

TEST_F(DurabilityTest, AWebhookRetryPendingAtCloseIsSentAfterReopenWithTheSameBytes) {
  transport_.Script({500});
  {
    auto engine = Open(dir_.path());
    ASSERT_NE(engine, nullptr);
    JobSpec spec = testing::LeafSpec();
    spec.webhook = WebhookSpec{.url = "https://hooks.example.com/x"};
    ASSERT_THAT(engine->Submit("team-a", spec), IsOk());
    auto claimed = engine->Claim({});
    ASSERT_THAT(claimed, IsOk());
    ASSERT_THAT(engine->Finish(claimed->job.id, claimed->lease.token, {}), IsOk());
    engine->RunDueWork();  // attempt 1: 500
    EXPECT_EQ(engine->GetOutboxCounts().pending, 1);
  }
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->GetOutboxCounts().pending, 1);
  engine->RunDueWork();
  ASSERT_EQ(transport_.calls().size(), 1u);  // not due yet: 1 s after the failure
  clock_.Advance(absl::Seconds(1));
  engine->RunDueWork();
  const auto calls = transport_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].request.body, calls[0].request.body);
  EXPECT_EQ(calls[1].request.headers, calls[0].request.headers);  // same delivery id
  EXPECT_EQ(engine->GetOutboxCounts().pending, 0);
}

// Random histories on two engines, one reopened every few dozen operations
// and one never closed: every answer agrees, every reopen restores exactly
// the state before it, and at the end both drain to the same state.
// With and without retention (which both engines apply, at the same times).
// The histories include contract §14 (retries, holds, priorities, specs'
// attempts, backoffs and time limits), and the seeds take turns at the
// engine's defaults for them; and contract §15 (named workers, any-of
// claims, render logs up to and past 1 MiB, the worker list).
//
// What "exactly" allows (docs/durability.md): a worker's last sighting is
// journaled only once it moved by a quarter of its lease (1-60 s), so after
// a reopen it may be behind the truth by less than that, never ahead, and
// its status is judged from it. We compare to that allowance
// (CheckWorkersAgainst), not to the exact journaled value: the allowance is
// what the engine promises, and the rows it writes to keep it are its own
// business. Everything else about workers (names, tags, lease lengths, the
// jobs each holds), and every log, byte for byte (as a size and a hash),
// must be equal. After every step the reopened engine's list is compared so
// with the twin's, for every team.
class ReopenTwinTest : public DurabilityTest,
                       public ::testing::WithParamInterface<std::tuple<uint64_t, bool>> {
 protected:
  Options MakeTwinOptions(const std::string& dir) {
    Options options = MakeOptions(dir);
    if (std::get<1>(GetParam())) options.durability.retention = absl::Minutes(20);
    const uint64_t seed = std::get<0>(GetParam());
    options.max_attempts = 2 + static_cast<int>(seed % 3);
    if (seed % 2 == 0) options.retry_backoff = absl::Seconds(3);
    if (seed % 3 == 1) options.render_timeout = absl::Seconds(45);
    return options;
  }
};

TEST_P(ReopenTwinTest, AReopenedEngineAnswersAsOneNeverClosed) {
  FakeTransport twin_transport{&clock_};
  std::vector<absl::StatusOr<int>> answers;
  History history(std::get<0>(GetParam()), {.contract14 = true, .contract15 = true});
  for (int i = 0; i < 400; ++i) {
    const int r = history.Uniform(0, 4);
    answers.push_back(r == 0   ? absl::StatusOr<int>(500)
                      : r == 1 ? absl::StatusOr<int>(absl::DeadlineExceededError("timed out"))
                               : absl::StatusOr<int>(200));
  }
  transport_.Script(answers);
  twin_transport.Script(answers);
  Options twin_options = MakeTwinOptions("");
  twin_options.webhooks.transport = &twin_transport;
  auto twin = Engine::Create(twin_options);
  ASSERT_THAT(twin, IsOk());
  auto open = [&] {
    auto engine = Engine::Create(MakeTwinOptions(dir_.path()));
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? std::move(engine).value() : nullptr;
  };
  std::unique_ptr<Engine> engine = open();
  ASSERT_NE(engine, nullptr);
  Names names, twin_names;
  // What the §15 steps reached, printed at the end.
  int logs_appended = 0, logs_cut = 0, workers_behind = 0, workers_lost = 0;
  size_t longest_log = 0;
  std::map<size_t, size_t> log_sizes;  // job index -> its log's size after the last append
  constexpr int kOperations = 360;
  for (int step = 1; step <= kOperations; ++step) {
    const Operation op = history.Next(names);
    if (op.kind == Operation::kAdvance) clock_.Advance(op.advance);
    const Outcome got = Apply(*engine, clock_, op, names, /*advance_clock=*/false);
    const Outcome want = Apply(**twin, clock_, op, twin_names, /*advance_clock=*/false);
    ASSERT_EQ(got.code, want.code) << "step " << step << " kind " << op.kind;
    ASSERT_EQ(Canonical(got.text), Canonical(want.text)) << "step " << step;
    if (op.kind == Operation::kLog && got.code == absl::StatusCode::kOk) {
      ++logs_appended;
      // "N bytes, hash H", or NOT_FOUND after an append of no lines.
      const size_t size = std::strtoull(got.text.c_str(), nullptr, 10);
      longest_log = std::max(longest_log, size);
      logs_cut += size < log_sizes[op.targets[0]];
      log_sizes[op.targets[0]] = size;
    }
    for (const std::string& team : durability::Teams()) {
      ASSERT_EQ(
          CheckWorkersAgainst((*twin)->ListWorkers(team), engine->ListWorkers(team), clock_.Now()),
          "")
          << "step " << step << " team " << team;
    }
    if (step % 45 == 0) {
      const std::string before = Dump(*engine);
      std::vector<std::vector<WorkerInfo>> workers_before;
      for (const std::string& team : durability::Teams()) {
        workers_before.push_back(engine->ListWorkers(team));
      }
      engine.reset();
      engine = open();
      ASSERT_NE(engine, nullptr);
      // A timed-out lease is forgotten by a reopen (docs/semantics.md): its
      // worker's heartbeat is refused rather than told to stop. Workers drop
      // the leases of jobs not rendering, on both sides.
      ForgetLeasesOfJobsNotRendering(*engine, names);
      ForgetLeasesOfJobsNotRendering(**twin, twin_names);
      ASSERT_EQ(Dump(*engine), before) << "step " << step;
      ASSERT_EQ(Canonical(Dump(*engine)), Canonical(Dump(**twin))) << "step " << step;
      ASSERT_EQ(CheckInvariants(*engine), "") << "step " << step;
      for (size_t t = 0; t < durability::Teams().size(); ++t) {
        const std::vector<WorkerInfo> after = engine->ListWorkers(durability::Teams()[t]);
        ASSERT_EQ(CheckWorkersAgainst(workers_before[t], after, clock_.Now()), "")
            << "reopen at step " << step;
        if (t > 0) continue;
        for (size_t w = 0; w < after.size(); ++w) {
          workers_behind += after[w].last_seen < workers_before[t][w].last_seen;
          workers_lost += after[w].status == WorkerStatus::kLost;
        }
      }
    }
  }
  // The leases run out (some into a retry backoff), then the backoffs do.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(engine->RunDueWork(), (*twin)->RunDueWork());
  clock_.Advance(absl::Hours(1));
  ASSERT_EQ(DrainAndCheck(*engine, clock_, /*advance=*/false), "");
  ASSERT_EQ(DrainAndCheck(**twin, clock_, /*advance=*/false), "");
  std::cout << "logs appended: " << logs_appended << ", cut by the bound: " << logs_cut
            << ", longest " << longest_log
            << " bytes; workers reopened behind their last sighting: " << workers_behind
            << ", lost: " << workers_lost << "\n";
  EXPECT_EQ(Canonical(Dump(*engine)), Canonical(Dump(**twin)));
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReopenTwinTest,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 5, 6, 7, 8),
                                            ::testing::Bool()));

// ---- A store that fails -----------------------------------------------------------

// Wraps a real store; fails every commit from the n-th group on, or holds
// WaitDurable until released.
class FaultyStore : public internal::Store {
 public:
  explicit FaultyStore(std::unique_ptr<internal::Store> inner) : inner_(std::move(inner)) {}

  void FailFrom(uint64_t ticket) { fail_from_ = ticket; }
  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }

  absl::StatusOr<uint64_t> Append(std::vector<internal::Change> changes) override {
    if (failed_) return absl::DataLossError("disk I/O error");
    return inner_->Append(std::move(changes));
  }
  absl::Status WaitDurable(uint64_t ticket) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !hold_; });
    }
    if (ticket >= fail_from_) {
      failed_ = true;
      return absl::DataLossError("disk I/O error");
    }
    return inner_->WaitDurable(ticket);
  }
  absl::Status Load(
      internal::Table table,
      absl::FunctionRef<absl::Status(std::string_view, std::string_view)> visit) override {
    return inner_->Load(table, visit);
  }
  absl::Status Close() override { return inner_->Close(); }
  internal::StoreStats GetStats() const override { return inner_->GetStats(); }

 private:
  std::unique_ptr<internal::Store> inner_;
  std::atomic<uint64_t> fail_from_{UINT64_MAX};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
};

TEST_F(DurabilityTest, AFailedCommitFailsItsCallAndTheEngineTakesNoMoreChanges) {
  auto inner = internal::OpenSqliteStore(dir_.path());
  ASSERT_THAT(inner, IsOk());
  auto store = std::make_unique<FaultyStore>(std::move(inner).value());
  FaultyStore* faulty = store.get();
  auto engine = internal::CreateEngine(MakeOptions(""), std::move(store));
  ASSERT_THAT(engine, IsOk());
  ASSERT_THAT((*engine)->Submit("team-a", testing::LeafSpec()), IsOk());
  faulty->FailFrom(2);
  EXPECT_THAT((*engine)->Submit("team-a", testing::LeafSpec()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("disk I/O error")));
  const size_t count = (*engine)->JobCount();
  EXPECT_THAT((*engine)->Submit("team-a", testing::LeafSpec()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("takes no more changes")));
  EXPECT_THAT((*engine)->Claim({}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ((*engine)->JobCount(), count);  // refused before changing anything
}

TEST_F(DurabilityTest, EventsArePublishedOnlyOnceTheirChangeIsDurable) {
  auto inner = internal::OpenSqliteStore(dir_.path());
  ASSERT_THAT(inner, IsOk());
  auto store = std::make_unique<FaultyStore>(std::move(inner).value());
  FaultyStore* faulty = store.get();
  auto engine = internal::CreateEngine(MakeOptions(""), std::move(store));
  ASSERT_THAT(engine, IsOk());
  std::atomic<int> seen{0};
  Subscription subscription = (*engine)->Subscribe([&](const TransitionEvent&) { ++seen; });
  faulty->Hold(true);
  std::thread submitter(
      [&] { ASSERT_THAT((*engine)->Submit("team-a", testing::LeafSpec()), IsOk()); });
  // The submit is waiting for its commit; its event must not be out yet.
  for (int i = 0; i < 50 && (*engine)->JobCount() == 0; ++i) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ((*engine)->JobCount(), 1u);
  ASSERT_TRUE(subscription.Flush(absl::Seconds(5)));
  EXPECT_EQ(seen.load(), 0);
  faulty->Hold(false);
  submitter.join();
  ASSERT_TRUE(subscription.Flush(absl::Seconds(5)));
  EXPECT_EQ(seen.load(), 1);
}

TEST_F(DurabilityTest, ACallThatChangesNothingStillAnswersOnlyFromDurableState) {
  auto inner = internal::OpenSqliteStore(dir_.path());
  ASSERT_THAT(inner, IsOk());
  auto store = std::make_unique<FaultyStore>(std::move(inner).value());
  FaultyStore* faulty = store.get();
  auto engine = internal::CreateEngine(MakeOptions(""), std::move(store));
  ASSERT_THAT(engine, IsOk());
  auto created = (*engine)->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(created, IsOk());
  ASSERT_THAT((*engine)->Claim({}), IsOk());
  faulty->Hold(true);
  std::thread first([&] { EXPECT_THAT((*engine)->RequestAbort("team-a", created->id), IsOk()); });
  // The first abort is applied in memory and waits for its commit.
  for (int i = 0; i < 500; ++i) {
    auto job = (*engine)->Get("team-a", created->id);
    if (job.ok() && job->cancel_requested) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  std::atomic<bool> second_returned{false};
  std::thread second([&] {
    // Changes nothing (already requested), but its answer reports the first.
    auto job = (*engine)->RequestAbort("team-a", created->id);
    EXPECT_THAT(job, IsOk());
    second_returned = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(second_returned.load()) << "answered before the change it reports was durable";
  faulty->Hold(false);
  first.join();
  second.join();
  EXPECT_TRUE(second_returned.load());
}

// ---- Damaged journals ---------------------------------------------------------------

class DamagedJournalTest : public DurabilityTest {
 protected:
  // A directory holding a job and its child, then the change `make` makes
  // (given the parent's id) written beside them.
  void WriteThenCorrupt(std::function<internal::Change(JobId)> make) {
    {
      auto engine = Open(dir_.path());
      ASSERT_NE(engine, nullptr);
      auto created = engine->Submit("team-a", testing::FamilySpec(1));
      ASSERT_THAT(created, IsOk());
      job_ = created->id;
    }
    auto store = internal::OpenSqliteStore(dir_.path());
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Commit({make(job_)}), IsOk());
    ASSERT_THAT((*store)->Close(), IsOk());
  }
  JobId job_;
};

TEST_F(DamagedJournalTest, ARowThatIsNotJsonIsDataLossNamingIt) {
  WriteThenCorrupt([](JobId) {
    return internal::Change::Put(internal::Table::kJobs, "01JZZZZZZZZZZZZZZZZZZZZZZZ",
                                 "{\"team\": ");
  });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("row jobs/01JZZZZZZZZZZZZZZZZZZZZZZZ: the value is not JSON")));
}

TEST_F(DamagedJournalTest, AnUnknownStateIsDataLoss) {
  WriteThenCorrupt([](JobId) {
    return internal::Change::Put(internal::Table::kJobs, "01JZZZZZZZZZZZZZZZZZZZZZZZ",
                                 R"({"team":"a","state":"exploded","created":1})");
  });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("exploded")));
}

TEST_F(DamagedJournalTest, AnEdgeToAMissingJobIsDataLoss) {
  WriteThenCorrupt([](JobId) {
    return internal::Change::Put(
        internal::Table::kEdges, "00000000000000ff",
        R"({"from":"01ARZ3NDEKTSV4RRFFQ69G5FAV","to":"01ARZ3NDEKTSV4RRFFQ69G5FAW"})");
  });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("names no job")));
}

TEST_F(DamagedJournalTest, ALeaseOfAJobThatIsNotRenderingIsDataLoss) {
  WriteThenCorrupt([](JobId job) {
    return internal::Change::Put(internal::Table::kLeases, job.ToString(),
                                 R"({"token":"0000000100000001","expires":1,"length":1})");
  });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("the job is not rendering")));
}

TEST_F(DamagedJournalTest, ACauseNamingNoJobIsDataLoss) {
  WriteThenCorrupt([](JobId) {
    return internal::Change::Put(
        internal::Table::kJobs, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        R"({"team":"a","state":"manually_cancelled","created":1,"cause":"cancel_cascade",
          "causeJob":"01ARZ3NDEKTSV4RRFFQ69G5FAV"})");
  });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is not there")));
}

TEST_F(DamagedJournalTest, NothingIsChangedByARefusedOpen) {
  WriteThenCorrupt(
      [](JobId) { return internal::Change::Put(internal::Table::kOutbox, "not-hex", "{}"); });
  EXPECT_THAT(Engine::Create(MakeOptions(dir_.path())),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("outbox/not-hex")));
  // Remove the bad row by hand and the data is all there.
  {
    auto store = internal::OpenSqliteStore(dir_.path());
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Commit({internal::Change::Delete(internal::Table::kOutbox, "not-hex")}),
                IsOk());
    ASSERT_THAT((*store)->Close(), IsOk());
  }
  auto engine = Open(dir_.path());
  ASSERT_NE(engine, nullptr);
  EXPECT_THAT(engine->Get("team-a", job_), IsOk());
  EXPECT_EQ(engine->JobCount(), 2u);
}

}  // namespace
}  // namespace cascade
