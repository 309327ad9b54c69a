// Copyright 2026 The Cascade Authors.
//
// The journal's marks and groups.

#include "engine/journal/journal.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/journal/rows.h"

namespace cascade::internal {

Journal::~Journal() {
  // Every group was waited for by the call that made it; Close only commits
  // what an early return left queued, and checkpoints.
  if (store_ != nullptr) store_->Close().IgnoreError();
}

void Journal::OnRecordChanged(uint32_t slot) {
  if (journaling()) jobs_.push_back(slot);
}

void Journal::AddRow(Change change) {
  if (journaling()) rows_.push_back(std::move(change));
}

void Journal::OnEdgeAdded(uint64_t key, uint32_t prerequisite, uint32_t dependent) {
  AddRow(Change::Put(Table::kEdges, HexKey(key), EncodeEdge(model_, prerequisite, dependent)));
}

void Journal::OnBatchAdded(const BatchRecord& batch, int64_t created_ms) {
  AddRow(Change::Put(Table::kBatches, batch.id().ToString(), EncodeBatch(batch, created_ms)));
}

void Journal::OnPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
                      absl::Span<const BatchNo> batches) {
  if (!journaling()) return;
  for (uint32_t slot : jobs) {
    rows_.push_back(Change::Delete(Table::kJobs, model_.job(slot).id.ToString()));
  }
  for (uint64_t key : edges) rows_.push_back(Change::Delete(Table::kEdges, HexKey(key)));
  for (BatchNo b : batches) {
    rows_.push_back(Change::Delete(Table::kBatches, model_.batches().id_of(b).ToString()));
  }
}

absl::StatusOr<uint64_t> Journal::AppendSection(LeaseBook& leases) {
  if (!journaling()) return 0;
  std::vector<uint32_t> lease_slots = leases.TakeChanged();
  if (jobs_.empty() && rows_.empty() && lease_slots.empty()) return 0;
  auto unique = [](std::vector<uint32_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  unique(jobs_);
  unique(lease_slots);
  std::vector<Change> changes = std::exchange(rows_, {});
  changes.reserve(changes.size() + jobs_.size() + lease_slots.size());
  for (uint32_t slot : jobs_) {
    if (model_.job(slot).purged()) continue;  // its delete is in the rows already
    changes.push_back(
        Change::Put(Table::kJobs, model_.job(slot).id.ToString(), EncodeJob(model_, slot)));
  }
  jobs_.clear();
  for (uint32_t slot : lease_slots) {
    if (model_.job(slot).purged()) continue;
    std::string key = model_.job(slot).id.ToString();
    std::optional<Lease> lease = leases.Find(slot);
    changes.push_back(lease ? Change::Put(Table::kLeases, std::move(key), EncodeLease(*lease))
                            : Change::Delete(Table::kLeases, std::move(key)));
  }
  absl::StatusOr<uint64_t> ticket = store_->Append(std::move(changes));
  if (ticket.ok()) last_ticket_.store(*ticket, std::memory_order_release);
  return ticket;
}

absl::StatusOr<uint64_t> Journal::AppendNow(std::vector<Change> rows) {
  if (!journaling() || rows.empty()) return 0;
  return store_->Append(std::move(rows));
}

absl::Status Journal::WaitDurable(uint64_t ticket) {
  if (!journaling() || ticket == 0) return absl::OkStatus();
  absl::Status status = store_->WaitDurable(ticket);
  if (!status.ok()) RecordFailure(status);
  return status;
}

absl::Status Journal::writable() const {
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  MutexLock lock(&failure_mu_);
  return absl::Status(failure_.code(),
                      absl::StrCat("the engine takes no more changes since a commit to its data "
                                   "directory failed (reopen it to recover): ",
                                   failure_.message()));
}

void Journal::RecordFailure(const absl::Status& status) {
  MutexLock lock(&failure_mu_);
  if (failed_.load(std::memory_order_relaxed)) return;
  failure_ = status;
  failed_.store(true, std::memory_order_release);
}

}  // namespace cascade::internal
