// Copyright 2026 The Cascade Authors.
//
// Contract §14 through the engine's public API, on a manual clock: attempts
// and the retry backoff, a worker's final fail, time limits, Retry and its
// revive fixpoint (table-driven over nested families, dependsOn chains and
// shared prerequisites, the refused case included), holds and priority
// changes.

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/testing/fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::FakeTransport;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

class RetryTest : public ::cascade::testing::EngineTest {
 protected:
  Options MakeOptions() override {
    Options options = EngineTest::MakeOptions();
    options.max_attempts = 3;
    options.retry_backoff = absl::Seconds(1);
    options.pickup_order = SortOrder::kPriority;
    options.webhooks.transport = &transport_;
    return options;
  }

  JobId Leaf(const std::string& tag, JobSpec spec = {}) {
    absl::StatusOr<JobId> id = SubmitTagged(tag, std::move(spec));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(JobId());
  }
  Job GetJob(JobId id) {
    absl::StatusOr<Job> job = Get(id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.value_or(Job());
  }
  absl::Status Fail(const ClaimedJob& claimed, bool retry, std::string error = "render crashed") {
    return engine()
        .Fail(claimed.job.id, claimed.lease.token, {.error = error, .retry = retry})
        .status();
  }
  absl::StatusOr<ClaimedJob> Claim() { return engine().Claim({}); }
  std::vector<JobId> Ids(const std::vector<Job>& jobs) {
    std::vector<JobId> ids;
    for (const Job& j : jobs) ids.push_back(j.id);
    return ids;
  }

  FakeTransport transport_{&clock()};
};

// ---- Attempts and the backoff -------------------------------------------------

TEST_F(RetryTest, AJobFailedTwiceThenFinishedEndsFinishedAfterThreeAttemptsWithOneWebhook) {
  JobSpec spec;
  spec.webhook = WebhookSpec{.url = "http://hooks.example/done"};
  const JobId id = Leaf("a", spec);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
    ASSERT_THAT(Fail(claimed, /*retry=*/true, "exit 3"), IsOk());
    const Job waiting = GetJob(id);
    EXPECT_EQ(waiting.state, JobState::kQueued);
    EXPECT_EQ(waiting.attempts, attempt);
    EXPECT_EQ(waiting.stats.error, "exit 3") << "the last attempt's error while it waits";
    EXPECT_EQ(waiting.stats.error_at, std::nullopt);
    // 1 s, then 2 s: the backoff doubles with each failed attempt.
    const absl::Duration backoff = absl::Seconds(attempt == 1 ? 1 : 2);
    ASSERT_TRUE(waiting.retry_at.has_value());
    EXPECT_EQ(*waiting.retry_at, Now() + backoff);
    EXPECT_THAT(Claim(), StatusIs(absl::StatusCode::kNotFound)) << "not claimable before retryAt";
    clock().Advance(backoff - absl::Milliseconds(1));
    engine().RunDueWork();
    EXPECT_THAT(Claim(), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_EQ(AdvanceAndRunDue(absl::Milliseconds(1)), 1u) << "the wait ends at retryAt";
    EXPECT_EQ(GetJob(id).retry_at, std::nullopt);
  }
  EXPECT_TRUE(transport_.calls().empty()) << "no webhook before the job ends";
  ASSERT_THAT(RenderAndFinish("a"), IsOk());
  const Job done = GetJob(id);
  EXPECT_EQ(done.state, JobState::kFinished);
  EXPECT_EQ(done.attempts, 3);
  EXPECT_EQ(done.max_attempts, 3);
  EXPECT_EQ(done.stats.error, std::nullopt);
  engine().RunDueWork();
  AdvanceAndRunDue(absl::Seconds(60));
  EXPECT_EQ(transport_.calls().size(), 1u) << "one webhook, at the end";
}

TEST_F(RetryTest, TheLastAttemptsFailEndsTheJobInError) {
  const JobId id = Leaf("a", JobSpec{.max_attempts = 2, .retry_backoff = absl::ZeroDuration()});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimTagged("a"));
  ASSERT_THAT(Fail(first, true), IsOk());
  EXPECT_EQ(GetJob(id).state, JobState::kQueued);
  EXPECT_EQ(GetJob(id).retry_at, std::nullopt) << "no backoff: claimable at once";
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimTagged("a"));
  ASSERT_THAT(Fail(second, true, "again"), IsOk());
  const Job job = GetJob(id);
  EXPECT_EQ(job.state, JobState::kError);
  EXPECT_EQ(job.attempts, 2);
  EXPECT_EQ(job.stats.error, "again");
  EXPECT_EQ(job.stats.error_at, Now());
}

