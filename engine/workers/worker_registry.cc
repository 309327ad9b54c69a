// Copyright 2026 The Cascade Authors.
//
// The worker list's memory and rows (contract §15).

#include "engine/workers/worker_registry.h"

#include <algorithm>
#include <utility>

#include "engine/journal/journal.h"
#include "engine/journal/rows.h"

namespace cascade::internal {
namespace {

// How far a sighting may run ahead of the journal's: a quarter lease, at
// least a second and at most a minute.
int64_t JournalEvery(int64_t lease_ms) { return std::clamp<int64_t>(lease_ms / 4, 1000, 60000); }

std::string Clip(std::string_view text, size_t max) {
  return std::string(text.substr(0, std::min(text.size(), max)));
}

}  // namespace

std::string_view WorkerRegistry::SawClaim(const ClaimRequest& request, int64_t now_ms,
                                          int64_t lease_ms) {
  if (request.worker.empty()) return {};
  std::vector<std::string> tags;
  for (const auto* list : {&request.tags, &request.any_tags}) {
    for (const std::string& tag : *list) {
      if (tags.size() == kMaxWorkerTags) break;
      tags.push_back(Clip(tag, kMaxWorkerTagBytes));
    }
  }
  auto [it, added] = workers_.try_emplace(Clip(request.worker, kMaxWorkerNameBytes));
  Record& record = it->second;
  const bool changed = added || record.tags != tags || record.lease_ms != lease_ms;
  record.tags = std::move(tags);
  record.lease_ms = lease_ms;
  record.last_seen_ms = std::max(record.last_seen_ms, now_ms);
  if (changed || record.last_seen_ms - record.journaled_seen_ms >= JournalEvery(lease_ms)) {
    Persist(it->first, record);
  }
  return it->first;
}

void WorkerRegistry::Saw(std::string_view name, int64_t now_ms) {
  if (name.empty()) return;
  auto it = workers_.find(absl::string_view(name.data(), name.size()));
  if (it == workers_.end()) return;
  Record& record = it->second;
  record.last_seen_ms = std::max(record.last_seen_ms, now_ms);
  if (record.last_seen_ms - record.journaled_seen_ms >= JournalEvery(record.lease_ms)) {
    Persist(it->first, record);
  }
}

std::string_view WorkerRegistry::Intern(std::string_view name) {
  return workers_.try_emplace(std::string(name)).first->first;
}

void WorkerRegistry::Persist(std::string_view name, Record& record) {
  record.journaled_seen_ms = record.last_seen_ms;
  if (journal_.journaling()) {
    journal_.AddRow(Change::Put(Table::kWorkers, std::string(name), EncodeWorker(record)));
  }
}

void WorkerRegistry::Restore(std::string name, Record record) {
  record.journaled_seen_ms = record.last_seen_ms;
  workers_[std::move(name)] = std::move(record);
}

WorkerStatus WorkerRegistry::StatusOf(const Record& record, size_t held, int64_t now_ms) {
  if (now_ms - record.last_seen_ms > 2 * record.lease_ms) return WorkerStatus::kLost;
  return held > 0 ? WorkerStatus::kBusy : WorkerStatus::kIdle;
}

}  // namespace cascade::internal
