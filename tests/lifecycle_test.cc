// Copyright 2026 The Cascade Authors.
//
// contract §1 (the per-job state machine) and §3 (prerequisites), driven through
// the public API: each row of the transition table that the API can reach,
// the timestamps each sets, and the illegal (state, event) pairs, which are
// FailedPrecondition naming the job, its state and the event, and change
// nothing. docs/semantics.md fixes the propagation messages.

#include <cctype>
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {

// Prints states by wire name in failure messages.
void PrintTo(JobState state, std::ostream* os) {
  switch (state) {
    case JobState::kQueued:
      *os << "queued";
      return;
    case JobState::kPending:
      *os << "pending";
      return;
    case JobState::kRendering:
      *os << "render:dorender";
      return;
    case JobState::kFinished:
      *os << "finished";
      return;
    case JobState::kError:
      *os << "error";
      return;
    case JobState::kCancelled:
      *os << "manually_cancelled";
      return;
  }
  *os << "<state " << static_cast<int>(state) << ">";
}

namespace {

using ::cascade::testing::ClaimTagged;
using ::cascade::testing::DeterministicEngine;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::RenderAndFail;
using ::cascade::testing::RenderAndFinish;
using ::cascade::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kTeam[] = "team-a";
constexpr char kOtherTeam[] = "team-b";
constexpr char kNoLease[] = "no-such-lease";
constexpr JobState kBadState = static_cast<JobState>(255);

std::string WireName(JobState state) {
  std::ostringstream os;
  PrintTo(state, &os);
  return os.str();
}

// Case-insensitive substring: messages name the event ("Cancel", "cancel").
MATCHER_P(HasSubstrIgnoringCase, needle, "contains '" + std::string(needle) + "' (any case)") {
  return absl::AsciiStrToLower(std::string(arg)).find(absl::AsciiStrToLower(std::string(needle))) !=
         std::string::npos;
}

std::string Time(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : "null";
}

// Every observable field of a job, for "nothing changed" comparisons.
std::string Describe(const Job& j) {
  return absl::StrCat(
      j.id.ToString(), " team=", j.team, " state=", WireName(j.state), " progress=", j.progress,
      " created=", Time(j.stats.created_at), " updated=", Time(j.stats.updated_at),
      " started=", Time(j.stats.started_at), " finished=", Time(j.stats.finished_at),
      " errorAt=", Time(j.stats.error_at),
      " duration=", j.stats.render_duration ? absl::StrCat(*j.stats.render_duration) : "null",
      " error=", j.stats.error.value_or("null").str(), " output=", j.output_url.str(),
      " attempts=", j.attempts, " cancelRequested=", j.cancel_requested);
}

std::string Describe(const absl::StatusOr<Job>& job) {
  return job.ok() ? Describe(*job) : job.status().ToString();
}

// A leaf carrying `tag`, so that a claim restricted to the tag takes it.
JobSpec Tagged(std::string tag, JobSpec spec = LeafSpec()) {
  spec.tags.push_back(std::move(tag));
  return spec;
}

JobSpec DependingOn(std::string tag, std::vector<JobId> prerequisites,
                    PrerequisiteFailurePolicy policy = PrerequisiteFailurePolicy::kFail) {
  JobSpec spec = Tagged(std::move(tag));
  spec.depends_on = std::move(prerequisites);
  spec.on_prerequisite_failure = policy;
  return spec;
}

class LifecycleTest : public ::testing::Test {
 protected:
  absl::StatusOr<JobId> Submit(const JobSpec& spec) {
    absl::StatusOr<CreatedJob> created = engine_->Submit(kTeam, spec);
    if (!created.ok()) return created.status();
    return created->id;
  }

  JobState StateOf(JobId id) const {
    absl::StatusOr<Job> job = engine_->Get(kTeam, id);
    if (!job.ok()) {
      ADD_FAILURE() << "Get(" << id.ToString() << "): " << job.status();
      return kBadState;
    }
    return job->state;
  }

  std::optional<std::string> ErrorOf(JobId id) const {
    absl::StatusOr<Job> job = engine_->Get(kTeam, id);
    if (!job.ok()) return "Get failed: " + job.status().ToString();
    if (!job->stats.error) return std::nullopt;
    return job->stats.error->str();
  }

  std::vector<std::string> Snapshot(const std::vector<JobId>& ids) const {
    std::vector<std::string> out;
    for (JobId id : ids) {
      out.push_back(Describe(engine_->Get(kTeam, id)));
    }
    return out;
  }

  absl::Time Now() const { return engine_.clock.Now(); }
  void Tick(absl::Duration d = absl::Seconds(1)) { engine_.clock.Advance(d); }

  DeterministicEngine engine_;
};

// ---- (new) -> Submit -> Queued / Pending ----------------------------------------

TEST_F(LifecycleTest, SubmitWithoutPrerequisitesIsQueuedWithFreshStats) {
  const absl::Time t0 = Now();
  JobSpec spec = Tagged("a");
  spec.total_assets = 3;
  spec.priority = 7;
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, spec));
  EXPECT_EQ(created.state, JobState::kQueued);
  EXPECT_TRUE(created.children.empty());

  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
  EXPECT_EQ(job.id, created.id);
  EXPECT_EQ(job.team, kTeam);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_THAT(job.template_id, Optional(std::string("01HZX3C5Y5V7E8W3J6T9Q2M1NB")));
  EXPECT_EQ(job.progress, 0.0);
  EXPECT_EQ(job.stats.created_at, t0);
  EXPECT_EQ(job.stats.updated_at, t0);
  EXPECT_EQ(job.stats.started_at, std::nullopt);
  EXPECT_EQ(job.stats.finished_at, std::nullopt);
  EXPECT_EQ(job.stats.error_at, std::nullopt);
  EXPECT_EQ(job.stats.render_duration, std::nullopt);
  EXPECT_EQ(job.stats.error, std::nullopt);
  EXPECT_EQ(job.stats.total_assets, 3);
  EXPECT_EQ(job.priority, 7);
  EXPECT_THAT(job.tags, ElementsAre("a"));
  EXPECT_EQ(job.attempts, 0);
  EXPECT_FALSE(job.cancel_requested);
  EXPECT_EQ(job.output_url, created.output_url);
  EXPECT_FALSE(job.output_url.empty());
}

