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
  // A worker claims again and again with the same name and tags: look them
  // up and compare in place, and copy only what is new or changed.
  const std::string_view name = std::string_view(request.worker).substr(0, kMaxWorkerNameBytes);
  auto it = workers_.find(absl::string_view(name.data(), name.size()));
  const bool added = it == workers_.end();
  if (added) it = workers_.try_emplace(std::string(name)).first;
  Record& record = it->second;
  size_t n = 0;  // the claim's tags, all-of then any-of, at most kMaxWorkerTags
  bool same_tags = true;
  for (const auto* list : {&request.tags, &request.any_tags}) {
    for (const std::string& tag : *list) {
      if (n == kMaxWorkerTags) break;
      const std::string_view kept = std::string_view(tag).substr(0, kMaxWorkerTagBytes);
      same_tags = same_tags && n < record.tags.size() && record.tags[n] == kept;
      ++n;
    }
  }
  same_tags = same_tags && n == record.tags.size();
  if (!same_tags) {
    record.tags.clear();
    for (const auto* list : {&request.tags, &request.any_tags}) {
      for (const std::string& tag : *list) {
        if (record.tags.size() == kMaxWorkerTags) break;
        record.tags.push_back(Clip(tag, kMaxWorkerTagBytes));
      }
    }
  }
  const bool changed = added || !same_tags || record.lease_ms != lease_ms;
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
