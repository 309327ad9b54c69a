// Copyright 2026 The Cascade Authors.
//
// File: cascade/events.h
// -----------------------------------------------------------------------------
// The event stream (contract §8): every change of a job's state, and every job's
// creation, is an event, in one total order per engine (`sequence`). An
// embedder subscribes with a callback; each subscription has its own thread
// and its own queue, so a slow callback delays only itself: submits, claims
// and cancels only append to the queue. A queue that reaches its bound drops
// what does not fit and counts it; the callback sees the gap in `sequence`.
//
// Example:
//
//   cascade::Subscription sub = engine->Subscribe(
//       [](const cascade::TransitionEvent& e) {
//         std::printf("%s %s\n", e.job_id.ToString().c_str(),
//                     std::string(cascade::StateName(e.to)).c_str());
//       });
//   ...
//   sub.Flush();  // every event published so far has been handed over
//
// Event times, like job timestamps, are whole milliseconds.
//   // ~Subscription (or Stop) ends it.
//
// Progress reports change no state. A subscription that asks for them
// (SubscribeOptions::progress) is also handed each heartbeat report that moved
// a job's progress, as an event whose cause is kProgress; the others never see
// them.

#ifndef CASCADE_EVENTS_H_
#define CASCADE_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "cascade/ids.h"
#include "cascade/job.h"

namespace cascade {

namespace internal {
class Subscriber;
class EventHub;
}  // namespace internal

// Why a job changed state.
enum class TransitionCause : uint8_t {
  kSubmitted,              // created by Submit or SubmitBatch (`from` is empty)
  kClaimed,                // a worker's Claim
  kFinished,               // a worker's Finish
  kFailed,                 // a worker's Fail
  kReleased,               // a worker's Release: back to queued, or error
                           // after max_attempts
  kLeaseExpired,           // the lease ran out: back to queued, or error
  kCancelled,              // named by Cancel, CancelMany or CancelBatch
  kCascade,                // cancelled by rule R or U; `related_job` is the
                           // job whose cancellation started the cascade
  kAbortAcknowledged,      // the worker released a job asked to abort
  kAbortGraceExpired,      // an abort's grace (or the lease, if it ran out
                           // first) ended without the worker's answer
  kPrerequisitesFinished,  // pending -> queued; `related_job` is the
                           // prerequisite whose end released it
  kPrerequisiteFailed,     // pending -> error; `related_job` failed
  kDependentsFailed,       // -> error: no dependent left to wait for it;
                           // `related_job` is the dependent that failed last
  // Contract §14.
  kTimedOut,        // the attempt ran past its time limit: back to queued,
                    // or error after max_attempts
  kRetried,         // revived by Retry, or because a job that caused its
                    // end was (`related_job`)
  kSuspended,       // held by Suspend (queued and pending stay so)
  kResumed,         // released by Resume
  kRetryDue,        // its retry backoff ended: claimable again
  kAbortRequested,  // RequestAbort (render:dorender stays so)
  // Only for subscriptions that ask for it (SubscribeOptions::progress): a
  // heartbeat moved the job's `progress`; from == to == render:dorender.
  kProgress,
};

// "submitted", "claimed", ..., "dependents_failed".
std::string_view TransitionCauseName(TransitionCause cause);

// A job's change of state, or of sub-state alone (contract §14: an abort
// asked for, a hold or its end, a retry backoff's end), where `from` equals
// `to` and `cause` says which; or, for a subscription that asks for them, a
// progress report (kProgress).
struct TransitionEvent {
  // 1, 2, 3, ... in the order the changes happened. A progress report takes
  // no number of its own: it carries the sequence of the change before it.
  uint64_t sequence = 0;
  JobId job_id;
  std::string team;
  std::optional<BatchId> batch_id;  // the batch the job was submitted in
  std::optional<JobState> from;     // empty for kSubmitted
  JobState to = JobState::kQueued;
  absl::Time time;
  TransitionCause cause = TransitionCause::kSubmitted;
  std::optional<JobId> related_job;
  // kProgress only: the reported percentage, 0-100.
  double progress = 0.0;
};

using EventCallback = std::function<void(const TransitionEvent&)>;

struct SubscribeOptions {
  // Events a subscription may hold before its callback takes them; beyond
  // it new events are dropped (and counted in Subscription::dropped()).
  // Default 65,536. REQUIRES: >= 1.
  size_t max_queued = size_t{1} << 16;
  // Also hand over every heartbeat report that moved a job's progress (cause
  // kProgress), in order with the transitions. A heartbeat that reports progress costs a
  // queued event per such subscription, so only ask when it is shown
  // somewhere. Default: false.
  bool progress = false;
};

// A live subscription. Destroying it (or Stop) ends it: the callback is not
// called again once Stop returns. Movable, not copyable.
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&& other) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // Ends the subscription: waits for a callback in progress to return and
  // discards what is still queued. Must not be called from the callback.
  void Stop();

  // Blocks until every event published before the call has been handed to
  // the callback (or dropped), or until `timeout` passes. True if caught up.
  // Must not be called from the callback.
  bool Flush(absl::Duration timeout = absl::InfiniteDuration());

  // Events handed to the callback so far, and events dropped because the
  // queue was full.
  uint64_t delivered() const;
  uint64_t dropped() const;

  bool active() const { return subscriber_ != nullptr; }

 private:
  friend class internal::EventHub;
  explicit Subscription(std::shared_ptr<internal::Subscriber> subscriber);

  std::shared_ptr<internal::Subscriber> subscriber_;
};

}  // namespace cascade

#endif  // CASCADE_EVENTS_H_
