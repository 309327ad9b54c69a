// Copyright 2026 The Cascade Authors.
//
// Contract §1's transition table as a Boost.MSM front-end, and the JobMachine
// wrapper that runs each job's events through it.

// The table has more rows than Boost.MPL's largest vector (50): it is two
// vectors of at most 40, joined.
#define BOOST_MPL_CFG_NO_PREPROCESSED_HEADERS
#define BOOST_MPL_LIMIT_VECTOR_SIZE 40
#define BOOST_MPL_LIMIT_MAP_SIZE 40

#include "engine/state/job_state_machine.h"

#include <algorithm>
#include <array>
#include <boost/mpl/joint_view.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <new>

namespace cascade::internal {
namespace {

namespace msm = boost::msm;
namespace mpl = boost::mpl;
using msm::front::none;
using msm::front::Row;

// ---- Events: what happened, plus the row's inputs --------------------------

struct EventBase {
  const EventArgs* args;
  JobTimeline* timeline;
};
template <JobEvent kKind>
struct Ev : EventBase {
  static constexpr JobEvent kind = kKind;
};
using Submit = Ev<JobEvent::kSubmit>;
using PrerequisitesMet = Ev<JobEvent::kPrerequisitesMet>;
using PrerequisiteFailed = Ev<JobEvent::kPrerequisiteFailed>;
using DependentsFailed = Ev<JobEvent::kDependentsFailed>;
using Cancel = Ev<JobEvent::kCancel>;
using Claim = Ev<JobEvent::kClaim>;
using Progress = Ev<JobEvent::kProgress>;
using Finish = Ev<JobEvent::kFinish>;
using Fail = Ev<JobEvent::kFail>;
using Release = Ev<JobEvent::kRelease>;
using LeaseExpired = Ev<JobEvent::kLeaseExpired>;
using AbortRequested = Ev<JobEvent::kAbortRequested>;
using TimedOut = Ev<JobEvent::kTimedOut>;
using RetryDue = Ev<JobEvent::kRetryDue>;
using Retry = Ev<JobEvent::kRetry>;
using Suspend = Ev<JobEvent::kSuspend>;
using Resume = Ev<JobEvent::kResume>;
using Reprioritize = Ev<JobEvent::kReprioritize>;

// ---- Guards -----------------------------------------------------------------

struct Blocked {
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return e.args->blocked;
  }
};
struct Ready {
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return !e.args->blocked;
  }
};
// The job's `onPrerequisiteFailure` policy (contract §3).
struct FailsWithPrerequisite {
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return e.args->policy == PrerequisiteFailurePolicy::kFail;
  }
};
struct IgnoresFailureAndReady {
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return e.args->policy == PrerequisiteFailurePolicy::kIgnore && !e.args->blocked;
  }
};
// Whether an attempt that just ended without success is retried (contract
// §14): it was not the job's last, and the worker did not call it final.
bool Retried(const EventArgs& args, const JobTimeline& t) {
  return !args.final && t.attempts < args.max_attempts;
}
struct RetryNow {  // claimable again at once
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return Retried(*e.args, *e.timeline) && e.args->retry_backoff_ms == 0;
  }
};
struct RetryLater {  // claimable again once the backoff is over
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return Retried(*e.args, *e.timeline) && e.args->retry_backoff_ms > 0;
  }
};
struct NoRetry {
  template <class E, class F, class S, class T>
  bool operator()(const E& e, F&, S&, T&) const {
    return !Retried(*e.args, *e.timeline);
  }
};

// ---- Actions: the fields a transition writes --------------------------------

