// Copyright 2026 The Cascade Authors.
//
// SectionEvents: the transition events of the current write section
// (contract §8), built as the job model reports each change, and published
// when the section's changes are durable, in section order, so a subscriber
// never hears of a change a crash could take back.
//
// Thread-safety: the section's events are the engine's (under its writer
// lock); Commit's staging and PublishDurable have their own lock.

#ifndef CASCADE_ENGINE_EVENTS_SECTION_EVENTS_H_
#define CASCADE_ENGINE_EVENTS_SECTION_EVENTS_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "base/mutex.h"
#include "engine/events/event_hub.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

class SectionEvents final : public ModelListener {
 public:
  SectionEvents(EventHub& hub, const JobModel& model) : hub_(hub), model_(model) {}

  void OnTransition(const JobChange& change) override;
  // A heartbeat moved the job's progress (the model's record has it). Only
  // Heartbeat reports progress; it calls this after the model took it.
  void OnProgress(uint32_t slot, int64_t now_ms);

  // The section ended. In memory (`ticket` 0 and not `journaling`) its
  // events are published now; a section whose group was appended as
  // `ticket` keeps them for PublishDurable; one that failed (`failed`) drops
  // them. A section that journaled nothing holds progress reports at most:
  // they go out after every group still waiting, so no subscriber hears of
  // progress before the claim it follows.
  void EndSection(bool journaling, uint64_t ticket, bool failed) ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes, in ticket order, the events of every group up to `ticket`
  // (all durable).
  void PublishDurable(uint64_t ticket) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TransitionEvent& Add(const JobRecord& job, int64_t now_ms);

  EventHub& hub_;
  const JobModel& model_;
  std::vector<TransitionEvent> section_;
  std::vector<BatchNo> section_batches_;  // each event's job's batch
  uint64_t last_sequence_ = 0;
  Mutex mu_;
  absl::btree_map<uint64_t, std::vector<TransitionEvent>> unpublished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_EVENTS_SECTION_EVENTS_H_