TEST_F(RetryTest, AFailWithoutRetryEndsTheJobInErrorAtOnce) {
  const JobId id = Leaf("a");
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
  ASSERT_THAT(Fail(claimed, /*retry=*/false, "bad input"), IsOk());
  const Job job = GetJob(id);
  EXPECT_EQ(job.state, JobState::kError);
  EXPECT_EQ(job.attempts, 1) << "two attempts were left";
  EXPECT_EQ(job.stats.error, "bad input");
}

TEST_F(RetryTest, SpecBoundsAreRefusedFieldByField) {
  JobSpec bad{
      .max_attempts = 21, .retry_backoff = absl::Seconds(-1), .timeout = absl::ZeroDuration()};
  absl::StatusOr<CreatedJob> created = Submit(bad);
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GetFieldViolations(created.status()),
              ::testing::UnorderedElementsAre(
                  ::testing::Field(&FieldViolation::field, "maxAttempts"),
                  ::testing::Field(&FieldViolation::field, "retryBackoffSeconds"),
                  ::testing::Field(&FieldViolation::field, "timeoutSeconds")));
  EXPECT_EQ(engine().JobCount(), 0u);
}

// ---- Time limits ---------------------------------------------------------------

TEST_F(RetryTest, AnAttemptPastItsTimeLimitEndsAndItsWorkerIsToldToStop) {
  const JobId id =
      Leaf("a", JobSpec{.retry_backoff = absl::ZeroDuration(), .timeout = absl::Seconds(10)});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob hung, ClaimTagged("a"));
  clock().Advance(absl::Seconds(9));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(hung, 50));
  EXPECT_FALSE(beat.cancel_requested);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u) << "heartbeats do not extend the limit";
  Job job = GetJob(id);
  EXPECT_EQ(job.state, JobState::kQueued) << "a failed attempt, retried";
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.stats.error, "timed out after 10 s");
  // The hung worker's next heartbeat tells it to stop, and changes nothing.
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult told, Heartbeat(hung, 60));
  EXPECT_TRUE(told.cancel_requested);
  EXPECT_EQ(told.job.state, JobState::kQueued);
  EXPECT_EQ(GetJob(id).progress, 0.0);
  // Its late finish is refused like any stale lease; another worker goes on.
  EXPECT_THAT(engine().Finish(id, hung.lease.token, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimTagged("a"));
  EXPECT_NE(second.lease.token, hung.lease.token);
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult fresh, Heartbeat(second));
  EXPECT_FALSE(fresh.cancel_requested);
  ASSERT_THAT(engine().Finish(id, second.lease.token, {}), IsOk());
  EXPECT_EQ(GetJob(id).attempts, 2);
}

TEST_F(RetryTest, TheEnginesRenderTimeoutIsTheDefaultAndTheLastTimeOutIsAnError) {
  const JobId id = Leaf("a", JobSpec{.max_attempts = 1, .timeout = absl::Seconds(5)});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(5)), 1u);
  const Job job = GetJob(id);
  EXPECT_EQ(job.state, JobState::kError);
  EXPECT_EQ(job.stats.error, "timed out after 5 s");
}

// ---- Retry: the revive fixpoint ------------------------------------------------

// A family to fail and retry, by name.
struct Family {
  std::map<std::string, JobId> ids;
  JobId operator[](const std::string& name) const { return ids.at(name); }
};

TEST_F(RetryTest, RetryingTheFailedChildBringsTheWholeNestedFamilyBackInOneCall) {
  JobSpec parent;
  parent.tags = {"parent"};
  for (const char* child : {"c1", "c2", "c3"}) parent.children.push_back(JobSpec{.tags = {child}});
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, Submit(parent));
  const JobId p = created.id, c1 = created.children[0].id, c2 = created.children[1].id,
              c3 = created.children[2].id;
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("c1"));
  ASSERT_THAT(Fail(claimed, /*retry=*/false), IsOk());
  // The parent failed with it; the waiting siblings ended as useless.
  ASSERT_EQ(StateOf(p), JobState::kError);
  ASSERT_EQ(StateOf(c2), JobState::kError);
  ASSERT_EQ(StateOf(c3), JobState::kError);

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> revived, engine().Retry(kTeam, {c1}));
  EXPECT_THAT(Ids(revived), ElementsAre(p, c1, c2, c3)) << "each once, in id order";
  EXPECT_EQ(StateOf(p), JobState::kPending);
  for (JobId c : {c1, c2, c3}) {
    const Job child = GetJob(c);
    EXPECT_EQ(child.state, JobState::kQueued);
    EXPECT_EQ(child.attempts, 0);
    EXPECT_EQ(child.stats.error, std::nullopt);
    EXPECT_EQ(child.stats.error_at, std::nullopt);
    EXPECT_EQ(child.stats.started_at, std::nullopt);
  }
  // And it renders to the end.
  for (const char* c : {"c1", "c2", "c3"}) ASSERT_THAT(RenderAndFinish(c), IsOk());
  ASSERT_THAT(RenderAndFinish("parent"), IsOk());
  EXPECT_EQ(StateOf(p), JobState::kFinished);
}