struct StartAttempt {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->started_ms = e.args->now_ms;
    e.timeline->progress = 0.0f;
    ++e.timeline->attempts;
  }
};
struct RecordProgress {  // monotone within an attempt
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->progress = std::max(e.timeline->progress, e.args->progress);
  }
};
struct StampFinished {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->finished_ms = e.args->now_ms;
    e.timeline->progress = 100.0f;
  }
};
// Error and cancellation: errorAt (the cancel time for a cancellation), and
// the cause stats.error is made from, with the job it names.
void EndWith(JobTimeline& t, const EventArgs& args, TransitionCause cause) {
  t.error_ms = args.now_ms;
  t.cause = cause;
  t.cause_slot = args.related;
}
struct End {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    EndWith(*e.timeline, *e.args, e.args->cause.value_or(DefaultCause(E::kind, JobState::kError)));
  }
};
// An aborting job ends cancelled: by the worker's release, or when the grace
// (or the lease) runs out first. The abort named it, so nothing is related.
struct EndAcknowledged {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    EndWith(*e.timeline, EventArgs{.now_ms = e.args->now_ms}, TransitionCause::kAbortAcknowledged);
  }
};
struct EndGraceExpired {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    EndWith(*e.timeline, EventArgs{.now_ms = e.args->now_ms}, TransitionCause::kAbortGraceExpired);
  }
};
struct AskAbort {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->abort_asked = true;
  }
};
// An attempt ended without success and the job will be retried: the cause
// is kept (the view shows the last attempt's error while the job waits).
struct EndAttempt {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->progress = 0.0f;
    e.timeline->cause = e.args->cause.value_or(DefaultCause(E::kind, JobState::kQueued));
    e.timeline->cause_slot = kNone32;
  }
};
// ... and waits first: the backoff doubles with each failed attempt, up to
// kMaxRetryBackoff.
struct EndAttemptAndWait {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F& f, S& s, T& t) const {
    EndAttempt()(e, f, s, t);
    const int64_t cap_ms = absl::ToInt64Milliseconds(kMaxRetryBackoff);
    int64_t wait_ms = e.args->retry_backoff_ms;
    for (int i = 1; i < e.timeline->attempts && wait_ms < cap_ms; ++i) wait_ms *= 2;
    e.timeline->retry_ms = e.args->now_ms + std::min(wait_ms, cap_ms);
  }
};
struct EndWait {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    e.timeline->retry_ms = kUnsetMillis;
  }
};
// Retry: a fresh start, as if just submitted, with the reason.
struct Revive {
  template <class E, class F, class S, class T>
  void operator()(const E& e, F&, S&, T&) const {
    JobTimeline& t = *e.timeline;
    const int64_t updated_ms = t.updated_ms;
    t = JobTimeline();
    t.updated_ms = updated_ms;
    t.cause = TransitionCause::kRetried;
    t.cause_slot = e.args->related;
  }
};

// ---- The machine ------------------------------------------------------------

struct JobMachineDef : msm::front::state_machine_def<JobMachineDef> {
  // One event at a time, no queue, no exception handling: a job's machine is
  // only driven under the engine's lock.
  using no_message_queue = int;
  using no_exception_thrown = int;

  struct New : msm::front::state<> {};
  struct Queued : msm::front::state<> {};
  // Queued, waiting out a retry backoff: not claimable until RetryDue.
  struct Waiting : msm::front::state<> {};
  // Queued or pending, suspended: never claimed; a held pending job that
  // becomes ready stays held.
  struct QueuedHeld : msm::front::state<> {};
  struct Pending : msm::front::state<> {};
  struct PendingHeld : msm::front::state<> {};
  struct Rendering : msm::front::state<> {};
  // Rendering, asked to abort: `render:dorender` on the wire, with
  // cancelRequested; a release or an expiry ends it cancelled.
  struct Aborting : msm::front::state<> {};
  struct Finished : msm::front::state<> {};
  struct Error : msm::front::state<> {};
  struct Cancelled : msm::front::state<> {};
  using initial_state = New;

