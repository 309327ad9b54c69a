// Copyright 2026 The Cascade Authors.
//
// RetryWaits: the queued jobs waiting out a retry backoff (the machine's
// Waiting sub-state, contract §14), by the time each becomes claimable. It
// hears every change of the job model, so a job enters when a failed attempt
// sends it to wait and leaves whatever ends the wait (the backoff's end, a
// cancel, a hold, a failed dependent). The engine's timer asks it what is
// due.
//
// Thread-safe: its own lock, a leaf (taken after the engine's, never
// before), so the timer thread reads the next due time without the engine's
// lock.
#ifndef CASCADE_ENGINE_TIMER_RETRY_WAITS_H_
#define CASCADE_ENGINE_TIMER_RETRY_WAITS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "base/mutex.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

class RetryWaits final : public ModelListener {
 public:
  // `wake(due_ms)` is called, with this lock released (the engine's may be
  // held), when a wait ends earlier than any other.
  RetryWaits(const JobModel& model, std::function<void(int64_t)> wake)
      : model_(model), wake_(std::move(wake)) {}

  // The job whose wait is over first, if it is over at `now_ms`.
  std::optional<uint32_t> NextDue(int64_t now_ms) const ABSL_LOCKS_EXCLUDED(mu_);
  // When the next wait ends; nullopt if none.
  std::optional<int64_t> next_due_ms() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

  void OnTransition(const JobChange& change) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const JobModel& model_;  // read under the engine's lock, in OnTransition
  const std::function<void(int64_t)> wake_;
  mutable Mutex mu_;
  absl::flat_hash_map<uint32_t, int64_t> due_of_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, uint32_t>> due_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_TIMER_RETRY_WAITS_H_
