// Copyright 2026 The Cascade Authors.
//
// Per-team listing indexes (contract §6): for each state and each tag, the ordered
// set of job slots (a SlotSet). Slot order is creation order, so walking a set in order
// is `oldest_first`, backwards `newest_first`, and a createdAt range is a
// slot range.
//
// NOTE: not thread-safe; the engine's lock guards it.

#ifndef CASCADE_ENGINE_INDEX_LIST_INDEX_H_
#define CASCADE_ENGINE_INDEX_LIST_INDEX_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "cascade/job.h"
#include "cascade/list_query.h"
#include "engine/index/slot_set.h"
#include "engine/table/job_table.h"

namespace cascade::internal {

class TeamIndex {
 public:
  void Add(uint32_t slot, JobState state, absl::Span<const TagNo> tags) {
    by_state_[static_cast<int>(state)].insert(slot);
    for (TagNo tag : tags) by_tag_[tag].insert(slot);
  }
  void Move(uint32_t slot, JobState from, JobState to) {
    by_state_[static_cast<int>(from)].erase(slot);
    by_state_[static_cast<int>(to)].insert(slot);
  }
  // Forgets a job (retention purged it).
  void Remove(uint32_t slot, JobState state, absl::Span<const TagNo> tags) {
    by_state_[static_cast<int>(state)].erase(slot);
    for (TagNo tag : tags) {
      auto it = by_tag_.find(tag);
      if (it == by_tag_.end()) continue;
      it->second.erase(slot);
      if (it->second.empty()) by_tag_.erase(it);
    }
  }
  const SlotSet& by_state(JobState s) const { return by_state_[static_cast<int>(s)]; }
  // Null when no job of the team carries the tag.
  const SlotSet* by_tag(TagNo tag) const {
    auto it = by_tag_.find(tag);
    return it == by_tag_.end() ? nullptr : &it->second;
  }

 private:
  std::array<SlotSet, kNumJobStates> by_state_;
  absl::flat_hash_map<TagNo, SlotSet> by_tag_;
};

// A listing, resolved to index terms.
struct Selection {
  std::array<bool, kNumJobStates> states{};  // allowed states
  std::vector<TagNo> tags;                   // interned, all required
  uint32_t lo = 0;                           // slot range [lo, hi)
  uint32_t hi = 0;
  SortOrder sort = SortOrder::kOldestFirst;
  size_t offset = 0;
  size_t limit = 0;
};

// The slots of one page of `selection`, in its order. `random_bits` feeds the
// `random` order.
std::vector<uint32_t> SelectPage(const TeamIndex& index, const JobTable& table,
                                 const Selection& selection, uint64_t random_bits);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_INDEX_LIST_INDEX_H_