TEST_F(LifecycleTest, SubmitWithoutTemplateHasNullTemplateId) {
  JobSpec spec = LeafSpec();
  spec.template_id.clear();
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(spec));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, id));
  EXPECT_EQ(job.template_id, std::nullopt);
}

TEST_F(LifecycleTest, SubmitWithNestedChildrenIsPendingAndChildrenAreQueued) {
  JobSpec parent = Tagged("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  EXPECT_EQ(created.state, JobState::kPending);
  ASSERT_EQ(created.children.size(), 2u);
  for (const CreatedJob& child : created.children) {
    EXPECT_EQ(child.state, JobState::kQueued);
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, child.id));
    EXPECT_EQ(job.state, JobState::kQueued);
    EXPECT_THAT(job.parent_id, Optional(created.id));
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.parent_id, std::nullopt);
  EXPECT_THAT(job.children, ElementsAre(created.children[0].id, created.children[1].id));
  EXPECT_EQ(engine_->JobCount(), 3u);
}

TEST_F(LifecycleTest, NestedGrandchildrenMakeEveryAncestorPending) {
  JobSpec child = Tagged("child");
  child.children = {Tagged("grandchild")};
  JobSpec parent = Tagged("parent");
  parent.children = {child};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  ASSERT_EQ(created.children.size(), 1u);
  ASSERT_EQ(created.children[0].children.size(), 1u);
  const JobId c = created.children[0].id;
  const JobId g = created.children[0].children[0].id;
  EXPECT_EQ(StateOf(created.id), JobState::kPending);
  EXPECT_EQ(StateOf(c), JobState::kPending);
  EXPECT_EQ(StateOf(g), JobState::kQueued);

  ASSERT_THAT(RenderAndFinish(*engine_.engine, "grandchild"), IsOk());
  EXPECT_EQ(StateOf(c), JobState::kQueued);
  EXPECT_EQ(StateOf(created.id), JobState::kPending);
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "child"), IsOk());
  EXPECT_EQ(StateOf(created.id), JobState::kQueued);
}

// Pending iff the job has a prerequisite that is not finished.
struct PrerequisiteCase {
  const char* name;
  std::vector<JobState> prerequisite_states;
  JobState expected;
};

