// Copyright 2026 The Cascade Authors.
//
// SlotSet: an ordered set of 32-bit job slots, built for the listing and
// claim indexes, where jobs move between sets on every transition.
//
// Slots are grouped in chunks of 4096 (slot >> 12). A chunk keeps its members
// as a sorted array of 12-bit offsets while it has at most 256 of them, and
// as a 4096-bit bitmap (512 bytes) beyond that, in the manner of Roaring
// bitmaps. Chunks are kept in a vector sorted by chunk number, with a
// directory by chunk number while the set has 8 chunks or more and at least
// one chunk number in 8 of its range has one (so that the directory, 4 bytes
// a number, costs less than the chunks it finds).
//
// PERFORMANCE: insert and erase find their chunk with one load (directory) or
// a binary search over the chunks (a small or sparse set), then flip a bit
// (bitmap) or do a short memmove (array); a chunk that comes or goes costs a
// pass over the chunks. An insert into the last chunk past its members (a new
// job's slot, the common case) needs no search at all. A dense set costs one
// bit per slot of its range.
// Ordered walks go chunk by chunk; a union of disjoint sets (several states)
// is the bitwise OR of their chunks.
//
// NOTE: not thread-safe; the engine's lock guards it.

#ifndef CASCADE_ENGINE_INDEX_SLOT_SET_H_
#define CASCADE_ENGINE_INDEX_SLOT_SET_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace cascade::internal {

class SlotSet {
 public:
  static constexpr int kChunkBits = 12;
  static constexpr uint32_t kChunkSlots = uint32_t{1} << kChunkBits;
  static constexpr size_t kWords = kChunkSlots / 64;
  static constexpr size_t kMaxArray = 256;
  using Bits = std::array<uint64_t, kWords>;

