// Copyright 2026 The Cascade Authors.
//
// Outbox (contract §8) on a manual clock, an in-memory journal and a scripted
// transport: when deliveries become sendable, how failed attempts are retried
// and turned into dead letters, replay, and what retention may remove.

#include "engine/webhook/outbox.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cascade/clock.h"
#include "cascade/testing/fake_transport.h"
#include "cascade/webhook.h"
#include "engine/journal/journal.h"
#include "engine/model/job_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using ::cascade::testing::FakeTransport;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kTeam[] = "team-a";

// Compares everything a transport sees of a request.
MATCHER_P(SameRequest, expected, "is the same request") {
  return arg.url == expected.url && arg.method == expected.method &&
         arg.headers == expected.headers && arg.body == expected.body;
}

bool Equal(const OutboxCounts& a, const OutboxCounts& b) {
  return a.pending == b.pending && a.in_flight == b.in_flight && a.dead == b.dead &&
         a.delivered_total == b.delivered_total && a.attempts_total == b.attempts_total;
}
MATCHER_P5(CountsAre, pending, in_flight, dead, delivered_total, attempts_total, "") {
  const OutboxCounts expected{pending, in_flight, dead, delivered_total, attempts_total};
  *result_listener << "pending=" << arg.pending << " in_flight=" << arg.in_flight
                   << " dead=" << arg.dead << " delivered_total=" << arg.delivered_total
                   << " attempts_total=" << arg.attempts_total;
  return Equal(arg, expected);
}

class OutboxTest : public ::testing::Test {
 protected:
  OutboxTest() { outbox_ = std::make_unique<Outbox>(Options(), &clock_, &transport_, &journal_); }

  // Two retries: attempts 1, 2 and 3, then a dead letter.
  static WebhookOptions Options() {
    WebhookOptions options;
    options.transport = nullptr;  // the outbox is handed the transport itself
    options.max_retries = 2;
    options.initial_backoff = absl::Seconds(1);
    options.backoff_factor = 3.0;
    options.timeout = absl::Milliseconds(1500);
    return options;
  }

  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }

  // A delivery of the job at `slot`, due now, as the engine builds it when
  // the job ends.
  Delivery MakeDelivery(uint32_t slot, std::string team = kTeam) {
    Delivery d;
    d.id = model_.NextId(NowMs()).ToString();
    d.slot = slot;
    d.job_id = model_.NextId(NowMs());
    d.team = std::move(team);
    d.created_ms = NowMs();
    d.due_ms = NowMs();
    d.request.url = "https://hooks.example.com/render/" + std::to_string(slot);
    d.request.method = HttpMethod::kPost;
    d.request.headers = {{"X-Custom", "1"},
                         {"Content-Type", "application/json"},
                         {"Cascade-Delivery-Id", d.id},
                         {"Cascade-Job-Id", d.job_id.ToString()}};
    d.request.body = R"({"id":")" + d.job_id.ToString() + R"(","state":"finished"})";
    return d;
  }

  // Stages a delivery and publishes its (in-memory) group.
  Delivery StageAndPublish(uint32_t slot, std::string team = kTeam) {
    Delivery d = MakeDelivery(slot, std::move(team));
    outbox_->Stage(d);
    outbox_->Publish(0);
    return d;
  }

  // Sends at each of the 3 attempts' due times (the backoff is 1 s, then
  // 3 s): a delivery that keeps failing is a dead letter after this.
  void SendEveryAttempt() {
    outbox_->SendDue();
    clock_.Advance(absl::Seconds(1));
    outbox_->SendDue();
    clock_.Advance(absl::Seconds(3));
    outbox_->SendDue();
  }

  OutboxCounts counts() const { return outbox_->counts(); }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  FakeTransport transport_{&clock_};
  JobModel model_{"https://out.example.com/{id}.mp4", {.max_attempts = 3}, /*seed=*/1};
  Journal journal_{nullptr, model_};
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AStagedDeliveryIsNotSentBeforeItsGroupIsPublished) {
  outbox_->Stage(MakeDelivery(1));
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 0)) << "pending, but not sendable";
  clock_.Advance(absl::Hours(1));
  outbox_->SendDue();
  EXPECT_THAT(transport_.calls(), IsEmpty());
  EXPECT_EQ(outbox_->size(), 1u);
}

