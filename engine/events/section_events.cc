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
  ++last_sequence_;
  TransitionEvent& event = Add(model_.job(change.slot), change.now_ms);
  event.from = change.from;
  event.to = change.to;
  event.cause = change.cause;
  if (change.related != kNone32) event.related_job = model_.job(change.related).id;
}

void SectionEvents::OnProgress(uint32_t slot, int64_t now_ms) {
  if (!hub_.progress_active()) return;
  const JobRecord& job = model_.job(slot);
  TransitionEvent& event = Add(job, now_ms);
  event.from = job.state();
  event.to = job.state();
  event.cause = TransitionCause::kProgress;
  event.progress = job.timeline.progress;
}

TransitionEvent& SectionEvents::Add(const JobRecord& job, int64_t now_ms) {
  TransitionEvent& event = section_.emplace_back();
  event.sequence = last_sequence_;
  event.job_id = job.id;
  event.team = model_.teams().name(job.team);
  // A batch being submitted joins the directory as its section ends: its id
  // is filled in then.
  section_batches_.push_back(job.batch);
  event.time = absl::FromUnixMillis(now_ms);
  return event;
}

void SectionEvents::EndSection(bool journaling, uint64_t ticket, bool failed) {
  if (section_.empty()) return;
  if (!failed) {
    for (size_t i = 0; i < section_.size(); ++i) {
      if (section_batches_[i] != kNo<BatchNo>) {
        section_[i].batch_id = model_.batches().id_of(section_batches_[i]);
      }
    }
  }
  section_batches_.clear();
  if (failed) {
    section_.clear();  // never journaled, so never published
  } else if (!journaling) {
    hub_.Publish(std::exchange(section_, {}));
  } else if (ticket != 0) {
    MutexLock lock(&mu_);
    unpublished_.emplace(ticket, std::exchange(section_, {}));
  } else {
    // Progress reports alone (every transition is journaled).
    MutexLock lock(&mu_);
    if (unpublished_.empty()) {
      hub_.Publish(std::exchange(section_, {}));
    } else {
      std::vector<TransitionEvent>& last = unpublished_.rbegin()->second;
      last.insert(last.end(), std::make_move_iterator(section_.begin()),
                  std::make_move_iterator(section_.end()));
      section_.clear();
    }
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
