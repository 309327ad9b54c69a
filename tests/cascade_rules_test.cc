// Copyright 2026 The Cascade Authors.
//
// The cascade rules (contract §3, §4) on a job model built directly: cancel
// closures (E, R, U), what follows a job's end (resolution, failure
// propagation, the ignore policy), and a job's family.

#include "engine/model/cascade_rules.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cascade/events.h"
#include "cascade/job.h"
#include "engine/model/job_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kT0 = 1'700'000'000'000;

JobSpec Leaf(std::string composition) {
  JobSpec spec;
  spec.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
  spec.composition = std::move(composition);
  spec.total_assets = 1;
  return spec;
}

class CascadeRulesTest : public ::testing::Test {
 protected:
  CascadeRulesTest() : team_(model_.InternTeam("team-a")) {}

  // Creates `spec`'s tree at a fresh time; returns the root's slot.
  uint32_t Create(const JobSpec& spec) {
    return model_.CreateTree(spec, {.team = team_, .now_ms = Tick()});
  }
  // A leaf that waits for `prerequisites`.
  uint32_t CreateDependent(std::vector<uint32_t> prerequisites,
                           PrerequisiteFailurePolicy policy = PrerequisiteFailurePolicy::kFail) {
    JobSpec spec = Leaf("dependent");
    for (uint32_t p : prerequisites) spec.depends_on.push_back(model_.job(p).id);
    spec.on_prerequisite_failure = policy;
    return Create(spec);
  }

  // A worker claims `slot` and ends it; then what follows is applied, as the
  // engine does in the same write section.
  void ClaimAndFinish(uint32_t slot) {
    ASSERT_TRUE(model_.Apply(slot, JobEvent::kClaim, {.now_ms = Tick()}));
    ASSERT_TRUE(model_.Apply(slot, JobEvent::kFinish, {.now_ms = Tick()}, "s3://out/x.mp4"));
    FollowUp(model_, slot, now_);
  }
  void ClaimAndFail(uint32_t slot) {
    ASSERT_TRUE(model_.Apply(slot, JobEvent::kClaim, {.now_ms = Tick()}));
    ASSERT_TRUE(
        model_.Apply(slot, JobEvent::kFail, {.now_ms = Tick(), .final = true}, "render crashed"));
    FollowUp(model_, slot, now_);
  }
  std::vector<uint32_t> Cancel(std::vector<uint32_t> named) {
    std::vector<uint32_t> cancelled;
    CancelClosure(model_, named, Tick(), cancelled);
    return cancelled;
  }

  JobState state(uint32_t slot) const { return model_.job(slot).state(); }
  TransitionCause cause(uint32_t slot) const { return model_.job(slot).timeline.cause; }
  uint32_t cause_slot(uint32_t slot) const { return model_.job(slot).timeline.cause_slot; }
  int64_t Tick() { return now_ += 10; }

  JobModel model_{"https://out.example.com/{team}/{id}.mp4", {.max_attempts = 3}, /*seed=*/1};
  const TeamNo team_;
  int64_t now_ = kT0;
};

TEST_F(CascadeRulesTest, ChildrenComeRightAfterTheirParentAndHoldItPending) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2")};
  const uint32_t p = Create(parent);
  EXPECT_EQ(state(p), JobState::kPending);
  EXPECT_EQ(state(p + 1), JobState::kQueued);
  EXPECT_EQ(state(p + 2), JobState::kQueued);
  EXPECT_EQ(model_.job(p + 1).parent, p);
  EXPECT_EQ(model_.unresolved_prerequisites(p), 2u);
  EXPECT_EQ(model_.live_dependents(p + 1), 1u);
}