TEST_F(OutboxTest, APublishedDeliveryIsSentBySendDue) {
  const Delivery d = MakeDelivery(1);
  outbox_->Stage(d);
  outbox_->Publish(0);
  EXPECT_THAT(transport_.calls(), IsEmpty()) << "Publish only makes it sendable";
  outbox_->SendDue();
  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0].request, SameRequest(d.request));
  EXPECT_EQ(calls[0].timeout, absl::Milliseconds(1500));
  EXPECT_EQ(calls[0].at, clock_.Now());
  EXPECT_THAT(counts(), CountsAre(0, 0, 0, 1, 1));
  EXPECT_EQ(outbox_->size(), 0u) << "a delivered delivery is forgotten";
  outbox_->SendDue();
  EXPECT_EQ(transport_.calls().size(), 1u) << "sent once";
}

TEST_F(OutboxTest, AnyTwoHundredCodeCountsAsDelivered) {
  transport_.Script({204});
  StageAndPublish(1);
  outbox_->SendDue();
  EXPECT_THAT(counts(), CountsAre(0, 0, 0, 1, 1));
  EXPECT_EQ(outbox_->size(), 0u);
}

TEST_F(OutboxTest, ADeliveryDueLaterWaitsForItsTime) {
  Delivery d = MakeDelivery(1);
  d.due_ms = NowMs() + 2'000;
  outbox_->Stage(d);
  outbox_->Publish(0);
  outbox_->SendDue();
  EXPECT_THAT(transport_.calls(), IsEmpty());
  clock_.Advance(absl::Milliseconds(1'999));
  outbox_->SendDue();
  EXPECT_THAT(transport_.calls(), IsEmpty());
  clock_.Advance(absl::Milliseconds(1));
  outbox_->SendDue();
  EXPECT_EQ(transport_.calls().size(), 1u);
}

TEST_F(OutboxTest, FailuresAreRetriedWithExponentialBackoffThenBecomeADeadLetter) {
  transport_.SetDefault(500);
  const absl::Time start = clock_.Now();
  const Delivery d = StageAndPublish(1);
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 0));

  outbox_->SendDue();  // attempt 1: 500
  EXPECT_EQ(transport_.calls().size(), 1u);
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 1)) << "pending again, for a retry";

  // Retry 1 after initial_backoff (1 s), not before.
  clock_.Advance(absl::Milliseconds(999));
  outbox_->SendDue();
  EXPECT_EQ(transport_.calls().size(), 1u);
  clock_.Advance(absl::Milliseconds(1));
  outbox_->SendDue();  // attempt 2: 500
  EXPECT_EQ(transport_.calls().size(), 2u);
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 2));

  // Retry 2 after initial_backoff * factor (3 s), not before.
  clock_.Advance(absl::Milliseconds(2'999));
  outbox_->SendDue();
  EXPECT_EQ(transport_.calls().size(), 2u);
  clock_.Advance(absl::Milliseconds(1));
  outbox_->SendDue();  // attempt 3 = 1 + max_retries: 500, and dead
  EXPECT_THAT(counts(), CountsAre(0, 0, 1, 0, 3));

  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].at, start);
  EXPECT_EQ(calls[1].at - calls[0].at, absl::Seconds(1));
  EXPECT_EQ(calls[2].at - calls[1].at, absl::Seconds(3));
  for (const FakeTransport::Call& call : calls) {
    EXPECT_THAT(call.request, SameRequest(d.request))
        << "every attempt sends the same bytes under the same Cascade-Delivery-Id";
    EXPECT_THAT(call.request.headers, Contains(Pair("Cascade-Delivery-Id", d.id)));
    EXPECT_EQ(call.request.body, d.request.body);
  }

  // No attempt after the last.
  clock_.Advance(absl::Hours(24));
  outbox_->SendDue();
  EXPECT_EQ(transport_.calls().size(), 3u);
  EXPECT_THAT(counts(), CountsAre(0, 0, 1, 0, 3));
  EXPECT_EQ(outbox_->size(), 1u) << "the dead letter is kept";
}