TEST_F(LifecycleTest, DependsOnIsPendingIffAPrerequisiteIsUnfinished) {
  const PrerequisiteCase kCases[] = {
      {"finished", {JobState::kFinished}, JobState::kQueued},
      {"finished,finished", {JobState::kFinished, JobState::kFinished}, JobState::kQueued},
      {"queued", {JobState::kQueued}, JobState::kPending},
      {"rendering", {JobState::kRendering}, JobState::kPending},
      {"pending", {JobState::kPending}, JobState::kPending},
      {"finished,queued", {JobState::kFinished, JobState::kQueued}, JobState::kPending},
      {"finished,rendering", {JobState::kFinished, JobState::kRendering}, JobState::kPending},
  };
  int n = 0;
  for (const PrerequisiteCase& c : kCases) {
    SCOPED_TRACE(c.name);
    std::vector<JobId> prerequisites;
    for (JobState s : c.prerequisite_states) {
      const std::string tag = absl::StrCat("p", n++);
      JobId id;
      if (s == JobState::kPending) {
        CASCADE_ASSERT_OK_AND_ASSIGN(JobId blocker, Submit(Tagged(tag + "-blocker")));
        CASCADE_ASSERT_OK_AND_ASSIGN(id, Submit(DependingOn(tag, {blocker})));
      } else {
        CASCADE_ASSERT_OK_AND_ASSIGN(id, Submit(Tagged(tag)));
      }
      if (s == JobState::kRendering || s == JobState::kFinished) {
        CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, tag));
        if (s == JobState::kFinished) {
          ASSERT_THAT(engine_->Finish(id, claimed.lease.token, {}), IsOk());
        }
      }
      ASSERT_EQ(StateOf(id), s);
      prerequisites.push_back(id);
    }
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created,
                                 engine_->Submit(kTeam, DependingOn("d", prerequisites)));
    EXPECT_EQ(created.state, c.expected);
    EXPECT_EQ(StateOf(created.id), c.expected);
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
    EXPECT_EQ(job.depends_on, prerequisites);
  }
}

// ---- dependsOn validation -------------------------------------------------------

TEST_F(LifecycleTest, DependsOnUnknownIdIsNotFoundAndCreatesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId known, Submit(Tagged("known")));
  const JobId unknown = IdGenerator(999).Next(Now());
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kTeam, DependingOn("d", {known, unknown})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(unknown.ToString())));
  EXPECT_EQ(engine_->JobCount(), before);
}

TEST_F(LifecycleTest, DependsOnAnotherTeamsJobIsNotFound) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob theirs, engine_->Submit(kOtherTeam, Tagged("theirs")));
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kTeam, DependingOn("d", {theirs.id})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(theirs.id.ToString())));
  EXPECT_EQ(engine_->JobCount(), before);
}

TEST_F(LifecycleTest, DependsOnJobInErrorIsFailedPrecondition) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId failed, Submit(Tagged("failed")));
  ASSERT_THAT(RenderAndFail(*engine_.engine, "failed"), IsOk());
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kTeam, DependingOn("d", {failed})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(failed.ToString()), HasSubstr("error"))));
  EXPECT_EQ(engine_->JobCount(), before);
}

TEST_F(LifecycleTest, DependsOnCancelledJobIsFailedPrecondition) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId cancelled, Submit(Tagged("cancelled")));
  ASSERT_THAT(engine_->Cancel(kTeam, cancelled), IsOk());
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kTeam, DependingOn("d", {cancelled})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(cancelled.ToString()), HasSubstr("manually_cancelled"))));
  EXPECT_EQ(engine_->JobCount(), before);
}

TEST_F(LifecycleTest, DependsOnDuplicateIdIsInvalidArgument) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kTeam, DependingOn("d", {a, b, a})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(a.ToString())));
  EXPECT_EQ(engine_->JobCount(), before);
}

TEST_F(LifecycleTest, RejectedSubmitWithChildrenCreatesNoChild) {
  const JobId unknown = IdGenerator(999).Next(Now());
  JobSpec parent = DependingOn("parent", {unknown});
  parent.children = {Tagged("c1"), Tagged("c2")};
  EXPECT_THAT(engine_->Submit(kTeam, parent), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine_->JobCount(), 0u);
  ClaimRequest any;
  EXPECT_THAT(engine_->Claim(any), StatusIs(absl::StatusCode::kNotFound));
}

// ---- Queued -> Claim -> Rendering -------------------------------------------------

TEST_F(LifecycleTest, ClaimMovesQueuedToRenderingSetsStartedAtAndCountsAnAttempt) {
  JobSpec spec = Tagged("a");
  spec.payload = "{\"render\":true}";
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(spec));
  const absl::Time created = Now();
  Tick(absl::Seconds(5));
  const absl::Time t1 = Now();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, "a"));
  EXPECT_EQ(claimed.job.id, id);
  EXPECT_EQ(claimed.job.state, JobState::kRendering);
  EXPECT_EQ(claimed.payload, "{\"render\":true}");
  EXPECT_FALSE(claimed.lease.token.empty());
  EXPECT_EQ(claimed.lease.expires_at, t1 + absl::Seconds(60));  // Options::lease_duration

  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, id));
  EXPECT_EQ(job.state, JobState::kRendering);
  EXPECT_THAT(job.stats.started_at, Optional(t1));
  EXPECT_EQ(job.stats.updated_at, t1);
  EXPECT_EQ(job.stats.created_at, created);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.stats.finished_at, std::nullopt);
  EXPECT_EQ(job.stats.error_at, std::nullopt);
  EXPECT_EQ(Describe(claimed.job), Describe(job));
}

