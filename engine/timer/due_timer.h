// Copyright 2026 The Cascade Authors.
//
// DueTimer: a thread that runs the engine's due work (lease expiries, abort
// graces, retention) when it is due. It sleeps until the earliest due time
// its `next_due` callback reports (at most a second, so retention runs), and
// is woken early when something new falls due before it would wake.
// With a manual clock there is no thread: the clock's owner calls
// Engine::RunDueWork.
//
// Thread-safety: WakeFor may be called from any thread, including with the
// engine's lock held (its lock is a leaf; the timer thread never holds it
// while it runs the work).

#ifndef CASCADE_ENGINE_TIMER_DUE_TIMER_H_
#define CASCADE_ENGINE_TIMER_DUE_TIMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "cascade/clock.h"
#include "engine/util/wakeup.h"

namespace cascade::internal {

class DueTimer {
 public:
  DueTimer(Clock* clock, std::function<void()> work,
           std::function<std::optional<int64_t>()> next_due);
  ~DueTimer() { Stop(); }

  // Starts the thread (real clocks only).
  void Start();
  void Stop();
  // Wakes the thread if `due_ms` is before the time it plans to wake (so a
  // new lease 60 s out costs nothing when it already wakes within 1 s).
  void WakeFor(int64_t due_ms);

 private:
  void Loop();
  int64_t NowMillis() const { return absl::ToUnixMillis(clock_->Now()); }

  Clock* const clock_;
  const std::function<void()> work_;
  const std::function<std::optional<int64_t>()> next_due_;
  Wakeup wakeup_;
  // When the thread will next wake by itself (Unix ms): max while it is
  // working out its wait (any deadline then wakes it again), min when there
  // is no thread (nothing to wake).
  std::atomic<int64_t> planned_wake_ms_{std::numeric_limits<int64_t>::min()};
  std::thread thread_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_TIMER_DUE_TIMER_H_