  // clang-format off
  using lifecycle_rows = mpl::vector<
      //   Start        Event               Next        Action             Guard
      Row< New        , Submit            , Pending    , none             , Blocked               >,
      Row< New        , Submit            , Queued     , none             , Ready                 >,
      // Prerequisites (contract §3). A held job that becomes ready stays held.
      Row< Pending    , PrerequisitesMet  , Queued     , none             , Ready                 >,
      Row< PendingHeld, PrerequisitesMet  , QueuedHeld , none             , Ready                 >,
      Row< Pending    , PrerequisiteFailed, Error      , End              , FailsWithPrerequisite >,
      Row< Pending    , PrerequisiteFailed, Queued     , none             , IgnoresFailureAndReady>,
      Row< PendingHeld, PrerequisiteFailed, Error      , End              , FailsWithPrerequisite >,
      Row< PendingHeld, PrerequisiteFailed, QueuedHeld , none             , IgnoresFailureAndReady>,
      Row< Queued     , DependentsFailed  , Error      , End              , none                  >,
      Row< Waiting    , DependentsFailed  , Error      , End              , none                  >,
      Row< QueuedHeld , DependentsFailed  , Error      , End              , none                  >,
      Row< Pending    , DependentsFailed  , Error      , End              , none                  >,
      Row< PendingHeld, DependentsFailed  , Error      , End              , none                  >,
      // Cancellation (contract §4).
      Row< Queued     , Cancel            , Cancelled  , End              , none                  >,
      Row< Waiting    , Cancel            , Cancelled  , End              , none                  >,
      Row< QueuedHeld , Cancel            , Cancelled  , End              , none                  >,
      Row< Pending    , Cancel            , Cancelled  , End              , none                  >,
      Row< PendingHeld, Cancel            , Cancelled  , End              , none                  >,
      // An attempt (contract §7, §14).
      Row< Queued     , Claim             , Rendering  , StartAttempt     , none                  >,
      Row< Rendering  , Progress          , none       , RecordProgress   , none                  >,
      Row< Rendering  , Finish            , Finished   , StampFinished    , none                  >,
      Row< Rendering  , Fail              , Queued     , EndAttempt       , RetryNow              >,
      Row< Rendering  , Fail              , Waiting    , EndAttemptAndWait, RetryLater            >,
      Row< Rendering  , Fail              , Error      , End              , NoRetry               >,
      Row< Rendering  , Release           , Queued     , EndAttempt       , RetryNow              >,
      Row< Rendering  , Release           , Waiting    , EndAttemptAndWait, RetryLater            >,
      Row< Rendering  , Release           , Error      , End              , NoRetry               >,
      Row< Rendering  , LeaseExpired      , Queued     , EndAttempt       , RetryNow              >,
      Row< Rendering  , LeaseExpired      , Waiting    , EndAttemptAndWait, RetryLater            >,
      Row< Rendering  , LeaseExpired      , Error      , End              , NoRetry               >,
      Row< Rendering  , TimedOut          , Queued     , EndAttempt       , RetryNow              >,
      Row< Rendering  , TimedOut          , Waiting    , EndAttemptAndWait, RetryLater            >,
      Row< Rendering  , TimedOut          , Error      , End              , NoRetry               >,
      Row< Waiting    , RetryDue          , Queued     , EndWait          , none                  >
  >;
  using intervention_rows = mpl::vector<
      // An abort (contract §7): the worker's release acknowledges it.
      Row< Rendering  , AbortRequested    , Aborting   , AskAbort         , none                  >,
      Row< Aborting   , Progress          , none       , RecordProgress   , none                  >,
      Row< Aborting   , Finish            , Finished   , StampFinished    , none                  >,
      Row< Aborting   , Fail              , Error      , End              , none                  >,
      Row< Aborting   , Release           , Cancelled  , EndAcknowledged  , none                  >,
      Row< Aborting   , LeaseExpired      , Cancelled  , EndGraceExpired  , none                  >,
      // Retry (contract §14): error and cancelled have this one way out.
      Row< Error      , Retry             , Queued     , Revive           , Ready                 >,
      Row< Error      , Retry             , Pending    , Revive           , Blocked               >,
      Row< Cancelled  , Retry             , Queued     , Revive           , Ready                 >,
      Row< Cancelled  , Retry             , Pending    , Revive           , Blocked               >,
      // Holds (contract §14). Suspending a waiting job ends its wait.
      Row< Queued     , Suspend           , QueuedHeld , none             , none                  >,
      Row< Waiting    , Suspend           , QueuedHeld , EndWait          , none                  >,
      Row< Pending    , Suspend           , PendingHeld, none             , none                  >,
      Row< QueuedHeld , Suspend           , none       , none             , none                  >,
      Row< PendingHeld, Suspend           , none       , none             , none                  >,
      Row< QueuedHeld , Resume            , Queued     , none             , none                  >,
      Row< PendingHeld, Resume            , Pending    , none             , none                  >,
      Row< Queued     , Resume            , none       , none             , none                  >,
      Row< Waiting    , Resume            , none       , none             , none                  >,
      Row< Pending    , Resume            , none       , none             , none                  >,
      // Priority (contract §14): while the job waits to be claimed.
      Row< Queued     , Reprioritize      , none       , none             , none                  >,
      Row< Waiting    , Reprioritize      , none       , none             , none                  >,
      Row< QueuedHeld , Reprioritize      , none       , none             , none                  >,
      Row< Pending    , Reprioritize      , none       , none             , none                  >,
      Row< PendingHeld, Reprioritize      , none       , none             , none                  >
  >;
  struct transition_table : mpl::joint_view<lifecycle_rows, intervention_rows> {};
  // clang-format on

