// Copyright 2026 The Cascade Authors.
//
// LeaseBook (contract §7): lease tokens, due times, and how the book follows
// the job model's transitions (a job that stops rendering loses its lease; a
// job asked to abort gets the abort's grace).

#include "engine/lease/lease_book.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "cascade/job.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kGraceMs = 5'000;

// A book whose wake calls are recorded.
class LeaseBookTest : public ::testing::Test {
 protected:
  LeaseBook book_{absl::Milliseconds(kGraceMs), /*seed=*/42, /*track_changes=*/true,
                  [this](int64_t due_ms) { wakes_.push_back(due_ms); }};
  std::vector<int64_t> wakes_;
};

JobChange Transition(uint32_t slot, JobState from, JobState to, int64_t now_ms,
                     bool aborting = false) {
  return JobChange{.slot = slot,
                   .from = from,
                   .to = to,
                   .now_ms = now_ms,
                   .sub = aborting ? SubState::kAborting : SubState::kNone};
}

// The slot of the lease due at `now_ms`, if any.
std::optional<uint32_t> DueSlot(const LeaseBook& book, int64_t now_ms) {
  const std::optional<LeaseBook::Due> due = book.NextDue(now_ms);
  if (!due) return std::nullopt;
  return due->slot;
}

TEST_F(LeaseBookTest, GrantGivesDistinctNonZeroTokensWhoseSlotHintIsTheSlot) {
  absl::flat_hash_set<uint64_t> tokens;
  const std::vector<uint32_t> slots = {0, 1, 2, 3, 255, 4096, 65'535, 1'000'000, 0xFFFFFFFEu};
  for (uint32_t slot : slots) {
    const Lease lease = book_.Grant(slot, kNow, 60'000);
    EXPECT_NE(lease.token, 0u);
    EXPECT_NE(lease.token >> 32, 0u) << "the random half is never zero";
    EXPECT_EQ(book_.SlotHint(lease.token), slot);
    EXPECT_TRUE(tokens.insert(lease.token).second) << "token repeated for slot " << slot;
    ASSERT_TRUE(book_.Find(slot).has_value());
    EXPECT_EQ(book_.Find(slot)->token, lease.token);
  }
  EXPECT_EQ(book_.size(), slots.size());
}

TEST_F(LeaseBookTest, ANewGrantOfTheSameSlotGetsANewToken) {
  const Lease first = book_.Grant(7, kNow, 60'000);
  const Lease second = book_.Grant(7, kNow + 1, 60'000);
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(book_.SlotHint(second.token), 7u);
  EXPECT_EQ(book_.size(), 1u);
  EXPECT_EQ(book_.Find(7)->token, second.token);
  EXPECT_EQ(book_.next_due_ms(), kNow + 1 + 60'000) << "the first grant's due time is gone";
}

TEST_F(LeaseBookTest, GrantSetsExpiryAndLength) {
  const Lease lease = book_.Grant(3, kNow, 30'000);
  EXPECT_EQ(lease.expires_ms, kNow + 30'000);
  EXPECT_EQ(lease.length_ms, 30'000);
  EXPECT_EQ(lease.abort_deadline_ms, kUnsetMillis);
  EXPECT_EQ(lease.due_ms(), kNow + 30'000);
}

TEST_F(LeaseBookTest, AnEmptyBookHasNothingDue) {
  EXPECT_EQ(book_.next_due_ms(), std::nullopt);
  EXPECT_EQ(DueSlot(book_, INT64_MAX), std::nullopt);
  EXPECT_EQ(book_.Find(0), std::nullopt);
  EXPECT_EQ(book_.size(), 0u);
}

TEST_F(LeaseBookTest, NextDueIsTheEarliestLeaseOnceItsTimeHasCome) {
  book_.Grant(1, kNow, 500);  // due kNow+500
  book_.Grant(2, kNow, 200);  // due kNow+200
  book_.Grant(3, kNow, 900);  // due kNow+900
  EXPECT_EQ(book_.next_due_ms(), kNow + 200);
  EXPECT_EQ(DueSlot(book_, kNow + 199), std::nullopt) << "not due yet";
  EXPECT_EQ(DueSlot(book_, kNow + 200), 2u);
  EXPECT_EQ(DueSlot(book_, kNow + 10'000), 2u) << "the earliest, however late it is asked";
}

TEST_F(LeaseBookTest, ExtendMovesTheDueTime) {
  const Lease granted = book_.Grant(1, kNow, 500);
  book_.Grant(2, kNow, 200);
  const Lease extended = book_.Extend(2, kNow, 2'000);
  EXPECT_EQ(extended.expires_ms, kNow + 2'000);
  EXPECT_EQ(extended.length_ms, 200) << "the claim's length is kept";
  EXPECT_EQ(book_.Find(2)->expires_ms, kNow + 2'000);
  EXPECT_EQ(book_.next_due_ms(), kNow + 500);
  EXPECT_EQ(DueSlot(book_, kNow + 499), std::nullopt);
  EXPECT_EQ(DueSlot(book_, kNow + 500), 1u);
  // Extending the earliest one past the other hands the first place over.
  const Lease moved = book_.Extend(1, kNow, 3'000);
  EXPECT_EQ(moved.token, granted.token) << "extending keeps the token";
  EXPECT_EQ(book_.next_due_ms(), kNow + 2'000);
  EXPECT_EQ(DueSlot(book_, kNow + 2'000), 2u);
  // And back: an extension may also shorten.
  book_.Extend(1, kNow, 100);
  EXPECT_EQ(book_.next_due_ms(), kNow + 100);
  EXPECT_EQ(DueSlot(book_, kNow + 100), 1u);
}

TEST_F(LeaseBookTest, ExtendWithoutALengthRenewsForTheClaimsLength) {
  book_.Grant(6, kNow, 400);
  const Lease renewed = book_.Extend(6, kNow + 1'000);
  EXPECT_EQ(renewed.expires_ms, kNow + 1'000 + 400);
  EXPECT_EQ(book_.next_due_ms(), kNow + 1'400);
}

TEST_F(LeaseBookTest, HoldsOnlyTheCurrentTokenOfALeasedJob) {
  const Lease first = book_.Grant(3, kNow, 500);
  EXPECT_TRUE(book_.Holds(3, first.token));
  EXPECT_FALSE(book_.Holds(4, first.token)) << "another job";
  EXPECT_FALSE(book_.Holds(3, first.token ^ 1));
  const Lease second = book_.Grant(3, kNow, 500);
  EXPECT_FALSE(book_.Holds(3, first.token)) << "a re-grant makes the old token stale";
  EXPECT_TRUE(book_.Holds(3, second.token));
}

TEST_F(LeaseBookTest, ATimeLimitIsDueBeforeTheLeaseAndHeartbeatsDoNotMoveIt) {
  book_.Grant(4, kNow, 60'000, /*time_limit_ms=*/5'000);
  EXPECT_EQ(book_.next_due_ms(), kNow + 5'000);
  book_.Extend(4, kNow + 4'000);  // a heartbeat
  EXPECT_EQ(book_.next_due_ms(), kNow + 5'000) << "the time limit is per attempt";
  const std::optional<LeaseBook::Due> due = book_.NextDue(kNow + 5'000);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->slot, 4u);
  EXPECT_EQ(due->event, JobEvent::kTimedOut);
}

TEST_F(LeaseBookTest, ALeaseThatEndsBeforeTheTimeLimitExpires) {
  book_.Grant(4, kNow, 1'000, /*time_limit_ms=*/5'000);
  const std::optional<LeaseBook::Due> due = book_.NextDue(kNow + 1'000);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->event, JobEvent::kLeaseExpired);
}

TEST_F(LeaseBookTest, AnAbortsGraceReplacesTheTimeLimit) {
  book_.Grant(4, kNow, 600'000, /*time_limit_ms=*/5'000);
  book_.OnTransition(Transition(4, JobState::kRendering, JobState::kRendering, kNow + 1'000,
                                /*aborting=*/true));
  EXPECT_EQ(book_.next_due_ms(), kNow + 1'000 + kGraceMs);
  const std::optional<LeaseBook::Due> due = book_.NextDue(kNow + 1'000 + kGraceMs);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->event, JobEvent::kLeaseExpired) << "the grace ends it, as the table decides";
}

TEST_F(LeaseBookTest, ATimedOutLeaseIsRememberedUntilItWouldHaveExpired) {
  const Lease lease = book_.Grant(4, kNow, 60'000, /*time_limit_ms=*/5'000);
  JobChange timed_out = Transition(4, JobState::kRendering, JobState::kQueued, kNow + 5'000);
  timed_out.cause = TransitionCause::kTimedOut;
  book_.OnTransition(timed_out);
  EXPECT_EQ(book_.Find(4), std::nullopt) << "the attempt is over";
  EXPECT_TRUE(book_.TimedOut(4, lease.token));
  EXPECT_FALSE(book_.TimedOut(5, lease.token));
  EXPECT_FALSE(book_.TimedOut(4, lease.token ^ 1));
  book_.ForgetTimedOut(kNow + 59'999);
  EXPECT_TRUE(book_.TimedOut(4, lease.token));
  book_.ForgetTimedOut(kNow + 60'000);
  EXPECT_FALSE(book_.TimedOut(4, lease.token));
  // An attempt that ends otherwise is not remembered.
  const Lease other = book_.Grant(6, kNow, 60'000);
  book_.OnTransition(Transition(6, JobState::kRendering, JobState::kFinished, kNow + 1));
  EXPECT_FALSE(book_.TimedOut(6, other.token));
}

TEST_F(LeaseBookTest, TakeChangedReportsGrantsAndExtensionsOnce) {
  book_.Grant(4, kNow, 1'000);
  book_.Grant(9, kNow, 1'000);
  EXPECT_THAT(book_.TakeChanged(), UnorderedElementsAre(4u, 9u));
  EXPECT_THAT(book_.TakeChanged(), IsEmpty());
  book_.Extend(9, kNow, 5'000);
  EXPECT_THAT(book_.TakeChanged(), ElementsAre(9u));
}

TEST_F(LeaseBookTest, LeavingRenderingDropsTheLeaseAndReportsIt) {
  for (JobState to :
       {JobState::kQueued, JobState::kFinished, JobState::kError, JobState::kCancelled}) {
    SCOPED_TRACE(StateName(to));
    LeaseBook book(absl::Milliseconds(kGraceMs), 1, true, [](int64_t) {});
    book.Grant(5, kNow, 1'000);
    book.Grant(6, kNow, 2'000);
    book.TakeChanged();
    book.OnTransition(Transition(5, JobState::kRendering, to, kNow + 10));
    EXPECT_EQ(book.Find(5), std::nullopt);
    EXPECT_TRUE(book.Find(6).has_value());
    EXPECT_EQ(book.size(), 1u);
    EXPECT_THAT(book.TakeChanged(), ElementsAre(5u));
    EXPECT_EQ(book.next_due_ms(), kNow + 2'000) << "the dropped lease is no longer due";
    EXPECT_EQ(DueSlot(book, kNow + 1'500), std::nullopt);
  }
}

TEST_F(LeaseBookTest, TransitionsThatDoNotLeaveRenderingKeepTheLease) {
  book_.Grant(5, kNow, 1'000);
  book_.TakeChanged();
  // Another job's change, a claim (into rendering), and a restored row.
  book_.OnTransition(Transition(6, JobState::kRendering, JobState::kQueued, kNow));
  book_.OnTransition(Transition(5, JobState::kQueued, JobState::kRendering, kNow));
  JobChange restored = Transition(5, JobState::kRendering, JobState::kQueued, kNow);
  restored.restored = true;
  book_.OnTransition(restored);
  JobChange created{.slot = 5, .from = std::nullopt, .to = JobState::kQueued, .now_ms = kNow};
  book_.OnTransition(created);
  ASSERT_TRUE(book_.Find(5).has_value());
  EXPECT_EQ(book_.Find(5)->expires_ms, kNow + 1'000);
  EXPECT_THAT(book_.TakeChanged(), IsEmpty());
}

TEST_F(LeaseBookTest, AbortSetsTheGraceDeadlineWhenItComesBeforeTheExpiry) {
  book_.Grant(5, kNow, 60'000);
  book_.TakeChanged();
  const int64_t asked_ms = kNow + 1'000;
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, asked_ms,
                                /*aborting=*/true));
  const std::optional<Lease> lease = book_.Find(5);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->abort_deadline_ms, asked_ms + kGraceMs);
  EXPECT_EQ(lease->expires_ms, kNow + 60'000) << "the expiry is kept";
  EXPECT_EQ(lease->due_ms(), asked_ms + kGraceMs);
  EXPECT_EQ(book_.next_due_ms(), asked_ms + kGraceMs);
  EXPECT_EQ(DueSlot(book_, asked_ms + kGraceMs - 1), std::nullopt);
  EXPECT_EQ(DueSlot(book_, asked_ms + kGraceMs), 5u);
  EXPECT_THAT(book_.TakeChanged(), ElementsAre(5u)) << "the deadline is journaled";
}

TEST_F(LeaseBookTest, AbortKeepsTheExpiryWhenItComesBeforeTheGrace) {
  book_.Grant(5, kNow, 2'000);
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, kNow + 1'000,
                                /*aborting=*/true));
  const std::optional<Lease> lease = book_.Find(5);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->abort_deadline_ms, kNow + 1'000 + kGraceMs);
  EXPECT_EQ(lease->due_ms(), kNow + 2'000);
  EXPECT_EQ(book_.next_due_ms(), kNow + 2'000);
}

TEST_F(LeaseBookTest, ASecondAbortDoesNotMoveTheDeadline) {
  book_.Grant(5, kNow, 60'000);
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, kNow + 1'000, true));
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, kNow + 3'000, true));
  EXPECT_EQ(book_.Find(5)->abort_deadline_ms, kNow + 1'000 + kGraceMs);
  EXPECT_EQ(book_.next_due_ms(), kNow + 1'000 + kGraceMs);
}

TEST_F(LeaseBookTest, ExtendingAnAbortingLeaseKeepsItsDeadline) {
  book_.Grant(5, kNow, 60'000);
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, kNow, true));
  book_.Extend(5, kNow, 120'000);
  EXPECT_EQ(book_.Find(5)->abort_deadline_ms, kNow + kGraceMs);
  EXPECT_EQ(book_.next_due_ms(), kNow + kGraceMs) << "a heartbeat cannot outrun the grace";
}

TEST_F(LeaseBookTest, AnAbortingJobThatEndsLosesItsLease) {
  book_.Grant(5, kNow, 60'000);
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kRendering, kNow, true));
  book_.TakeChanged();
  book_.OnTransition(Transition(5, JobState::kRendering, JobState::kCancelled, kNow + 10));
  EXPECT_EQ(book_.Find(5), std::nullopt);
  EXPECT_EQ(book_.next_due_ms(), std::nullopt);
  EXPECT_THAT(book_.TakeChanged(), ElementsAre(5u));
}

TEST_F(LeaseBookTest, WakeFiresWhenALeaseBecomesTheEarliest) {
  book_.Grant(1, kNow, 10'000);  // the first lease: earliest
  EXPECT_THAT(wakes_, ElementsAre(kNow + 10'000));
  book_.Grant(2, kNow, 20'000);  // later than the first: no wake
  EXPECT_THAT(wakes_, ElementsAre(kNow + 10'000));
  book_.Grant(3, kNow, 5'000);  // earlier: wake
  EXPECT_THAT(wakes_, ElementsAre(kNow + 10'000, kNow + 5'000));
  book_.Extend(2, kNow, 1'000);  // moved to the front: wake
  EXPECT_THAT(wakes_, ElementsAre(kNow + 10'000, kNow + 5'000, kNow + 1'000));
  book_.Extend(1, kNow, 30'000);  // moved back, still not first: no wake
  EXPECT_EQ(wakes_.size(), 3u);
  // An abort whose grace ends before every other due time: wake.
  book_.OnTransition(Transition(1, JobState::kRendering, JobState::kRendering, kNow - 4'500, true));
  EXPECT_THAT(wakes_, ElementsAre(kNow + 10'000, kNow + 5'000, kNow + 1'000, kNow + 500));
  // Dropping a lease makes nothing earlier: no wake.
  book_.OnTransition(Transition(1, JobState::kRendering, JobState::kQueued, kNow));
  EXPECT_EQ(wakes_.size(), 4u);
}

TEST(LeaseTokenTest, TextIsSixteenLowerCaseHexDigits) {
  EXPECT_EQ(LeaseTokenText(0), "0000000000000000");
  EXPECT_EQ(LeaseTokenText(1), "0000000000000001");
  EXPECT_EQ(LeaseTokenText(0xDEADBEEF00C0FFEEull), "deadbeef00c0ffee");
  EXPECT_EQ(LeaseTokenText(~uint64_t{0}), "ffffffffffffffff");
}

TEST(LeaseTokenTest, ParseRoundTripsTheText) {
  for (uint64_t token : {uint64_t{0}, uint64_t{1}, uint64_t{0x0123456789ABCDEF},
                         uint64_t{0xDEADBEEF00C0FFEE}, ~uint64_t{0}}) {
    EXPECT_EQ(ParseLeaseToken(LeaseTokenText(token)), token) << LeaseTokenText(token);
  }
  LeaseBook book(absl::Seconds(1), 7, true, [](int64_t) {});
  for (uint32_t slot = 0; slot < 100; ++slot) {
    const uint64_t token = book.Grant(slot, kNow, 1'000).token;
    EXPECT_EQ(ParseLeaseToken(LeaseTokenText(token)), token);
  }
  EXPECT_EQ(ParseLeaseToken("DEADBEEF00C0FFEE"), 0xDEADBEEF00C0FFEEull) << "upper case too";
}

TEST(LeaseTokenTest, ParseRejectsTextThatIsNotSixteenHexDigits) {
  for (const char* bad : {"", "0", "000000000000001",  // 15 digits
                          "00000000000000001",         // 17 digits
                          "000000000000000g", "zzzzzzzzzzzzzzzz", "0000-00000000000",
                          "00000000 0000000", "-00000000000001f"}) {
    EXPECT_EQ(ParseLeaseToken(bad), std::nullopt) << '"' << bad << '"';
  }
}

// absl::SimpleHexAtoi alone also strips whitespace and takes a "0x" prefix
// and a "+" sign: one token would have several accepted spellings.
TEST(LeaseTokenTest, ParseRejectsSixteenCharactersThatAreNotAllHexDigits) {
  for (const char* bad :
       {" 00000000000001f", "00000000000001f ", "\t00000000000001f", "00000000000001f\n",
        "0x0000000000001f", "0X0000000000001f", "+00000000000001f"}) {
    EXPECT_EQ(ParseLeaseToken(bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace cascade::internal
