// Copyright 2026 The Cascade Authors.
//
// contract §4 (cancellation) and seeds 000 and 001: the cascade rules
//   E (explicit)      every job the request names,
//   R (unresolvable)  a job one of whose prerequisites is cancelled,
//   U (useless)       a job whose dependents are all cancelled (or failed),
// over queued and pending jobs only; the cancel-one, cancel-many (atomic) and
// cancel-batch (best effort) operations and their errors. docs/semantics.md
// fixes the reasons, the order of the response and the order of the checks.

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::ClaimTagged;
using ::cascade::testing::DeterministicEngine;
using ::cascade::testing::IdsOf;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::RenderAndFail;
using ::cascade::testing::RenderAndFinish;
using ::cascade::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr char kTeam[] = "team-a";
constexpr char kViaApi[] = "Cancelled via API";

std::string CascadeFrom(JobId id) { return "Cancelled: cascade from " + id.ToString(); }

std::string Time(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : "null";
}

// Every observable field of a job, for "nothing changed" comparisons.
std::string Describe(const Job& j) {
  return absl::StrCat(j.id.ToString(), " state=", std::string(StateName(j.state)),
                      " progress=", j.progress, " created=", Time(j.stats.created_at),
                      " updated=", Time(j.stats.updated_at), " started=", Time(j.stats.started_at),
                      " finished=", Time(j.stats.finished_at), " errorAt=", Time(j.stats.error_at),
                      " error=", j.stats.error.value_or("null").str(),
                      " output=", j.output_url.str(), " attempts=", j.attempts);
}

std::string Describe(const absl::StatusOr<Job>& job) {
  return job.ok() ? Describe(*job) : job.status().ToString();
}

std::vector<JobId> Sorted(std::vector<JobId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

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

// A parent tagged `name` with `n` children tagged `name`-c0, `name`-c1, ...
JobSpec FamilyOf(const std::string& name, int n) {
  JobSpec parent = Tagged(name);
  for (int i = 0; i < n; ++i) parent.children.push_back(Tagged(absl::StrCat(name, "-c", i)));
  return parent;
}

struct Family {
  JobId parent;
  std::vector<JobId> children;
  std::vector<JobId> all() const {
    std::vector<JobId> ids = children;
    ids.push_back(parent);
    return ids;
  }
};

class CancelTest : public ::testing::Test {
 protected:
  absl::StatusOr<JobId> Submit(const JobSpec& spec) {
    absl::StatusOr<CreatedJob> created = engine_->Submit(kTeam, spec);
    if (!created.ok()) return created.status();
    return created->id;
  }

  absl::StatusOr<Family> SubmitFamily(const std::string& name, int n) {
    absl::StatusOr<CreatedJob> created = engine_->Submit(kTeam, FamilyOf(name, n));
    if (!created.ok()) return created.status();
    Family f{created->id, {}};
    for (const CreatedJob& c : created->children) f.children.push_back(c.id);
    return f;
  }

  JobState StateOf(JobId id) const {
    absl::StatusOr<Job> job = engine_->Get(kTeam, id);
    if (!job.ok()) {
      ADD_FAILURE() << "Get(" << id.ToString() << "): " << job.status();
      return static_cast<JobState>(255);
    }
    return job->state;
  }

  std::vector<std::string> Snapshot(const std::vector<JobId>& ids) const {
    std::vector<std::string> out;
    for (JobId id : ids) out.push_back(Describe(engine_->Get(kTeam, id)));
    return out;
  }

  // Checks that `response` is exactly the jobs of `expected` (id, reason), in
  // id order, each once, cancelled now, and that the engine agrees.
  void ExpectCancelled(const std::vector<Job>& response,
                       std::vector<std::pair<JobId, std::string>> expected) const {
    std::sort(expected.begin(), expected.end());
    std::vector<JobId> expected_ids;
    for (const auto& [id, reason] : expected) expected_ids.push_back(id);
    ASSERT_THAT(IdsOf(response), ElementsAreArray(expected_ids));
    for (size_t i = 0; i < response.size(); ++i) {
      const Job& job = response[i];
      SCOPED_TRACE(job.id.ToString());
      EXPECT_EQ(job.state, JobState::kCancelled);
      EXPECT_THAT(job.stats.error, Optional(expected[i].second));
      EXPECT_THAT(job.stats.error_at, Optional(Now()));
      EXPECT_EQ(job.stats.updated_at, Now());
      EXPECT_EQ(Describe(engine_->Get(kTeam, job.id)), Describe(job));
    }
  }

  absl::Time Now() const { return engine_.clock.Now(); }
  void Tick() { engine_.clock.Advance(absl::Seconds(1)); }
  JobId UnknownId() const { return IdGenerator(999).Next(Now()); }

  DeterministicEngine engine_;
};

// ---- Cancel one job: the seed 000 cascade table -----------------------------------

TEST_F(CancelTest, QueuedLeafCancelsOnlyItself) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, a));
  ExpectCancelled(response, {{a, kViaApi}});
  EXPECT_EQ(StateOf(b), JobState::kQueued);
}