TEST_F(RetryTest, RetryingACancelledParentBringsBackTheChildrenItsCascadeCancelled) {
  JobSpec parent;
  parent.children = {JobSpec{.tags = {"c1"}}, JobSpec{.tags = {"c2"}}};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, Submit(parent));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled, engine().Cancel(kTeam, created.id));
  ASSERT_EQ(cancelled.size(), 3u);
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> revived, engine().Retry(kTeam, {created.id}));
  EXPECT_EQ(revived.size(), 3u);
  EXPECT_EQ(StateOf(created.id), JobState::kPending);
  EXPECT_EQ(StateOf(created.children[0].id), JobState::kQueued);
}

// dependsOn chains and shared prerequisites: (the jobs, what to fail, what to
// retry) -> the jobs revived, or the prerequisite named in the refusal.
struct FixpointCase {
  std::string name;
  // Each job and the jobs it depends on, in creation order.
  std::vector<std::pair<std::string, std::vector<std::string>>> jobs;
  std::string fail;                // rendered and failed for good
  std::vector<std::string> retry;  // named in the Retry call
  std::vector<std::string> revived;
  std::string blocked_by;  // when the Retry is refused: the prerequisite named
};

class FixpointTest : public RetryTest, public ::testing::WithParamInterface<FixpointCase> {};

