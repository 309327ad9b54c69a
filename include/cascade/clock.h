// Copyright 2026 The Cascade Authors.
//
// File: cascade/clock.h
// -----------------------------------------------------------------------------
// The engine reads time only through a Clock, so tests and benchmarks that
// embed it can run on a ManualClock and be deterministic.
//
// Example:
//
//   cascade::ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
//   cascade::Options options;
//   options.clock = &clock;
//   ...
//   clock.Advance(absl::Seconds(61));  // leases of 60 s are now due

#ifndef CASCADE_CLOCK_H_
#define CASCADE_CLOCK_H_

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace cascade {

// Thread-safe source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // True for clocks that only move when told to (the engine then runs due
  // work when asked, instead of on a background thread).
  virtual bool IsManual() const { return false; }

  // The process-wide real clock. Never null; lives forever.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));

  absl::Time Now() const override;
  bool IsManual() const override { return true; }

  void Advance(absl::Duration d);
  // REQUIRES: `t` is not before Now(): time never goes back.
  void Set(absl::Time t);

 private:
  // A std::mutex: visible to ThreadSanitizer. Not a capability, so now_ is
  // not annotated: a public header cannot use the engine's annotated
  // base/mutex.h, and clang's -Wthread-safety rejects ABSL_GUARDED_BY
  // on libstdc++'s std::mutex. Now, Advance and Set (clock.cc) take it.
  mutable std::mutex mu_;
  absl::Time now_;  // guarded by mu_
};

}  // namespace cascade

#endif  // CASCADE_CLOCK_H_