TEST_F(CancelTest, ParentCancelsItsQueuedAndPendingChildrenRecursively) {
  // parent <- {c1 (queued), c2 (pending) <- {g1, g2}}
  JobSpec c2 = Tagged("c2");
  c2.children = {Tagged("g1"), Tagged("g2")};
  JobSpec parent = Tagged("parent");
  parent.children = {Tagged("c1"), c2};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  const JobId p = created.id;
  const JobId c1_id = created.children[0].id;
  const JobId c2_id = created.children[1].id;
  const JobId g1 = created.children[1].children[0].id;
  const JobId g2 = created.children[1].children[1].id;
  ASSERT_EQ(StateOf(c2_id), JobState::kPending);
  Tick();

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, p));
  ExpectCancelled(response, {{p, kViaApi},
                             {c1_id, CascadeFrom(p)},
                             {c2_id, CascadeFrom(p)},
                             {g1, CascadeFrom(p)},
                             {g2, CascadeFrom(p)}});
}

TEST_F(CancelTest, ParentCancelLeavesRenderingAndFinishedChildrenAlone) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 3));
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "p-c1"), IsOk());
  ASSERT_THAT(ClaimTagged(*engine_.engine, "p-c2"), IsOk());
  const std::vector<std::string> untouched = Snapshot({f.children[1], f.children[2]});
  Tick();

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, f.parent));
  ExpectCancelled(response, {{f.parent, kViaApi}, {f.children[0], CascadeFrom(f.parent)}});
  EXPECT_EQ(Snapshot({f.children[1], f.children[2]}), untouched);
  EXPECT_EQ(StateOf(f.children[1]), JobState::kFinished);
  EXPECT_EQ(StateOf(f.children[2]), JobState::kRendering);
}

TEST_F(CancelTest, ChildCancelsParentAndWaitingSiblings) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 3));
  const JobId named = f.children[1];
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, named));
  ExpectCancelled(response, {{named, kViaApi},
                             {f.parent, CascadeFrom(named)},       // R
                             {f.children[0], CascadeFrom(named)},  // U
                             {f.children[2], CascadeFrom(named)}});
}

TEST_F(CancelTest, ChildCancelLeavesRenderingAndFinishedSiblingsAlone) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 4));
  ASSERT_THAT(ClaimTagged(*engine_.engine, "p-c2"), IsOk());
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "p-c3"), IsOk());
  const std::vector<std::string> untouched = Snapshot({f.children[2], f.children[3]});
  Tick();

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, f.children[0]));
  ExpectCancelled(response, {{f.children[0], kViaApi},
                             {f.parent, CascadeFrom(f.children[0])},
                             {f.children[1], CascadeFrom(f.children[0])}});
  EXPECT_EQ(Snapshot({f.children[2], f.children[3]}), untouched);
}