TEST_P(FixpointTest, RevivesTheLeastFixpointOrRefusesNamingTheBlocker) {
  const FixpointCase& c = GetParam();
  Family f;
  for (const auto& [name, deps] : c.jobs) {
    JobSpec spec;
    for (const std::string& d : deps) spec.depends_on.push_back(f[d]);
    f.ids[name] = Leaf(name, spec);
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(c.fail));
  ASSERT_THAT(Fail(claimed, /*retry=*/false), IsOk());
  std::map<std::string, JobState> before;
  for (const auto& [name, id] : f.ids) before[name] = *StateOf(id);

  std::vector<JobId> named;
  for (const std::string& n : c.retry) named.push_back(f[n]);
  absl::StatusOr<std::vector<Job>> revived = engine().Retry(kTeam, named);
  if (!c.blocked_by.empty()) {
    EXPECT_THAT(revived, StatusIs(absl::StatusCode::kFailedPrecondition,
                                  HasSubstr(f[c.blocked_by].ToString())));
    for (const auto& [name, id] : f.ids) EXPECT_EQ(StateOf(id), before[name]) << name;
    return;
  }
  ASSERT_THAT(revived, IsOk());
  std::vector<JobId> want;
  for (const std::string& n : c.revived) want.push_back(f[n]);
  EXPECT_THAT(Ids(*revived), UnorderedElementsAreArray(want));
  for (const auto& [name, id] : f.ids) {
    const bool back = std::count(c.revived.begin(), c.revived.end(), name) > 0;
    if (!back) EXPECT_EQ(StateOf(id), before[name]) << name << " was not to change";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, FixpointTest,
                         ::testing::Values(
                             // a <- b <- c: a's failure ended b, b's ended c.
                             FixpointCase{"ChainFromTheRoot",
                                          {{"a", {}}, {"b", {"a"}}, {"c", {"b"}}},
                                          "a",
                                          {"a"},
                                          {"a", "b", "c"}},
                             FixpointCase{"ChainFromTheMiddleNeedsTheRoot",
                                          {{"a", {}}, {"b", {"a"}}, {"c", {"b"}}},
                                          "a",
                                          {"b"},
                                          {},
                                          "a"},
                             FixpointCase{"ChainNamingRootAndMiddle",
                                          {{"a", {}}, {"b", {"a"}}, {"c", {"b"}}},
                                          "a",
                                          {"a", "b"},
                                          {"a", "b", "c"}},
                             // s is shared by d1 and d2; x stands apart.
                             FixpointCase{"SharedPrerequisite",
                                          {{"s", {}}, {"d1", {"s"}}, {"d2", {"s"}}, {"x", {}}},
                                          "s",
                                          {"s"},
                                          {"s", "d1", "d2"}},
                             FixpointCase{"ADependentAloneNeedsItsFailedPrerequisite",
                                          {{"s", {}}, {"d1", {"s"}}, {"d2", {"s"}}},
                                          "s",
                                          {"d2"},
                                          {},
                                          "s"},
                             // d needs a and p; a's failure ended d, and d's ended p (no live
                             // dependent left): retrying a brings back all three.
                             FixpointCase{"AUselessPrerequisiteComesBackWithItsDependent",
                                          {{"a", {}}, {"p", {}}, {"d", {"a", "p"}}},
                                          "a",
                                          {"a"},
                                          {"a", "d", "p"}}),
                         [](const ::testing::TestParamInfo<FixpointCase>& info) {
                           return info.param.name;
                         });

TEST_F(RetryTest, RetryRefusesWhatItCannotRevive) {
  const JobId done = Leaf("done");
  ASSERT_THAT(RenderAndFinish("done"), IsOk());
  const JobId queued = Leaf("q");
  EXPECT_THAT(engine().Retry(kTeam, {done}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("finished")))
      << "finished is final";
  EXPECT_THAT(engine().Retry(kTeam, {queued}), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(engine().Retry(kTeam, {JobId()}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine().Retry(kTeam, {queued, queued}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(engine().Retry(kTeam, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(engine().Retry("team-b", {queued}), StatusIs(absl::StatusCode::kNotFound))
      << "another team's job does not exist";
}

TEST_F(RetryTest, ARevivedJobFiresItsWebhookAgainWhenItEndsAgain) {
  JobSpec spec;
  spec.webhook = WebhookSpec{.url = "http://hooks.example/done"};
  const JobId id = Leaf("a", spec);
  ASSERT_THAT(RenderAndFail("a"), IsOk());
  AdvanceAndRunDue(absl::Seconds(1));
  ASSERT_EQ(transport_.calls().size(), 1u);
  ASSERT_THAT(engine().Retry(kTeam, {id}), IsOk());
  ASSERT_THAT(RenderAndFinish("a"), IsOk());
  AdvanceAndRunDue(absl::Seconds(1));
  ASSERT_EQ(transport_.calls().size(), 2u);
  EXPECT_NE(transport_.calls()[0].request.headers, transport_.calls()[1].request.headers)
      << "a new delivery id";
}

// ---- Holds -----------------------------------------------------------------------

TEST_F(RetryTest, AHeldJobIsNeverClaimedUntilResumed) {
  const JobId id = Leaf("a");
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> held, engine().Suspend(kTeam, {id}));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].suspended);
  EXPECT_EQ(held[0].state, JobState::kQueued) << "it keeps its state";
  EXPECT_THAT(Claim(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine().Suspend(kTeam, {id}), IsOk()) << "holding a held job changes nothing";
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> resumed, engine().Resume(kTeam, {id}));
  EXPECT_FALSE(resumed[0].suspended);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, Claim());
  EXPECT_EQ(claimed.job.id, id);
  EXPECT_THAT(engine().Suspend(kTeam, {id}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("render:dorender")));
}

TEST_F(RetryTest, AHeldPendingJobThatBecomesReadyWaitsAsQueued) {
  const JobId a = Leaf("a");
  const JobId d = Leaf("d", JobSpec{.depends_on = {a}});
  ASSERT_THAT(engine().Suspend(kTeam, {d}), IsOk());
  ASSERT_THAT(RenderAndFinish("a"), IsOk());
  Job job = GetJob(d);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_TRUE(job.suspended);
  EXPECT_THAT(Claim(), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(engine().Resume(kTeam, {d}), IsOk());
  EXPECT_THAT(ClaimTagged("d"), IsOk());
}

TEST_F(RetryTest, SuspendingAWaitingJobEndsItsWaitAndCancelStillWorks) {
  const JobId id = Leaf("a");
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
  ASSERT_THAT(Fail(claimed, true), IsOk());
  ASSERT_TRUE(GetJob(id).retry_at.has_value());
  ASSERT_THAT(engine().Suspend(kTeam, {id}), IsOk());
  EXPECT_EQ(GetJob(id).retry_at, std::nullopt);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(5)), 0u) << "no wait left to end";
  EXPECT_THAT(Claim(), StatusIs(absl::StatusCode::kNotFound));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled, engine().Cancel(kTeam, id));
  EXPECT_EQ(cancelled[0].state, JobState::kCancelled);
  EXPECT_FALSE(cancelled[0].suspended);
}

TEST_F(RetryTest, ABatchIsHeldWholeChildrenIncludedAndRenderingJobsAreLeft) {
  JobSpec parent;
  parent.tags = {"parent"};
  parent.children = {JobSpec{.tags = {"child"}}};
  std::vector<JobSpec> specs = {parent, JobSpec{.tags = {"solo"}}};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, engine().SubmitBatch(kTeam, specs));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob rendering, ClaimTagged("solo"));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> held, engine().SuspendBatch(kTeam, batch.batch_id));
  EXPECT_EQ(held.size(), 2u) << "the parent and its child, not the rendering job";
  EXPECT_THAT(ClaimTagged("child"), StatusIs(absl::StatusCode::kNotFound));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> again,
                               engine().SuspendBatch(kTeam, batch.batch_id));
  EXPECT_TRUE(again.empty()) << "nothing changed the second time";
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> resumed,
                               engine().ResumeBatch(kTeam, batch.batch_id));
  EXPECT_EQ(resumed.size(), 2u);
  EXPECT_THAT(ClaimTagged("child"), IsOk());
  EXPECT_THAT(engine().SuspendBatch(kTeam, BatchId()), StatusIs(absl::StatusCode::kNotFound));
}

