// Copyright 2026 The Cascade Authors.
//
// The per-job state machine against contract §1's table, written out here
// independently: every (state, event) pair, legal and illegal.

#include <compare>
#include <iterator>
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
                            E::kRelease,          E::kLeaseExpired,     E::kAbortRequested,
                            E::kTimedOut,         E::kRetryDue,         E::kRetry,
                            E::kSuspend,          E::kResume,           E::kReprioritize};
static_assert(std::size(kAllEvents) == kNumJobEvents);

// Where a machine starts: a wire state and its sub-state, or new (nullopt).
struct Start {
  std::optional<S> state;
  SubState sub = SubState::kNone;
  auto operator<=>(const Start&) const = default;
};
const Start kNew{}, kQueued{S::kQueued}, kWaiting{S::kQueued, SubState::kWaiting},
    kQueuedHeld{S::kQueued, SubState::kHeld}, kPending{S::kPending},
    kPendingHeld{S::kPending, SubState::kHeld}, kRendering{S::kRendering},
    kAborting{S::kRendering, SubState::kAborting}, kFinished{S::kFinished}, kError{S::kError},
    kCancelled{S::kCancelled};
const Start kAllStarts[] = {kNew,       kQueued,   kWaiting,  kQueuedHeld, kPending,  kPendingHeld,
                            kRendering, kAborting, kFinished, kError,      kCancelled};

// The guard inputs a row reads, as one of a few cases:
// - kNo / kYes: `blocked` for Submit, PrerequisitesMet and Retry; "the job
//   ignores failures" for PrerequisiteFailed (kYes: ignores, nothing else
//   holds it);
// - for an attempt that ends without success (Fail, Release, LeaseExpired,
//   TimedOut): kNo = no attempt left; kYes = attempts left, no backoff;
//   kBackoff = attempts left and a backoff; kFinal = attempts left but the
//   worker's fail says no retry.
// Events whose rows read nothing list every case.
enum Case { kNo, kYes, kBackoff, kFinal };
constexpr Case kAllCases[] = {kNo, kYes, kBackoff, kFinal};

// Contract §1 and §14, one entry per row: (from, event, case) -> to.
using Key = std::tuple<Start, E, Case>;
const std::map<Key, Start>& SpecTable() {
  static const auto* table = [] {
    auto* t = new std::map<Key, Start>;
    auto all = [t](Start from, E e, Start to) {
      for (Case c : kAllCases) (*t)[{from, e, c}] = to;
    };
    auto blocked = [t](Start from, E e, Start if_blocked, Start if_ready) {
      (*t)[{from, e, kYes}] = if_blocked;
      for (Case c : {kNo, kBackoff, kFinal}) (*t)[{from, e, c}] = if_ready;
    };
    blocked(kNew, E::kSubmit, kPending, kQueued);
    for (Case c : {kNo, kBackoff, kFinal}) {
      (*t)[{kPending, E::kPrerequisitesMet, c}] = kQueued;
      (*t)[{kPendingHeld, E::kPrerequisitesMet, c}] = kQueuedHeld;  // held stays held
      (*t)[{kPending, E::kPrerequisiteFailed, c}] = kError;
      (*t)[{kPendingHeld, E::kPrerequisiteFailed, c}] = kError;
    }
    (*t)[{kPending, E::kPrerequisiteFailed, kYes}] = kQueued;
    (*t)[{kPendingHeld, E::kPrerequisiteFailed, kYes}] = kQueuedHeld;
    for (Start waiting : {kQueued, kWaiting, kQueuedHeld, kPending, kPendingHeld}) {
      all(waiting, E::kDependentsFailed, kError);
      all(waiting, E::kCancel, kCancelled);
      all(waiting, E::kReprioritize, waiting);
    }
    all(kQueued, E::kClaim, kRendering);
    for (Start rendering : {kRendering, kAborting}) {
      all(rendering, E::kProgress, rendering);
      all(rendering, E::kFinish, kFinished);
    }
    // Ending an attempt without success (contract §14).
    for (E ending : {E::kFail, E::kRelease, E::kLeaseExpired, E::kTimedOut}) {
      (*t)[{kRendering, ending, kNo}] = kError;
      (*t)[{kRendering, ending, kYes}] = kQueued;
      (*t)[{kRendering, ending, kBackoff}] = kWaiting;
      // Only a worker's fail can be final.
      (*t)[{kRendering, ending, kFinal}] = ending == E::kFail ? kError : kQueued;
    }
    all(kWaiting, E::kRetryDue, kQueued);
    all(kRendering, E::kAbortRequested, kAborting);
    // An aborting job's fail is an error; its release acknowledges the
    // abort, its expiry ends the grace: cancelled either way, whatever the
    // attempts. The time limit does not apply to it (the lease book).
    all(kAborting, E::kFail, kError);
    all(kAborting, E::kRelease, kCancelled);
    all(kAborting, E::kLeaseExpired, kCancelled);
    // Retry: the one way out of error and manually_cancelled.
    blocked(kError, E::kRetry, kPending, kQueued);
    blocked(kCancelled, E::kRetry, kPending, kQueued);
    // Holds.
    all(kQueued, E::kSuspend, kQueuedHeld);
    all(kWaiting, E::kSuspend, kQueuedHeld);
    all(kPending, E::kSuspend, kPendingHeld);
    all(kQueuedHeld, E::kSuspend, kQueuedHeld);
    all(kPendingHeld, E::kSuspend, kPendingHeld);
    all(kQueuedHeld, E::kResume, kQueued);
    all(kPendingHeld, E::kResume, kPending);
    for (Start free : {kQueued, kWaiting, kPending}) all(free, E::kResume, free);
    return t;
  }();
  return *table;
}