TEST_F(CancelTest, GrandchildCancelReachesTheWholeFamily) {
  // p <- {c1 <- {g1, g2}, c2}: g1 -R-> c1 -R-> p, then U down to g2 and c2.
  JobSpec c1 = Tagged("c1");
  c1.children = {Tagged("g1"), Tagged("g2")};
  JobSpec parent = Tagged("p");
  parent.children = {c1, Tagged("c2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, parent));
  const JobId g1 = created.children[0].children[0].id;
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, g1));
  ExpectCancelled(response, {{g1, kViaApi},
                             {created.children[0].children[1].id, CascadeFrom(g1)},
                             {created.children[0].id, CascadeFrom(g1)},
                             {created.children[1].id, CascadeFrom(g1)},
                             {created.id, CascadeFrom(g1)}});
}

TEST_F(CancelTest, SharedPrerequisiteSurvivesUntilItsLastDependentIsCancelled) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId shared, Submit(Tagged("shared")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d1, Submit(DependingOn("d1", {shared})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d2, Submit(DependingOn("d2", {shared})));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> first, engine_->Cancel(kTeam, d1));
  ExpectCancelled(first, {{d1, kViaApi}});
  EXPECT_EQ(StateOf(shared), JobState::kQueued);

  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> second, engine_->Cancel(kTeam, d2));
  ExpectCancelled(second, {{d2, kViaApi}, {shared, CascadeFrom(d2)}});
}

TEST_F(CancelTest, SharedChildOfTwoFamiliesIsNotReachedThroughOne) {
  // A job both parents depend on (one a nested child, one via dependsOn).
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 1));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId other, Submit(DependingOn("other", {f.children[0]})));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, f.parent));
  ExpectCancelled(response, {{f.parent, kViaApi}});
  EXPECT_EQ(StateOf(f.children[0]), JobState::kQueued);
  EXPECT_EQ(StateOf(other), JobState::kPending);
}

TEST_F(CancelTest, CancelledPrerequisiteCancelsItsDependentsTransitively) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(DependingOn("b", {a})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId c, Submit(DependingOn("c", {b})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId unrelated, Submit(Tagged("unrelated")));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, a));
  ExpectCancelled(response, {{a, kViaApi}, {b, CascadeFrom(a)}, {c, CascadeFrom(a)}});
  EXPECT_EQ(StateOf(unrelated), JobState::kQueued);
}

TEST_F(CancelTest, RuleRAppliesWhateverThePrerequisiteFailurePolicy) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobId d, Submit(DependingOn("d", {a, b}, PrerequisiteFailurePolicy::kIgnore)));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, a));
  // d is unresolvable (R); b then has no dependent left (U).
  ExpectCancelled(response, {{a, kViaApi}, {d, CascadeFrom(a)}, {b, CascadeFrom(a)}});
}

TEST_F(CancelTest, RuleUCountsDependentsThatEndedInError) {
  // shared is needed by d1 (which also needs x) and d2.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId shared, Submit(Tagged("shared")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId x, Submit(Tagged("x")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d1, Submit(DependingOn("d1", {x, shared})));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d2, Submit(DependingOn("d2", {shared})));
  ASSERT_THAT(RenderAndFail(*engine_.engine, "x"), IsOk());
  ASSERT_EQ(StateOf(d1), JobState::kError);
  ASSERT_EQ(StateOf(shared), JobState::kQueued);  // d2 still needs it
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, d2));
  ExpectCancelled(response, {{d2, kViaApi}, {shared, CascadeFrom(d2)}});
}

TEST_F(CancelTest, CascadeNeverTouchesARenderingPrerequisite) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d, Submit(DependingOn("d", {a, b})));
  ASSERT_THAT(ClaimTagged(*engine_.engine, "a"), IsOk());
  const std::vector<std::string> rendering = Snapshot({a});
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->Cancel(kTeam, d));
  ExpectCancelled(response, {{d, kViaApi}, {b, CascadeFrom(d)}});
  EXPECT_EQ(Snapshot({a}), rendering);
}

