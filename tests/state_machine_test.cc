// Copyright 2026 The Cascade Authors.
//
// The per-job state machine against contract §1's table, written out here
// independently: every (state, event) pair, legal and illegal.

#include <compare>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/state/job_state_machine.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using S = JobState;
using E = JobEvent;

constexpr E kAllEvents[] = {E::kSubmit,           E::kPrerequisitesMet, E::kPrerequisiteFailed,
                            E::kDependentsFailed, E::kCancel,           E::kClaim,
                            E::kProgress,         E::kFinish,           E::kFail,
                            E::kRelease,          E::kLeaseExpired,     E::kAbortRequested};

// Where a machine starts: a wire state, or the Aborting sub-state of
// rendering (an abort requested), or new (nullopt).
struct Start {
  std::optional<S> state;
  bool aborting = false;
  auto operator<=>(const Start&) const = default;
};
const Start kNew{}, kQueued{S::kQueued}, kPending{S::kPending}, kRendering{S::kRendering},
    kAborting{S::kRendering, true}, kFinished{S::kFinished}, kError{S::kError},
    kCancelled{S::kCancelled};

// Contract §1, one entry per row: (from, event, guard flag) -> to. `flag` is
// the row's guard input: `blocked` for Submit and PrerequisitesMet; "the job
// ignores failures, and nothing else holds it" for PrerequisiteFailed;
// "attempts left" for Release and LeaseExpired. Other events ignore it and
// list both values.
using Key = std::tuple<Start, E, bool>;
const std::map<Key, Start>& SpecTable() {
  static const auto* table = [] {
    auto* t = new std::map<Key, Start>;
    auto both = [t](Start from, E e, Start to) {
      (*t)[{from, e, false}] = to;
      (*t)[{from, e, true}] = to;
    };
    (*t)[{kNew, E::kSubmit, true}] = kPending;
    (*t)[{kNew, E::kSubmit, false}] = kQueued;
    (*t)[{kPending, E::kPrerequisitesMet, false}] = kQueued;
    (*t)[{kPending, E::kPrerequisiteFailed, false}] = kError;
    (*t)[{kPending, E::kPrerequisiteFailed, true}] = kQueued;
    both(kQueued, E::kDependentsFailed, kError);
    both(kPending, E::kDependentsFailed, kError);
    both(kQueued, E::kCancel, kCancelled);
    both(kPending, E::kCancel, kCancelled);
    both(kQueued, E::kClaim, kRendering);
    for (Start rendering : {kRendering, kAborting}) {
      both(rendering, E::kProgress, rendering);
      both(rendering, E::kFinish, kFinished);
      both(rendering, E::kFail, kError);
    }
    (*t)[{kRendering, E::kRelease, true}] = kQueued;
    (*t)[{kRendering, E::kRelease, false}] = kError;
    (*t)[{kRendering, E::kLeaseExpired, true}] = kQueued;
    (*t)[{kRendering, E::kLeaseExpired, false}] = kError;
    both(kRendering, E::kAbortRequested, kAborting);
    // An aborting job's release acknowledges the abort; its expiry ends the
    // grace: cancelled either way, whatever the attempts.
    both(kAborting, E::kRelease, kCancelled);
    both(kAborting, E::kLeaseExpired, kCancelled);
    return t;
  }();
  return *table;
}

EventArgs ArgsFor(E event, bool flag, int64_t now) {
  EventArgs args;
  args.now_ms = now;
  args.blocked = (event == E::kSubmit || event == E::kPrerequisitesMet) && flag;
  if (event == E::kPrerequisiteFailed && flag) args.policy = PrerequisiteFailurePolicy::kIgnore;
  args.max_attempts = flag ? 3 : 1;  // one attempt made when it renders
  args.progress = 42.0f;
  return args;
}

Start StartOf(const JobMachine& m) { return {m.state(), m.abort_requested()}; }

std::string Name(Start s) {
  if (!s.state) return "new";
  return std::string(StateName(*s.state)) + (s.aborting ? " (aborting)" : "");
}

