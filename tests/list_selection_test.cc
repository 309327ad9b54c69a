// Copyright 2026 The Cascade Authors.
//
// SelectPage (contract §6) over a team's index, kept by a job model built
// directly: state and tag filters, slot ranges, every order, and offsets.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cascade/job.h"
#include "cascade/list_query.h"
#include "engine/index/list_index.h"
#include "engine/model/job_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

constexpr int64_t kT0 = 1'700'000'000'000;

class ListSelectionTest : public ::testing::Test {
 protected:
  ListSelectionTest() : team_(model_.InternTeam("team-a")) {}

  uint32_t Create(std::vector<std::string> tags = {}, int32_t priority = 0,
                  TeamNo team = kNo<TeamNo>) {
    JobSpec spec;
    spec.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
    spec.composition = "main";
    spec.tags = std::move(tags);
    spec.priority = priority;
    return model_.CreateTree(spec,
                             {.team = team == kNo<TeamNo> ? team_ : team, .now_ms = now_ += 10});
  }
  void Claim(uint32_t slot) {
    ASSERT_TRUE(model_.Apply(slot, JobEvent::kClaim, {.now_ms = now_ += 10}));
  }
  void Finish(uint32_t slot) {
    Claim(slot);
    ASSERT_TRUE(model_.Apply(slot, JobEvent::kFinish, {.now_ms = now_ += 10}));
  }

  // Every slot, in the given states (none: every state), oldest first.
  Selection Select(std::vector<JobState> states = {}) const {
    Selection sel;
    if (states.empty()) {
      sel.states.fill(true);
    } else {
      for (JobState s : states) sel.states[static_cast<int>(s)] = true;
    }
    sel.lo = 0;
    sel.hi = model_.size();
    sel.limit = ListQuery::kMaxLimit;
    return sel;
  }
  TagNo Tag(const std::string& name) const { return *model_.tags().Find(name); }
  std::vector<uint32_t> Page(const Selection& sel, uint64_t random_bits = 0) const {
    return SelectPage(model_.team_index(team_), model_.table(), sel, random_bits);
  }

  JobModel model_{"https://out.example.com/{id}.mp4", {.max_attempts = 3}, /*seed=*/1};
  const TeamNo team_;
  int64_t now_ = kT0;
};

TEST_F(ListSelectionTest, AStateFilterPagesOldestFirstWithOffsets) {
  for (int i = 0; i < 10; ++i) Create();
  for (uint32_t s : {2u, 5u, 7u}) Claim(s);
  Selection sel = Select({JobState::kQueued});
  sel.limit = 3;
  EXPECT_THAT(Page(sel), ElementsAre(0u, 1u, 3u));
  sel.offset = 3;
  EXPECT_THAT(Page(sel), ElementsAre(4u, 6u, 8u));
  sel.offset = 6;
  EXPECT_THAT(Page(sel), ElementsAre(9u)) << "the last page is short";
  sel.offset = 7;
  EXPECT_THAT(Page(sel), IsEmpty()) << "past the end";
}

TEST_F(ListSelectionTest, NewestFirstWalksBackwardsWithOffsets) {
  for (int i = 0; i < 10; ++i) Create();
  for (uint32_t s : {2u, 5u, 7u}) Claim(s);
  Selection sel = Select({JobState::kQueued});
  sel.sort = SortOrder::kNewestFirst;
  sel.limit = 2;
  EXPECT_THAT(Page(sel), ElementsAre(9u, 8u));
  sel.offset = 2;
  EXPECT_THAT(Page(sel), ElementsAre(6u, 4u));
  sel.offset = 6;
  EXPECT_THAT(Page(sel), ElementsAre(0u));
}

TEST_F(ListSelectionTest, SeveralStatesAreTheirUnionInSlotOrder) {
  for (int i = 0; i < 8; ++i) Create();
  Claim(1);
  Finish(3);
  Finish(6);
  EXPECT_THAT(Page(Select({JobState::kRendering, JobState::kFinished})), ElementsAre(1u, 3u, 6u));
  EXPECT_THAT(Page(Select({JobState::kFinished})), ElementsAre(3u, 6u));
  EXPECT_THAT(Page(Select({JobState::kError})), IsEmpty());
  EXPECT_EQ(Page(Select()).size(), 8u);
}

TEST_F(ListSelectionTest, ASlotRangeBoundsTheWalkInBothDirections) {
  for (int i = 0; i < 10; ++i) Create();
  Selection sel = Select();
  sel.lo = 3;
  sel.hi = 7;
  EXPECT_THAT(Page(sel), ElementsAre(3u, 4u, 5u, 6u));
  sel.sort = SortOrder::kNewestFirst;
  EXPECT_THAT(Page(sel), ElementsAre(6u, 5u, 4u, 3u));
  sel.lo = sel.hi = 5;
  EXPECT_THAT(Page(sel), IsEmpty());
}