TEST_F(LifecycleTest, ClaimHonoursARequestedLeaseDuration) {
  ASSERT_THAT(Submit(Tagged("a")), IsOk());
  ClaimRequest request;
  request.tags = {"a"};
  request.lease = absl::Seconds(10);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, engine_->Claim(request));
  EXPECT_EQ(claimed.lease.expires_at, Now() + absl::Seconds(10));
}

TEST_F(LifecycleTest, ClaimWithNothingQueuedIsNotFound) {
  ClaimRequest any;
  EXPECT_THAT(engine_->Claim(any), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LifecycleTest, TwoClaimsNeverTakeTheSameJob) {
  ASSERT_THAT(Submit(Tagged("a")), IsOk());
  ASSERT_THAT(Submit(Tagged("a")), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimTagged(*engine_.engine, "a"));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimTagged(*engine_.engine, "a"));
  EXPECT_NE(first.job.id, second.job.id);
  EXPECT_NE(first.lease.token, second.lease.token);
  EXPECT_THAT(ClaimTagged(*engine_.engine, "a"), StatusIs(absl::StatusCode::kNotFound));
}

// ---- Rendering -> Finish -> Finished ------------------------------------------------

TEST_F(LifecycleTest, FinishSetsFinishedAtRenderDurationAndFullProgress) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, Tagged("a")));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, "a"));
  const absl::Time started = Now();
  Tick(absl::Seconds(7));
  const absl::Time t2 = Now();
  CASCADE_ASSERT_OK_AND_ASSIGN(Job finished, engine_->Finish(created.id, claimed.lease.token, {}));
  EXPECT_EQ(finished.state, JobState::kFinished);
  EXPECT_EQ(finished.progress, 100.0);
  EXPECT_THAT(finished.stats.finished_at, Optional(t2));
  EXPECT_THAT(finished.stats.render_duration, Optional(7.0));
  EXPECT_THAT(finished.stats.started_at, Optional(started));
  EXPECT_EQ(finished.stats.updated_at, t2);
  EXPECT_EQ(finished.stats.error_at, std::nullopt);
  EXPECT_EQ(finished.stats.error, std::nullopt);
  EXPECT_EQ(finished.output_url, created.output_url);  // the planned one

  CASCADE_ASSERT_OK_AND_ASSIGN(Job got, engine_->Get(kTeam, created.id));
  EXPECT_EQ(Describe(got), Describe(finished));
}

TEST_F(LifecycleTest, FinishWithOutputUrlReplacesThePlannedOne) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, "a"));
  FinishReport report;
  report.output_url = "s3://renders/final.mp4";
  CASCADE_ASSERT_OK_AND_ASSIGN(Job finished, engine_->Finish(id, claimed.lease.token, report));
  EXPECT_EQ(finished.output_url, "s3://renders/final.mp4");
  CASCADE_ASSERT_OK_AND_ASSIGN(Job got, engine_->Get(kTeam, id));
  EXPECT_EQ(got.output_url, "s3://renders/final.mp4");
}

// ---- Rendering -> Fail -> Error -----------------------------------------------------

TEST_F(LifecycleTest, FailSetsErrorAtAndStatsError) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, "a"));
  Tick(absl::Seconds(3));
  const absl::Time t = Now();
  CASCADE_ASSERT_OK_AND_ASSIGN(
      Job failed,
      engine_->Fail(id, claimed.lease.token, {.error = "codec missing", .retry = false}));
  EXPECT_EQ(failed.state, JobState::kError);
  EXPECT_THAT(failed.stats.error_at, Optional(t));
  EXPECT_THAT(failed.stats.error, Optional(std::string("codec missing")));
  EXPECT_EQ(failed.stats.updated_at, t);
  EXPECT_EQ(failed.stats.finished_at, std::nullopt);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job got, engine_->Get(kTeam, id));
  EXPECT_EQ(Describe(got), Describe(failed));
}

// ---- Queued, Pending -> Cancel -> Cancelled -----------------------------------------

