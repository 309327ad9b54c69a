// Copyright 2026 The Cascade Authors.
//
// ClaimQueues: every team's queued jobs, as claims pick them (contract §7):
// in slot (age) order, grouped by priority (highest first), and by tag, so a
// claim with tags walks the queued jobs of its rarest tag, never every queued
// job. The job model keeps it in step with the queued state.
//
// NOTE: not thread-safe; the job model's owner locks it.

#ifndef CASCADE_ENGINE_MODEL_CLAIM_QUEUES_H_
#define CASCADE_ENGINE_MODEL_CLAIM_QUEUES_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "cascade/list_query.h"
#include "engine/index/slot_set.h"
#include "engine/table/numbers.h"

namespace cascade::internal {

class ClaimQueues {
 public:
  // `tags`: interned, sorted, unique.
  void Enqueue(uint32_t slot, int32_t priority, absl::Span<const TagNo> tags);
  void Dequeue(uint32_t slot, int32_t priority, absl::Span<const TagNo> tags);

  // The queued job `order` gives first among those carrying every tag of
  // `wanted` (interned, sorted, unique); `tags_of(slot)` gives a job's tags.
  // `random_bits` picks the start for kRandom.
  std::optional<uint32_t> Pick(
      absl::Span<const TagNo> wanted, SortOrder order, uint64_t random_bits,
      const std::function<absl::Span<const TagNo>(uint32_t)>& tags_of) const;

  size_t size() const { return queued_.size(); }
  // The same among the jobs that also carry at least one tag of `any_of`
  // (interned, sorted, unique, not empty): the first, in `order`, of the
  // picks for each tag of `any_of` (`priority_of(slot)` gives a job's
  // priority). Under kRandom, a random tag's pick among those found.
  std::optional<uint32_t> PickAny(absl::Span<const TagNo> wanted, absl::Span<const TagNo> any_of,
                                  SortOrder order, uint64_t random_bits,
                                  const std::function<absl::Span<const TagNo>(uint32_t)>& tags_of,
                                  const std::function<int32_t(uint32_t)>& priority_of) const;

  bool contains(uint32_t slot) const { return queued_.contains(slot); }

 private:
  SlotSet queued_;
  absl::btree_map<int32_t, SlotSet, std::greater<int32_t>> by_priority_;
  absl::flat_hash_map<TagNo, SlotSet> by_tag_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_MODEL_CLAIM_QUEUES_H_
