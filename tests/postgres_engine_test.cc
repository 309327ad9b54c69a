// Copyright 2026 The Cascade Authors.
//
// The engine on PostgreSQL (contract §17, keeping §10's promises), end to
// end against a real PostgreSQL (tests/pg_harness.h): an engine created with
// a postgresql:// URL journals every change in the database; destroyed and
// created again on the same URL, it answers exactly as before; a worker
// lease (or an abort's grace) that ran out while no engine ran is handled at
// creation as §7 says; one engine leads at a time (a second Create is a
// standby's Unavailable), Engine::Leader() says which, and an engine whose
// lease another took over changes nothing more. The same on SQLite is
// durability_test.cc; the store on its own is store_test.cc and
// postgres_store_test.cc.

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/durability/history.h"
#include "tests/pg_harness.h"
#include "tests/testutil.h"
#include "wire/job_json.h"

namespace cascade {
namespace {

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
using ::cascade::durability::Teams;
using ::cascade::testing::FakeTransport;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::cascade::testing::TestDatabase;
using ::testing::AllOf;
using ::testing::HasSubstr;

class PostgresEngineTest : public ::testing::Test {
 protected:
  // An engine on the test's database. The lease is short so that a test
  // that lets one lapse waits little; Close hands it over at once anyway.
  Options MakeOptions(const std::string& node = "node-1") {
    Options options;
    options.clock = &clock_;
    options.id_seed = 42;
    options.webhooks.transport = &transport_;
    options.durability.data_dir = db_.url();
    options.durability.leader_lease = absl::Seconds(3);
    options.durability.leader_renew = absl::Milliseconds(500);
    options.durability.node_name = node;
    return options;
  }
  std::unique_ptr<Engine> Create(const std::string& node = "node-1") {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(MakeOptions(node));
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  ManualClock clock_;
  FakeTransport transport_{&clock_};
  TestDatabase db_;
};

// What Get and GetBatchCounts answer for `jobs` and `batches` of `team`, as
// text (Dump covers List, GetBatch, logs, workers and the outbox).
std::string Reads(const Engine& engine, const std::string& team, const std::vector<JobId>& jobs,
                  const std::vector<BatchId>& batches) {
  std::string out;
  for (JobId id : jobs) {
    absl::StatusOr<Job> job = engine.Get(team, id);
    absl::StrAppend(&out, job.ok() ? wire::JobToJsonText(*job) : job.status().ToString(), "\n");
  }
  for (const BatchId& id : batches) {
    absl::StatusOr<BatchCounts> counts = engine.GetBatchCounts(team, id);
    if (!counts.ok()) {
      absl::StrAppend(&out, counts.status().ToString(), "\n");
      continue;
    }
    absl::StrAppend(&out, "batch ", id.ToString(), " total=", counts->total, " by state");
    for (int n : counts->by_state) absl::StrAppend(&out, " ", n);
    out += "\n";
  }
  return out;
}

TEST_F(PostgresEngineTest, TheNextCreateOnTheUrlRestoresExactlyWhatTheDestroyedEngineAnswered) {
  const std::string team_a = Teams()[0];
  const std::string team_b = Teams()[1];
  const std::string team_c = Teams()[2];  // not UTF-8
  std::vector<JobId> jobs_a, jobs_b, jobs_c;
  std::vector<BatchId> batches_b;
  std::string dump, reads_a, reads_b, reads_c;
  JobId rendering;
  std::string token;
  transport_.Script({500});  // the webhook's first attempt fails: a retry waits in the outbox
  {
    std::unique_ptr<Engine> engine = Create();
    ASSERT_NE(engine, nullptr);
    // A nested family and a job that depends on it.
    absl::StatusOr<CreatedJob> family = engine->Submit(team_a, testing::FamilySpec(2));
    ASSERT_THAT(family, IsOk());
    JobSpec dependent = testing::LeafSpec("dependent");
    dependent.depends_on = {family->id};
    absl::StatusOr<CreatedJob> after = engine->Submit(team_a, dependent);
    ASSERT_THAT(after, IsOk());
    absl::StatusOr<std::vector<Job>> members = engine->GetFamily(team_a, family->id);
    ASSERT_THAT(members, IsOk());
    jobs_a = testing::IdsOf(*members);
    // A batch of three, one of them cancelled.
    absl::StatusOr<BatchSubmitResult> batch = engine->SubmitBatch(
        team_b, std::vector<JobSpec>{testing::LeafSpec("b0"), testing::LeafSpec("b1"),
                                     testing::LeafSpec("b2")});
    ASSERT_THAT(batch, IsOk());
    batches_b.push_back(batch->batch_id);
    absl::StatusOr<BatchView> view = engine->GetBatch(team_b, batch->batch_id);
    ASSERT_THAT(view, IsOk());
    for (const BatchJobView& entry : view->jobs) jobs_b.push_back(entry.job.id);
    ASSERT_EQ(jobs_b.size(), 3u);
    ASSERT_THAT(engine->Cancel(team_b, jobs_b[1]), IsOk());
    // Team c's jobs carry a tag, so that the claims below take them: one
    // rendering with a log, one finished with a webhook still to deliver,
    // one failed and waiting out its retry.
    auto tagged = [](std::string name) {
      JobSpec spec = testing::LeafSpec(std::move(name));
      spec.tags = {"gpu"};
      return spec;
    };
    JobSpec hooked = tagged("hooked");
    hooked.webhook = WebhookSpec{.url = "https://hooks.example.com/done"};
    JobSpec retried = tagged("retried");
    retried.retry_backoff = absl::Minutes(10);
    for (const JobSpec& spec : {tagged("rendering"), hooked, retried}) {
      absl::StatusOr<CreatedJob> created = engine->Submit(team_c, spec);
      ASSERT_THAT(created, IsOk());
      jobs_c.push_back(created->id);
    }
    ClaimRequest request{.worker = "node-a", .tags = {"gpu"}, .lease = absl::Minutes(10)};
    absl::StatusOr<ClaimedJob> first = engine->Claim(request);
    ASSERT_THAT(first, IsOk());
    rendering = first->job.id;
    token = first->lease.token;
    ASSERT_THAT(engine->Heartbeat(rendering, token, {.progress = 40}), IsOk());
    ASSERT_THAT(engine->AppendLog(rendering, token, {"frame 1", "frame 2"}), IsOk());
    absl::StatusOr<ClaimedJob> second = engine->Claim(request);
    ASSERT_THAT(second, IsOk());
    ASSERT_THAT(engine->Finish(second->job.id, second->lease.token, {}), IsOk());
    engine->RunDueWork();  // the webhook's first attempt: 500
    ASSERT_EQ(engine->GetOutboxCounts().pending, 1);
    absl::StatusOr<ClaimedJob> third = engine->Claim(request);
    ASSERT_THAT(third, IsOk());
    ASSERT_THAT(engine->Fail(third->job.id, third->lease.token, "out of memory"), IsOk());
    EXPECT_EQ(CheckInvariants(*engine), "");

    dump = Dump(*engine);
    reads_a = Reads(*engine, team_a, jobs_a, {});
    reads_b = Reads(*engine, team_b, jobs_b, batches_b);
    reads_c = Reads(*engine, team_c, jobs_c, {});
    EXPECT_EQ(engine->Leader()->epoch, 1u);
  }
  std::unique_ptr<Engine> engine = Create();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->Leader()->epoch, 2u) << "the destroyed engine's lease was handed over";
  EXPECT_EQ(Dump(*engine), dump);
  EXPECT_EQ(Reads(*engine, team_a, jobs_a, {}), reads_a);
  EXPECT_EQ(Reads(*engine, team_b, jobs_b, batches_b), reads_b);
  EXPECT_EQ(Reads(*engine, team_c, jobs_c, {}), reads_c);
  EXPECT_EQ(engine->JobCount(), jobs_a.size() + jobs_b.size() + jobs_c.size());