TEST_F(LifecycleTest, CancelSetsErrorAtUpdatedAtAndReason) {
  for (JobState from : {JobState::kQueued, JobState::kPending}) {
    SCOPED_TRACE(WireName(from));
    DeterministicEngine engine;
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob blocker, engine->Submit(kTeam, LeafSpec()));
    JobSpec spec = LeafSpec();
    if (from == JobState::kPending) spec.depends_on = {blocker.id};
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine->Submit(kTeam, spec));
    ASSERT_EQ(created.state, from);
    engine.clock.Advance(absl::Seconds(9));
    const absl::Time t = engine.clock.Now();
    CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled, engine->Cancel(kTeam, created.id));
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine->Get(kTeam, created.id));
    EXPECT_EQ(job.state, JobState::kCancelled);
    EXPECT_THAT(job.stats.error_at, Optional(t));
    EXPECT_EQ(job.stats.updated_at, t);
    EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
    EXPECT_EQ(job.stats.finished_at, std::nullopt);
    // When pending, its only prerequisite is now useless (rule U) and goes too.
    ASSERT_EQ(cancelled.size(), from == JobState::kPending ? 2u : 1u);
    for (const Job& j : cancelled) {
      if (j.id == created.id) {
        EXPECT_EQ(Describe(j), Describe(job));
      }
    }
  }
}

// ---- Pending -> PrerequisitesMet -> Queued ------------------------------------------

TEST_F(LifecycleTest, ParentBecomesQueuedWhenItsLastChildFinishes) {
  JobSpec parent = Tagged("parent");
  parent.children = {Tagged("c1"), Tagged("c2"), Tagged("c3")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  const absl::Time created_at = Now();

  Tick();
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "c2"), IsOk());
  EXPECT_EQ(StateOf(created.id), JobState::kPending);
  Tick();
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "c1"), IsOk());
  EXPECT_EQ(StateOf(created.id), JobState::kPending);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job still_pending, engine_->Get(kTeam, created.id));
  EXPECT_EQ(still_pending.stats.updated_at, created_at);  // no transition yet

  Tick();
  const absl::Time last = Now();
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "c3"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.stats.updated_at, last);
  EXPECT_EQ(job.stats.started_at, std::nullopt);

  // Now it renders like any queued job.
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "parent"), IsOk());
  EXPECT_EQ(StateOf(created.id), JobState::kFinished);
}

TEST_F(LifecycleTest, DependentBecomesQueuedWhenEveryDependsOnJobFinished) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d, Submit(DependingOn("d", {a, b})));
  EXPECT_EQ(StateOf(d), JobState::kPending);
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(d), JobState::kPending);
  Tick();
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "b"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, d));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.stats.updated_at, Now());
}

// ---- Pending -> PrerequisiteFailed -> Error; DependentsFailed ------------------------

TEST_F(LifecycleTest, PrerequisiteFailureFailsPendingDependentByDefault) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d, Submit(DependingOn("d", {a})));
  Tick(absl::Seconds(4));
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, d));
  EXPECT_EQ(job.state, JobState::kError);
  EXPECT_THAT(job.stats.error, Optional("prerequisite " + a.ToString() + " failed"));
  EXPECT_THAT(job.stats.error_at, Optional(Now()));
  EXPECT_EQ(job.stats.updated_at, Now());
}

TEST_F(LifecycleTest, FailureChainsThroughPendingDependents) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(DependingOn("b", {a})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId c, Submit(DependingOn("c", {b})));
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(b), JobState::kError);
  EXPECT_THAT(ErrorOf(b), Optional("prerequisite " + a.ToString() + " failed"));
  EXPECT_EQ(StateOf(c), JobState::kError);
  EXPECT_THAT(ErrorOf(c), Optional("prerequisite " + b.ToString() + " failed"));
}

TEST_F(LifecycleTest, ChildFailureFailsParentAndWaitingSiblingsWhileRenderingOnesRunOn) {
  JobSpec parent = Tagged("parent");
  parent.children = {Tagged("c1"), Tagged("c2"), Tagged("c3"), Tagged("c4")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  const JobId p = created.id;
  const JobId c1 = created.children[0].id;
  const JobId c2 = created.children[1].id;
  const JobId c3 = created.children[2].id;
  const JobId c4 = created.children[3].id;
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "c4"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob rendering, ClaimTagged(*engine_.engine, "c2"));
  Tick();
  ASSERT_THAT(RenderAndFail(*engine_.engine, "c1", "out of memory"), IsOk());

  EXPECT_EQ(StateOf(c1), JobState::kError);
  EXPECT_THAT(ErrorOf(c1), Optional(std::string("out of memory")));
  EXPECT_EQ(StateOf(p), JobState::kError);
  EXPECT_THAT(ErrorOf(p), Optional("prerequisite " + c1.ToString() + " failed"));
  // Rule U: c3 waits for a parent that can no longer use it.
  EXPECT_EQ(StateOf(c3), JobState::kError);
  EXPECT_THAT(ErrorOf(c3), Optional("dependent " + p.ToString() + " failed"));
  // Rendering and finished siblings are never touched by propagation.
  EXPECT_EQ(StateOf(c2), JobState::kRendering);
  EXPECT_EQ(StateOf(c4), JobState::kFinished);
  // The rendering sibling may still finish; the parent stays in error.
  ASSERT_THAT(engine_->Finish(c2, rendering.lease.token, {}), IsOk());
  EXPECT_EQ(StateOf(c2), JobState::kFinished);
  EXPECT_EQ(StateOf(p), JobState::kError);
}