TEST_F(OutboxTest, ADeadLetterIsListedForItsTeamOnly) {
  transport_.SetDefault(503);
  const absl::Time created = clock_.Now();
  const Delivery d = StageAndPublish(1);
  SendEveryAttempt();
  ASSERT_EQ(counts().dead, 1);

  const std::vector<DeadLetter> letters = outbox_->DeadLetters(kTeam);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].delivery_id, d.id);
  EXPECT_EQ(letters[0].job_id, d.job_id);
  EXPECT_EQ(letters[0].url, d.request.url);
  EXPECT_EQ(letters[0].attempts, 3);
  EXPECT_EQ(letters[0].last_error, "HTTP 503");
  EXPECT_EQ(letters[0].created_at, created);
  EXPECT_EQ(letters[0].died_at, clock_.Now());
  EXPECT_THAT(outbox_->DeadLetters("team-b"), IsEmpty());
}

TEST_F(OutboxTest, ATransportErrorIsAFailedAttemptWithItsMessage) {
  WebhookOptions options = Options();
  options.max_retries = 0;
  Outbox outbox(options, &clock_, &transport_, &journal_);
  transport_.Script({absl::DeadlineExceededError("timed out after 1.5s")});
  Delivery d = MakeDelivery(1);
  outbox.Stage(d);
  outbox.Publish(0);
  outbox.SendDue();
  const std::vector<DeadLetter> letters = outbox.DeadLetters(kTeam);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].attempts, 1) << "max_retries = 0: one attempt only";
  EXPECT_EQ(letters[0].last_error, "timed out after 1.5s");
}

TEST_F(OutboxTest, ReplayMakesADeadLetterPendingAndASuccessRemovesIt) {
  transport_.Script({500, 500, 500, 200});
  const Delivery d = StageAndPublish(1);
  SendEveryAttempt();
  ASSERT_THAT(counts(), CountsAre(0, 0, 1, 0, 3));

  // Another team's, or an unknown id: not found, nothing changes.
  EXPECT_EQ(outbox_->Replay("team-b", d.id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(outbox_->Replay(kTeam, "01ARZ3NDEKTSV4RRFFQ69G5FAV").code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(counts(), CountsAre(0, 0, 1, 0, 3));

  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(outbox_->Replay(kTeam, d.id).ok());
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 3)) << "pending again";
  EXPECT_THAT(outbox_->DeadLetters(kTeam), IsEmpty());
  EXPECT_EQ(outbox_->Replay(kTeam, d.id).code(), absl::StatusCode::kNotFound)
      << "no longer a dead letter";

  outbox_->SendDue();  // due at once: 200
  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[3].at, clock_.Now());
  EXPECT_THAT(calls[3].request, SameRequest(d.request)) << "a replay sends the same request";
  EXPECT_THAT(counts(), CountsAre(0, 0, 0, 1, 4));
  EXPECT_EQ(outbox_->size(), 0u);
}

TEST_F(OutboxTest, AReplayedDeliveryGetsItsFullAttemptsAgain) {
  transport_.SetDefault(500);
  const Delivery d = StageAndPublish(1);
  SendEveryAttempt();
  ASSERT_EQ(counts().dead, 1);
  ASSERT_TRUE(outbox_->Replay(kTeam, d.id).ok());
  const absl::Time replayed = clock_.Now();
  SendEveryAttempt();
  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls[3].at, replayed);
  EXPECT_EQ(calls[4].at - calls[3].at, absl::Seconds(1)) << "the backoff starts over";
  EXPECT_EQ(calls[5].at - calls[4].at, absl::Seconds(3));
  EXPECT_THAT(counts(), CountsAre(0, 0, 1, 0, 6));
  ASSERT_EQ(outbox_->DeadLetters(kTeam).size(), 1u);
  EXPECT_EQ(outbox_->DeadLetters(kTeam)[0].attempts, 3);
}