// ---- Priority ---------------------------------------------------------------------

TEST_F(RetryTest, ANewPriorityChangesThePickupOrderAtOnce) {
  const JobId first = Leaf("first");
  const JobId second = Leaf("second");
  CASCADE_ASSERT_OK_AND_ASSIGN(Job raised, engine().SetPriority(kTeam, second, 10));
  EXPECT_EQ(raised.priority, 10);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, Claim());
  EXPECT_EQ(claimed.job.id, second) << "highest priority first";
  EXPECT_THAT(engine().SetPriority(kTeam, second, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition))
      << "only while it waits to be claimed";
  ASSERT_THAT(engine().SetPriority(kTeam, first, -5), IsOk());
  EXPECT_EQ(GetJob(first).priority, -5);
}

// ---- Durability ---------------------------------------------------------------------

// What a reopen must keep of a job's §14 state.
std::string Describe(const Job& j) {
  return absl::StrCat(
      std::string(StateName(j.state)), " attempts ", j.attempts, "/", j.max_attempts, " retryAt ",
      j.retry_at ? absl::FormatTime(*j.retry_at) : "none", " suspended ", j.suspended, " error ",
      j.stats.error.value_or("none").str(), " updated ", absl::FormatTime(j.stats.updated_at));
}

TEST(RetryDurabilityTest, WaitsHoldsAndTimeLimitsSurviveAReopen) {
  std::string dir = (std::filesystem::temp_directory_path() / "cascade-retry-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
  Options options;
  options.clock = &clock;
  options.id_seed = 7;
  options.retry_backoff = absl::Seconds(30);
  options.durability.data_dir = dir;
  JobId waiting, held, timed;
  std::map<JobId, Job> before;
  {
    CASCADE_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Create(options));
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob w, engine->Submit("t", JobSpec{.tags = {"w"}}));
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob h, engine->Submit("t", JobSpec{.tags = {"h"}}));
    CASCADE_ASSERT_OK_AND_ASSIGN(
        CreatedJob r,
        engine->Submit("t",
                       JobSpec{.tags = {"r"}, .max_attempts = 5, .timeout = absl::Seconds(20)}));
    waiting = w.id, held = h.id, timed = r.id;
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob cw, engine->Claim({.tags = {"w"}}));
    ASSERT_THAT(engine->Fail(cw.job.id, cw.lease.token, "once"), IsOk());
    ASSERT_THAT(engine->Suspend("t", {held}), IsOk());
    ASSERT_THAT(engine->Claim({.tags = {"r"}}), IsOk());
    for (JobId id : {waiting, held, timed}) before[id] = *engine->Get("t", id);
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Create(options));
  for (JobId id : {waiting, held, timed}) {
    CASCADE_ASSERT_OK_AND_ASSIGN(Job after, engine->Get("t", id));
    EXPECT_EQ(Describe(after), Describe(before[id]));
  }
  EXPECT_EQ(engine->Get("t", timed)->max_attempts, 5);
  EXPECT_TRUE(engine->Get("t", held)->suspended);
  EXPECT_EQ(engine->Get("t", waiting)->retry_at, before[waiting].retry_at);
  // The restored time limit and backoff still fire.
  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(engine->RunDueWork(), 1u) << "the time limit";
  EXPECT_EQ(engine->Get("t", timed)->stats.error, "timed out after 20 s");
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(engine->RunDueWork(), 1u) << "the first retry's 30 s wait";
  EXPECT_EQ(engine->Get("t", waiting)->retry_at, std::nullopt);
  engine.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cascade
