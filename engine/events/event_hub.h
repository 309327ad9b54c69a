// Copyright 2026 The Cascade Authors.
//
// EventHub: hands the engine's transition events to subscribers without ever
// making the engine wait for one. The engine publishes each operation's
// events as one shared, immutable batch, one operation at a time in the order
// of its writer lock (so every subscriber sees one total order): in memory
// while it still holds the lock; with a data directory once the operation's
// group is durable, in ticket order under SectionEvents::mu_. Publishing only
// appends a pointer to each subscriber's queue. Each subscriber has a thread of its own
// that runs the callback.
//
// Lock order: the engine's mu_ (or SectionEvents::mu_), then EventHub::mu_, then
// Subscriber::mu_ (declared: EventHub::mu_ is ABSL_ACQUIRED_BEFORE it).
// Callbacks run with none of them held.

#ifndef CASCADE_ENGINE_EVENTS_EVENT_HUB_H_
#define CASCADE_ENGINE_EVENTS_EVENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "cascade/events.h"

namespace cascade::internal {

using EventBatch = std::shared_ptr<const std::vector<TransitionEvent>>;

// One subscription's queue and thread. Shared by the hub (which publishes to
// it) and the Subscription handle (which stops it).
class Subscriber {
 public:
  Subscriber(EventCallback callback, const SubscribeOptions& options);
  ~Subscriber();

  bool wants_progress() const { return wants_progress_; }
  // Appends what fits of `batch` (without its `progress` progress reports
  // unless the subscriber wants them), counting the rest as dropped.
  void Enqueue(const EventBatch& batch, size_t progress);
  // Stops the thread; the callback is not called after this returns.
  void Stop();
  bool Flush(absl::Duration timeout);
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  friend class EventHub;  // names mu_ in its lock order

  void Run();

  const EventCallback callback_;
  const size_t max_queued_;
  const bool wants_progress_;
  Mutex mu_;
  CondVar cv_;  // queue_ grew, done_ moved, or stop_
  // Queued batches; the first may be partly taken (`next_` events of it).
  std::deque<EventBatch> queue_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  // Events accepted into the queue so far, and events handed over (or
  // discarded by Stop): Flush waits for the second to reach the first.
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;  // last: starts after everything it uses; joined by Stop
};

class EventHub {
 public:
  EventHub() = default;
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // True while anyone listens; the engine builds no events otherwise.
  bool active() const { return active_.load(std::memory_order_acquire); }
  // True while a subscriber wants progress reports; none are built otherwise.
  bool progress_active() const { return progress_active_.load(std::memory_order_acquire); }

  // REQUIRES: the caller holds the engine's writer lock, so the new
  // subscriber's first event is the first of some operation.
  Subscription Subscribe(EventCallback callback, const SubscribeOptions& options);

  // Hands `events` to every live subscriber. REQUIRES: the caller orders
  // publications (the engine's writer lock, or SectionEvents::mu_ in ticket
  // order); this is what orders batches.
  void Publish(std::vector<TransitionEvent> events);

 private:
  // Publish holds it while it calls Subscriber::Enqueue.
  Mutex mu_ ABSL_ACQUIRED_BEFORE(Subscriber::mu_);
  // Weak: a subscription that was stopped or destroyed drops out.
  std::vector<std::weak_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> active_{false};
  std::atomic<bool> progress_active_{false};
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_EVENTS_EVENT_HUB_H_