TEST_F(OutboxTest, DeliveriesAreSentInDueOrder) {
  Delivery late = MakeDelivery(1);
  late.due_ms = NowMs() + 500;
  Delivery early = MakeDelivery(2);
  early.due_ms = NowMs() + 100;
  outbox_->Stage(late);
  outbox_->Stage(early);
  outbox_->Publish(0);
  clock_.Advance(absl::Seconds(1));
  outbox_->SendDue();
  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].request.url, early.request.url);
  EXPECT_EQ(calls[1].request.url, late.request.url);
}

TEST_F(OutboxTest, DropStagedForgetsOnlyTheUnpublishedDeliveries) {
  const Delivery published = StageAndPublish(1);
  outbox_->Stage(MakeDelivery(2));
  outbox_->Stage(MakeDelivery(3));
  EXPECT_THAT(counts(), CountsAre(3, 0, 0, 0, 0));
  outbox_->DropStaged();  // their group failed: they never happened
  EXPECT_THAT(counts(), CountsAre(1, 0, 0, 0, 0));
  EXPECT_EQ(outbox_->size(), 1u);
  outbox_->Publish(0);  // nothing left staged
  outbox_->SendDue();
  const std::vector<FakeTransport::Call> calls = transport_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0].request, SameRequest(published.request));
  EXPECT_THAT(counts(), CountsAre(0, 0, 0, 1, 1));
}

TEST_F(OutboxTest, RemoveIfIdleRefusesWhileADeliveryOfTheJobsIsPendingOrStaged) {
  transport_.SetDefault(500);
  StageAndPublish(7);
  std::vector<uint64_t> removed = {12345};
  EXPECT_FALSE(outbox_->RemoveIfIdle({7}, &removed)) << "published, not yet sent";
  EXPECT_THAT(removed, ElementsAre(12345u)) << "untouched when refused";
  outbox_->SendDue();  // 500: pending for a retry
  EXPECT_FALSE(outbox_->RemoveIfIdle({6, 7}, &removed)) << "waiting for a retry";
  outbox_->Stage(MakeDelivery(9));
  EXPECT_FALSE(outbox_->RemoveIfIdle({9}, &removed)) << "staged";
  EXPECT_EQ(outbox_->size(), 2u);
  // Jobs with no delivery at all are idle.
  EXPECT_TRUE(outbox_->RemoveIfIdle({1, 2}, &removed));
  EXPECT_THAT(removed, IsEmpty());
  EXPECT_EQ(outbox_->size(), 2u);
}

TEST_F(OutboxTest, RemoveIfIdleRemovesTheJobsDeadLetters) {
  transport_.SetDefault(500);
  StageAndPublish(7);
  StageAndPublish(7);  // a second delivery of the same job
  StageAndPublish(8);
  for (int attempt = 0; attempt < 3; ++attempt) {
    outbox_->SendDue();
    clock_.Advance(absl::Seconds(10));
  }
  ASSERT_THAT(counts(), CountsAre(0, 0, 3, 0, 9));
  std::vector<uint64_t> removed;
  EXPECT_TRUE(outbox_->RemoveIfIdle({7}, &removed));
  EXPECT_EQ(removed.size(), 2u) << "both dead letters of job 7";
  EXPECT_NE(removed[0], removed[1]);
  EXPECT_THAT(counts(), CountsAre(0, 0, 1, 0, 9));
  const std::vector<DeadLetter> left = outbox_->DeadLetters(kTeam);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].url, "https://hooks.example.com/render/8");
  EXPECT_EQ(outbox_->size(), 1u);
}

}  // namespace
}  // namespace cascade::internal
