// Copyright 2026 The Cascade Authors.
//
// The per-job state machine (contract §1). The transition table itself is the
// Boost.MSM front-end in job_state_machine.cc, the single authority on which
// (state, event) pairs are legal and what each transition writes; this header
// is its small, MSM-free face, so that only one translation unit pays for
// compiling Boost.MSM.
//
// Each job owns one JobMachine (32 bytes, holding the MSM back-end): the
// job's state *is* the machine's. Besides the six wire states the table has
// sub-states (SubState), each reported with its wire state: Aborting (a
// rendering job asked to stop), Waiting (a queued job waiting out its retry
// backoff) and Held (a suspended queued or pending job). Their rows decide
// what an event means in them. Only engine/model/job_model.cc applies events
// to a machine.

#ifndef CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_
#define CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "cascade/events.h"
#include "cascade/job.h"

namespace cascade::internal {

inline constexpr int64_t kUnsetMillis = std::numeric_limits<int64_t>::min();
// "No job": a slot number no job has.
inline constexpr uint32_t kNone32 = std::numeric_limits<uint32_t>::max();

// The fields a transition's action writes. Times are Unix milliseconds.
struct JobTimeline {
  int64_t updated_ms = kUnsetMillis;
  int64_t started_ms = kUnsetMillis;
  int64_t finished_ms = kUnsetMillis;
  int64_t error_ms = kUnsetMillis;
  float progress = 0.0f;
  // Why the job ended in error or was cancelled (meaningful in those states
  // only; stats.error is made from it), and the slot of the job it names.
  uint32_t cause_slot = kNone32;
  uint16_t attempts = 0;
  TransitionCause cause = TransitionCause::kSubmitted;
  // An abort was asked for (the view's cancelRequested). Written by the
  // AbortRequested row and kept after the job ends, as history; the
  // machine's Aborting sub-state is what decides what happens next.
  bool abort_asked = false;
  // In the Waiting sub-state: when the job becomes claimable again.
  int64_t retry_ms = kUnsetMillis;
};

// The sub-state a wire state is in (contract §14).
enum class SubState : uint8_t {
  kNone,
  kAborting,  // render:dorender, asked to abort
  kWaiting,   // queued, waiting out its retry backoff: not claimable
  kHeld,      // queued or pending, suspended: never claimed
};

// The events of contract §1's table.
enum class JobEvent : uint8_t {
  kSubmit,
  kPrerequisitesMet,
  kPrerequisiteFailed,
  kDependentsFailed,
  kCancel,
  kClaim,
  kProgress,
  kFinish,
  kFail,
  kRelease,
  kLeaseExpired,
  kAbortRequested,
  // Contract §14.
  kTimedOut,  // the attempt ran past its time limit
  kRetryDue,  // the retry backoff is over
  kRetry,     // revived by Retry
  kSuspend,
  kResume,
  kReprioritize,  // SetPriority (the model applies the new priority)
};
inline constexpr int kNumJobEvents = 18;
std::string_view EventName(JobEvent event);

// The cause a transition by `event` to `to` reports when its caller names
// none.
TransitionCause DefaultCause(JobEvent event, JobState to);

// What an event carries besides its kind.
struct EventArgs {
  int64_t now_ms = 0;
  // Why, for the event subscribers see and the error cause an ending
  // transition stores; DefaultCause(event, to) when unset.
  std::optional<TransitionCause> cause = std::nullopt;
  // The slot of the job the cause names (a cascade's origin, the failed
  // prerequisite, ...), or kNone32.
  uint32_t related = kNone32;
  // kSubmit, kPrerequisitesMet, kPrerequisiteFailed: the job still has an
  // unresolved prerequisite.
  bool blocked = false;
  // kPrerequisiteFailed: the job's policy (the job model fills it in).
  PrerequisiteFailurePolicy policy = PrerequisiteFailurePolicy::kFail;
  // Ending an attempt (kFail, kRelease, kLeaseExpired, kTimedOut): the
  // attempts the job may make in all, and its first retry backoff (the model
  // fills both in from the job). kFail with `final`: no retry.
  int max_attempts = 1;
  int64_t retry_backoff_ms = 0;
  bool final = false;
  // kProgress: the reported percentage, 0-100.
  float progress = 0.0f;
  // kReprioritize: the new priority.
  int32_t priority = 0;
};

class JobMachine {
 public:
  // A machine in the pseudo-state before Submit.
  JobMachine();
  ~JobMachine();
  JobMachine(const JobMachine&) = delete;
  JobMachine& operator=(const JobMachine&) = delete;

  // The current wire state; nullopt before Submit.
  std::optional<JobState> state() const;
  SubState sub_state() const;
  // True in the rendering sub-state an abort request leads to.
  bool abort_requested() const { return sub_state() == SubState::kAborting; }
  // Queued with no sub-state: the only state a claim takes a job from.
  bool claimable() const;

  // Runs `event` through the transition table. If a row accepts it, applies
  // the row's action to `timeline`, stamps `timeline.updated_ms`, and returns
  // true. Otherwise returns false and changes nothing.
  [[nodiscard]] bool Apply(JobEvent event, const EventArgs& args, JobTimeline& timeline);

  // Puts a machine that has seen no event into `state` and `sub`, by
  // replaying a path of the transition table that ends there, so no state is
  // reached that the table could not reach. For recovery from a journal; the
  // caller restores the timeline. False, changing nothing, if the machine has
  // seen an event or no path leads there.
  [[nodiscard]] bool Restore(JobState state, SubState sub = SubState::kNone);

  // True iff the table has a row for (state(), event) whose guard `args`
  // passes: Apply would succeed. Changes nothing.
  [[nodiscard]] bool Accepts(JobEvent event, const EventArgs& args = {}) const;

 private:
  // The Boost.MSM back-end lives here; job_state_machine.cc checks the size.
  alignas(4) unsigned char storage_[32];
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_