// The cascade is a breadth-first walk from the named jobs in request order:
// a job reached from two named jobs names the first.
struct OriginCase {
  const char* name;
  std::vector<int> named;  // child indexes, in request order
  int origin;              // the child the others cascade from
};

TEST_F(CancelTest, CascadeReasonNamesTheFirstNamedJobThatReachedIt) {
  const OriginCase kCases[] = {
      {"c0 then c1", {0, 1}, 0},
      {"c1 then c0", {1, 0}, 1},
  };
  for (const OriginCase& c : kCases) {
    SCOPED_TRACE(c.name);
    DeterministicEngine engine;
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob f, engine->Submit(kTeam, FamilyOf("p", 3)));
    std::vector<JobId> named;
    for (int i : c.named) named.push_back(f.children[i].id);
    CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine->CancelMany(kTeam, named));
    ASSERT_EQ(response.size(), 4u);
    const std::string from = CascadeFrom(f.children[c.origin].id);
    for (const Job& job : response) {
      SCOPED_TRACE(job.id.ToString());
      const bool is_named = std::find(named.begin(), named.end(), job.id) != named.end();
      EXPECT_THAT(job.stats.error, Optional(is_named ? std::string(kViaApi) : from));
    }
  }
}

// ---- Cancel one job: errors --------------------------------------------------------

TEST_F(CancelTest, NotCancellableJobIsFailedPreconditionNamingItsState) {
  const std::pair<JobState, const char*> kCases[] = {
      {JobState::kRendering, "render:dorender"},
      {JobState::kFinished, "finished"},
      {JobState::kError, "error"},
      {JobState::kCancelled, "manually_cancelled"},
  };
  int n = 0;
  for (const auto& [state, name] : kCases) {
    SCOPED_TRACE(name);
    const std::string tag = absl::StrCat("t", n++);
    CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(Tagged(tag)));
    if (state == JobState::kCancelled) {
      ASSERT_THAT(engine_->Cancel(kTeam, id), IsOk());
    } else {
      CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged(*engine_.engine, tag));
      if (state == JobState::kFinished) {
        ASSERT_THAT(engine_->Finish(id, claimed.lease.token, {}), IsOk());
      } else if (state == JobState::kError) {
        ASSERT_THAT(engine_->Fail(id, claimed.lease.token, {.error = "x", .retry = false}), IsOk());
      }
    }
    ASSERT_EQ(StateOf(id), state);
    const std::vector<std::string> before = Snapshot({id});
    Tick();
    EXPECT_THAT(engine_->Cancel(kTeam, id),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr(id.ToString()), HasSubstr(name))));
    EXPECT_EQ(Snapshot({id}), before);
  }
}

TEST_F(CancelTest, UnknownJobIsNotFound) {
  ASSERT_THAT(Submit(Tagged("a")), IsOk());
  const JobId unknown = UnknownId();
  EXPECT_THAT(engine_->Cancel(kTeam, unknown),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(unknown.ToString())));
}

// ---- Cancel many ---------------------------------------------------------------------

TEST_F(CancelTest, CancelManyWithNoIdsIsInvalidArgument) {
  EXPECT_THAT(engine_->CancelMany(kTeam, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CancelTest, CancelManyWithOneIdCancelsIt) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  Tick();
  const JobId ids[] = {a};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->CancelMany(kTeam, ids));
  ExpectCancelled(response, {{a, kViaApi}});
}