// Drives a fresh machine to `target` along legal events.
void DriveTo(JobMachine& m, JobTimeline& t, Start target) {
  if (!target.state) return;
  auto step = [&](E e, bool flag = true) { ASSERT_TRUE(m.Apply(e, ArgsFor(e, flag, 1), t)); };
  switch (*target.state) {
    case S::kQueued:
      step(E::kSubmit, false);
      break;
    case S::kPending:
      step(E::kSubmit, true);
      break;
    case S::kRendering:
      step(E::kSubmit, false);
      step(E::kClaim);
      if (target.aborting) step(E::kAbortRequested);
      break;
    case S::kFinished:
      step(E::kSubmit, false);
      step(E::kClaim);
      step(E::kFinish);
      break;
    case S::kError:
      step(E::kSubmit, false);
      step(E::kClaim);
      step(E::kFail);
      break;
    case S::kCancelled:
      step(E::kSubmit, false);
      step(E::kCancel);
      break;
  }
  ASSERT_EQ(StartOf(m), target);
}

TEST(JobStateMachineTest, EveryStateEventPairFollowsTheSpecTable) {
  const Start kStarts[] = {kNew,      kQueued,   kPending, kRendering,
                           kAborting, kFinished, kError,   kCancelled};
  int legal = 0, illegal = 0;
  for (Start from : kStarts) {
    for (E event : kAllEvents) {
      for (bool flag : {false, true}) {
        JobMachine m;
        JobTimeline t;
        DriveTo(m, t, from);
        const JobTimeline before = t;
        auto it = SpecTable().find({from, event, flag});
        SCOPED_TRACE(testing::Message()
                     << "from " << Name(from) << " on " << EventName(event) << " flag " << flag);
        EXPECT_EQ(m.Accepts(event, ArgsFor(event, flag, 100)), it != SpecTable().end());
        const bool applied = m.Apply(event, ArgsFor(event, flag, 100), t);
        if (it == SpecTable().end()) {
          ++illegal;
          EXPECT_FALSE(applied);
          EXPECT_EQ(StartOf(m), from) << "a refused event changed the state";
          EXPECT_EQ(t.updated_ms, before.updated_ms) << "a refused event changed the timeline";
          EXPECT_EQ(t.attempts, before.attempts);
          EXPECT_EQ(t.progress, before.progress);
        } else {
          ++legal;
          EXPECT_TRUE(applied);
          EXPECT_EQ(StartOf(m), it->second);
          EXPECT_EQ(t.updated_ms, 100) << "updatedAt changes on every transition";
        }
      }
    }
  }
  EXPECT_EQ(legal, static_cast<int>(SpecTable().size()));
  EXPECT_GT(illegal, 100);
}

TEST(JobStateMachineTest, EndingRowsWriteTheCauseAndTheJobItNames) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 1, .blocked = true}, t));
  ASSERT_TRUE(
      m.Apply(E::kCancel, {.now_ms = 2, .cause = TransitionCause::kCascade, .related = 7}, t));
  EXPECT_EQ(t.cause, TransitionCause::kCascade);
  EXPECT_EQ(t.cause_slot, 7u);
  JobMachine failed;
  JobTimeline tf;
  ASSERT_TRUE(failed.Apply(E::kSubmit, {.now_ms = 1, .blocked = true}, tf));
  ASSERT_TRUE(failed.Apply(E::kPrerequisiteFailed, {.now_ms = 3, .related = 4}, tf));
  EXPECT_EQ(tf.cause, TransitionCause::kPrerequisiteFailed) << "the event's default cause";
  EXPECT_EQ(tf.cause_slot, 4u);
}

TEST(JobStateMachineTest, AnAbortedJobEndsCancelledByTheTableNotByAFlag) {
  for (E ending : {E::kRelease, E::kLeaseExpired}) {
    JobMachine m;
    JobTimeline t;
    DriveTo(m, t, kAborting);
    EXPECT_TRUE(t.abort_asked);
    EXPECT_FALSE(m.Accepts(E::kAbortRequested)) << "a second request is not a transition";
    ASSERT_TRUE(m.Apply(ending, {.now_ms = 9, .max_attempts = 5}, t));
    EXPECT_EQ(m.state(), S::kCancelled);
    EXPECT_EQ(t.cause, ending == E::kRelease ? TransitionCause::kAbortAcknowledged
                                             : TransitionCause::kAbortGraceExpired);
    EXPECT_EQ(t.cause_slot, kNone32);
    EXPECT_TRUE(t.abort_asked) << "kept as history";
  }
}