TEST_F(CascadeRulesTest, CancellingAChildCancelsItsParentAndWaitingSiblings) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2"), Leaf("c3")};
  const uint32_t p = Create(parent);
  const uint32_t c1 = p + 1, c2 = p + 2, c3 = p + 3;
  const uint32_t bystander = Create(Leaf("other"));

  const std::vector<uint32_t> cancelled = Cancel({c1});
  ASSERT_FALSE(cancelled.empty());
  EXPECT_EQ(cancelled.front(), c1) << "the named job first";
  EXPECT_THAT(cancelled, UnorderedElementsAre(c1, p, c2, c3));
  for (uint32_t s : {c1, p, c2, c3}) EXPECT_EQ(state(s), JobState::kCancelled) << s;
  EXPECT_EQ(state(bystander), JobState::kQueued);

  EXPECT_EQ(cause(c1), TransitionCause::kCancelled);
  // R: the parent, one of whose prerequisites is cancelled; U: the siblings,
  // whose only dependent is. Both name the job the cascade started from.
  for (uint32_t s : {p, c2, c3}) {
    EXPECT_EQ(cause(s), TransitionCause::kCascade) << s;
    EXPECT_EQ(cause_slot(s), c1) << s;
  }
  EXPECT_EQ(model_.queues().size(), 1u) << "only the bystander is left to claim";
}

TEST_F(CascadeRulesTest, ARenderingSiblingIsNotCancelled) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2"), Leaf("c3")};
  const uint32_t p = Create(parent);
  const uint32_t c1 = p + 1, c2 = p + 2, c3 = p + 3;
  ASSERT_TRUE(model_.Apply(c2, JobEvent::kClaim, {.now_ms = Tick()}));

  EXPECT_THAT(Cancel({c1}), UnorderedElementsAre(c1, p, c3));
  EXPECT_EQ(state(c2), JobState::kRendering) << "only queued and pending jobs are cancellable";
}

TEST_F(CascadeRulesTest, CancellingTheParentCancelsItsWaitingChildren) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2")};
  const uint32_t p = Create(parent);
  ClaimAndFinish(p + 1);  // a finished child stays finished
  EXPECT_THAT(Cancel({p}), ElementsAre(p, p + 2));
  EXPECT_EQ(state(p + 1), JobState::kFinished);
  EXPECT_EQ(state(p + 2), JobState::kCancelled);
}

TEST_F(CascadeRulesTest, ASharedPrerequisiteSurvivesUntilItsLastDependentIsCancelled) {
  const uint32_t shared = Create(Leaf("shared"));
  const uint32_t d1 = CreateDependent({shared});
  const uint32_t d2 = CreateDependent({shared});
  EXPECT_EQ(state(d1), JobState::kPending);
  EXPECT_EQ(model_.live_dependents(shared), 2u);

  EXPECT_THAT(Cancel({d1}), ElementsAre(d1));
  EXPECT_EQ(state(shared), JobState::kQueued) << "d2 still needs it";
  EXPECT_EQ(model_.live_dependents(shared), 1u);

  EXPECT_THAT(Cancel({d2}), ElementsAre(d2, shared));
  EXPECT_EQ(state(shared), JobState::kCancelled);
  EXPECT_EQ(cause(shared), TransitionCause::kCascade);
  EXPECT_EQ(cause_slot(shared), d2);
}

TEST_F(CascadeRulesTest, CancellingAPrerequisiteCancelsEveryDependentTransitively) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t b = CreateDependent({a});
  const uint32_t c = CreateDependent({b});
  const uint32_t other = Create(Leaf("other"));
  const uint32_t d = CreateDependent({c, other});
  // R carries a's cancellation down the chain; U then ends `other`, whose
  // only dependent is gone.
  EXPECT_THAT(Cancel({a}), ElementsAre(a, b, c, d, other));
  for (uint32_t s : {b, c, d, other}) EXPECT_EQ(cause_slot(s), a) << s;
}

TEST_F(CascadeRulesTest, JobsNamedTogetherAreEachCancelledViaTheApi) {
  const uint32_t shared = Create(Leaf("shared"));
  const uint32_t d1 = CreateDependent({shared});
  // Naming both: `shared` would be reached by d1's cascade, but it was named.
  EXPECT_THAT(Cancel({d1, shared}), ElementsAre(d1, shared));
  EXPECT_EQ(cause(shared), TransitionCause::kCancelled);
}

TEST_F(CascadeRulesTest, FinishingTheLastPrerequisiteQueuesTheDependent) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2")};
  const uint32_t p = Create(parent);
  ClaimAndFinish(p + 1);
  EXPECT_EQ(state(p), JobState::kPending);
  EXPECT_EQ(model_.unresolved_prerequisites(p), 1u);
  EXPECT_FALSE(model_.queues().contains(p));
  ClaimAndFinish(p + 2);
  EXPECT_EQ(state(p), JobState::kQueued);
  EXPECT_TRUE(model_.queues().contains(p));
}