TEST_F(CancelTest, CancelManyWithAThousandIdsCancelsThemAll) {
  std::vector<JobId> ids;
  for (size_t i = 0; i < kMaxCancelIds; ++i) {
    CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(LeafSpec()));
    ids.push_back(id);
  }
  Tick();
  std::vector<JobId> request = ids;
  std::reverse(request.begin(), request.end());  // response is in id order anyway
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->CancelMany(kTeam, request));
  EXPECT_THAT(IdsOf(response), ElementsAreArray(ids));
  for (const Job& job : response) {
    ASSERT_EQ(job.state, JobState::kCancelled);
    ASSERT_THAT(job.stats.error, Optional(std::string(kViaApi)));
  }
  ClaimRequest any;
  EXPECT_THAT(engine_->Claim(any), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CancelTest, CancelManyWithMoreThanAThousandIdsIsInvalidArgumentAndChangesNothing) {
  std::vector<JobId> ids;
  for (size_t i = 0; i < kMaxCancelIds + 1; ++i) {
    CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, Submit(LeafSpec()));
    ids.push_back(id);
  }
  Tick();
  EXPECT_THAT(engine_->CancelMany(kTeam, ids), StatusIs(absl::StatusCode::kInvalidArgument));
  for (JobId id : ids) ASSERT_EQ(StateOf(id), JobState::kQueued) << id.ToString();
}

TEST_F(CancelTest, CancelManyWithDuplicatesIsInvalidArgumentListingThem) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId b, Submit(Tagged("b")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId c, Submit(Tagged("c")));
  const std::vector<std::string> before = Snapshot({a, b, c});
  Tick();
  const JobId ids[] = {a, b, a, c, b};
  EXPECT_THAT(engine_->CancelMany(kTeam, ids),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(a.ToString()), HasSubstr(b.ToString()))));
  EXPECT_EQ(Snapshot({a, b, c}), before);
}

TEST_F(CancelTest, CancelManyWithUnknownIdsIsNotFoundListingThemAndChangesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 2));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  std::vector<JobId> all = f.all();
  all.push_back(a);
  const std::vector<std::string> before = Snapshot(all);
  Tick();
  IdGenerator foreign(999);
  const JobId unknown1 = foreign.Next(Now());
  const JobId unknown2 = foreign.Next(Now());
  const JobId ids[] = {f.parent, unknown1, a, unknown2};
  EXPECT_THAT(engine_->CancelMany(kTeam, ids),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr(unknown1.ToString()), HasSubstr(unknown2.ToString()))));
  EXPECT_EQ(Snapshot(all), before);
}

TEST_F(CancelTest, CancelManyWithANonCancellableJobIsFailedPreconditionAndChangesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f1, SubmitFamily("f1", 3));
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f2, SubmitFamily("f2", 2));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId rendering, Submit(Tagged("rendering")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId finished, Submit(Tagged("finished")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId shared, Submit(Tagged("shared")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId dependent, Submit(DependingOn("dependent", {shared})));
  ASSERT_THAT(ClaimTagged(*engine_.engine, "rendering"), IsOk());
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "finished"), IsOk());
  std::vector<JobId> all = f1.all();
  for (JobId id : f2.all()) all.push_back(id);
  for (JobId id : {rendering, finished, shared, dependent}) all.push_back(id);
  const std::vector<std::string> before = Snapshot(all);
  Tick();

  // Every other named job would cascade; none may.
  const JobId ids[] = {f1.children[0], rendering, f2.parent, finished, dependent};
  EXPECT_THAT(engine_->CancelMany(kTeam, ids),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(rendering.ToString()), HasSubstr("render:dorender"),
                             HasSubstr(finished.ToString()), HasSubstr("finished"))));
  EXPECT_EQ(Snapshot(all), before);
}

TEST_F(CancelTest, CancelManyChecksCountThenDuplicatesThenExistenceThenState) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, Submit(Tagged("a")));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId finished, Submit(Tagged("finished")));
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "finished"), IsOk());
  const JobId unknown = UnknownId();
  const std::vector<std::string> before = Snapshot({a, finished});

  const JobId duplicate_and_unknown[] = {a, unknown, a};
  EXPECT_THAT(engine_->CancelMany(kTeam, duplicate_and_unknown),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const JobId unknown_and_finished[] = {finished, unknown, a};
  EXPECT_THAT(engine_->CancelMany(kTeam, unknown_and_finished),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(unknown.ToString())));
  EXPECT_EQ(Snapshot({a, finished}), before);
}