  // Every other pair: Apply reports it (process_event returns HANDLED_FALSE).
  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {}
};

using Backend = msm::back::state_machine<JobMachineDef>;
static_assert(sizeof(Backend) <= sizeof(JobMachine), "JobMachine::storage_ is too small");
static_assert(alignof(Backend) <= 4, "JobMachine::storage_ is under-aligned");
// The back-end is 28 bytes: the current state, two flags, and one empty
// object per state.

template <class State>
constexpr int kMsmId = msm::back::get_state_id<Backend::stt, State>::value;

// What each of the back-end's state ids reports: its wire state (none for
// New) and sub-state. One load where a chain of comparisons was: a job's
// every event reads its state several times.
struct StateInfo {
  std::optional<JobState> state;
  SubState sub = SubState::kNone;
};
constexpr int kMaxMsmStates = 16;
constexpr std::array<StateInfo, kMaxMsmStates> kStateInfo = [] {
  using D = JobMachineDef;
  std::array<StateInfo, kMaxMsmStates> info{};
  info[kMsmId<D::Queued>] = {JobState::kQueued};
  info[kMsmId<D::Waiting>] = {JobState::kQueued, SubState::kWaiting};
  info[kMsmId<D::QueuedHeld>] = {JobState::kQueued, SubState::kHeld};
  info[kMsmId<D::Pending>] = {JobState::kPending};
  info[kMsmId<D::PendingHeld>] = {JobState::kPending, SubState::kHeld};
  info[kMsmId<D::Rendering>] = {JobState::kRendering};
  info[kMsmId<D::Aborting>] = {JobState::kRendering, SubState::kAborting};
  info[kMsmId<D::Finished>] = {JobState::kFinished};
  info[kMsmId<D::Error>] = {JobState::kError};
  info[kMsmId<D::Cancelled>] = {JobState::kCancelled};
  return info;  // New: no state
}();

std::optional<JobState> FromMsmId(int id) { return kStateInfo[id].state; }
SubState SubStateOf(int id) { return kStateInfo[id].sub; }

template <class Event>
bool Process(Backend& m, const EventArgs& args, JobTimeline& timeline) {
  Event e;
  e.args = &args;
  e.timeline = &timeline;
  return m.process_event(e) == msm::back::HANDLED_TRUE;
}