TEST_F(CascadeRulesTest, FailurePropagatesToAPendingDependentAndEndsUselessPrerequisites) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t b = Create(Leaf("b"));
  const uint32_t c = Create(Leaf("c"));
  const uint32_t d = CreateDependent({a, b, c});
  const uint32_t e = CreateDependent({d});
  ASSERT_TRUE(model_.Apply(c, JobEvent::kClaim, {.now_ms = Tick()}));  // c is rendering

  ClaimAndFail(a);
  EXPECT_EQ(state(a), JobState::kError);
  EXPECT_EQ(cause(a), TransitionCause::kFailed);
  // The pending dependent fails with it, and so on down.
  EXPECT_EQ(state(d), JobState::kError);
  EXPECT_EQ(cause(d), TransitionCause::kPrerequisiteFailed);
  EXPECT_EQ(cause_slot(d), a);
  EXPECT_EQ(state(e), JobState::kError);
  EXPECT_EQ(cause_slot(e), d);
  // U: b waited only for d; it ends too. c is rendering: it runs on.
  EXPECT_EQ(state(b), JobState::kError);
  EXPECT_EQ(cause(b), TransitionCause::kDependentsFailed);
  EXPECT_EQ(cause_slot(b), d);
  EXPECT_EQ(state(c), JobState::kRendering);
  EXPECT_EQ(model_.queues().size(), 0u);
}

TEST_F(CascadeRulesTest, AFailedChildFailsItsParentAndItsWaitingSiblings) {
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2")};
  const uint32_t p = Create(parent);
  ClaimAndFail(p + 1);
  EXPECT_EQ(state(p), JobState::kError);
  EXPECT_EQ(state(p + 2), JobState::kError);
  EXPECT_EQ(cause(p + 2), TransitionCause::kDependentsFailed);
}

TEST_F(CascadeRulesTest, APrerequisiteWithAnotherLiveDependentSurvivesAFailure) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t shared = Create(Leaf("shared"));
  const uint32_t d1 = CreateDependent({a, shared});
  const uint32_t d2 = CreateDependent({shared});
  ClaimAndFail(a);
  EXPECT_EQ(state(d1), JobState::kError);
  EXPECT_EQ(state(shared), JobState::kQueued) << "d2 still waits for it";
  EXPECT_EQ(state(d2), JobState::kPending);
}

TEST_F(CascadeRulesTest, AJobThatIgnoresFailuresProceedsWhenTheRestFinish) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t b = Create(Leaf("b"));
  const uint32_t d = CreateDependent({a, b}, PrerequisiteFailurePolicy::kIgnore);

  ClaimAndFail(a);
  EXPECT_EQ(state(d), JobState::kPending) << "b has not finished yet";
  EXPECT_EQ(state(b), JobState::kQueued) << "d still needs b";
  EXPECT_EQ(model_.unresolved_prerequisites(d), 1u);

  ClaimAndFinish(b);
  EXPECT_EQ(state(d), JobState::kQueued);
  EXPECT_TRUE(model_.queues().contains(d));
}

TEST_F(CascadeRulesTest, AJobThatIgnoresFailuresProceedsWhenTheLastPrerequisiteFails) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t b = Create(Leaf("b"));
  const uint32_t d = CreateDependent({a, b}, PrerequisiteFailurePolicy::kIgnore);
  const uint32_t e = CreateDependent({d});
  ClaimAndFinish(a);
  EXPECT_EQ(state(d), JobState::kPending);
  ClaimAndFail(b);
  EXPECT_EQ(state(d), JobState::kQueued);
  EXPECT_EQ(state(e), JobState::kPending) << "e waits for d, which goes on";
}