TEST_F(CancelTest, CancelManyListsOverlappingCascadesOnce) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family f, SubmitFamily("p", 3));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId other, Submit(Tagged("other")));
  Tick();
  // Two children of one family: each alone would cancel the whole family.
  const JobId ids[] = {f.children[2], other, f.children[0]};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> response, engine_->CancelMany(kTeam, ids));
  ExpectCancelled(response, {{f.children[2], kViaApi},
                             {other, kViaApi},
                             {f.children[0], kViaApi},
                             {f.parent, CascadeFrom(f.children[2])},
                             {f.children[1], CascadeFrom(f.children[2])}});
}

// ---- Cancel batch: seed 001 ------------------------------------------------------------

class CancelBatchTest : public CancelTest {
 protected:
  absl::StatusOr<BatchSubmitResult> SubmitBatch(const std::vector<JobSpec>& specs) {
    return engine_->SubmitBatch(kTeam, specs);
  }
};

JobSpec InvalidSpec() {
  JobSpec spec = LeafSpec();
  spec.tags = {"not a valid tag!"};
  return spec;
}

TEST_F(CancelBatchTest, AllCancellableIsCancelled) {
  std::vector<JobSpec> specs = {Tagged("t0"), FamilyOf("t1", 2), Tagged("t2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  ASSERT_EQ(batch.jobs.size(), 3u);
  const JobId t0 = batch.jobs[0].job.id;
  const JobId t1 = batch.jobs[1].job.id;
  const JobId t2 = batch.jobs[2].job.id;
  const JobId c0 = batch.jobs[1].job.children[0].id;
  const JobId c1 = batch.jobs[1].job.children[1].id;
  Tick();

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(result.batch_id, batch.batch_id);
  EXPECT_EQ(result.status, BatchCancelStatus::kCancelled);
  EXPECT_EQ(result.total_jobs, 3u);
  EXPECT_EQ(result.cancelled_count, 3u);
  EXPECT_EQ(result.skipped_count, 0u);
  ASSERT_EQ(result.jobs.size(), 3u);
  const JobId top[] = {t0, t1, t2};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(result.jobs[i].index, i);
    EXPECT_EQ(result.jobs[i].id, top[i]);
    EXPECT_TRUE(result.jobs[i].cancelled);
    EXPECT_EQ(result.jobs[i].state, JobState::kCancelled);
    EXPECT_THAT(result.jobs[i].reason, IsEmpty());
  }
  // The seed's "Batch job -> child jobs belonging to that batch job".
  ExpectCancelled(
      result.cancelled_jobs,
      {{t0, kViaApi}, {t1, kViaApi}, {t2, kViaApi}, {c0, CascadeFrom(t1)}, {c1, CascadeFrom(t1)}});
}

TEST_F(CancelBatchTest, SomeRenderingOrFinishedIsPartialWithPerJobReasons) {
  // Index 1 is invalid: the batch's top-level jobs sit at 0, 2, 3, 4.
  std::vector<JobSpec> specs = {Tagged("t0"), InvalidSpec(), Tagged("t2"), Tagged("t3"),
                                FamilyOf("t4", 1)};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  ASSERT_EQ(batch.status, BatchSubmitStatus::kPartial);
  ASSERT_EQ(batch.jobs.size(), 4u);
  ASSERT_THAT(ClaimTagged(*engine_.engine, "t2"), IsOk());
  ASSERT_THAT(RenderAndFinish(*engine_.engine, "t3"), IsOk());
  const JobId t0 = batch.jobs[0].job.id;
  const JobId t2 = batch.jobs[1].job.id;
  const JobId t3 = batch.jobs[2].job.id;
  const JobId t4 = batch.jobs[3].job.id;
  const JobId t4_child = batch.jobs[3].job.children[0].id;
  const std::vector<std::string> untouched = Snapshot({t2, t3});
  Tick();

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(result.status, BatchCancelStatus::kPartial);
  EXPECT_EQ(result.total_jobs, 4u);
  EXPECT_EQ(result.cancelled_count, 2u);
  EXPECT_EQ(result.skipped_count, 2u);
  ASSERT_EQ(result.jobs.size(), 4u);

  struct Expected {
    size_t index;
    JobId id;
    bool cancelled;
    JobState state;
    std::string reason;
  };
  const Expected expected[] = {
      {0, t0, true, JobState::kCancelled, ""},
      {2, t2, false, JobState::kRendering, "job is render:dorender"},
      {3, t3, false, JobState::kFinished, "job is finished"},
      {4, t4, true, JobState::kCancelled, ""},
  };
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(result.jobs[i].index, expected[i].index);
    EXPECT_EQ(result.jobs[i].id, expected[i].id);
    EXPECT_EQ(result.jobs[i].cancelled, expected[i].cancelled);
    EXPECT_EQ(result.jobs[i].state, expected[i].state);
    EXPECT_EQ(result.jobs[i].reason, expected[i].reason);
  }
  ExpectCancelled(result.cancelled_jobs,
                  {{t0, kViaApi}, {t4, kViaApi}, {t4_child, CascadeFrom(t4)}});
  EXPECT_EQ(Snapshot({t2, t3}), untouched);
}

