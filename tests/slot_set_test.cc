// Copyright 2026 The Cascade Authors.
//
// SlotSet against std::set on seeded random operations, across the array
// and bitmap forms of its chunks.

#include "engine/index/slot_set.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

std::vector<uint32_t> Members(const SlotSet& s) {
  std::vector<uint32_t> out;
  s.ForEach([&](uint32_t slot) {
    out.push_back(slot);
    return true;
  });
  return out;
}

TEST(SlotSetTest, StartsEmpty) {
  SlotSet s;
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.contains(0));
  EXPECT_FALSE(s.NextChunk(0).has_value());
  EXPECT_FALSE(s.PrevChunk(1000).has_value());
  EXPECT_FALSE(s.erase(5));
}

TEST(SlotSetTest, InsertAndEraseReportWhetherTheyChangedTheSet) {
  SlotSet s;
  EXPECT_TRUE(s.insert(7));
  EXPECT_FALSE(s.insert(7));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.erase(7));
  EXPECT_FALSE(s.erase(7));
  EXPECT_TRUE(s.empty());
}

TEST(SlotSetTest, ChunkGrowsPastTheArrayLimitIntoABitmapAndBack) {
  SlotSet s;
  std::set<uint32_t> model;
  // 600 members in one chunk: past the 256-member array form.
  for (uint32_t i = 0; i < 600; ++i) {
    s.insert(8192 + i * 5);
    model.insert(8192 + i * 5);
  }
  EXPECT_EQ(Members(s), std::vector<uint32_t>(model.begin(), model.end()));
  for (uint32_t i = 0; i < 600; i += 2) {
    s.erase(8192 + i * 5);
    model.erase(8192 + i * 5);
  }
  EXPECT_EQ(Members(s), std::vector<uint32_t>(model.begin(), model.end()));
  EXPECT_EQ(s.size(), model.size());
}

TEST(SlotSetTest, ChunkNavigationSkipsEmptyChunks) {
  SlotSet s;
  s.insert(5);                               // chunk 0
  s.insert(3 * SlotSet::kChunkSlots + 1);    // chunk 3
  s.insert(9 * SlotSet::kChunkSlots + 100);  // chunk 9
  EXPECT_EQ(s.NextChunk(0), 0u);
  EXPECT_EQ(s.NextChunk(1), 3u);
  EXPECT_EQ(s.NextChunk(4), 9u);
  EXPECT_FALSE(s.NextChunk(10).has_value());
  EXPECT_EQ(s.PrevChunk(100), 9u);
  EXPECT_EQ(s.PrevChunk(8), 3u);
  EXPECT_EQ(s.PrevChunk(2), 0u);
  s.erase(3 * SlotSet::kChunkSlots + 1);
  EXPECT_EQ(s.NextChunk(1), 9u) << "an emptied chunk disappears";
}

TEST(SlotSetTest, OrChunkAddsOnlyThatChunksMembers) {
  SlotSet a, b;
  a.insert(SlotSet::kChunkSlots + 3);
  b.insert(SlotSet::kChunkSlots + 70);
  b.insert(2 * SlotSet::kChunkSlots + 1);
  SlotSet::Bits bits{};
  a.OrChunk(1, bits);
  b.OrChunk(1, bits);
  EXPECT_EQ(bits[0], uint64_t{1} << 3);
  EXPECT_EQ(bits[1], uint64_t{1} << 6);
  for (size_t w = 2; w < SlotSet::kWords; ++w) EXPECT_EQ(bits[w], 0u);
}

TEST(SlotSetTest, MatchesStdSetOnRandomOperations) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    SlotSet s;
    std::set<uint32_t> model;
    // A range a few chunks wide so chunks fill, empty, and change form.
    std::uniform_int_distribution<uint32_t> slot(0, 5 * SlotSet::kChunkSlots);
    for (int op = 0; op < 20000; ++op) {
      const uint32_t x = slot(rng);
      switch (rng() % 3) {
        case 0:
          ASSERT_EQ(s.insert(x), model.insert(x).second) << "seed " << seed << " op " << op;
          break;
        case 1:
          ASSERT_EQ(s.erase(x), model.erase(x) == 1) << "seed " << seed << " op " << op;
          break;
        default:
          ASSERT_EQ(s.contains(x), model.count(x) == 1) << "seed " << seed << " op " << op;
      }
      ASSERT_EQ(s.size(), model.size());
    }
    ASSERT_EQ(Members(s), std::vector<uint32_t>(model.begin(), model.end())) << "seed " << seed;
  }
}

