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
  wakeup_.Stop();
  if (thread_.joinable()) thread_.join();
}

void DueTimer::WakeFor(int64_t due_ms) {
  if (due_ms < planned_wake_ms_.load(std::memory_order_acquire)) wakeup_.Wake();
}

void DueTimer::Loop() {
  constexpr int64_t kMaxWaitMs = 1000;
  while (std::optional<uint64_t> generation = wakeup_.Generation()) {
    work_();
    // While the wait is being worked out, any new deadline wakes the thread
    // again (the wait sees the generation move).
    planned_wake_ms_.store(std::numeric_limits<int64_t>::max(), std::memory_order_release);
    const int64_t now_ms = NowMillis();
    int64_t wait_ms = kMaxWaitMs;
    if (std::optional<int64_t> due = next_due_()) {
      wait_ms = std::clamp<int64_t>(*due - now_ms, 1, kMaxWaitMs);
    }
    planned_wake_ms_.store(now_ms + wait_ms, std::memory_order_release);
    wakeup_.WaitFor(*generation, std::chrono::milliseconds(wait_ms));
  }
}

}  // namespace cascade::internal