TEST_F(CancelBatchTest, NoneCancellableIsUnchanged) {
  std::vector<JobSpec> specs = {Tagged("t0"), Tagged("t1")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  ASSERT_THAT(ClaimTagged(*engine_.engine, "t0"), IsOk());
  ASSERT_THAT(RenderAndFail(*engine_.engine, "t1"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(result.status, BatchCancelStatus::kUnchanged);
  EXPECT_EQ(result.cancelled_count, 0u);
  EXPECT_EQ(result.skipped_count, 2u);
  ASSERT_EQ(result.jobs.size(), 2u);
  EXPECT_FALSE(result.jobs[0].cancelled);
  EXPECT_EQ(result.jobs[0].reason, "job is render:dorender");
  EXPECT_FALSE(result.jobs[1].cancelled);
  EXPECT_EQ(result.jobs[1].state, JobState::kError);
  EXPECT_EQ(result.jobs[1].reason, "job is error");
  EXPECT_THAT(result.cancelled_jobs, IsEmpty());
}

TEST_F(CancelBatchTest, CancellingAgainIsUnchangedWithEveryJobSkipped) {
  std::vector<JobSpec> specs = {Tagged("t0"), Tagged("t1")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  ASSERT_THAT(engine_->CancelBatch(kTeam, batch.batch_id), IsOk());
  const std::vector<std::string> before = Snapshot({batch.jobs[0].job.id, batch.jobs[1].job.id});
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult again,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(again.status, BatchCancelStatus::kUnchanged);
  EXPECT_EQ(again.skipped_count, 2u);
  for (const BatchCancelJobResult& r : again.jobs) {
    EXPECT_FALSE(r.cancelled);
    EXPECT_EQ(r.state, JobState::kCancelled);
    EXPECT_EQ(r.reason, "job is manually_cancelled");
  }
  EXPECT_THAT(again.cancelled_jobs, IsEmpty());
  EXPECT_EQ(Snapshot({batch.jobs[0].job.id, batch.jobs[1].job.id}), before);
}

TEST_F(CancelBatchTest, CancelledJobsListsEveryCascadedRelativeOnceInIdOrder) {
  std::vector<JobSpec> specs = {FamilyOf("a", 2), FamilyOf("b", 3), FamilyOf("c", 1)};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  std::vector<std::pair<JobId, std::string>> expected;
  for (const BatchJobResult& r : batch.jobs) {
    expected.push_back({r.job.id, kViaApi});
    for (const CreatedJob& child : r.job.children) {
      expected.push_back({child.id, CascadeFrom(r.job.id)});
    }
  }
  ASSERT_EQ(expected.size(), 9u);
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(result.status, BatchCancelStatus::kCancelled);
  EXPECT_EQ(result.cancelled_count, 3u);
  ExpectCancelled(result.cancelled_jobs, expected);
}

TEST_F(CancelBatchTest, TopLevelJobReachedByAnEarlierCascadeCountsAsCancelled) {
  std::vector<JobSpec> specs = {Tagged("t0"), Tagged("t1")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  const JobId t0 = batch.jobs[0].job.id;
  const JobId t1 = batch.jobs[1].job.id;
  // Outside the batch: d needs both. Cancelling t0 cancels d (R), which
  // leaves t1 useless (U) before the batch cancel reaches it.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d, Submit(DependingOn("d", {t0, t1})));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine_->CancelBatch(kTeam, batch.batch_id));
  EXPECT_EQ(result.status, BatchCancelStatus::kCancelled);
  EXPECT_EQ(result.cancelled_count, 2u);
  ASSERT_EQ(result.jobs.size(), 2u);
  EXPECT_TRUE(result.jobs[0].cancelled);
  EXPECT_TRUE(result.jobs[1].cancelled);
  EXPECT_THAT(IdsOf(result.cancelled_jobs), ElementsAreArray(Sorted({t0, t1, d})));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job dependent, engine_->Get(kTeam, d));
  EXPECT_THAT(dependent.stats.error, Optional(CascadeFrom(t0)));
}

TEST_F(CancelBatchTest, JobsOutsideTheBatchAreUntouched) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId outside, Submit(Tagged("outside")));
  std::vector<JobSpec> specs = {Tagged("t0")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, SubmitBatch(specs));
  const std::vector<std::string> before = Snapshot({outside});
  Tick();
  ASSERT_THAT(engine_->CancelBatch(kTeam, batch.batch_id), IsOk());
  EXPECT_EQ(Snapshot({outside}), before);
}

TEST_F(CancelBatchTest, UnknownBatchIsNotFound) {
  ASSERT_THAT(SubmitBatch({Tagged("t0")}), IsOk());
  const BatchId unknown = UnknownId();
  EXPECT_THAT(engine_->CancelBatch(kTeam, unknown),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(unknown.ToString())));
  // A job id is not a batch id.
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId job, Submit(Tagged("job")));
  EXPECT_THAT(engine_->CancelBatch(kTeam, job), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(StateOf(job), JobState::kQueued);
}

TEST(BatchCancelStatusTest, WireNames) {
  EXPECT_EQ(BatchCancelStatusName(BatchCancelStatus::kCancelled), "cancelled");
  EXPECT_EQ(BatchCancelStatusName(BatchCancelStatus::kPartial), "partial");
  EXPECT_EQ(BatchCancelStatusName(BatchCancelStatus::kUnchanged), "unchanged");
}

// ---- The family (GetFamily) -------------------------------------------------------

TEST(FamilyTest, AFamilyIsEveryJobTheGraphJoinsTransitivelyInIdOrder) {
  DeterministicEngine engine;
  auto parent = engine->Submit(kTeam, testing::FamilySpec(2));
  ASSERT_THAT(parent, IsOk());
  JobSpec spec = LeafSpec();
  spec.depends_on = {parent->children[1].id};
  auto dependent = engine->Submit(kTeam, spec);
  ASSERT_THAT(dependent, IsOk());
  JobSpec next = LeafSpec();
  next.depends_on = {dependent->id};
  auto grand = engine->Submit(kTeam, next);
  ASSERT_THAT(grand, IsOk());
  auto loner = engine->Submit(kTeam, LeafSpec());  // no edge: not family
  ASSERT_THAT(loner, IsOk());
  const std::vector<JobId> want = {parent->id, parent->children[0].id, parent->children[1].id,
                                   dependent->id, grand->id};
  for (JobId from : want) {
    auto family = engine->GetFamily(kTeam, from);
    ASSERT_THAT(family, IsOk());
    EXPECT_THAT(IdsOf(*family), ElementsAreArray(want)) << from.ToString();
  }
  auto alone = engine->GetFamily(kTeam, loner->id);
  ASSERT_THAT(alone, IsOk());
  EXPECT_THAT(IdsOf(*alone), ElementsAreArray({loner->id}));
  EXPECT_THAT(engine->GetFamily("team-b", parent->id), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace cascade
