// Copyright 2026 The Cascade Authors.
//
// Wakeup: how a background thread of the engine (the due-work timer, a
// webhook delivery thread) sleeps until its next deadline, is woken early
// when new work arrives, and is told to stop. A waiter notes the generation
// before it looks for work, so a Wake() that comes between the look and the
// wait is never lost.
//
//   while (auto generation = wakeup.Generation()) {   // nullopt: stopped
//     ... find and do work ...
//     wakeup.WaitFor(*generation, wait);
//   }
//
// Thread-safe. Its lock is a leaf.

#ifndef CASCADE_ENGINE_UTIL_WAKEUP_H_
#define CASCADE_ENGINE_UTIL_WAKEUP_H_

#include <chrono>
#include <cstdint>
#include <optional>

#include "base/mutex.h"

namespace cascade::internal {

class Wakeup {
 public:
  // The current generation, or nullopt once Stop was called.
  std::optional<uint64_t> Generation() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (stop_) return std::nullopt;
    return generation_;
  }
  // Wakes every waiter (new work, or an earlier deadline).
  void Wake() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(&mu_);
      ++generation_;
    }
    cv_.SignalAll();
  }
  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
  }
  // Sleeps for `wait` at most, or until a Wake or Stop after `generation`.
  void WaitFor(uint64_t generation, std::chrono::milliseconds wait) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    cv_.WaitUntil(
        &mu_, std::chrono::steady_clock::now() + wait,
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || generation_ != generation; });
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_WAKEUP_H_
