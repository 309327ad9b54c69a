// Copyright 2026 The Cascade Authors.
//
// The retry backoffs being waited out.

#include "engine/timer/retry_waits.h"

namespace cascade::internal {

std::optional<uint32_t> RetryWaits::NextDue(int64_t now_ms) const {
  MutexLock lock(&mu_);
  if (due_.empty() || due_.begin()->first > now_ms) return std::nullopt;
  return due_.begin()->second;
}

std::optional<int64_t> RetryWaits::next_due_ms() const {
  MutexLock lock(&mu_);
  if (due_.empty()) return std::nullopt;
  return due_.begin()->first;
}

size_t RetryWaits::size() const {
  MutexLock lock(&mu_);
  return due_.size();
}

void RetryWaits::OnTransition(const JobChange& change) {
  const bool waits = change.sub == SubState::kWaiting;
  if (!waits && change.from_sub != SubState::kWaiting) return;
  const int64_t due_ms = model_.job(change.slot).timeline.retry_ms;
  bool first = false;
  {
    MutexLock lock(&mu_);
    if (auto it = due_of_.find(change.slot); it != due_of_.end()) {
      due_.erase({it->second, change.slot});
      due_of_.erase(it);
    }
    if (waits) {
      due_of_[change.slot] = due_ms;
      due_.insert({due_ms, change.slot});
      first = due_.begin()->second == change.slot;
    }
  }
  if (first) wake_(due_ms);
}

}  // namespace cascade::internal
