// Copyright 2026 The Cascade Authors.

#include "engine/events/event_hub.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace cascade {
namespace internal {

Subscriber::Subscriber(EventCallback callback, const SubscribeOptions& options)
    : callback_(std::move(callback)),
      max_queued_(std::max<size_t>(options.max_queued, 1)),
      wants_progress_(options.progress),
      thread_(&Subscriber::Run, this) {}

Subscriber::~Subscriber() { Stop(); }

void Subscriber::Enqueue(const EventBatch& batch_in, size_t progress) {
  EventBatch batch = batch_in;
  if (progress > 0 && !wants_progress_) {
    if (progress == batch->size()) return;
    // Rare: progress reports held back with transitions until those were
    // durable (SectionEvents). This subscriber gets the transitions alone.
    auto transitions = std::make_shared<std::vector<TransitionEvent>>();
    transitions->reserve(batch->size() - progress);
    for (const TransitionEvent& event : *batch) {
      if (event.cause != TransitionCause::kProgress) transitions->push_back(event);
    }
    batch = std::move(transitions);
  }
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    const size_t room = max_queued_ - queued_events_;
    if (batch->size() > room) {
      dropped_.fetch_add(batch->size() - room, std::memory_order_relaxed);
      if (room == 0) return;
      // The part that fits, as a batch of its own.
      queue_.push_back(std::make_shared<const std::vector<TransitionEvent>>(
          batch->begin(), batch->begin() + static_cast<std::ptrdiff_t>(room)));
      queued_events_ += room;
      accepted_ += room;
    } else {
      queue_.push_back(batch);
      queued_events_ += batch->size();
      accepted_ += batch->size();
    }
  }
  cv_.SignalAll();
}

void Subscriber::Run() {
  MutexLock lock(&mu_);
  while (true) {
    while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
    if (stop_) return;
    // Take one event; the batch it lives in stays alive through the copy of
    // the shared pointer while the lock is released.
    EventBatch batch = queue_.front();
    const TransitionEvent& event = (*batch)[next_];
    if (++next_ == batch->size()) {
      queue_.pop_front();
      next_ = 0;
    }
    --queued_events_;
    lock.Unlock();
    callback_(event);
    delivered_.fetch_add(1, std::memory_order_relaxed);
    lock.Lock();
    ++done_;
    cv_.SignalAll();
  }
}

void Subscriber::Stop() {
  {
    MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    done_ += queued_events_;  // discarded: Flush must not wait for them
    queued_events_ = 0;
    queue_.clear();
    next_ = 0;
  }
  cv_.SignalAll();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Subscriber::Flush(absl::Duration timeout) {
  MutexLock lock(&mu_);
  const uint64_t target = accepted_;
  auto caught_up = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= target; };
  if (timeout == absl::InfiniteDuration()) {
    cv_.Wait(&mu_, caught_up);
    return true;
  }
  return cv_.WaitFor(&mu_, absl::ToChronoNanoseconds(timeout), caught_up);
}

Subscription EventHub::Subscribe(EventCallback callback, const SubscribeOptions& options) {
  auto subscriber = std::make_shared<Subscriber>(std::move(callback), options);
  MutexLock lock(&mu_);
  subscribers_.push_back(subscriber);
  active_.store(true, std::memory_order_release);
  if (options.progress) progress_active_.store(true, std::memory_order_release);
  return Subscription(std::move(subscriber));
}

void EventHub::Publish(std::vector<TransitionEvent> events) {
  if (events.empty()) return;
  const size_t progress = static_cast<size_t>(std::count_if(
      events.begin(), events.end(),
      [](const TransitionEvent& event) { return event.cause == TransitionCause::kProgress; }));
  auto batch = std::make_shared<const std::vector<TransitionEvent>>(std::move(events));
  MutexLock lock(&mu_);
  size_t live = 0;
  bool progress_wanted = false;
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    if (std::shared_ptr<Subscriber> subscriber = subscribers_[i].lock()) {
      subscriber->Enqueue(batch, progress);
      progress_wanted |= subscriber->wants_progress();
      // Compact the live ones to the front (never move an entry onto itself:
      // a self-moved weak_ptr is left empty).
      if (live != i) subscribers_[live] = std::move(subscribers_[i]);
      ++live;
    }
  }
  subscribers_.resize(live);
  active_.store(live > 0, std::memory_order_release);
  progress_active_.store(progress_wanted, std::memory_order_release);
}

}  // namespace internal

// ---- Subscription -----------------------------------------------------------

Subscription::Subscription(std::shared_ptr<internal::Subscriber> subscriber)
    : subscriber_(std::move(subscriber)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Stop();
    subscriber_ = std::move(other.subscriber_);
  }
  return *this;
}

Subscription::~Subscription() { Stop(); }

void Subscription::Stop() {
  if (subscriber_ == nullptr) return;
  subscriber_->Stop();
  subscriber_.reset();
}

bool Subscription::Flush(absl::Duration timeout) {
  return subscriber_ == nullptr || subscriber_->Flush(timeout);
}

uint64_t Subscription::delivered() const {
  return subscriber_ == nullptr ? 0 : subscriber_->delivered();
}

uint64_t Subscription::dropped() const {
  return subscriber_ == nullptr ? 0 : subscriber_->dropped();
}

std::string_view TransitionCauseName(TransitionCause cause) {
  switch (cause) {
    case TransitionCause::kSubmitted:
      return "submitted";
    case TransitionCause::kClaimed:
      return "claimed";
    case TransitionCause::kFinished:
      return "finished";
    case TransitionCause::kFailed:
      return "failed";
    case TransitionCause::kReleased:
      return "released";
    case TransitionCause::kLeaseExpired:
      return "lease_expired";
    case TransitionCause::kCancelled:
      return "cancelled";
    case TransitionCause::kCascade:
      return "cascade";
    case TransitionCause::kAbortAcknowledged:
      return "abort_acknowledged";
    case TransitionCause::kAbortGraceExpired:
      return "abort_grace_expired";
    case TransitionCause::kPrerequisitesFinished:
      return "prerequisites_finished";
    case TransitionCause::kPrerequisiteFailed:
      return "prerequisite_failed";
    case TransitionCause::kDependentsFailed:
      return "dependents_failed";
    case TransitionCause::kTimedOut:
      return "timed_out";
    case TransitionCause::kRetried:
      return "retried";
    case TransitionCause::kSuspended:
      return "suspended";
    case TransitionCause::kResumed:
      return "resumed";
    case TransitionCause::kRetryDue:
      return "retry_due";
    case TransitionCause::kAbortRequested:
      return "abort_requested";
    case TransitionCause::kProgress:
      return "progress";
  }
  return "unknown";
}

}  // namespace cascade
