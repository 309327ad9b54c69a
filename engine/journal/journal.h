// Copyright 2026 The Cascade Authors.
//
// Journal: what a write section changed, written to the store as one group
// (contract §10), and the store's failure state. It hears every change of the
// job model, so a change cannot be left out of the journal by a code path
// that forgets it: each record that changes is marked, and encoded whole
// when the section ends. In memory (no store) it keeps nothing.
//
// Thread-safety: the marks are the engine's (under its writer lock);
// AppendNow, WaitDurable and the failure state may be used from any thread
// (the webhook outbox appends its own rows).

#ifndef CASCADE_ENGINE_JOURNAL_JOURNAL_H_
#define CASCADE_ENGINE_JOURNAL_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "engine/lease/lease_book.h"
#include "engine/model/job_model.h"
#include "engine/store/store.h"

namespace cascade::internal {

class Journal final : public ModelListener {
 public:
  // `store`: null in memory. `model` is the one whose changes it hears.
  Journal(std::unique_ptr<Store> store, const JobModel& model)
      : store_(std::move(store)), model_(model) {}
  // Closes the store (committing what an early return left queued).
  ~Journal() override;

  bool journaling() const { return store_ != nullptr; }
  Store* store() const { return store_.get(); }

  // ---- Marks (under the engine's writer lock) ----
  void OnRecordChanged(uint32_t slot) override;
  void OnEdgeAdded(uint64_t key, uint32_t prerequisite, uint32_t dependent) override;
  void OnBatchAdded(const BatchRecord& batch, int64_t created_ms) override;
  void OnPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
               absl::Span<const BatchNo> batches) override;
  // A row written whole (the outbox's deletes at a purge, its new deliveries).
  void AddRow(Change change);

  // Appends the section's rows (each marked record's current value, each
  // changed lease) as one group; empties the marks. The group's ticket, 0
  // if there was nothing to write (or in memory), or the store's error.
  absl::StatusOr<uint64_t> AppendSection(LeaseBook& leases);
  // The last group appended (a call that changed nothing waits for it).
  uint64_t last_ticket() const { return last_ticket_.load(std::memory_order_acquire); }

  // ---- Any thread ----
  // Appends `rows` as a group of their own now; 0 in memory.
  absl::StatusOr<uint64_t> AppendNow(std::vector<Change> rows);
  absl::Status WaitDurable(uint64_t ticket);

  // OK, or why the engine takes no more changes: after a failed commit its
  // memory holds changes the disk does not.
  absl::Status writable() const;
  void RecordFailure(const absl::Status& status);

 private:
  std::unique_ptr<Store> store_;
  const JobModel& model_;
  std::vector<uint32_t> jobs_;  // slots (may repeat)
  std::vector<Change> rows_;    // rows written whole when made
  std::atomic<uint64_t> last_ticket_{0};
  // Set once, by the first failed commit.
  std::atomic<bool> failed_{false};
  mutable Mutex failure_mu_;
  absl::Status failure_ ABSL_GUARDED_BY(failure_mu_);
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JOURNAL_JOURNAL_H_