  // And it goes on from there: the lease's token still holds the job, the
  // webhook's retry is sent with its delivery id, and everything drains.
  ASSERT_THAT(engine->Finish(rendering, token, {}), IsOk());
  clock_.Advance(absl::Seconds(1));
  engine->RunDueWork();
  ASSERT_EQ(transport_.calls().size(), 2u);
  EXPECT_EQ(transport_.calls()[1].request.headers, transport_.calls()[0].request.headers);
  EXPECT_EQ(DrainAndCheck(*engine, clock_), "");
}

TEST_F(PostgresEngineTest, ALeaseThatRanOutWhileNoEngineRanIsHandledAtCreate) {
  JobId expired, aborted, kept;
  std::string expired_token;
  {
    std::unique_ptr<Engine> engine = Create();
    ASSERT_NE(engine, nullptr);
    std::vector<JobId> ids;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<CreatedJob> created = engine->Submit("team-a", testing::LeafSpec());
      ASSERT_THAT(created, IsOk());
      ids.push_back(created->id);
    }
    // A 10 s lease that will run out; one whose abort's grace (30 s) will;
    // one of an hour that will not.
    absl::StatusOr<ClaimedJob> short_lease = engine->Claim({.lease = absl::Seconds(10)});
    ASSERT_THAT(short_lease, IsOk());
    expired = short_lease->job.id;
    expired_token = short_lease->lease.token;
    absl::StatusOr<ClaimedJob> to_abort = engine->Claim({.lease = absl::Hours(1)});
    ASSERT_THAT(to_abort, IsOk());
    aborted = to_abort->job.id;
    ASSERT_THAT(engine->RequestAbort("team-a", aborted), IsOk());
    absl::StatusOr<ClaimedJob> long_lease = engine->Claim({.lease = absl::Hours(1)});
    ASSERT_THAT(long_lease, IsOk());
    kept = long_lease->job.id;
  }
  clock_.Advance(absl::Minutes(5));
  std::string dump;
  {
    std::unique_ptr<Engine> engine = Create();
    ASSERT_NE(engine, nullptr);
    absl::StatusOr<Job> job = engine->Get("team-a", expired);
    ASSERT_THAT(job, IsOk());
    EXPECT_EQ(job->state, JobState::kQueued) << "back in the queue, as any expiry";
    EXPECT_EQ(job->attempts, 1);
    EXPECT_EQ(job->stats.updated_at, clock_.Now());
    EXPECT_THAT(engine->Finish(expired, expired_token, {}),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    absl::StatusOr<Job> cancelled = engine->Get("team-a", aborted);
    ASSERT_THAT(cancelled, IsOk());
    EXPECT_EQ(cancelled->state, JobState::kCancelled);
    absl::StatusOr<Job> rendering = engine->Get("team-a", kept);
    ASSERT_THAT(rendering, IsOk());
    EXPECT_EQ(rendering->state, JobState::kRendering);
    dump = Dump(*engine);
  }
  // What the expiry changed was journaled: the next engine finds it so.
  std::unique_ptr<Engine> engine = Create();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(Dump(*engine), dump);
}

TEST_F(PostgresEngineTest, ASecondEngineIsAStandbyWhileTheFirstLeadsAndTakesOverWhenItIsGone) {
  std::unique_ptr<Engine> first = Create("node-1");
  ASSERT_NE(first, nullptr);
  absl::StatusOr<CreatedJob> job = first->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(job, IsOk());
  EXPECT_THAT(Engine::Create(MakeOptions("node-2")),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("held by \"node-1\" (epoch 1)"), HasSubstr("standby"))));
  // The refusal changed nothing: the first goes on leading.
  EXPECT_TRUE(first->Leader()->leader);
  ASSERT_THAT(first->Submit("team-a", testing::LeafSpec()), IsOk());
  EXPECT_EQ(db_.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "node-1 1");

