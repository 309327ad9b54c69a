// Copyright 2026 The Cascade Authors.
//
// The due-work timer thread.

#include "engine/timer/due_timer.h"

#include <algorithm>

namespace cascade::internal {

DueTimer::DueTimer(Clock* clock, std::function<void()> work,
                   std::function<std::optional<int64_t>()> next_due)
    : clock_(clock), work_(std::move(work)), next_due_(std::move(next_due)) {}

void DueTimer::Start() {
  planned_wake_ms_.store(std::numeric_limits<int64_t>::max(), std::memory_order_release);
  thread_ = std::thread(&DueTimer::Loop, this);
}

void DueTimer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DueTimer::WakeFor(int64_t due_ms) {
  if (due_ms >= planned_wake_ms_.load(std::memory_order_acquire)) return;
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void DueTimer::Loop() {
  constexpr int64_t kMaxWaitMs = 1000;
  while (true) {
    uint64_t generation;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      generation = generation_;
    }
    work_();
    // While the wait is being worked out, any new deadline wakes the thread
    // again (the condition below sees the generation move).
    planned_wake_ms_.store(std::numeric_limits<int64_t>::max(), std::memory_order_release);
    const int64_t now_ms = NowMillis();
    int64_t wait_ms = kMaxWaitMs;
    if (std::optional<int64_t> due = next_due_()) {
      wait_ms = std::clamp<int64_t>(*due - now_ms, 1, kMaxWaitMs);
    }
    planned_wake_ms_.store(now_ms + wait_ms, std::memory_order_release);
    absl::MutexLock lock(&mu_);
    auto woken = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stop_ || generation_ != generation;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(wait_ms));
  }
}

}  // namespace cascade::internal