TEST_F(LifecycleTest, DependentsFailedEndsAPrerequisiteOnlyWhenNoDependentWaitsForIt) {
  // shared is needed by d1 and d2; d1 also needs a.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId shared, Submit(Tagged("shared")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d1, Submit(DependingOn("d1", {a, shared})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d2, Submit(DependingOn("d2", {b, shared})));

  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(d1), JobState::kError);
  EXPECT_EQ(StateOf(shared), JobState::kQueued);  // d2 still needs it
  EXPECT_EQ(StateOf(d2), JobState::kPending);

  Tick();
  ASSERT_THAT(RenderAndFail(*engine_.engine, "b"), IsOk());
  EXPECT_EQ(StateOf(d2), JobState::kError);
  EXPECT_THAT(ErrorOf(d2), Optional("prerequisite " + b.ToString() + " failed"));
  EXPECT_EQ(StateOf(shared), JobState::kError);
  EXPECT_THAT(ErrorOf(shared), Optional("dependent " + d2.ToString() + " failed"));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, shared));
  EXPECT_THAT(job.stats.error_at, Optional(Now()));
}

TEST_F(LifecycleTest, DependentsFailedCountsCancelledDependentsAsEnded) {
  // semantics.md: a prerequisite whose dependents all ended without finishing
  // (error or manually_cancelled) goes to error.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId shared, Submit(Tagged("shared")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d1, Submit(DependingOn("d1", {shared})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d2, Submit(DependingOn("d2", {a, shared})));
  ASSERT_THAT(engine_->Cancel(kTeam, d1), IsOk());
  EXPECT_EQ(StateOf(shared), JobState::kQueued);  // d2 still needs it
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(d2), JobState::kError);
  EXPECT_EQ(StateOf(shared), JobState::kError);
  EXPECT_THAT(ErrorOf(shared), Optional("dependent " + d2.ToString() + " failed"));
}

TEST_F(LifecycleTest, IgnorePolicyProceedsWhenTheOtherPrerequisitesFinished) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobId d, Submit(DependingOn("d", {a, b}, PrerequisiteFailurePolicy::kIgnore)));
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(d), JobState::kPending);  // b is unfinished
  EXPECT_EQ(StateOf(b), JobState::kQueued);   // d still needs b: not useless
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "b"), IsOk());
  EXPECT_EQ(StateOf(d), JobState::kQueued);
  EXPECT_EQ(ErrorOf(d), std::nullopt);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, d));
  EXPECT_EQ(job.on_prerequisite_failure, PrerequisiteFailurePolicy::kIgnore);
}

TEST_F(LifecycleTest, IgnorePolicyWithOnlyFailedPrerequisitesBecomesQueuedAtOnce) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobId d, Submit(DependingOn("d", {a, b}, PrerequisiteFailurePolicy::kIgnore)));
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "b"), IsOk());
  EXPECT_EQ(StateOf(d), JobState::kPending);
  Tick();
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, d));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.stats.updated_at, Now());
}

TEST_F(LifecycleTest, TerminalJobsAreNeverMovedByPropagation) {
  // A finished child keeps its state and stats when a sibling's failure ends
  // the parent.
  JobSpec parent = Tagged("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob family, engine_->Submit(kTeam, parent));
  const JobId c2 = family.children[1].id;
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "c2"), IsOk());
  // A cancelled dependent keeps its reason when its prerequisite later fails.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId x, Submit(DependingOn("x", {a})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId y, Submit(DependingOn("y", {a})));
  ASSERT_THAT(engine_->Cancel(kTeam, x), IsOk());
  ASSERT_EQ(StateOf(a), JobState::kQueued);  // y still needs it
  const std::vector<std::string> before = Snapshot({c2, x});

  Tick();
  ASSERT_THAT(RenderAndFail(*engine_.engine, "c1"), IsOk());
  ASSERT_THAT(RenderAndFail(*engine_.engine, "a"), IsOk());
  EXPECT_EQ(StateOf(family.id), JobState::kError);
  EXPECT_EQ(StateOf(y), JobState::kError);
  EXPECT_EQ(Snapshot({c2, x}), before);
}