  first.reset();
  std::unique_ptr<Engine> second = Create("node-2");  // at once: the first gave the lease up
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->JobCount(), 2u);
  EXPECT_THAT(second->Get("team-a", job->id), IsOk());
  EXPECT_EQ(db_.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "node-2 2");
}

TEST_F(PostgresEngineTest, LeaderReportsTheLeaseThisEngineHolds) {
  std::unique_ptr<Engine> engine = Create("render-farm-a");
  ASSERT_NE(engine, nullptr);
  std::optional<LeaderStatus> leader = engine->Leader();
  ASSERT_TRUE(leader.has_value());
  EXPECT_TRUE(leader->leader);
  EXPECT_EQ(leader->epoch, 1u);
  EXPECT_EQ(leader->holder, "render-farm-a");
  EXPECT_LT(leader->lease_age, absl::Seconds(3));
  // Renewals keep it young while the engine runs.
  absl::SleepFor(absl::Seconds(2));
  leader = engine->Leader();
  EXPECT_TRUE(leader->leader);
  EXPECT_LT(leader->lease_age, absl::Seconds(1)) << "renewed every 500 ms";
  EXPECT_EQ(db_.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "render-farm-a 1");

  // An engine without a lease has nothing to report.
  Options in_memory;
  in_memory.clock = &clock_;
  absl::StatusOr<std::unique_ptr<Engine>> plain = Engine::Create(in_memory);
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE((*plain)->Leader().has_value());
}

