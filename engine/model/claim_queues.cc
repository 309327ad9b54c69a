// Copyright 2026 The Cascade Authors.
//
// The claim order of contract §7 over the queued jobs.

#include "engine/model/claim_queues.h"

#include <algorithm>
#include <vector>

namespace cascade::internal {

void ClaimQueues::Enqueue(uint32_t slot, int32_t priority, absl::Span<const TagNo> tags) {
  queued_.insert(slot);
  by_priority_[priority].insert(slot);
  for (TagNo tag : tags) by_tag_[tag].insert(slot);
}

void ClaimQueues::Dequeue(uint32_t slot, int32_t priority, absl::Span<const TagNo> tags) {
  queued_.erase(slot);
  auto it = by_priority_.find(priority);
  it->second.erase(slot);
  if (it->second.empty()) by_priority_.erase(it);
  for (TagNo tag : tags) {
    auto t = by_tag_.find(tag);
    t->second.erase(slot);
    if (t->second.empty()) by_tag_.erase(t);
  }
}

std::optional<uint32_t> ClaimQueues::Pick(
    absl::Span<const TagNo> wanted, SortOrder order, uint64_t random_bits,
    const std::function<absl::Span<const TagNo>(uint32_t)>& tags_of) const {
  // Candidates: the queued jobs of the rarest wanted tag (or all of them).
  const SlotSet* candidates = &queued_;
  for (TagNo tag : wanted) {
    auto it = by_tag_.find(tag);
    if (it == by_tag_.end()) return std::nullopt;
    if (candidates == &queued_ || it->second.size() < candidates->size()) {
      candidates = &it->second;
    }
  }
  auto carries = [&](uint32_t slot) {
    if (wanted.size() <= 1) return true;                 // a candidate carries the one tag
    const absl::Span<const TagNo> have = tags_of(slot);  // sorted
    return std::includes(have.begin(), have.end(), wanted.begin(), wanted.end());
  };
  std::optional<uint32_t> found;
  auto take = [&](uint32_t slot) {
    if (!carries(slot)) return true;
    found = slot;
    return false;
  };
  switch (order) {
    case SortOrder::kOldestFirst:
      candidates->ForEach(take);
      break;
    case SortOrder::kNewestFirst:
      candidates->ForEachDescending(take);
      break;
    case SortOrder::kPriority:
      // Highest priority first; within one, oldest first.
      for (const auto& [priority, group] : by_priority_) {
        if (candidates == &queued_) {
          group.ForEach(take);
        } else {
          SlotSet::ForEachInBoth(group, *candidates, take);
        }
        if (found) break;
      }
      break;
    case SortOrder::kRandom: {
      // A uniformly random candidate; when it lacks another wanted tag, the
      // first candidate after it (wrapping around) that has them all.
      if (candidates->empty()) break;
      const uint32_t start = candidates->Select(random_bits % candidates->size());
      candidates->ForEach([&](uint32_t slot) { return slot < start || take(slot); });
      if (!found) candidates->ForEach([&](uint32_t slot) { return slot < start && take(slot); });
      break;
    }
  }
  return found;
}

std::optional<uint32_t> ClaimQueues::PickAny(
    absl::Span<const TagNo> wanted, absl::Span<const TagNo> any_of, SortOrder order,
    uint64_t random_bits, const std::function<absl::Span<const TagNo>(uint32_t)>& tags_of,
    const std::function<int32_t(uint32_t)>& priority_of) const {
  std::vector<uint32_t> picks;
  std::vector<TagNo> all(wanted.begin(), wanted.end());
  for (TagNo tag : any_of) {
    all.assign(wanted.begin(), wanted.end());
    all.insert(std::upper_bound(all.begin(), all.end(), tag), tag);
    all.erase(std::unique(all.begin(), all.end()), all.end());
    if (std::optional<uint32_t> slot = Pick(all, order, random_bits, tags_of)) {
      picks.push_back(*slot);
    }
  }
  if (picks.empty()) return std::nullopt;
  switch (order) {
    case SortOrder::kOldestFirst:
      return *std::min_element(picks.begin(), picks.end());
    case SortOrder::kNewestFirst:
      return *std::max_element(picks.begin(), picks.end());
    case SortOrder::kPriority:
      return *std::min_element(picks.begin(), picks.end(), [&](uint32_t a, uint32_t b) {
        const int32_t pa = priority_of(a), pb = priority_of(b);
        return pa != pb ? pa > pb : a < b;
      });
    case SortOrder::kRandom:
      return picks[(random_bits >> 32) % picks.size()];
  }
  return picks.front();
}

}  // namespace cascade::internal
