// Copyright 2026 The Cascade Authors.
//
// A write section's events, and their publication once durable.

#include "engine/events/section_events.h"

#include <utility>

namespace cascade::internal {

void SectionEvents::OnTransition(const JobChange& change) {
  // A change of sub-state alone (an abort asked for, a hold, a backoff's end)
  // is an event too, with `from` equal to `to`.
  if (change.restored || (change.from == change.to && change.from_sub == change.sub) ||
      !hub_.active()) {
    return;
  }
  const JobRecord& job = model_.job(change.slot);
  TransitionEvent& event = section_.emplace_back();
  event.sequence = ++last_sequence_;
  event.job_id = job.id;
  event.team = model_.teams().name(job.team);
  event.from = change.from;
  event.to = change.to;
  event.time = absl::FromUnixMillis(change.now_ms);
  event.cause = change.cause;
  if (change.related != kNone32) event.related_job = model_.job(change.related).id;
}

void SectionEvents::EndSection(bool journaling, uint64_t ticket) {
  if (section_.empty()) return;
  if (!journaling) {
    hub_.Publish(std::exchange(section_, {}));
  } else if (ticket != 0) {
    MutexLock lock(&mu_);
    unpublished_.emplace(ticket, std::exchange(section_, {}));
  } else {
    section_.clear();  // never journaled, so never published
  }
}

void SectionEvents::PublishDurable(uint64_t ticket) {
  MutexLock lock(&mu_);
  while (!unpublished_.empty() && unpublished_.begin()->first <= ticket) {
    hub_.Publish(std::move(unpublished_.begin()->second));
    unpublished_.erase(unpublished_.begin());
  }
}

}  // namespace cascade::internal
