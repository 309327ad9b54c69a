// Copyright 2026 The Cascade Authors.
//
// Outbox: webhook deliveries waiting to be sent, being sent, or dead (contract
// §8), and the pool of threads that sends them. A delivery's request is built
// when its job ends (the engine stages it in the write section that ended
// the job); it becomes sendable when that section's group is appended, and
// is sent once the group is durable. Attempts are retried with exponential
// backoff; the last failure makes a dead letter, kept until replayed or
// purged with its job's family.
//
// Thread-safety: its own lock, taken after the engine's (never before it);
// while holding it the outbox appends its own rows to the store (the store's
// lock comes after it). Delivery threads never take the engine's lock: they
// journal their rows themselves (Journal::AppendNow).

#ifndef CASCADE_ENGINE_WEBHOOK_OUTBOX_H_
#define CASCADE_ENGINE_WEBHOOK_OUTBOX_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "base/mutex.h"
#include "cascade/clock.h"
#include "cascade/webhook.h"
#include "engine/journal/journal.h"
#include "engine/util/wakeup.h"
#include "engine/webhook/delivery.h"

namespace cascade::internal {

class Outbox {
 public:
  // `transport`, `clock` and `journal` outlive the outbox.
  Outbox(const WebhookOptions& options, Clock* clock, WebhookTransport* transport,
         Journal* journal);
  // Stops the delivery threads.
  ~Outbox();

  // Starts the delivery threads (real clocks; with a manual clock the
  // engine's RunDueWork calls SendDue instead).
  void Start();
  void Stop();

  // ---- The engine's write section ----
  // Stages `delivery` (pending, due at its due_ms) and journals its row in
  // the section's group.
  void Stage(Delivery delivery) ABSL_LOCKS_EXCLUDED(mu_);
  // The section's group was appended as `ticket` (0 in memory): staged
  // deliveries become sendable once it is durable.
  void Publish(uint64_t ticket) ABSL_LOCKS_EXCLUDED(mu_);
  // The section's group failed: its deliveries never happened.
  void DropStaged() ABSL_LOCKS_EXCLUDED(mu_);
  // Retention: if no delivery of `jobs` is pending or in flight, removes their
  // dead letters (returning their keys) and true; otherwise false.
  bool RemoveIfIdle(const absl::flat_hash_set<uint32_t>& jobs, std::vector<uint64_t>* removed)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Recovery: a delivery as the journal holds it.
  void Restore(uint64_t key, Delivery delivery) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Any thread ----
  // Sends every delivery due now, one after the other (manual clocks).
  void SendDue() ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<DeadLetter> DeadLetters(std::string_view team) const ABSL_LOCKS_EXCLUDED(mu_);
  // Makes a dead letter of `team` pending again, due now. NotFound if there
  // is none with that id.
  absl::Status Replay(std::string_view team, std::string_view delivery_id) ABSL_LOCKS_EXCLUDED(mu_);
  OutboxCounts counts() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The first delivery due at `now_ms` whose group is appended, marked in
  // flight; else nullopt, with `*next_due_ms` set to the next due time.
  std::optional<std::pair<uint64_t, Delivery>> TakeDue(int64_t now_ms, int64_t* next_due_ms)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sends delivery `key` (its group durable first) and records the result.
  void Send(uint64_t key, const Delivery& delivery) ABSL_LOCKS_EXCLUDED(mu_);
  // Journals the current row of `key` (or its delete) as a group of its own.
  absl::StatusOr<uint64_t> JournalRow(uint64_t key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeliveryLoop() ABSL_LOCKS_EXCLUDED(mu_);
  int64_t NowMillis() const { return absl::ToUnixMillis(clock_->Now()); }

  const WebhookOptions options_;
  Clock* const clock_;
  WebhookTransport* const transport_;
  Journal* const journal_;
  mutable Mutex mu_;
  // Keyed by queue order; pending ones are also in due_ by due time.
  absl::btree_map<uint64_t, Delivery> deliveries_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, uint64_t>> due_ ABSL_GUARDED_BY(mu_);
  // Keys staged by the current write section. Touched only by the engine's
  // write section (Stage, Publish, DropStaged run under its lock), so a
  // section that staged nothing publishes without taking mu_.
  std::vector<uint64_t> staged_;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 0;
  OutboxCounts counts_ ABSL_GUARDED_BY(mu_);
  Wakeup wakeup_;  // the delivery threads'
  std::vector<std::thread> threads_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_OUTBOX_H_
