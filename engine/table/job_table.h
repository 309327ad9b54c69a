// Copyright 2026 The Cascade Authors.
//
// The job table: one compact record per job, in fixed-size chunks so that a
// record never moves once made. The chunks live in huge-page regions
// (engine/util/huge_pages.h): growing the table costs few page faults. A
// job's slot (its index here) is assigned in creation order, so slot order is
// id order and createdAt order.
//
// NOTE: not thread-safe; the engine's lock guards it.

#ifndef CASCADE_ENGINE_TABLE_JOB_TABLE_H_
#define CASCADE_ENGINE_TABLE_JOB_TABLE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cascade/ids.h"
#include "cascade/job.h"
#include "engine/graph/dependency_graph.h"
#include "engine/state/job_state_machine.h"
#include "engine/table/numbers.h"
#include "engine/util/huge_pages.h"

namespace cascade::internal {

// Fields most jobs never use, allocated on first need.
struct JobExtras {
  std::string output_url;   // overrides the engine's template when set
  std::string error;        // a worker's fail text (cause kFailed)
  std::string payload;      // handed to the worker at claim
  std::vector<TagNo> tags;  // interned, sorted, unique
  std::unique_ptr<WebhookSpec> webhook;
};

struct JobRecord {
  JobId id;
  JobTimeline timeline;
  int64_t created_ms = 0;
  JobMachine machine;
  TeamNo team{};
  TemplateNo template_ref = kNo<TemplateNo>;  // interned template id
  BatchNo batch = kNo<BatchNo>;
  uint32_t parent = kNone32;  // slot of the parent (nested children)
  Vertex vertex = kNoVertex;  // in the dependency graph, if any edge
  uint32_t total_assets = 0;
  int32_t priority = 0;
  // Contract §14: the first retry's backoff and the time limit of an
  // attempt (0: none), in ms; the attempts the job may make.
  uint32_t retry_backoff_ms = 0;
  uint32_t timeout_ms = 0;
  uint8_t max_attempts = 1;
  uint16_t batch_index = 0;  // position in the batch request (top-level)
  PrerequisiteFailurePolicy policy = PrerequisiteFailurePolicy::kFail;
  bool top_level_of_batch = false;
  std::unique_ptr<JobExtras> extras;

  JobState state() const { return *machine.state(); }
  // A rendering job asked to abort (the machine's sub-state).
  bool abort_requested() const { return machine.abort_requested(); }
  SubState sub_state() const { return machine.sub_state(); }
  // Retention purged the job: its id is cleared and no index holds its slot.
  bool purged() const { return id.is_zero(); }
  JobExtras& mutable_extras() {
    if (!extras) extras = std::make_unique<JobExtras>();
    return *extras;
  }
};

class JobTable {
 public:
  static constexpr int kChunkBits = 12;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
  // Chunks are carved from huge-page regions of this many (engine/util/
  // huge_pages.h): 32 x 4096 records, ~18 MiB of address space each.
  static constexpr uint32_t kChunksPerRegion = 32;

  JobTable() = default;
  JobTable(const JobTable&) = delete;
  JobTable& operator=(const JobTable&) = delete;
  ~JobTable() {
    for (uint32_t slot = 0; slot < size_; ++slot) (*this)[slot].~JobRecord();
    for (void* region : regions_) FreeHugeRegion(region, kRegionBytes);
  }

  // Makes a new record at the next slot and returns its slot. Records are
  // constructed one at a time, so memory is touched as the table grows.
  uint32_t Append() {
    if (size_ % kChunkSize == 0) {
      const size_t in_region = chunks_.size() % kChunksPerRegion;
      if (in_region == 0) regions_.push_back(AllocateHugeRegion(kRegionBytes));
      chunks_.push_back(static_cast<JobRecord*>(regions_.back()) + in_region * kChunkSize);
    }
    new (&chunks_.back()[size_ & (kChunkSize - 1)]) JobRecord();
    return size_++;
  }
  JobRecord& operator[](uint32_t slot) {
    return chunks_[slot >> kChunkBits][slot & (kChunkSize - 1)];
  }
  const JobRecord& operator[](uint32_t slot) const {
    return chunks_[slot >> kChunkBits][slot & (kChunkSize - 1)];
  }
  uint32_t size() const { return size_; }

  // Starts loading the record's cache lines, so that a loop over many slots
  // waits for several records' misses at once rather than one after another.
  void Prefetch(uint32_t slot) const {
    // Every line the record spans: records are not line-aligned, so one may
    // start late in a line and end early in the fourth.
    const uintptr_t first = reinterpret_cast<uintptr_t>(&(*this)[slot]) & ~uintptr_t{63};
    const uintptr_t last = reinterpret_cast<uintptr_t>(&(*this)[slot]) + sizeof(JobRecord) - 1;
    for (uintptr_t line = first; line <= last; line += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(line));
    }
  }

  // The first slot whose created_ms is >= `ms` (created_ms never decreases
  // with the slot); size() if none.
  uint32_t LowerBoundCreated(int64_t ms) const {
    uint32_t lo = 0, hi = size_;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if ((*this)[mid].created_ms < ms)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }

 private:
  static constexpr size_t kRegionBytes = size_t{kChunksPerRegion} * kChunkSize * sizeof(JobRecord);

  std::vector<void*> regions_;      // from AllocateHugeRegion(kRegionBytes)
  std::vector<JobRecord*> chunks_;  // kChunkSize records each, inside regions_
  uint32_t size_ = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_TABLE_JOB_TABLE_H_