TEST_F(CascadeRulesTest, AnAbortedJobCancelsItsDependentsByFollowUp) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t d = CreateDependent({a});
  ASSERT_TRUE(model_.Apply(a, JobEvent::kClaim, {.now_ms = Tick()}));
  ASSERT_TRUE(model_.Apply(a, JobEvent::kAbortRequested, {.now_ms = Tick()}));
  ASSERT_TRUE(model_.Apply(a, JobEvent::kRelease, {.now_ms = Tick()}));
  ASSERT_EQ(state(a), JobState::kCancelled);
  FollowUp(model_, a, now_);
  EXPECT_EQ(state(d), JobState::kCancelled);
  EXPECT_EQ(cause(d), TransitionCause::kCascade);
  EXPECT_EQ(cause_slot(d), a);
}

TEST_F(CascadeRulesTest, ARequeuedJobHasNoFollowUp) {
  const uint32_t a = Create(Leaf("a"));
  const uint32_t d = CreateDependent({a});
  ASSERT_TRUE(model_.Apply(a, JobEvent::kClaim, {.now_ms = Tick()}));
  ASSERT_TRUE(model_.Apply(a, JobEvent::kRelease, {.now_ms = Tick()}));
  ASSERT_EQ(state(a), JobState::kQueued);
  FollowUp(model_, a, now_);
  EXPECT_EQ(state(d), JobState::kPending);
}

TEST_F(CascadeRulesTest, CollectFamilyReturnsTheConnectedJobsInSlotOrder) {
  // Family 1: a parent with two children, and a later job waiting for the
  // second child; created interleaved with unrelated jobs.
  JobSpec parent = Leaf("parent");
  parent.children = {Leaf("c1"), Leaf("c2")};
  const uint32_t lone = Create(Leaf("lone"));
  const uint32_t p = Create(parent);
  const uint32_t other_root = Create(Leaf("other"));
  const uint32_t other_dependent = CreateDependent({other_root});
  const uint32_t late = CreateDependent({p + 2});

  std::vector<uint32_t> jobs;
  std::vector<BatchNo> batches = {BatchNo{123}};
  for (uint32_t from : {p, p + 1, p + 2, late}) {
    CollectFamily(model_, from, /*through_batches=*/true, jobs, batches);
    EXPECT_THAT(jobs, ElementsAre(p, p + 1, p + 2, late)) << "from " << from;
    EXPECT_THAT(batches, IsEmpty());
  }
  CollectFamily(model_, other_dependent, false, jobs, batches);
  EXPECT_THAT(jobs, ElementsAre(other_root, other_dependent));
  CollectFamily(model_, lone, false, jobs, batches);
  EXPECT_THAT(jobs, ElementsAre(lone));
}

TEST_F(CascadeRulesTest, CollectFamilyCrossesABatchOnlyWhenAsked) {
  const BatchId batch_id = model_.NextId(Tick());
  std::unique_ptr<BatchRecord> batch = model_.NewBatch(batch_id, "team-a");
  const BatchNo number = model_.batches().next_number();
  NewJob where{.team = team_, .batch = batch.get(), .batch_number = number, .now_ms = Tick()};
  JobSpec first = Leaf("first");
  first.children = {Leaf("child")};
  const uint32_t b0 = model_.CreateTree(first, where);
  where.batch_index = 1;
  const uint32_t b1 = model_.CreateTree(Leaf("second"), where);
  ASSERT_EQ(model_.PublishBatch(std::move(batch), now_), number);
  const uint32_t outside = CreateDependent({b1});

  std::vector<uint32_t> jobs;
  std::vector<BatchNo> batches;
  CollectFamily(model_, b0 + 1, /*through_batches=*/false, jobs, batches);
  EXPECT_THAT(jobs, ElementsAre(b0, b0 + 1));
  EXPECT_THAT(batches, IsEmpty());
  CollectFamily(model_, b0 + 1, /*through_batches=*/true, jobs, batches);
  EXPECT_THAT(jobs, ElementsAre(b0, b0 + 1, b1, outside));
  EXPECT_THAT(batches, ElementsAre(number));
  // The batch's aggregate counts its top-level jobs only.
  const BatchCounts counts = model_.batches().at(number).Snapshot();
  EXPECT_EQ(counts.total, 2);
  EXPECT_EQ(counts.count(JobState::kPending), 1);
  EXPECT_EQ(counts.count(JobState::kQueued), 1);
}

}  // namespace
}  // namespace cascade::internal