EventArgs ArgsFor(E event, Case c, int64_t now) {
  EventArgs args;
  args.now_ms = now;
  args.blocked =
      (event == E::kSubmit || event == E::kPrerequisitesMet || event == E::kRetry) && c == kYes;
  if (event == E::kPrerequisiteFailed && c == kYes)
    args.policy = PrerequisiteFailurePolicy::kIgnore;
  args.max_attempts = c == kNo ? 1 : 3;  // one attempt made when it renders
  args.retry_backoff_ms = c == kBackoff ? 1'000 : 0;
  args.final = c == kFinal && event == E::kFail;  // only a worker's fail is final
  args.progress = 42.0f;
  return args;
}

Start StartOf(const JobMachine& m) { return {m.state(), m.sub_state()}; }

std::string Name(Start s) {
  if (!s.state) return "new";
  static constexpr const char* kSub[] = {"", " (aborting)", " (waiting)", " (held)"};
  return std::string(StateName(*s.state)) + kSub[static_cast<int>(s.sub)];
}

// Drives a fresh machine to `target` along legal events.
void DriveTo(JobMachine& m, JobTimeline& t, Start target) {
  if (!target.state) return;
  auto step = [&](E e, Case c = kYes) { ASSERT_TRUE(m.Apply(e, ArgsFor(e, c, 1), t)); };
  switch (*target.state) {
    case S::kQueued:
      step(E::kSubmit, kNo);
      if (target.sub == SubState::kWaiting) {
        step(E::kClaim);
        step(E::kFail, kBackoff);
      }
      break;
    case S::kPending:
      step(E::kSubmit, kYes);
      break;
    case S::kRendering:
      step(E::kSubmit, kNo);
      step(E::kClaim);
      if (target.sub == SubState::kAborting) step(E::kAbortRequested);
      break;
    case S::kFinished:
      step(E::kSubmit, kNo);
      step(E::kClaim);
      step(E::kFinish);
      break;
    case S::kError:
      step(E::kSubmit, kNo);
      step(E::kClaim);
      step(E::kFail, kNo);
      break;
    case S::kCancelled:
      step(E::kSubmit, kNo);
      step(E::kCancel);
      break;
  }
  if (target.sub == SubState::kHeld) step(E::kSuspend);
  ASSERT_EQ(StartOf(m), target);
}

