// Copyright 2026 The Cascade Authors.
//
// The huge-page regions (engine/util/huge_pages.h) and the job table built on
// them (engine/table/job_table.h): alignment, the allocator's two paths, and
// records that keep their place and their contents across regions.

#include "engine/util/huge_pages.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "cascade/ids.h"
#include "engine/table/job_table.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

TEST(HugePagesTest, RoundsUpToWholeHugePages) {
  EXPECT_EQ(RoundUpToHugePage(1), kHugePageBytes);
  EXPECT_EQ(RoundUpToHugePage(kHugePageBytes), kHugePageBytes);
  EXPECT_EQ(RoundUpToHugePage(kHugePageBytes + 1), 2 * kHugePageBytes);
}

TEST(HugePagesTest, RegionIsAlignedZeroedAndWritableToItsEnd) {
  const size_t bytes = 3 * kHugePageBytes + 100;  // rounded up to 4 huge pages
  auto* region = static_cast<unsigned char*>(AllocateHugeRegion(bytes));
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(region) % kHugePageBytes, 0u);
  EXPECT_EQ(region[0], 0);
  EXPECT_EQ(region[RoundUpToHugePage(bytes) - 1], 0);
  std::memset(region, 0xAB, RoundUpToHugePage(bytes));
  EXPECT_EQ(region[RoundUpToHugePage(bytes) - 1], 0xAB);
  FreeHugeRegion(region, bytes);
}

TEST(HugePagesTest, AllocatorServesSmallAndLargeRequests) {
  HugePageAllocator<uint64_t> allocator;
  const size_t small = 16;
  const size_t large = kHugePageBytes / sizeof(uint64_t) + 1;  // past the threshold
  uint64_t* a = allocator.allocate(small);
  uint64_t* b = allocator.allocate(large);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % kHugePageBytes, 0u);
  for (size_t i = 0; i < small; ++i) a[i] = i;
  for (size_t i = 0; i < large; ++i) b[i] = 2 * i;
  EXPECT_EQ(a[small - 1], small - 1);
  EXPECT_EQ(b[large - 1], 2 * (large - 1));
  allocator.deallocate(a, small);
  allocator.deallocate(b, large);
}

// The engine's id index: its backing array crosses the huge-page threshold
// and is reallocated by several rehashes on the way; every entry survives.
TEST(HugePagesTest, HashMapOnTheAllocatorKeepsEveryEntryAcrossRehashes) {
  absl::flat_hash_map<Ulid, uint32_t, absl::Hash<Ulid>, std::equal_to<Ulid>,
                      HugePageAllocator<std::pair<const Ulid, uint32_t>>>
      map;
  constexpr uint32_t kEntries = 200'000;  // ~6 MB of slots at the end
  for (uint32_t i = 0; i < kEntries; ++i) map.emplace(Ulid(i, ~uint64_t{i}), i);
  ASSERT_EQ(map.size(), kEntries);
  for (uint32_t i = 0; i < kEntries; ++i) {
    auto it = map.find(Ulid(i, ~uint64_t{i}));
    ASSERT_NE(it, map.end()) << i;
    ASSERT_EQ(it->second, i);
  }
}

// More records than one region holds (32 chunks of 4096): records in the
// first region keep their address and contents while later regions are
// added, and extras (heap blocks a record points to) are released with the
// table (AddressSanitizer's leak check runs on this test in CI).
TEST(HugePagesTest, JobTableSpansRegionsAndKeepsRecordsInPlace) {
  constexpr uint32_t kPerRegion = JobTable::kChunksPerRegion * JobTable::kChunkSize;
  constexpr uint32_t kRecords = 2 * kPerRegion + 7;
  JobTable table;
  const uint32_t first = table.Append();
  table[first].id = Ulid(1, 1);
  table[first].mutable_extras().error = std::string(100, 'x');  // a heap block
  const JobRecord* const first_address = &table[first];
  for (uint32_t i = 1; i < kRecords; ++i) {
    ASSERT_EQ(table.Append(), i);
    table[i].created_ms = i;
    if (i % 1000 == 0) table[i].mutable_extras().payload = std::string(64, 'p');
  }
  ASSERT_EQ(table.size(), kRecords);
  EXPECT_EQ(&table[first], first_address);
  EXPECT_EQ(table[first].id, Ulid(1, 1));
  EXPECT_EQ(table[first].extras->error, std::string(100, 'x'));
  for (uint32_t i = 1; i < kRecords; ++i) ASSERT_EQ(table[i].created_ms, i);
  EXPECT_EQ(table.LowerBoundCreated(kPerRegion), kPerRegion);
  // Records of different regions do not overlap.
  EXPECT_GE(reinterpret_cast<uintptr_t>(&table[kPerRegion]) -
                reinterpret_cast<uintptr_t>(&table[kPerRegion - 1]),
            sizeof(JobRecord));
}

}  // namespace
}  // namespace cascade::internal
