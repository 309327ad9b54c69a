// Copyright 2026 The Cascade Authors.
//
// The engine's timer thread on a real clock: leases and abort deadlines are
// handled without anyone calling RunDueWork, and engines start and stop
// their thread cleanly. (Under ThreadSanitizer this also checks the thread's
// locking.) Nothing here measures speed: each test waits, boundedly, for an
// outcome.

#include <memory>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::LeafSpec;

constexpr char kTeam[] = "team-a";

std::unique_ptr<Engine> RealClockEngine(Options options = {}) {
  options.clock = Clock::Real();
  auto engine = Engine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return std::move(engine).value();
}

// Polls until `job` is in `state` or `limit` passes; returns the last state.
JobState WaitForState(Engine& engine, JobId job, JobState state,
                      absl::Duration limit = absl::Seconds(20)) {
  const absl::Time give_up = absl::Now() + limit;
  JobState now = engine.Get(kTeam, job)->state;
  while (now != state && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
    now = engine.Get(kTeam, job)->state;
  }
  return now;
}

TEST(TimerTest, AnExpiredLeaseIsRequeuedWithoutRunDueWork) {
  std::unique_ptr<Engine> engine = RealClockEngine();
  ASSERT_TRUE(engine->Submit(kTeam, LeafSpec()).ok());
  absl::StatusOr<ClaimedJob> claimed = engine->Claim({.lease = absl::Milliseconds(30)});
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(WaitForState(*engine, claimed->job.id, JobState::kQueued), JobState::kQueued);
  EXPECT_EQ(engine->Get(kTeam, claimed->job.id)->attempts, 1);
  // The old lease is fenced off.
  EXPECT_EQ(engine->Finish(claimed->job.id, claimed->lease.token, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TimerTest, AnUnacknowledgedAbortEndsCancelledAfterItsGrace) {
  Options options;
  options.abort_grace = absl::Milliseconds(30);
  std::unique_ptr<Engine> engine = RealClockEngine(options);
  ASSERT_TRUE(engine->Submit(kTeam, LeafSpec()).ok());
  absl::StatusOr<ClaimedJob> claimed = engine->Claim({});  // a 60 s lease
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_TRUE(engine->RequestAbort(kTeam, claimed->job.id).ok());
  EXPECT_EQ(WaitForState(*engine, claimed->job.id, JobState::kCancelled), JobState::kCancelled);
}

TEST(TimerTest, AHeartbeatingWorkerKeepsItsJob) {
  std::unique_ptr<Engine> engine = RealClockEngine();
  ASSERT_TRUE(engine->Submit(kTeam, LeafSpec()).ok());
  absl::StatusOr<ClaimedJob> claimed = engine->Claim({.lease = absl::Milliseconds(200)});
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  // Five heartbeats, each extending the lease well before it runs out.
  for (int i = 0; i < 5; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_TRUE(
        engine->Heartbeat(claimed->job.id, claimed->lease.token, {.extend = absl::Seconds(30)})
            .ok());
  }
  EXPECT_EQ(engine->Get(kTeam, claimed->job.id)->state, JobState::kRendering);
  EXPECT_TRUE(engine->Finish(claimed->job.id, claimed->lease.token, {}).ok());
}

TEST(TimerTest, EnginesStartAndStopTheirThreadWhileWorkIsPending) {
  // Destroying an engine with leases outstanding, from several threads at once.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 10; ++i) {
        std::unique_ptr<Engine> engine = RealClockEngine();
        ASSERT_TRUE(engine->Submit(kTeam, LeafSpec()).ok());
        ASSERT_TRUE(engine->Claim({.lease = absl::Milliseconds(1 + i)}).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace cascade