TEST_F(PostgresEngineTest, AnEngineWhoseLeaseWasTakenOverChangesNothingMore) {
  std::unique_ptr<Engine> old = Create("old");
  ASSERT_NE(old, nullptr);
  absl::StatusOr<CreatedJob> acknowledged = old->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(acknowledged, IsOk());
  // The old leader's lease lapses on PostgreSQL's clock (as when it is
  // paused or cut off longer than the lease), and another takes over.
  db_.Query("UPDATE cascade.leader SET expires_at = clock_timestamp() - interval '1 ms'");
  std::unique_ptr<Engine> next = Create("next");
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->Leader()->epoch, 2u);

  EXPECT_THAT(old->Submit("team-a", testing::LeafSpec()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("leader lease")));
  EXPECT_THAT(old->Claim({}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(old->Leader()->leader);
  // The new leader has what the old one acknowledged, and nothing else.
  EXPECT_EQ(next->JobCount(), 1u);
  absl::StatusOr<Job> job = next->Get("team-a", acknowledged->id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_THAT(next->Claim({}), IsOk());
}

// A random history (tests/durability/history.h, with contract §14's and
// §15's operations) on an engine on PostgreSQL, destroyed and created again
// every 45 operations, beside an in-memory twin that never stops: every
// answer agrees, and every restart restores exactly the state before it
// (a worker's last sighting within the allowance docs/durability.md gives).
class PostgresRestartTwinTest : public PostgresEngineTest,
                                public ::testing::WithParamInterface<uint64_t> {};

TEST_P(PostgresRestartTwinTest, AnEngineRestartedOnTheUrlAnswersAsOneNeverStopped) {
  FakeTransport twin_transport{&clock_};
  History history(GetParam(), {.contract14 = true, .contract15 = true});
  std::vector<absl::StatusOr<int>> answers;
  for (int i = 0; i < 400; ++i) {
    const int r = history.Uniform(0, 4);
    answers.push_back(r == 0   ? absl::StatusOr<int>(500)
                      : r == 1 ? absl::StatusOr<int>(absl::DeadlineExceededError("timed out"))
                               : absl::StatusOr<int>(200));
  }
  transport_.Script(answers);
  twin_transport.Script(answers);
  auto options = [&](bool durable) {
    Options o = MakeOptions();
    if (!durable) {
      o.durability.data_dir.clear();
      o.webhooks.transport = &twin_transport;
    }
    // Acknowledged when PostgreSQL has it, not yet on its disk: this test
    // restarts engines, not PostgreSQL.
    o.durability.sync = DurabilityOptions::Sync::kOff;
    o.retry_backoff = absl::Seconds(3);
    return o;
  };
  absl::StatusOr<std::unique_ptr<Engine>> twin = Engine::Create(options(false));
  ASSERT_THAT(twin, IsOk());
  auto create = [&]() -> std::unique_ptr<Engine> {
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options(true));
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? std::move(engine).value() : nullptr;
  };
  std::unique_ptr<Engine> engine = create();
  ASSERT_NE(engine, nullptr);
  Names names, twin_names;
  int restarts = 0;
  for (int step = 1; step <= 360; ++step) {
    const Operation op = history.Next(names);
    if (op.kind == Operation::kAdvance) clock_.Advance(op.advance);
    const Outcome got = Apply(*engine, clock_, op, names, /*advance_clock=*/false);
    const Outcome want = Apply(**twin, clock_, op, twin_names, /*advance_clock=*/false);
    ASSERT_EQ(got.code, want.code) << "step " << step << " kind " << op.kind;
    ASSERT_EQ(Canonical(got.text), Canonical(want.text)) << "step " << step;
    if (step % 45 != 0) continue;
    const std::string before = Dump(*engine);
    std::vector<std::vector<WorkerInfo>> workers_before;
    for (const std::string& team : Teams()) workers_before.push_back(engine->ListWorkers(team));
    engine.reset();
    engine = create();
    ASSERT_NE(engine, nullptr);
    ++restarts;
    EXPECT_EQ(engine->Leader()->epoch, static_cast<uint64_t>(restarts + 1));
    // A timed-out lease is forgotten by a restart (docs/semantics.md), on
    // both sides, as durability_test.cc's twin does.
    ForgetLeasesOfJobsNotRendering(*engine, names);
    ForgetLeasesOfJobsNotRendering(**twin, twin_names);
    ASSERT_EQ(Dump(*engine), before) << "step " << step;
    ASSERT_EQ(Canonical(Dump(*engine)), Canonical(Dump(**twin))) << "step " << step;
    ASSERT_EQ(CheckInvariants(*engine), "") << "step " << step;
    for (size_t t = 0; t < Teams().size(); ++t) {
      ASSERT_EQ(
          CheckWorkersAgainst(workers_before[t], engine->ListWorkers(Teams()[t]), clock_.Now()), "")
          << "restart at step " << step;
    }
  }
  EXPECT_EQ(restarts, 8);
  // The leases run out, then the backoffs; both drain to the same state.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(engine->RunDueWork(), (*twin)->RunDueWork());
  clock_.Advance(absl::Hours(1));
  ASSERT_EQ(DrainAndCheck(*engine, clock_, /*advance=*/false), "");
  ASSERT_EQ(DrainAndCheck(**twin, clock_, /*advance=*/false), "");
  EXPECT_EQ(Canonical(Dump(*engine)), Canonical(Dump(**twin)));
  std::cout << "[          ] " << engine->JobCount() << " jobs, epoch " << engine->Leader()->epoch
            << " after " << restarts << " restarts\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, PostgresRestartTwinTest, ::testing::Values(11, 12));

}  // namespace
}  // namespace cascade