// Many chunks of a few members each, filled and then emptied: the set goes
// from small (no directory) to dense (found through its directory by chunk
// number), to sparse (none again), and back, chunks coming and going in the
// middle of the range all along.
TEST(SlotSetTest, MatchesStdSetWhileItsChunkDirectoryComesAndGoes) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    SlotSet s;
    std::set<uint32_t> model;
    for (int phase = 0; phase < 6; ++phase) {
      const bool filling = phase % 2 == 0;
      for (int op = 0; op < 20000; ++op) {
        const uint32_t chunk = static_cast<uint32_t>(rng() % 200) + 1000;
        const uint32_t x = chunk * SlotSet::kChunkSlots + static_cast<uint32_t>(rng() % 8);
        const bool grow = rng() % 10 < (filling ? 7u : 2u);
        if (grow) {
          ASSERT_EQ(s.insert(x), model.insert(x).second) << "seed " << seed << " op " << op;
        } else {
          ASSERT_EQ(s.erase(x), model.erase(x) == 1) << "seed " << seed << " op " << op;
        }
        const uint32_t probe = chunk * SlotSet::kChunkSlots + static_cast<uint32_t>(rng() % 8);
        ASSERT_EQ(s.contains(probe), model.count(probe) == 1) << "seed " << seed << " op " << op;
      }
      ASSERT_EQ(s.size(), model.size());
      ASSERT_EQ(Members(s), std::vector<uint32_t>(model.begin(), model.end()))
          << "seed " << seed << " phase " << phase;
    }
    EXPECT_FALSE(s.contains(999 * SlotSet::kChunkSlots));   // below the range
    EXPECT_FALSE(s.contains(1300 * SlotSet::kChunkSlots));  // above it
  }
}

TEST(SlotSetTest, SelectAndDescendingWalkAgreeWithStdSet) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    SlotSet s;
    std::set<uint32_t> model;
    // Dense and sparse chunks both: bitmaps and arrays.
    for (int i = 0; i < 3000; ++i) {
      const uint32_t x = (rng() % 2) ? static_cast<uint32_t>(rng() % 1500)
                                     : static_cast<uint32_t>(rng() % (8 * SlotSet::kChunkSlots));
      s.insert(x);
      model.insert(x);
    }
    std::vector<uint32_t> sorted(model.begin(), model.end());
    for (size_t k = 0; k < sorted.size(); ++k) {
      ASSERT_EQ(s.Select(k), sorted[k]) << "seed " << seed << " rank " << k;
    }
    std::vector<uint32_t> descending;
    s.ForEachDescending([&](uint32_t slot) {
      descending.push_back(slot);
      return true;
    });
    ASSERT_EQ(descending, std::vector<uint32_t>(sorted.rbegin(), sorted.rend())) << "seed " << seed;
  }
}

TEST(SlotSetTest, ForEachInBothVisitsTheIntersectionInOrder) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    SlotSet a, b;
    std::set<uint32_t> ma, mb;
    for (int i = 0; i < 4000; ++i) {
      const uint32_t x = static_cast<uint32_t>(rng() % (6 * SlotSet::kChunkSlots));
      if (rng() % 2) {
        a.insert(x);
        ma.insert(x);
      } else {
        b.insert(x);
        mb.insert(x);
      }
      if (rng() % 3 == 0) {  // some members in both
        a.insert(x);
        b.insert(x);
        ma.insert(x);
        mb.insert(x);
      }
    }
    std::vector<uint32_t> want;
    std::set_intersection(ma.begin(), ma.end(), mb.begin(), mb.end(), std::back_inserter(want));
    std::vector<uint32_t> got;
    SlotSet::ForEachInBoth(a, b, [&](uint32_t slot) {
      got.push_back(slot);
      return true;
    });
    ASSERT_FALSE(want.empty());
    ASSERT_EQ(got, want) << "seed " << seed;
  }
}

TEST(SlotSetTest, ForEachStopsWhenTheVisitorSaysSo) {
  SlotSet s;
  for (uint32_t i = 0; i < 10; ++i) s.insert(i * 1000);
  std::vector<uint32_t> seen;
  s.ForEach([&](uint32_t slot) {
    seen.push_back(slot);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1000, 2000}));
}

}  // namespace
}  // namespace cascade::internal