  // Adds `slot`; false if it was there already.
  bool insert(uint32_t slot) {
    // New jobs take the largest slots, so most inserts land in the last
    // chunk, past its members: set the bit, or append, without a search.
    if (!chunks_.empty() && chunks_.back().number == slot >> kChunkBits &&
        chunks_.back().Append(static_cast<uint16_t>(slot & (kChunkSlots - 1)))) {
      ++size_;
      return true;
    }
    Chunk& c = FindOrAddChunk(slot >> kChunkBits);
    if (!c.Insert(static_cast<uint16_t>(slot & (kChunkSlots - 1)))) return false;
    ++size_;
    return true;
  }
  // Removes `slot`; false if it was not there.
  bool erase(uint32_t slot) {
    auto it = FindChunk(slot >> kChunkBits);
    if (it == chunks_.end() || !it->Erase(static_cast<uint16_t>(slot & (kChunkSlots - 1)))) {
      return false;
    }
    --size_;
    if (it->count == 0) {
      chunks_.erase(it);
      Reindex();
    }
    return true;
  }
  bool contains(uint32_t slot) const {
    auto it = FindChunk(slot >> kChunkBits);
    return it != chunks_.end() && it->Contains(static_cast<uint16_t>(slot & (kChunkSlots - 1)));
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The smallest chunk number >= `chunk` that has a member, if any.
  std::optional<uint32_t> NextChunk(uint32_t chunk) const {
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), chunk, ChunkBefore);
    if (it == chunks_.end()) return std::nullopt;
    return it->number;
  }
  // The largest chunk number <= `chunk` that has a member, if any.
  std::optional<uint32_t> PrevChunk(uint32_t chunk) const {
    auto it = std::upper_bound(chunks_.begin(), chunks_.end(), chunk, NumberBefore);
    if (it == chunks_.begin()) return std::nullopt;
    return std::prev(it)->number;
  }
  // ORs the members of chunk `chunk` into `bits` (bit i = slot chunk*4096+i).
  void OrChunk(uint32_t chunk, Bits& bits) const {
    auto it = FindChunk(chunk);
    if (it != chunks_.end()) it->OrInto(bits);
  }

  // The member of rank `k` (0 = smallest). REQUIRES: k < size().
  // PERFORMANCE: linear in the number of chunks.
  uint32_t Select(size_t k) const {
    for (const Chunk& c : chunks_) {
      if (k >= c.count) {
        k -= c.count;
        continue;
      }
      const uint32_t base = c.number << kChunkBits;
      if (!c.bitmap) return base + c.array[k];
      for (size_t w = 0;; ++w) {
        uint64_t word = (*c.bitmap)[w];
        const size_t n = static_cast<size_t>(__builtin_popcountll(word));
        if (k >= n) {
          k -= n;
          continue;
        }
        for (; k > 0; --k) word &= word - 1;
        return base + static_cast<uint32_t>(w * 64 + __builtin_ctzll(word));
      }
    }
    return 0;  // unreachable when k < size()
  }

  // Calls f(slot) for every member in descending order until f returns false.
  template <typename F>
  void ForEachDescending(F&& f) const {
    Bits bits;
    for (auto c = chunks_.rbegin(); c != chunks_.rend(); ++c) {
      bits.fill(0);
      c->OrInto(bits);
      const uint32_t base = c->number << kChunkBits;
      for (size_t w = kWords; w-- > 0;) {
        for (uint64_t word = bits[w]; word != 0;) {
          const int bit = 63 - __builtin_clzll(word);
          word &= ~(uint64_t{1} << bit);
          if (!f(base + static_cast<uint32_t>(w * 64 + bit))) return;
        }
      }
    }
  }

  // Calls f(slot) for every member of both `a` and `b`, ascending, until f
  // returns false. PERFORMANCE: linear in the chunks of the smaller set.
  template <typename F>
  static void ForEachInBoth(const SlotSet& a, const SlotSet& b, F&& f) {
    const SlotSet& small = a.chunks_.size() <= b.chunks_.size() ? a : b;
    const SlotSet& large = &small == &a ? b : a;
    Bits mine, theirs;
    for (const Chunk& c : small.chunks_) {
      auto other = large.FindChunk(c.number);
      if (other == large.chunks_.end()) continue;
      mine.fill(0);
      theirs.fill(0);
      c.OrInto(mine);
      other->OrInto(theirs);
      const uint32_t base = c.number << kChunkBits;
      for (size_t w = 0; w < kWords; ++w) {
        for (uint64_t word = mine[w] & theirs[w]; word != 0; word &= word - 1) {
          if (!f(base + static_cast<uint32_t>(w * 64 + __builtin_ctzll(word)))) return;
        }
      }
    }
  }

  // Calls f(slot) for every member in ascending order until f returns false.
  template <typename F>
  void ForEach(F&& f) const {
    Bits bits;
    for (const Chunk& c : chunks_) {
      bits.fill(0);
      c.OrInto(bits);
      const uint32_t base = c.number << kChunkBits;
      for (size_t w = 0; w < kWords; ++w) {
        for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
          if (!f(base + static_cast<uint32_t>(w * 64 + __builtin_ctzll(word)))) return;
        }
      }
    }
  }

 private:
  struct Chunk {
    uint32_t number = 0;
    uint32_t count = 0;
    std::vector<uint16_t> array;   // sorted; used while `bitmap` is null
    std::unique_ptr<Bits> bitmap;  // used past kMaxArray members

    bool Contains(uint16_t offset) const {
      if (bitmap) return ((*bitmap)[offset >> 6] >> (offset & 63)) & 1;
      return std::binary_search(array.begin(), array.end(), offset);
    }
    // Inserts `offset` when that costs no search: into the bitmap, or past
    // the array's last member with room to spare; false if it did not
    // (`offset` may be a member already, or need the full Insert).
    bool Append(uint16_t offset) {
      if (bitmap) {
        uint64_t& word = (*bitmap)[offset >> 6];
        const uint64_t bit = uint64_t{1} << (offset & 63);
        if (word & bit) return false;
        word |= bit;
        ++count;
        return true;
      }
      if (array.size() >= kMaxArray || (!array.empty() && array.back() >= offset)) return false;
      array.push_back(offset);
      ++count;
      return true;
    }
    bool Insert(uint16_t offset) {
      if (bitmap) return Append(offset);
      auto it = std::lower_bound(array.begin(), array.end(), offset);
      if (it != array.end() && *it == offset) return false;
      array.insert(it, offset);
      ++count;
      if (array.size() > kMaxArray) {
        bitmap = std::make_unique<Bits>();
        bitmap->fill(0);
        for (uint16_t o : array) (*bitmap)[o >> 6] |= uint64_t{1} << (o & 63);
        std::vector<uint16_t>().swap(array);
      }
      return true;
    }
    bool Erase(uint16_t offset) {
      if (bitmap) {
        uint64_t& word = (*bitmap)[offset >> 6];
        const uint64_t bit = uint64_t{1} << (offset & 63);
        if (!(word & bit)) return false;
        word &= ~bit;
        --count;
        return true;
      }
      auto it = std::lower_bound(array.begin(), array.end(), offset);
      if (it == array.end() || *it != offset) return false;
      array.erase(it);
      --count;
      return true;
    }
    void OrInto(Bits& bits) const {
      if (bitmap) {
        for (size_t w = 0; w < kWords; ++w) bits[w] |= (*bitmap)[w];
      } else {
        for (uint16_t o : array) bits[o >> 6] |= uint64_t{1} << (o & 63);
      }
    }
  };

  static bool ChunkBefore(const Chunk& c, uint32_t number) { return c.number < number; }
  static bool NumberBefore(uint32_t number, const Chunk& c) { return number < c.number; }

  static constexpr size_t kMinDirectory = 8;  // chunks
  static constexpr size_t kSparsest = 8;      // chunk numbers of the range per chunk

  std::vector<Chunk>::const_iterator FindChunk(uint32_t number) const {
    if (!where_.empty()) {
      const uint32_t i = number - base_;  // wraps below base_
      return i < where_.size() && where_[i] != 0 ? chunks_.begin() + (where_[i] - 1)
                                                 : chunks_.end();
    }
    // New slots are the largest: the last chunk is the usual answer.
    if (!chunks_.empty() && chunks_.back().number == number) return chunks_.end() - 1;
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), number, ChunkBefore);
    return it != chunks_.end() && it->number == number ? it : chunks_.end();
  }
  std::vector<Chunk>::iterator FindChunk(uint32_t number) {
    auto it = static_cast<const SlotSet*>(this)->FindChunk(number);
    return chunks_.begin() + (it - chunks_.cbegin());
  }
  Chunk& FindOrAddChunk(uint32_t number) {
    auto found = FindChunk(number);
    if (found != chunks_.end()) return *found;
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), number, ChunkBefore);
    const size_t at = static_cast<size_t>(it - chunks_.begin());
    chunks_.insert(it, Chunk{})->number = number;
    Reindex();
    return chunks_[at];
  }
  // Makes the directory again after a chunk came or went (or drops it, for a
  // small or sparse set).
  void Reindex() {
    where_.clear();
    if (chunks_.size() < kMinDirectory) return;
    const size_t span = size_t{chunks_.back().number} - chunks_.front().number + 1;
    if (span > chunks_.size() * kSparsest) return;
    base_ = chunks_.front().number;
    where_.resize(span, 0);
    for (size_t i = 0; i < chunks_.size(); ++i) {
      where_[chunks_[i].number - base_] = static_cast<uint32_t>(i + 1);
    }
  }

  std::vector<Chunk> chunks_;
  // Position + 1 in chunks_ of chunk number base_ + i (0: none); empty while
  // the set is small or sparse.
  std::vector<uint32_t> where_;
  uint32_t base_ = 0;
  size_t size_ = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_INDEX_SLOT_SET_H_
