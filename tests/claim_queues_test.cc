// Copyright 2026 The Cascade Authors.
//
// ClaimQueues (contract §7): which queued job a claim gets, for every sort
// order, with and without tags. Slots stand for age (a lower slot is older).

#include "engine/model/claim_queues.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "cascade/list_query.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

constexpr SortOrder kAllOrders[] = {SortOrder::kOldestFirst, SortOrder::kNewestFirst,
                                    SortOrder::kRandom, SortOrder::kPriority};

// Interned tag numbers (ClaimQueues wants them sorted and unique).
constexpr TagNo kGpu{1};
constexpr TagNo kHd{2};
constexpr TagNo kUnknownTag{99};

// ClaimQueues plus the tags of each job, as the job model would keep them.
class Queues {
 public:
  void Enqueue(uint32_t slot, int32_t priority, std::vector<TagNo> tags = {}) {
    job_tags_[slot] = {priority, std::move(tags)};
    queues_.Enqueue(slot, priority, job_tags_[slot].tags);
  }
  void Dequeue(uint32_t slot) {
    const Job& job = job_tags_.at(slot);
    queues_.Dequeue(slot, job.priority, job.tags);
  }
  std::optional<uint32_t> Pick(SortOrder order, std::vector<TagNo> wanted = {},
                               uint64_t random_bits = 0) const {
    return queues_.Pick(wanted, order, random_bits, tags_of());
  }
  // The tags_of callback; counts how often the queues asked it.
  std::function<absl::Span<const TagNo>(uint32_t)> tags_of() const {
    return [this](uint32_t slot) -> absl::Span<const TagNo> {
      ++tags_of_calls_;
      return job_tags_.at(slot).tags;
    };
  }
  const ClaimQueues& queues() const { return queues_; }
  int tags_of_calls() const { return tags_of_calls_; }
  void ResetTagsOfCalls() { tags_of_calls_ = 0; }

 private:
  struct Job {
    int32_t priority = 0;
    std::vector<TagNo> tags;
  };
  ClaimQueues queues_;
  std::map<uint32_t, Job> job_tags_;
  mutable int tags_of_calls_ = 0;
};

TEST(ClaimQueuesTest, EmptyQueuesGiveNothingInEveryOrder) {
  Queues q;
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order), std::nullopt) << SortOrderName(order);
    EXPECT_EQ(q.Pick(order, {kGpu}), std::nullopt) << SortOrderName(order);
  }
  EXPECT_EQ(q.queues().size(), 0u);
}

TEST(ClaimQueuesTest, OldestFirstPicksTheLowestSlot) {
  Queues q;
  q.Enqueue(50, 0);
  q.Enqueue(7, 0);
  q.Enqueue(4096 * 3 + 1, 0);  // another chunk of the slot sets
  q.Enqueue(23, 0);
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst), 7u);
  q.Dequeue(7);
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst), 23u);
}

TEST(ClaimQueuesTest, NewestFirstPicksTheHighestSlot) {
  Queues q;
  q.Enqueue(50, 0);
  q.Enqueue(4096 * 3 + 1, 0);
  q.Enqueue(7, 0);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst), 4096u * 3 + 1);
  q.Dequeue(4096 * 3 + 1);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst), 50u);
}

TEST(ClaimQueuesTest, OldestAndNewestIgnorePriority) {
  Queues q;
  q.Enqueue(1, -5);
  q.Enqueue(2, 100);
  q.Enqueue(3, -5);
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst), 1u);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst), 3u);
}

TEST(ClaimQueuesTest, PriorityThenOldestWithinAPriority) {
  Queues q;
  q.Enqueue(1, 0);
  q.Enqueue(2, 5);
  q.Enqueue(3, 10);
  q.Enqueue(4, 10);
  q.Enqueue(5, -3);
  q.Enqueue(6, 5);
  // Highest priority first; within priority 10, the older (lower) slot.
  std::vector<uint32_t> claimed;
  while (std::optional<uint32_t> slot = q.Pick(SortOrder::kPriority)) {
    claimed.push_back(*slot);
    q.Dequeue(*slot);
  }
  EXPECT_EQ(claimed, (std::vector<uint32_t>{3, 4, 2, 6, 1, 5}));
  EXPECT_EQ(q.queues().size(), 0u);
}

TEST(ClaimQueuesTest, PriorityWithATagSkipsHigherPriorityJobsWithoutIt) {
  Queues q;
  q.Enqueue(1, 100);  // no tags
  q.Enqueue(2, 1, {kGpu});
  q.Enqueue(3, 7, {kGpu});
  q.Enqueue(4, 7, {kGpu, kHd});
  q.Enqueue(5, 50, {kHd});
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kGpu}), 3u);
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kHd}), 5u);
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kGpu, kHd}), 4u);
  EXPECT_EQ(q.Pick(SortOrder::kPriority), 1u);
}

TEST(ClaimQueuesTest, TagsPickOnlyJobsCarryingEveryWantedTag) {
  Queues q;
  q.Enqueue(1, 0, {kGpu});
  q.Enqueue(2, 0, {kHd});
  q.Enqueue(3, 0, {kGpu, kHd});
  q.Enqueue(4, 0, {});
  q.Enqueue(5, 0, {kGpu, kHd});
  q.Enqueue(6, 0, {kHd});
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst, {kGpu, kHd}), 3u);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst, {kGpu, kHd}), 5u);
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kGpu, kHd}), 3u);
  for (uint64_t bits = 0; bits < 8; ++bits) {
    const std::optional<uint32_t> slot = q.Pick(SortOrder::kRandom, {kGpu, kHd}, bits);
    ASSERT_TRUE(slot.has_value()) << bits;
    EXPECT_TRUE(*slot == 3 || *slot == 5) << "random picked " << *slot << " for bits " << bits;
  }
  // One tag: every job carrying it, whatever else it carries.
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst, {kHd}), 2u);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst, {kGpu}), 5u);
  // No tags wanted: any job, tagged or not.
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst), 1u);
  EXPECT_EQ(q.Pick(SortOrder::kNewestFirst), 6u);
}

