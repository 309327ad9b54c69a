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

  // The section ended. In memory (`ticket` 0 and not `journaling`) its
  // events are published now; a section whose group was appended as
  // `ticket` keeps them for PublishDurable; one that failed drops them.
  void EndSection(bool journaling, uint64_t ticket) ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes, in ticket order, the events of every group up to `ticket`
  // (all durable).
  void PublishDurable(uint64_t ticket) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  EventHub& hub_;
  const JobModel& model_;
  std::vector<TransitionEvent> section_;
  uint64_t last_sequence_ = 0;
  Mutex mu_;
  absl::btree_map<uint64_t, std::vector<TransitionEvent>> unpublished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_EVENTS_SECTION_EVENTS_H_