// ---- Illegal (state, event) pairs -----------------------------------------------------

enum class Event { kFinish, kFail, kCancel, kCancelMany };

std::string EventName(Event e) {
  switch (e) {
    case Event::kFinish:
      return "Finish";
    case Event::kFail:
      return "Fail";
    case Event::kCancel:
      return "Cancel";
    case Event::kCancelMany:
      return "CancelMany";
  }
  return "?";
}

struct IllegalCase {
  JobState from;
  Event event;
};

// A job put in a given state, with the lease token its last claim got.
struct Subject {
  JobId id;
  std::string token = kNoLease;
  std::vector<JobId> all;  // every job the setup created
};

absl::StatusOr<Subject> MakeJobIn(DeterministicEngine& engine, JobState state) {
  Subject s;
  JobSpec spec = Tagged("subject");
  if (state == JobState::kPending) {
    absl::StatusOr<CreatedJob> blocker = engine->Submit(kTeam, Tagged("blocker"));
    if (!blocker.ok()) return blocker.status();
    s.all.push_back(blocker->id);
    spec.depends_on = {blocker->id};
  }
  absl::StatusOr<CreatedJob> created = engine->Submit(kTeam, spec);
  if (!created.ok()) return created.status();
  s.id = created->id;
  s.all.push_back(s.id);
  engine.clock.Advance(absl::Seconds(1));
  if (state == JobState::kRendering || state == JobState::kFinished || state == JobState::kError) {
    ClaimRequest request;
    request.tags = {"subject"};
    absl::StatusOr<ClaimedJob> claimed = engine->Claim(request);
    if (!claimed.ok()) return claimed.status();
    s.token = claimed->lease.token;
    engine.clock.Advance(absl::Seconds(1));
    if (state == JobState::kFinished) {
      absl::Status st = engine->Finish(s.id, s.token, {}).status();
      if (!st.ok()) return st;
    } else if (state == JobState::kError) {
      absl::Status st = engine->Fail(s.id, s.token, {.error = "boom", .retry = false}).status();
      if (!st.ok()) return st;
    }
  } else if (state == JobState::kCancelled) {
    absl::Status st = engine->Cancel(kTeam, s.id).status();
    if (!st.ok()) return st;
  }
  absl::StatusOr<Job> job = engine->Get(kTeam, s.id);
  if (!job.ok()) return job.status();
  if (job->state != state) {
    return absl::InternalError("setup reached " + WireName(job->state) + ", wanted " +
                               WireName(state));
  }
  return s;
}

class IllegalTransitionTest : public ::testing::TestWithParam<IllegalCase> {};

TEST_P(IllegalTransitionTest, IsFailedPreconditionNamingJobStateAndEventAndChangesNothing) {
  const IllegalCase& c = GetParam();
  DeterministicEngine engine;
  CASCADE_ASSERT_OK_AND_ASSIGN(Subject s, MakeJobIn(engine, c.from));
  std::vector<std::string> before;
  for (JobId id : s.all) before.push_back(Describe(engine->Get(kTeam, id)));
  engine.clock.Advance(absl::Seconds(10));

  absl::Status status;
  switch (c.event) {
    case Event::kFinish:
      status = engine->Finish(s.id, s.token, {}).status();
      break;
    case Event::kFail:
      status = engine->Fail(s.id, s.token, {.error = "again", .retry = false}).status();
      break;
    case Event::kCancel:
      status = engine->Cancel(kTeam, s.id).status();
      break;
    case Event::kCancelMany: {
      const JobId ids[] = {s.id};
      status = engine->CancelMany(kTeam, ids).status();
      break;
    }
  }
  const std::string event = c.event == Event::kCancelMany ? "Cancel" : EventName(c.event);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr(s.id.ToString()), HasSubstr(WireName(c.from)),
                                     HasSubstrIgnoringCase(event))));

  std::vector<std::string> after;
  for (JobId id : s.all) after.push_back(Describe(engine->Get(kTeam, id)));
  EXPECT_EQ(after, before);
}

