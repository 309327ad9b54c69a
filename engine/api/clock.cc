// Copyright 2026 The Cascade Authors.
//
// The real clock and the manual clock.

#include "cascade/clock.h"

#include "absl/time/clock.h"

namespace cascade {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* const clock = new RealClock();
  return clock;
}

ManualClock::ManualClock(absl::Time start) : now_(start) {}

absl::Time ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void ManualClock::Advance(absl::Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  if (d > absl::ZeroDuration()) now_ += d;
}

void ManualClock::Set(absl::Time t) {
  std::lock_guard<std::mutex> lock(mu_);
  if (t > now_) now_ = t;
}

}  // namespace cascade
