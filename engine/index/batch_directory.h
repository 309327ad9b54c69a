// Copyright 2026 The Cascade Authors.
//
// Batches and their aggregates, readable without a lock (contract §5).
//
// A batch's aggregate is six 10-bit counters, one per JobState, packed in one
// 64-bit atomic word: a transition moves one unit between two fields with a
// single fetch_add, and a read is a single load, so every snapshot is
// consistent and sums to the total. 10 bits hold a batch's at most 1000
// top-level jobs.
//
// The directory maps ids to records through an open-addressing table of atomic
// pointers. There is one writer at a time (the engine, under its lock) and any
// number of lock-free readers. A record is fully built before its pointer is
// published with release order; a table that outgrows its load factor is
// copied into a larger one, published the same way, and the old one is kept
// until the directory dies, so a reader holding it is never left dangling.

#ifndef CASCADE_ENGINE_INDEX_BATCH_DIRECTORY_H_
#define CASCADE_ENGINE_INDEX_BATCH_DIRECTORY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cascade/batch.h"
#include "cascade/ids.h"
#include "cascade/job.h"
#include "engine/table/numbers.h"

namespace cascade::internal {

static_assert(kMaxBatchJobs < (1 << 10), "batch counters are 10 bits wide");

class BatchRecord {
 public:
  BatchRecord(BatchId id, std::string team_name) : id_(id), team_name_(std::move(team_name)) {}

  const BatchId& id() const { return id_; }
  // Immutable, so a lock-free reader can check the caller's team.
  const std::string& team_name() const { return team_name_; }

  // Top-level jobs' slots, in request order. Writer side only.
  std::vector<uint32_t>& top_level() { return top_level_; }
  const std::vector<uint32_t>& top_level() const { return top_level_; }

  // Counts a new top-level job. Writer side, before or after publication.
  void Add(JobState s) { packed_.fetch_add(Unit(s), std::memory_order_release); }
  // Moves one top-level job from `from` to `to`. Writer side.
  void Move(JobState from, JobState to) {
    packed_.fetch_add(Unit(to) - Unit(from), std::memory_order_release);
  }
  // Retention purged the batch and its jobs: Find no longer returns it (the
  // record itself stays until the engine is destroyed, as a reader may hold
  // it). Writer side.
  void MarkPurged() { purged_.store(true, std::memory_order_release); }
  bool purged() const { return purged_.load(std::memory_order_acquire); }

  // One consistent snapshot. Any thread, no lock.
  BatchCounts Snapshot() const {
    uint64_t packed = packed_.load(std::memory_order_acquire);
    BatchCounts counts;
    for (int s = 0; s < kNumJobStates; ++s) {
      counts.by_state[s] = static_cast<int>((packed >> (10 * s)) & 0x3FF);
      counts.total += counts.by_state[s];
    }
    return counts;
  }

 private:
  static uint64_t Unit(JobState s) { return uint64_t{1} << (10 * static_cast<int>(s)); }

  const BatchId id_;
  const std::string team_name_;
  std::vector<uint32_t> top_level_;
  std::atomic<uint64_t> packed_{0};
  std::atomic<bool> purged_{false};
};

class BatchDirectory {
 public:
  BatchDirectory() { Publish(16); }

  // Writer: takes ownership and returns the record's number (for JobRecord::batch).
  BatchNo Insert(std::unique_ptr<BatchRecord> record);
  // Writer: the record with this number.
  BatchRecord& at(BatchNo number) { return *records_[Raw(number)]; }
  const BatchRecord& at(BatchNo number) const { return *records_[Raw(number)]; }
  // Writer (or under the writer's lock): the id of batch `number`, from a
  // dense array that stays in cache, where at(number).id() costs two misses.
  const BatchId& id_of(BatchNo number) const { return ids_[Raw(number)]; }
  size_t size() const { return records_.size(); }
  // Writer: the number the next Insert will return.
  BatchNo next_number() const { return BatchNo{static_cast<uint32_t>(records_.size())}; }

  // Any thread, lock-free: the record with this id, or null (also when it was
  // purged).
  const BatchRecord* Find(BatchId id) const;

 private:
  struct Table {
    explicit Table(size_t capacity)
        : mask(capacity - 1), slots(new std::atomic<const BatchRecord*>[capacity]) {
      for (size_t i = 0; i < capacity; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
    }
    const size_t mask;
    std::unique_ptr<std::atomic<const BatchRecord*>[]> slots;
  };

  static size_t Hash(BatchId id) { return static_cast<size_t>(id.lo() ^ (id.hi() >> 16)); }
  static void Place(Table& t, const BatchRecord* record);
  void Publish(size_t capacity);

  std::atomic<const Table*> table_{nullptr};
  std::vector<std::unique_ptr<Table>> tables_;         // writer; every table published
  std::vector<std::unique_ptr<BatchRecord>> records_;  // writer
  std::vector<BatchId> ids_;                           // writer; ids_[n] = records_[n]->id()
};

inline void BatchDirectory::Place(Table& t, const BatchRecord* record) {
  for (size_t i = Hash(record->id()) & t.mask;; i = (i + 1) & t.mask) {
    if (t.slots[i].load(std::memory_order_relaxed) == nullptr) {
      t.slots[i].store(record, std::memory_order_release);
      return;
    }
  }
}

inline void BatchDirectory::Publish(size_t capacity) {
  auto next = std::make_unique<Table>(capacity);
  for (const auto& r : records_) Place(*next, r.get());
  table_.store(next.get(), std::memory_order_release);
  tables_.push_back(std::move(next));
}

inline BatchNo BatchDirectory::Insert(std::unique_ptr<BatchRecord> record) {
  // Keep the load factor at or below one half.
  if ((records_.size() + 1) * 2 > tables_.back()->mask + 1) {
    Publish((tables_.back()->mask + 1) * 2);
  }
  const BatchRecord* r = record.get();
  ids_.push_back(r->id());
  records_.push_back(std::move(record));
  Place(*tables_.back(), r);
  return BatchNo{static_cast<uint32_t>(records_.size() - 1)};
}

inline const BatchRecord* BatchDirectory::Find(BatchId id) const {
  const Table* t = table_.load(std::memory_order_acquire);
  for (size_t i = Hash(id) & t->mask;; i = (i + 1) & t->mask) {
    const BatchRecord* r = t->slots[i].load(std::memory_order_acquire);
    if (r == nullptr) return nullptr;
    if (r->id() == id) return r->purged() ? nullptr : r;
  }
}

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_INDEX_BATCH_DIRECTORY_H_