INSTANTIATE_TEST_SUITE_P(EveryIllegalPair, IllegalTransitionTest,
                         ::testing::Values(IllegalCase{JobState::kQueued, Event::kFinish},
                                           IllegalCase{JobState::kQueued, Event::kFail},
                                           IllegalCase{JobState::kPending, Event::kFinish},
                                           IllegalCase{JobState::kPending, Event::kFail},
                                           IllegalCase{JobState::kRendering, Event::kCancel},
                                           IllegalCase{JobState::kRendering, Event::kCancelMany},
                                           IllegalCase{JobState::kFinished, Event::kFinish},
                                           IllegalCase{JobState::kFinished, Event::kFail},
                                           IllegalCase{JobState::kFinished, Event::kCancel},
                                           IllegalCase{JobState::kFinished, Event::kCancelMany},
                                           IllegalCase{JobState::kError, Event::kFinish},
                                           IllegalCase{JobState::kError, Event::kFail},
                                           IllegalCase{JobState::kError, Event::kCancel},
                                           IllegalCase{JobState::kError, Event::kCancelMany},
                                           IllegalCase{JobState::kCancelled, Event::kFinish},
                                           IllegalCase{JobState::kCancelled, Event::kFail},
                                           IllegalCase{JobState::kCancelled, Event::kCancel},
                                           IllegalCase{JobState::kCancelled, Event::kCancelMany}),
                         [](const ::testing::TestParamInfo<IllegalCase>& info) {
                           std::string state = WireName(info.param.from);
                           for (char& ch : state) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return state + "_" + EventName(info.param.event);
                         });

// Claim never names a job: it only ever takes queued ones.
class ClaimSkipsTest : public ::testing::TestWithParam<JobState> {};

TEST_P(ClaimSkipsTest, NonQueuedJobIsNeverClaimedAndIsUnchanged) {
  DeterministicEngine engine;
  CASCADE_ASSERT_OK_AND_ASSIGN(Subject s, MakeJobIn(engine, GetParam()));
  const std::string before = Describe(engine->Get(kTeam, s.id));
  engine.clock.Advance(absl::Seconds(10));
  ClaimRequest request;
  request.tags = {"subject"};
  EXPECT_THAT(engine->Claim(request), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Describe(engine->Get(kTeam, s.id)), before);
}

INSTANTIATE_TEST_SUITE_P(EveryNonQueuedState, ClaimSkipsTest,
                         ::testing::Values(JobState::kPending, JobState::kRendering,
                                           JobState::kFinished, JobState::kError,
                                           JobState::kCancelled),
                         [](const ::testing::TestParamInfo<JobState>& info) {
                           std::string state = WireName(info.param);
                           for (char& ch : state) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return state;
                         });

TEST_F(LifecycleTest, WrongLeaseIsFailedPreconditionAndChangesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, "a"));
  const std::string before = Describe(engine_->Get(kTeam, id));
  Tick();
  EXPECT_THAT(engine_->Finish(id, claimed.lease.token + "x", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(id.ToString())));
  EXPECT_THAT(engine_->Fail(id, "", "nope"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(id.ToString())));
  EXPECT_EQ(Describe(engine_->Get(kTeam, id)), before);
  // The holder of the lease can still finish.
  EXPECT_THAT(engine_->Finish(id, claimed.lease.token, {}), IsOk());
}

TEST_F(LifecycleTest, LeaseOfAnotherJobIsRejected) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  ASSERT_THAT(Submit(Tagged("b")), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed_a, ClaimTagged(*engine_.engine, "a"));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed_b, ClaimTagged(*engine_.engine, "b"));
  EXPECT_THAT(engine_->Finish(a, claimed_b.lease.token, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(StateOf(a), JobState::kRendering);
  EXPECT_THAT(engine_->Finish(a, claimed_a.lease.token, {}), IsOk());
}

TEST_F(LifecycleTest, FinishOrFailOfUnknownJobIsNotFound) {
  const JobId unknown = IdGenerator(999).Next(Now());
  EXPECT_THAT(engine_->Finish(unknown, "token", {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Fail(unknown, "token", "x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Get(kTeam, unknown), StatusIs(absl::StatusCode::kNotFound));
}

TEST(StateNameTest, WireNamesRoundTrip) {
  const std::pair<JobState, const char*> kNames[] = {
      {JobState::kQueued, "queued"},
      {JobState::kPending, "pending"},
      {JobState::kRendering, "render:dorender"},
      {JobState::kFinished, "finished"},
      {JobState::kError, "error"},
      {JobState::kCancelled, "manually_cancelled"},
  };
  for (const auto& [state, name] : kNames) {
    EXPECT_EQ(StateName(state), name);
    absl::StatusOr<JobState> parsed = ParseState(name);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_THAT(ParseState("cancelled"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseState("QUEUED"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseState(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cascade