TEST_F(ListSelectionTest, TagsAndStatesMustBothMatch) {
  // Few jobs carry "gpu" (the tag is the narrower source); one of them is
  // rendering and must not be listed as queued.
  for (int i = 0; i < 20; ++i) Create();
  const uint32_t a = Create({"gpu"});
  const uint32_t b = Create({"gpu", "hd"});
  const uint32_t c = Create({"gpu"});
  Claim(b);
  Selection sel = Select({JobState::kQueued});
  sel.tags = {Tag("gpu")};
  EXPECT_THAT(Page(sel), ElementsAre(a, c));
  sel.tags = {Tag("gpu"), Tag("hd")};
  EXPECT_THAT(Page(sel), IsEmpty());
  sel = Select({JobState::kRendering});
  sel.tags = {Tag("gpu"), Tag("hd")};
  EXPECT_THAT(Page(sel), ElementsAre(b));
}

TEST_F(ListSelectionTest, TagsFilterAStateSetThatIsTheNarrowerSource) {
  // Many jobs carry "common"; only two are rendering: the state set is
  // walked and each job's tags checked.
  for (int i = 0; i < 30; ++i) Create({"common"});
  const uint32_t untagged = Create();
  Claim(4);
  Claim(untagged);
  Claim(17);
  Selection sel = Select({JobState::kRendering});
  sel.tags = {Tag("common")};
  EXPECT_THAT(Page(sel), ElementsAre(4u, 17u));
  sel.offset = 1;
  EXPECT_THAT(Page(sel), ElementsAre(17u));
}

TEST_F(ListSelectionTest, AnUnknownTagListsNothing) {
  Create({"gpu"});
  const TeamNo other_team = model_.InternTeam("team-b");
  Create({"hd"}, 0, other_team);
  Selection sel = Select();
  sel.tags = {Tag("hd")};
  EXPECT_THAT(Page(sel), IsEmpty());
  sel.tags = {Tag("gpu"), TagNo{12345}};
  EXPECT_THAT(Page(sel), IsEmpty());
}

TEST_F(ListSelectionTest, AnotherTeamsJobsAreNotListed) {
  const uint32_t mine = Create();
  Create({}, 0, model_.InternTeam("team-b"));
  const uint32_t mine_too = Create();
  EXPECT_THAT(Page(Select()), ElementsAre(mine, mine_too));
}

TEST_F(ListSelectionTest, PriorityOrderIsHighestFirstThenOldestWithOffsets) {
  Create({}, 0);   // 0
  Create({}, 5);   // 1
  Create({}, 10);  // 2
  Create({}, 5);   // 3
  Create({}, -1);  // 4
  Create({}, 10);  // 5
  Selection sel = Select();
  sel.sort = SortOrder::kPriority;
  EXPECT_THAT(Page(sel), ElementsAre(2u, 5u, 1u, 3u, 0u, 4u));
  sel.limit = 2;
  sel.offset = 2;
  EXPECT_THAT(Page(sel), ElementsAre(1u, 3u));
  sel.offset = 5;
  EXPECT_THAT(Page(sel), ElementsAre(4u));
  sel.offset = 6;
  EXPECT_THAT(Page(sel), IsEmpty());
}

TEST_F(ListSelectionTest, RandomPagesOfOneSeedArePiecesOfOnePermutation) {
  for (int i = 0; i < 40; ++i) Create();
  for (uint32_t s = 0; s < 40; s += 4) Claim(s);  // 30 queued
  Selection sel = Select({JobState::kQueued});
  sel.sort = SortOrder::kRandom;
  const std::vector<uint32_t> all = Page(sel, /*random_bits=*/99);
  std::vector<uint32_t> queued;
  for (uint32_t s = 0; s < 40; ++s) {
    if (s % 4 != 0) queued.push_back(s);
  }
  EXPECT_THAT(all, UnorderedElementsAreArray(queued));
  EXPECT_EQ(Page(sel, 99), all) << "the same bits, the same order";
  EXPECT_NE(Page(sel, 100), all) << "other bits, another order";
  EXPECT_FALSE(std::is_sorted(all.begin(), all.end()));
  // Pages of one seed are consecutive pieces of the same order: no repeats.
  sel.limit = 7;
  std::vector<uint32_t> paged;
  for (sel.offset = 0; sel.offset < 35; sel.offset += 7) {
    const std::vector<uint32_t> page = Page(sel, 99);
    paged.insert(paged.end(), page.begin(), page.end());
  }
  EXPECT_EQ(paged, all);
}

TEST_F(ListSelectionTest, ALimitOfZeroListsNothing) {
  Create();
  Selection sel = Select();
  sel.limit = 0;
  EXPECT_THAT(Page(sel), IsEmpty());
}

}  // namespace
}  // namespace cascade::internal