bool Dispatch(Backend& m, JobEvent event, const EventArgs& args, JobTimeline& t) {
  switch (event) {
    case JobEvent::kSubmit:
      return Process<Submit>(m, args, t);
    case JobEvent::kPrerequisitesMet:
      return Process<PrerequisitesMet>(m, args, t);
    case JobEvent::kPrerequisiteFailed:
      return Process<PrerequisiteFailed>(m, args, t);
    case JobEvent::kDependentsFailed:
      return Process<DependentsFailed>(m, args, t);
    case JobEvent::kCancel:
      return Process<Cancel>(m, args, t);
    case JobEvent::kClaim:
      return Process<Claim>(m, args, t);
    case JobEvent::kProgress:
      return Process<Progress>(m, args, t);
    case JobEvent::kFinish:
      return Process<Finish>(m, args, t);
    case JobEvent::kFail:
      return Process<Fail>(m, args, t);
    case JobEvent::kRelease:
      return Process<Release>(m, args, t);
    case JobEvent::kLeaseExpired:
      return Process<LeaseExpired>(m, args, t);
    case JobEvent::kAbortRequested:
      return Process<AbortRequested>(m, args, t);
    case JobEvent::kTimedOut:
      return Process<TimedOut>(m, args, t);
    case JobEvent::kRetryDue:
      return Process<RetryDue>(m, args, t);
    case JobEvent::kRetry:
      return Process<Retry>(m, args, t);
    case JobEvent::kSuspend:
      return Process<Suspend>(m, args, t);
    case JobEvent::kResume:
      return Process<Resume>(m, args, t);
    case JobEvent::kReprioritize:
      return Process<Reprioritize>(m, args, t);
  }
  return false;
}

}  // namespace

std::string_view EventName(JobEvent event) {
  switch (event) {
    case JobEvent::kSubmit:
      return "Submit";
    case JobEvent::kPrerequisitesMet:
      return "PrerequisitesMet";
    case JobEvent::kPrerequisiteFailed:
      return "PrerequisiteFailed";
    case JobEvent::kDependentsFailed:
      return "DependentsFailed";
    case JobEvent::kCancel:
      return "Cancel";
    case JobEvent::kClaim:
      return "Claim";
    case JobEvent::kProgress:
      return "Progress";
    case JobEvent::kFinish:
      return "Finish";
    case JobEvent::kFail:
      return "Fail";
    case JobEvent::kRelease:
      return "Release";
    case JobEvent::kLeaseExpired:
      return "LeaseExpired";
    case JobEvent::kAbortRequested:
      return "AbortRequested";
    case JobEvent::kTimedOut:
      return "TimedOut";
    case JobEvent::kRetryDue:
      return "RetryDue";
    case JobEvent::kRetry:
      return "Retry";
    case JobEvent::kSuspend:
      return "Suspend";
    case JobEvent::kResume:
      return "Resume";
    case JobEvent::kReprioritize:
      return "Reprioritize";
  }
  return "Unknown";
}

TransitionCause DefaultCause(JobEvent event, JobState to) {
  switch (event) {
    case JobEvent::kSubmit:
      return TransitionCause::kSubmitted;
    case JobEvent::kPrerequisitesMet:
      return TransitionCause::kPrerequisitesFinished;
    case JobEvent::kPrerequisiteFailed:
      // A job that ignores failures goes on when the rest have finished.
      return to == JobState::kQueued ? TransitionCause::kPrerequisitesFinished
                                     : TransitionCause::kPrerequisiteFailed;
    case JobEvent::kDependentsFailed:
      return TransitionCause::kDependentsFailed;
    case JobEvent::kCancel:
      return TransitionCause::kCancelled;
    case JobEvent::kClaim:
    case JobEvent::kProgress:      // never a change of state
    case JobEvent::kReprioritize:  // never a change of state
      return TransitionCause::kClaimed;
    case JobEvent::kAbortRequested:
      return TransitionCause::kAbortRequested;
    case JobEvent::kTimedOut:
      return TransitionCause::kTimedOut;
    case JobEvent::kRetryDue:
      return TransitionCause::kRetryDue;
    case JobEvent::kRetry:
      return TransitionCause::kRetried;
    case JobEvent::kSuspend:
      return TransitionCause::kSuspended;
    case JobEvent::kResume:
      return TransitionCause::kResumed;
    case JobEvent::kFinish:
      return TransitionCause::kFinished;
    case JobEvent::kFail:
      return TransitionCause::kFailed;
    case JobEvent::kRelease:
      return TransitionCause::kReleased;
    case JobEvent::kLeaseExpired:
      return TransitionCause::kLeaseExpired;
  }
  return TransitionCause::kSubmitted;
}

