// Copyright 2026 The Cascade Authors.
//
// The per-job state machine (SPEC §1). The transition table itself is the
// Boost.MSM front-end in job_state_machine.cc, the single authority on which
// (state, event) pairs are legal; this header is its small, MSM-free face, so
// that only one translation unit pays for compiling Boost.MSM.
//
// Each job owns one JobMachine (32 bytes, holding the 28-byte MSM back-end):
// the job's state *is* the machine's.

#ifndef CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_
#define CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "cascade/job.h"

namespace cascade::internal {

inline constexpr int64_t kUnsetMillis = std::numeric_limits<int64_t>::min();

// The fields a transition's action writes. Times are Unix milliseconds.
struct JobTimeline {
  int64_t updated_ms = kUnsetMillis;
  int64_t started_ms = kUnsetMillis;
  int64_t finished_ms = kUnsetMillis;
  int64_t error_ms = kUnsetMillis;
  float progress = 0.0f;
  uint16_t attempts = 0;
};

// The events of SPEC §1's table.
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
  kAbortAcknowledged,
};
std::string_view EventName(JobEvent event);

// What an event carries besides its kind.
struct EventArgs {
  int64_t now_ms = 0;
  // kSubmit: the job has an unfinished prerequisite (-> pending).
  bool blocked = false;
  // kRelease, kLeaseExpired: the job may be tried again (-> queued, else error).
  bool attempts_left = true;
  // kProgress: the reported percentage, 0-100.
  float progress = 0.0f;
};

class JobMachine {
 public:
  // A machine in the pseudo-state before Submit.
  JobMachine();
  ~JobMachine();
  JobMachine(const JobMachine&) = delete;
  JobMachine& operator=(const JobMachine&) = delete;

  // The current state; nullopt before Submit.
  std::optional<JobState> state() const;

  // Runs `event` through the transition table. If a row accepts it, applies
  // the row's action to `timeline`, stamps `timeline.updated_ms`, and returns
  // true. Otherwise returns false and changes nothing.
  [[nodiscard]] bool Apply(JobEvent event, const EventArgs& args, JobTimeline& timeline);

  // Puts a machine that has seen no event into `state`, by replaying a path of
  // the transition table that ends there (so no state is reached that the
  // table could not reach). For recovery from a journal; the caller restores
  // the timeline. False, changing nothing, if the machine has seen an event.
  [[nodiscard]] bool Restore(JobState state);

  // True iff the table has a row for (state(), event) whose guard `args`
  // passes: Apply would succeed. Changes nothing.
  [[nodiscard]] bool Accepts(JobEvent event, const EventArgs& args) const;

 private:
  // The Boost.MSM back-end lives here; job_state_machine.cc checks the size.
  alignas(4) unsigned char storage_[32];
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STATE_JOB_STATE_MACHINE_H_