TEST(JobStateMachineTest, AJobThatIgnoresFailuresWaitsForItsOtherPrerequisites) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 1, .blocked = true}, t));
  EXPECT_FALSE(m.Apply(E::kPrerequisiteFailed,
                       {.now_ms = 2, .blocked = true, .policy = PrerequisiteFailurePolicy::kIgnore},
                       t));
  EXPECT_EQ(m.state(), S::kPending);
  EXPECT_EQ(t.updated_ms, 1);
}

TEST(JobStateMachineTest, RestoreReachesEveryStateAndTheAbortSubState) {
  for (Start target : {kQueued, kPending, kRendering, kAborting, kFinished, kError, kCancelled}) {
    JobMachine m;
    ASSERT_TRUE(m.Restore(*target.state, target.aborting)) << Name(target);
    EXPECT_EQ(StartOf(m), target);
    EXPECT_FALSE(m.Restore(S::kQueued)) << "only a new machine restores";
  }
  JobMachine m;
  EXPECT_FALSE(m.Restore(S::kFinished, /*abort_requested=*/true));
  EXPECT_FALSE(m.state().has_value());
}

TEST(JobStateMachineTest, TerminalStatesHaveNoWayOut) {
  for (S terminal : {S::kFinished, S::kError, S::kCancelled}) {
    JobMachine m;
    JobTimeline t;
    DriveTo(m, t, Start{terminal});
    for (E event : kAllEvents) {
      for (bool flag : {false, true}) {
        EXPECT_FALSE(m.Apply(event, ArgsFor(event, flag, 5), t));
        EXPECT_EQ(m.state(), terminal);
      }
    }
  }
}

TEST(JobStateMachineTest, ClaimStartsAnAttempt) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 10}, t));
  ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = 20}, t));
  EXPECT_EQ(t.started_ms, 20);
  EXPECT_EQ(t.attempts, 1);
  ASSERT_TRUE(m.Apply(E::kRelease, {.now_ms = 30, .max_attempts = 3}, t));
  ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = 40}, t));
  EXPECT_EQ(t.started_ms, 40);
  EXPECT_EQ(t.attempts, 2);
}

TEST(JobStateMachineTest, ProgressNeverDecreasesWithinAnAttemptAndResetsOnRequeue) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 1}, t));
  ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = 2}, t));
  ASSERT_TRUE(m.Apply(E::kProgress, {.now_ms = 3, .progress = 40}, t));
  ASSERT_TRUE(m.Apply(E::kProgress, {.now_ms = 4, .progress = 25}, t));
  EXPECT_EQ(t.progress, 40.0f);
  EXPECT_EQ(t.updated_ms, 4) << "a progress report updates updatedAt";
  ASSERT_TRUE(m.Apply(E::kLeaseExpired, {.now_ms = 5, .max_attempts = 3}, t));
  EXPECT_EQ(m.state(), S::kQueued);
  EXPECT_EQ(t.progress, 0.0f);
}

TEST(JobStateMachineTest, FinishStampsFinishedAndFullProgress) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 1}, t));
  ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = 2}, t));
  ASSERT_TRUE(m.Apply(E::kFinish, {.now_ms = 9}, t));
  EXPECT_EQ(t.finished_ms, 9);
  EXPECT_EQ(t.progress, 100.0f);
  EXPECT_EQ(t.error_ms, kUnsetMillis);
}

TEST(JobStateMachineTest, ErrorAndCancelStampErrorAt) {
  JobMachine failed, cancelled;
  JobTimeline tf, tc;
  ASSERT_TRUE(failed.Apply(E::kSubmit, {.now_ms = 1}, tf));
  ASSERT_TRUE(failed.Apply(E::kClaim, {.now_ms = 2}, tf));
  ASSERT_TRUE(failed.Apply(E::kFail, {.now_ms = 3}, tf));
  EXPECT_EQ(tf.error_ms, 3);
  ASSERT_TRUE(cancelled.Apply(E::kSubmit, {.now_ms = 1, .blocked = true}, tc));
  ASSERT_TRUE(cancelled.Apply(E::kCancel, {.now_ms = 7}, tc));
  EXPECT_EQ(tc.error_ms, 7);
  EXPECT_EQ(cancelled.state(), S::kCancelled);
}

TEST(JobStateMachineTest, IsCancellableAsksTheTable) {
  for (S s : {S::kQueued, S::kPending, S::kRendering, S::kFinished, S::kError, S::kCancelled}) {
    EXPECT_EQ(IsCancellable(s), s == S::kQueued || s == S::kPending) << StateName(s);
  }
}

}  // namespace
}  // namespace cascade::internal