TEST(JobStateMachineTest, EveryStateEventPairFollowsTheSpecTable) {
  int legal = 0, illegal = 0;
  for (Start from : kAllStarts) {
    for (E event : kAllEvents) {
      for (Case c : kAllCases) {
        JobMachine m;
        JobTimeline t;
        DriveTo(m, t, from);
        const JobTimeline before = t;
        auto it = SpecTable().find({from, event, c});
        SCOPED_TRACE(testing::Message()
                     << "from " << Name(from) << " on " << EventName(event) << " case " << c);
        EXPECT_EQ(m.Accepts(event, ArgsFor(event, c, 100)), it != SpecTable().end());
        const bool applied = m.Apply(event, ArgsFor(event, c, 100), t);
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
  EXPECT_GT(illegal, 400);
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

TEST(JobStateMachineTest, RestoreReachesEveryStateAndSubState) {
  for (Start target : kAllStarts) {
    if (!target.state) continue;
    JobMachine m;
    ASSERT_TRUE(m.Restore(*target.state, target.sub)) << Name(target);
    EXPECT_EQ(StartOf(m), target);
    EXPECT_FALSE(m.Restore(S::kQueued)) << "only a new machine restores";
  }
  for (Start unreachable :
       {Start{S::kFinished, SubState::kAborting}, Start{S::kRendering, SubState::kHeld},
        Start{S::kPending, SubState::kWaiting}, Start{S::kError, SubState::kHeld}}) {
    JobMachine m;
    EXPECT_FALSE(m.Restore(*unreachable.state, unreachable.sub)) << Name(unreachable);
    EXPECT_FALSE(m.state().has_value());
  }
}

TEST(JobStateMachineTest, FinishedIsFinalAndRetryIsTheOnlyWayOutOfAnEnd) {
  for (S terminal : {S::kFinished, S::kError, S::kCancelled}) {
    for (E event : kAllEvents) {
      for (Case c : kAllCases) {
        JobMachine m;
        JobTimeline t;
        DriveTo(m, t, Start{terminal});
        const bool applied = m.Apply(event, ArgsFor(event, c, 5), t);
        EXPECT_EQ(applied, event == E::kRetry && terminal != S::kFinished)
            << StateName(terminal) << " on " << EventName(event);
      }
    }
  }
}

TEST(JobStateMachineTest, OnlyAPlainQueuedJobIsClaimable) {
  for (Start s : kAllStarts) {
    JobMachine m;
    JobTimeline t;
    DriveTo(m, t, s);
    EXPECT_EQ(m.claimable(), s == kQueued) << Name(s);
    EXPECT_EQ(m.claimable(), m.Accepts(E::kClaim)) << Name(s);
  }
}

TEST(JobStateMachineTest, AFailedAttemptWaitsABackoffThatDoubles) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 0}, t));
  const EventArgs ending{.max_attempts = 4, .retry_backoff_ms = 1'000};
  int64_t now = 0;
  for (int64_t expected_wait : {1'000, 2'000, 4'000}) {
    ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = now}, t));
    EventArgs args = ending;
    args.now_ms = now += 10;
    ASSERT_TRUE(m.Apply(E::kFail, args, t));
    ASSERT_EQ(m.sub_state(), SubState::kWaiting);
    EXPECT_EQ(t.retry_ms, now + expected_wait) << "attempt " << t.attempts;
    EXPECT_EQ(t.cause, TransitionCause::kFailed) << "the last error is kept while it waits";
    EXPECT_FALSE(m.claimable());
    ASSERT_TRUE(m.Apply(E::kRetryDue, {.now_ms = now = t.retry_ms}, t));
    EXPECT_TRUE(m.claimable());
    EXPECT_EQ(t.retry_ms, kUnsetMillis);
  }
  ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = now}, t));
  EventArgs last = ending;
  last.now_ms = now + 1;
  ASSERT_TRUE(m.Apply(E::kFail, last, t));
  EXPECT_EQ(m.state(), S::kError) << "the fourth attempt was the last";
  EXPECT_EQ(t.attempts, 4);
}

TEST(JobStateMachineTest, TheBackoffIsCappedAtItsMaximum) {
  JobMachine m;
  JobTimeline t;
  ASSERT_TRUE(m.Apply(E::kSubmit, {.now_ms = 0}, t));
  const int64_t cap = absl::ToInt64Milliseconds(kMaxRetryBackoff);
  for (int i = 0; i < 19; ++i) {
    ASSERT_TRUE(m.Apply(E::kClaim, {.now_ms = 0}, t));
    ASSERT_TRUE(
        m.Apply(E::kFail, {.now_ms = 0, .max_attempts = 20, .retry_backoff_ms = cap / 2}, t));
    EXPECT_LE(t.retry_ms, cap);
    ASSERT_TRUE(m.Apply(E::kRetryDue, {.now_ms = 0}, t));
  }
  EXPECT_EQ(t.attempts, 19);
}

TEST(JobStateMachineTest, RetryStartsOverAndNamesWhatBroughtItBack) {
  JobMachine m;
  JobTimeline t;
  DriveTo(m, t, kError);
  t.abort_asked = true;
  ASSERT_TRUE(m.Apply(E::kRetry, {.now_ms = 50, .related = 9}, t));
  EXPECT_EQ(m.state(), S::kQueued);
  EXPECT_EQ(t.attempts, 0);
  EXPECT_EQ(t.progress, 0.0f);
  EXPECT_EQ(t.started_ms, kUnsetMillis);
  EXPECT_EQ(t.finished_ms, kUnsetMillis);
  EXPECT_EQ(t.error_ms, kUnsetMillis);
  EXPECT_FALSE(t.abort_asked);
  EXPECT_EQ(t.cause, TransitionCause::kRetried);
  EXPECT_EQ(t.cause_slot, 9u);
  EXPECT_EQ(t.updated_ms, 50);
}

TEST(JobStateMachineTest, SuspendingAWaitingJobEndsItsWait) {
  JobMachine m;
  JobTimeline t;
  DriveTo(m, t, kWaiting);
  ASSERT_NE(t.retry_ms, kUnsetMillis);
  ASSERT_TRUE(m.Apply(E::kSuspend, {.now_ms = 5}, t));
  EXPECT_EQ(m.sub_state(), SubState::kHeld);
  EXPECT_EQ(t.retry_ms, kUnsetMillis);
  ASSERT_TRUE(m.Apply(E::kResume, {.now_ms = 6}, t));
  EXPECT_TRUE(m.claimable());
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