JobMachine::JobMachine() {
  Backend* m = new (storage_) Backend();
  m->start();
}

JobMachine::~JobMachine() { std::launder(reinterpret_cast<Backend*>(storage_))->~Backend(); }

std::optional<JobState> JobMachine::state() const {
  return FromMsmId(std::launder(reinterpret_cast<const Backend*>(storage_))->current_state()[0]);
}

SubState JobMachine::sub_state() const {
  return SubStateOf(std::launder(reinterpret_cast<const Backend*>(storage_))->current_state()[0]);
}

bool JobMachine::claimable() const {
  return std::launder(reinterpret_cast<const Backend*>(storage_))->current_state()[0] ==
         kMsmId<JobMachineDef::Queued>;
}

bool JobMachine::Apply(JobEvent event, const EventArgs& args, JobTimeline& timeline) {
  Backend& m = *std::launder(reinterpret_cast<Backend*>(storage_));
  // Actions write a scratch copy; only an accepted event commits it, so a
  // refused one changes nothing.
  JobTimeline next = timeline;
  if (!Dispatch(m, event, args, next)) return false;
  next.updated_ms = args.now_ms;
  timeline = next;
  return true;
}

bool JobMachine::Restore(JobState target, SubState sub) {
  if (state().has_value()) return false;
  // The events that lead from New to `target`, then to `sub`.
  JobEvent path[5] = {JobEvent::kSubmit};
  int length = 1;
  switch (target) {
    case JobState::kQueued:
    case JobState::kPending:
      break;
    case JobState::kRendering:
      path[length++] = JobEvent::kClaim;
      break;
    case JobState::kFinished:
      path[length++] = JobEvent::kClaim;
      path[length++] = JobEvent::kFinish;
      break;
    case JobState::kError:
      path[length++] = JobEvent::kClaim;
      path[length++] = JobEvent::kFail;
      break;
    case JobState::kCancelled:
      path[length++] = JobEvent::kCancel;
      break;
  }
  switch (sub) {
    case SubState::kNone:
      break;
    case SubState::kAborting:
      path[length++] = JobEvent::kAbortRequested;
      break;
    case SubState::kWaiting:  // a failed attempt with a backoff
      path[length++] = JobEvent::kClaim;
      path[length++] = JobEvent::kFail;
      break;
    case SubState::kHeld:
      path[length++] = JobEvent::kSuspend;
      break;
  }
  // On a scratch copy, so a path that fails leaves this machine untouched.
  Backend probe(*std::launder(reinterpret_cast<const Backend*>(storage_)));
  const EventArgs args{.blocked = target == JobState::kPending,
                       .max_attempts = sub == SubState::kWaiting ? 2 : 1,
                       .retry_backoff_ms = 1};
  JobTimeline scratch;
  for (int i = 0; i < length; ++i) {
    if (!Dispatch(probe, path[i], args, scratch)) return false;
  }
  const int id = probe.current_state()[0];
  if (FromMsmId(id) != target || SubStateOf(id) != sub) return false;
  *std::launder(reinterpret_cast<Backend*>(storage_)) = probe;
  return true;
}

bool JobMachine::Accepts(JobEvent event, const EventArgs& args) const {
  Backend probe(*std::launder(reinterpret_cast<const Backend*>(storage_)));
  JobTimeline scratch;
  return Dispatch(probe, event, args, scratch);
}

}  // namespace cascade::internal

namespace cascade {

bool IsCancellable(JobState s) {
  internal::JobMachine machine;
  return machine.Restore(s) && machine.Accepts(internal::JobEvent::kCancel);
}

}  // namespace cascade
