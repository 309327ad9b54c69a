// Copyright 2026 The Cascade Authors.
//
// Listing from the per-team indexes: pick the narrowest ordered set, walk it
// in the requested direction, filter, page.

#include "engine/index/list_index.h"

#include <algorithm>
#include <random>

namespace cascade::internal {
namespace {

bool HasAllTags(const JobRecord& job, absl::Span<const TagNo> tags) {
  if (tags.empty()) return true;
  if (!job.extras) return false;
  const std::vector<TagNo>& have = job.extras->tags;  // sorted
  for (TagNo t : tags) {
    if (!std::binary_search(have.begin(), have.end(), t)) return false;
  }
  return true;
}

// Walks the union of `sets` (disjoint) restricted to [lo, hi) in ascending or
// descending slot order, calling visit(slot) until it returns false. Goes
// chunk by chunk: the union of a chunk is the OR of the sets' bits for it.
template <typename Visit>
void WalkUnion(absl::Span<const SlotSet* const> sets, uint32_t lo, uint32_t hi, bool ascending,
               Visit visit) {
  if (lo >= hi || sets.empty()) return;
  constexpr int kBits = SlotSet::kChunkBits;
  const uint32_t first = lo >> kBits, last = (hi - 1) >> kBits;
  SlotSet::Bits bits;
  uint32_t chunk = ascending ? first : last;
  while (true) {
    std::optional<uint32_t> next;
    for (const SlotSet* s : sets) {
      std::optional<uint32_t> n = ascending ? s->NextChunk(chunk) : s->PrevChunk(chunk);
      if (n && (!next || (ascending ? *n < *next : *n > *next))) next = n;
    }
    if (!next || (ascending ? *next > last : *next < first)) return;
    chunk = *next;
    bits.fill(0);
    for (const SlotSet* s : sets) s->OrChunk(chunk, bits);
    const uint32_t base = chunk << kBits;
    for (size_t i = 0; i < SlotSet::kWords; ++i) {
      const size_t w = ascending ? i : SlotSet::kWords - 1 - i;
      uint64_t word = bits[w];
      while (word != 0) {
        const int bit = ascending ? __builtin_ctzll(word) : 63 - __builtin_clzll(word);
        word &= ~(uint64_t{1} << bit);
        const uint32_t slot = base + static_cast<uint32_t>(w * 64 + bit);
        if (slot < lo) {
          if (ascending) continue;
          return;
        }
        if (slot >= hi) {
          if (ascending) return;
          continue;
        }
        if (!visit(slot)) return;
      }
    }
    if (chunk == (ascending ? last : first)) return;
    chunk = ascending ? chunk + 1 : chunk - 1;
  }
}

}  // namespace

std::vector<uint32_t> SelectPage(const TeamIndex& index, const JobTable& table,
                                 const Selection& sel, uint64_t random_bits) {
  std::vector<uint32_t> page;
  if (sel.limit == 0 || sel.lo >= sel.hi) return page;

  // The narrowest source: the union of the allowed states' sets, or the
  // smallest required tag's set.
  std::vector<const SlotSet*> state_sets;
  size_t state_total = 0;
  for (int s = 0; s < kNumJobStates; ++s) {
    if (!sel.states[s]) continue;
    state_sets.push_back(&index.by_state(static_cast<JobState>(s)));
    state_total += state_sets.back()->size();
  }
  const SlotSet* tag_set = nullptr;
  for (TagNo tag : sel.tags) {
    const SlotSet* s = index.by_tag(tag);
    if (s == nullptr) return page;  // nobody carries it
    if (tag_set == nullptr || s->size() < tag_set->size()) tag_set = s;
  }
  const bool from_tags = tag_set != nullptr && tag_set->size() < state_total;
  std::vector<const SlotSet*> sources =
      from_tags ? std::vector<const SlotSet*>{tag_set} : state_sets;

  auto matches = [&](uint32_t slot) {
    const JobRecord& job = table[slot];
    return (!from_tags || sel.states[static_cast<int>(job.state())]) && HasAllTags(job, sel.tags);
  };

  if (sel.sort == SortOrder::kOldestFirst || sel.sort == SortOrder::kNewestFirst) {
    size_t skipped = 0;
    WalkUnion(sources, sel.lo, sel.hi, sel.sort == SortOrder::kOldestFirst, [&](uint32_t slot) {
      if (!matches(slot)) return true;
      if (skipped < sel.offset) {
        ++skipped;
        return true;
      }
      page.push_back(slot);
      return page.size() < sel.limit;
    });
    return page;
  }

  // `priority` and `random` see every match.
  std::vector<uint32_t> all;
  WalkUnion(sources, sel.lo, sel.hi, /*ascending=*/true, [&](uint32_t slot) {
    if (matches(slot)) all.push_back(slot);
    return true;
  });
  if (sel.offset >= all.size()) return page;
  const size_t end = std::min(all.size(), sel.offset + sel.limit);
  if (sel.sort == SortOrder::kPriority) {
    // Highest priority first, then oldest (lowest slot).
    auto before = [&table](uint32_t a, uint32_t b) {
      int32_t pa = table[a].priority, pb = table[b].priority;
      return pa != pb ? pa > pb : a < b;
    };
    std::partial_sort(all.begin(), all.begin() + end, all.end(), before);
  } else {
    // A uniformly random prefix (partial Fisher-Yates).
    std::mt19937_64 rng(random_bits);
    for (size_t i = 0; i < end; ++i) {
      std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
      std::swap(all[i], all[pick(rng)]);
    }
  }
  page.assign(all.begin() + sel.offset, all.begin() + end);
  return page;
}

}  // namespace cascade::internal