TEST(ClaimQueuesTest, NoJobCarriesEveryWantedTagGivesNothing) {
  Queues q;
  q.Enqueue(1, 0, {kGpu});
  q.Enqueue(2, 0, {kHd});
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order, {kGpu, kHd}), std::nullopt) << SortOrderName(order);
  }
}

TEST(ClaimQueuesTest, TagsWalkOnlyTheRarestTagsJobs) {
  Queues q;
  // kGpu (the first wanted tag) on 200 jobs; kHd on two: the claim must look
  // at kHd's two jobs only, never walk kGpu's 200.
  for (uint32_t slot = 0; slot < 200; ++slot) q.Enqueue(slot, 0, {kGpu});
  q.Enqueue(300, 0, {kHd});        // lacks kGpu
  q.Enqueue(301, 0, {kGpu, kHd});  // the only match
  for (SortOrder order : kAllOrders) {
    q.ResetTagsOfCalls();
    EXPECT_EQ(q.Pick(order, {kGpu, kHd}, /*random_bits=*/0), 301u) << SortOrderName(order);
    EXPECT_LE(q.tags_of_calls(), 2)
        << SortOrderName(order) << ": looked at jobs outside the rarest tag's set";
  }
}

TEST(ClaimQueuesTest, UnknownTagGivesNothing) {
  Queues q;
  q.Enqueue(1, 0, {kGpu});
  q.Enqueue(2, 0, {kGpu, kHd});
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order, {kUnknownTag}), std::nullopt) << SortOrderName(order);
    EXPECT_EQ(q.Pick(order, {kGpu, kUnknownTag}), std::nullopt) << SortOrderName(order);
  }
}

TEST(ClaimQueuesTest, ATagWhoseJobsAllLeftIsUnknownAgain) {
  Queues q;
  q.Enqueue(1, 0, {kGpu});
  q.Enqueue(2, 0, {kHd});
  q.Dequeue(1);
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order, {kGpu}), std::nullopt) << SortOrderName(order);
  }
  EXPECT_EQ(q.Pick(SortOrder::kOldestFirst, {kHd}), 2u);
}

TEST(ClaimQueuesTest, DequeueRemovesFromPriorityAndTagSets) {
  Queues q;
  q.Enqueue(1, 10, {kGpu});
  q.Enqueue(2, 0, {kGpu, kHd});
  q.Enqueue(3, 10, {kHd});
  EXPECT_EQ(q.queues().size(), 3u);
  q.Dequeue(1);
  EXPECT_FALSE(q.queues().contains(1));
  EXPECT_TRUE(q.queues().contains(2));
  EXPECT_EQ(q.queues().size(), 2u);
  // Not under its priority any more...
  EXPECT_EQ(q.Pick(SortOrder::kPriority), 3u);
  // ...nor under its tag.
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order, {kGpu}), 2u) << SortOrderName(order);
  }
  q.Dequeue(3);  // the last job of priority 10
  EXPECT_EQ(q.Pick(SortOrder::kPriority), 2u);
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kHd}), 2u);
  q.Dequeue(2);
  for (SortOrder order : kAllOrders) {
    EXPECT_EQ(q.Pick(order), std::nullopt) << SortOrderName(order);
    EXPECT_EQ(q.Pick(order, {kHd}), std::nullopt) << SortOrderName(order);
  }
  EXPECT_EQ(q.queues().size(), 0u);
  // A job requeued (after a release) is claimable again under both.
  q.Enqueue(1, 10, {kGpu});
  EXPECT_EQ(q.Pick(SortOrder::kPriority, {kGpu}), 1u);
}

TEST(ClaimQueuesTest, RandomStartsAtTheRankRandomBitsNameModuloTheCount) {
  Queues q;
  for (uint32_t slot : {10u, 20u, 30u, 40u}) q.Enqueue(slot, 0);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, 0), 10u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, 2), 30u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, 3), 40u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, 4), 10u);  // 4 % 4 == 0
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, 7), 40u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {}, ~uint64_t{0}), 40u);  // 2^64-1 % 4 == 3
}

TEST(ClaimQueuesTest, RandomWithFixedBitsWrapsAroundToAMatch) {
  Queues q;
  // kHd is the rarer tag (4 jobs); only 10 and 20 carry kGpu as well.
  for (uint32_t slot : {10u, 20u}) q.Enqueue(slot, 0, {kGpu, kHd});
  for (uint32_t slot : {30u, 40u}) q.Enqueue(slot, 0, {kHd});
  for (uint32_t slot : {50u, 60u, 70u, 80u, 90u}) q.Enqueue(slot, 0, {kGpu});
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 0), 10u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 1), 20u);
  // Start at 30 (rank 2): 30 and 40 lack kGpu; wrap around to 10.
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 2), 10u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 3), 10u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 5), 20u);  // 5 % 4 == 1
  // Start at 20 (rank 1) and find it after 10 is claimed; from rank 2 wrap
  // around past the gap to 20.
  q.Dequeue(10);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 0), 20u);
  EXPECT_EQ(q.Pick(SortOrder::kRandom, {kGpu, kHd}, 2), 20u);
}

}  // namespace
}  // namespace cascade::internal
