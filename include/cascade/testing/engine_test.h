// Copyright 2026 The Cascade Authors.
//
// File: cascade/testing/engine_test.h
// -----------------------------------------------------------------------------
// A GoogleTest fixture for code that embeds Cascade. `EngineTest` owns an
// engine on a ManualClock with a fixed id seed, so every run of a test sees the
// same ids, times and orders, and offers a few helpers that play the worker's
// part (claim by tag, heartbeat, finish, fail) and move time. Nothing is
// time-driven on its own: a lease expires, or an abort runs out of grace, only
// when the test advances the clock and calls Engine::RunDueWork
// (AdvanceAndRunDue does both).
//
// The free functions ClaimTagged, RenderAndFinish and RenderAndFail drive any
// Engine, for tests that keep their own. Tests give each job a unique tag so
// that a claim restricted to the tag takes exactly that job.
//
// Header-only, public API only; link GoogleTest.
//
// Example:
//
//   class RenderFarmTest : public cascade::testing::EngineTest {
//    protected:
//     cascade::Options MakeOptions() override {
//       cascade::Options options = EngineTest::MakeOptions();
//       options.max_attempts = 1;
//       return options;
//     }
//   };
//
//   TEST_F(RenderFarmTest, LostWorkerEndsTheJobInError) {
//     absl::StatusOr<cascade::JobId> id = SubmitTagged("intro");
//     ASSERT_TRUE(id.ok()) << id.status();
//     ASSERT_TRUE(ClaimTagged("intro").ok());
//     AdvanceAndRunDue(absl::Seconds(60));  // Options::lease_duration
//     EXPECT_EQ(StateOf(*id), cascade::JobState::kError);
//   }
//
// NOTE: like any GoogleTest fixture, one test runs on one thread; the engine
// itself may still be called from threads the test starts.

#ifndef CASCADE_TESTING_ENGINE_TEST_H_
#define CASCADE_TESTING_ENGINE_TEST_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/clock.h"
#include "cascade/engine.h"
#include "cascade/job.h"
#include "cascade/options.h"
#include "gtest/gtest.h"

namespace cascade::testing {

// Claims, as worker "worker-1" with the default lease, the next queued job
// carrying `tag`. NotFound when none is queued.
inline absl::StatusOr<ClaimedJob> ClaimTagged(Engine& engine, std::string tag) {
  ClaimRequest request;
  request.worker = "worker-1";
  request.tags = {std::move(tag)};
  return engine.Claim(request);
}

// Claims the next queued job carrying `tag` and finishes it.
inline absl::Status RenderAndFinish(Engine& engine, std::string tag) {
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged(engine, std::move(tag));
  if (!claimed.ok()) return claimed.status();
  return engine.Finish(claimed->job.id, claimed->lease.token, {}).status();
}

// Claims the next queued job carrying `tag` and fails it with `error`.
inline absl::Status RenderAndFail(Engine& engine, std::string tag,
                                  std::string_view error = "render crashed") {
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged(engine, std::move(tag));
  if (!claimed.ok()) return claimed.status();
  return engine
      .Fail(claimed->job.id, claimed->lease.token, {.error = std::string(error), .retry = false})
      .status();
}

// An engine on a ManualClock that starts at kStartTime, with ids seeded by
// kIdSeed. Helpers that take no team act for kTeam.
class EngineTest : public ::testing::Test {
 public:
  static constexpr char kTeam[] = "team-a";
  static constexpr absl::Time kStartTime = absl::FromUnixSeconds(1'700'000'000);
  static constexpr uint64_t kIdSeed = 1;

 protected:
  EngineTest() : clock_(kStartTime) {}

  // The options the engine is made with. Override to change any, starting from
  // EngineTest::MakeOptions(). Whatever it returns, the engine reads time from
  // clock().
  virtual Options MakeOptions() {
    Options options;
    options.clock = &clock_;
    options.id_seed = kIdSeed;
    return options;
  }

  // Makes the engine; the test fails here if MakeOptions() breaks a REQUIRES.
  // A fixture that overrides SetUp must call EngineTest::SetUp() first.
  void SetUp() override {
    Options options = MakeOptions();
    options.clock = &clock_;
    absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options);
    ASSERT_TRUE(created.ok()) << "Engine::Create: " << created.status();
    engine_ = *std::move(created);
  }

  // REQUIRES: SetUp() succeeded.
  Engine& engine() { return *engine_; }
  const Engine& engine() const { return *engine_; }
  ManualClock& clock() { return clock_; }
  absl::Time Now() const { return clock_.Now(); }

  // ---- Clients ----

  absl::StatusOr<CreatedJob> Submit(const JobSpec& spec, std::string_view team = kTeam) {
    return engine_->Submit(team, spec);
  }

  // Submits `spec` with `tag` added to its tags; returns the job's id.
  absl::StatusOr<JobId> SubmitTagged(std::string tag, JobSpec spec = {},
                                     std::string_view team = kTeam) {
    spec.tags.push_back(std::move(tag));
    absl::StatusOr<CreatedJob> created = engine_->Submit(team, spec);
    if (!created.ok()) return created.status();
    return created->id;
  }

  absl::StatusOr<Job> Get(JobId id, std::string_view team = kTeam) const {
    return engine_->Get(team, id);
  }

  // The job's state; nullopt, after recording a test failure, when the team
  // cannot read the job.
  std::optional<JobState> StateOf(std::string_view team, JobId id) const {
    absl::StatusOr<Job> job = engine_->Get(team, id);
    if (!job.ok()) {
      ADD_FAILURE() << "Get(" << team << ", " << id.ToString() << "): " << job.status();
      return std::nullopt;
    }
    return job->state;
  }
  std::optional<JobState> StateOf(JobId id) const { return StateOf(kTeam, id); }

  // ---- Workers ----

  absl::StatusOr<ClaimedJob> ClaimTagged(std::string tag) {
    return ::cascade::testing::ClaimTagged(*engine_, std::move(tag));
  }
  absl::Status RenderAndFinish(std::string tag) {
    return ::cascade::testing::RenderAndFinish(*engine_, std::move(tag));
  }
  absl::Status RenderAndFail(std::string tag, std::string_view error = "render crashed") {
    return ::cascade::testing::RenderAndFail(*engine_, std::move(tag), error);
  }

  // Heartbeats the claimed job with its lease, reporting `progress` if given;
  // the lease is extended by the length the claim granted.
  absl::StatusOr<HeartbeatResult> Heartbeat(const ClaimedJob& claimed,
                                            std::optional<double> progress = std::nullopt) {
    HeartbeatReport report;
    report.progress = progress;
    return engine_->Heartbeat(claimed.job.id, claimed.lease.token, report);
  }

  // ---- Time ----

  // Moves the clock by `d`, then runs what is due; returns how many jobs
  // RunDueWork changed.
  size_t AdvanceAndRunDue(absl::Duration d) {
    clock_.Advance(d);
    return engine_->RunDueWork();
  }

 private:
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTING_ENGINE_TEST_H_
