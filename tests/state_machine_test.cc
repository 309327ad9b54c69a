// Copyright 2026 The Cascade Authors.
//
// The per-job state machine against contract §1's table, written out here
// independently: every (state, event) pair, legal and illegal.

#include <map>
#include <optional>
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
                            E::kRelease,          E::kLeaseExpired,     E::kAbortAcknowledged};

// contract §1, one entry per row: (from, event, guard flag) -> to. `flag` is the
// row's guard input: `blocked` for Submit, `attempts_left` for Release and
// LeaseExpired; other events ignore it and list both values.
using Key = std::tuple<std::optional<S>, E, bool>;
const std::map<Key, S>& SpecTable() {
  static const auto* table = [] {
    auto* t = new std::map<Key, S>;
    auto both = [t](std::optional<S> from, E e, S to) {
      (*t)[{from, e, false}] = to;
      (*t)[{from, e, true}] = to;
    };
    (*t)[{std::nullopt, E::kSubmit, true}] = S::kPending;
    (*t)[{std::nullopt, E::kSubmit, false}] = S::kQueued;
    both(S::kPending, E::kPrerequisitesMet, S::kQueued);
    both(S::kPending, E::kPrerequisiteFailed, S::kError);
    both(S::kQueued, E::kDependentsFailed, S::kError);
    both(S::kPending, E::kDependentsFailed, S::kError);
    both(S::kQueued, E::kCancel, S::kCancelled);
    both(S::kPending, E::kCancel, S::kCancelled);
    both(S::kQueued, E::kClaim, S::kRendering);
    both(S::kRendering, E::kProgress, S::kRendering);
    both(S::kRendering, E::kFinish, S::kFinished);
    both(S::kRendering, E::kFail, S::kError);
    (*t)[{S::kRendering, E::kRelease, true}] = S::kQueued;
    (*t)[{S::kRendering, E::kRelease, false}] = S::kError;
    (*t)[{S::kRendering, E::kLeaseExpired, true}] = S::kQueued;
    (*t)[{S::kRendering, E::kLeaseExpired, false}] = S::kError;
    both(S::kRendering, E::kAbortAcknowledged, S::kCancelled);
    return t;
  }();
  return *table;
}

EventArgs ArgsFor(E event, bool flag, int64_t now) {
  EventArgs args;
  args.now_ms = now;
  args.blocked = event == E::kSubmit && flag;
  args.attempts_left = flag;
  args.progress = 42.0f;
  return args;
}

// Drives a fresh machine to `target` along legal events.
void DriveTo(JobMachine& m, JobTimeline& t, std::optional<S> target) {
  if (!target) return;
  auto step = [&](E e, bool flag = true) { ASSERT_TRUE(m.Apply(e, ArgsFor(e, flag, 1), t)); };
  switch (*target) {
    case S::kQueued:
      step(E::kSubmit, false);
      break;
    case S::kPending:
      step(E::kSubmit, true);
      break;
    case S::kRendering:
      step(E::kSubmit, false);
      step(E::kClaim);
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
  ASSERT_EQ(m.state(), target);
}

TEST(JobStateMachineTest, EveryStateEventPairFollowsTheSpecTable) {
  const std::optional<S> kStarts[] = {std::nullopt, S::kQueued, S::kPending,  S::kRendering,
                                      S::kFinished, S::kError,  S::kCancelled};
  int legal = 0, illegal = 0;
  for (std::optional<S> from : kStarts) {
    for (E event : kAllEvents) {
      for (bool flag : {false, true}) {
        JobMachine m;
        JobTimeline t;
        DriveTo(m, t, from);
        const JobTimeline before = t;
        auto it = SpecTable().find({from, event, flag});
        SCOPED_TRACE(testing::Message() << "from " << (from ? StateName(*from) : "new") << " on "
                                        << EventName(event) << " flag " << flag);
        EXPECT_EQ(m.Accepts(event, ArgsFor(event, flag, 100)), it != SpecTable().end());
        const bool applied = m.Apply(event, ArgsFor(event, flag, 100), t);
        if (it == SpecTable().end()) {
          ++illegal;
          EXPECT_FALSE(applied);
          EXPECT_EQ(m.state(), from) << "a refused event changed the state";
          EXPECT_EQ(t.updated_ms, before.updated_ms) << "a refused event changed the timeline";
          EXPECT_EQ(t.attempts, before.attempts);
          EXPECT_EQ(t.progress, before.progress);
        } else {
          ++legal;
          EXPECT_TRUE(applied);
          EXPECT_EQ(m.state(), it->second);
          EXPECT_EQ(t.updated_ms, 100) << "updatedAt changes on every transition";
        }
      }
    }
  }
  EXPECT_EQ(legal, static_cast<int>(SpecTable().size()));
  EXPECT_GT(illegal, 100);
}

TEST(JobStateMachineTest, TerminalStatesHaveNoWayOut) {
  for (S terminal : {S::kFinished, S::kError, S::kCancelled}) {
    JobMachine m;
    JobTimeline t;
    DriveTo(m, t, terminal);
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
  ASSERT_TRUE(m.Apply(E::kRelease, {.now_ms = 30, .attempts_left = true}, t));
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
  ASSERT_TRUE(m.Apply(E::kLeaseExpired, {.now_ms = 5, .attempts_left = true}, t));
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

}  // namespace
}  // namespace cascade::internal
