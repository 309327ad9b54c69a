// Copyright 2026 The Cascade Authors.
//
// The simulated workers of `cascade-server --demo-workers N`.

#include "server/demo_workers.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

using ::cascade::testing::IsOk;
using ::testing::HasSubstr;

TEST(DemoWorkersTest, TheyRenderEveryJobAndFinishWithAnOutputUrl) {
  auto engine = Engine::Create(Options{});
  ASSERT_THAT(engine, IsOk());
  std::vector<JobId> ids;
  for (int i = 0; i < 4; ++i) {
    auto created = (*engine)->Submit("default", testing::LeafSpec());
    ASSERT_THAT(created, IsOk());
    ids.push_back(created->id);
  }
  DemoWorkerOptions options;
  options.workers = 2;
  options.render_time = absl::Milliseconds(40);
  options.steps = 2;
  options.failure_rate = 0;
  options.idle_poll = absl::Milliseconds(5);
  {
    DemoWorkers workers(engine->get(), options);
    // Generous: this waits for the renders, it does not time them.
    for (int i = 0; i < 3000 && workers.finished() < ids.size(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(workers.finished(), ids.size());
  }
  for (JobId id : ids) {
    auto job = (*engine)->Get("default", id);
    ASSERT_THAT(job, IsOk());
    EXPECT_EQ(job->state, JobState::kFinished);
    EXPECT_THAT(job->output_url.str(), HasSubstr(id.ToString()));
  }
}

TEST(DemoWorkersTest, SomeRendersFailAndAreRetriedUntilTheyFinish) {
  // A manual clock that never moves (no lease runs out) and a fixed id seed:
  // the ids, and so the attempts that fail, are the same every run.
  ManualClock clock;
  Options engine_options;
  engine_options.clock = &clock;
  engine_options.id_seed = 5;
  engine_options.max_attempts = kMaxMaxAttempts;  // none should end in error
  auto engine = Engine::Create(engine_options);
  ASSERT_THAT(engine, IsOk());
  std::vector<JobId> ids;
  for (int i = 0; i < 8; ++i) {
    auto created = (*engine)->Submit("default", testing::LeafSpec());
    ASSERT_THAT(created, IsOk());
    ids.push_back(created->id);
  }
  DemoWorkerOptions options;
  options.workers = 2;
  options.render_time = absl::Milliseconds(4);
  options.steps = 1;
  options.failure_rate = 0.3;
  options.seed = 42;
  options.idle_poll = absl::Milliseconds(5);
  uint64_t failed = 0;
  {
    DemoWorkers workers(engine->get(), options);
    for (int i = 0; i < 3000 && workers.finished() < ids.size(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(workers.finished(), ids.size());
    failed = workers.failed();
  }
  int retried = 0, attempts = 0;
  for (JobId id : ids) {
    auto job = (*engine)->Get("default", id);
    ASSERT_THAT(job, IsOk());
    EXPECT_EQ(job->state, JobState::kFinished) << "a failed attempt is retried";
    attempts += job->attempts;
    if (job->attempts > 1) ++retried;
  }
  EXPECT_GT(retried, 0) << "some job needed more than one attempt and still finished";
  EXPECT_EQ(failed, static_cast<uint64_t>(attempts) - ids.size())
      << "every attempt but each job's last failed";
}

TEST(DemoWorkersTest, StoppingReleasesTheRenderUnderWay) {
  auto engine = Engine::Create(Options{});
  ASSERT_THAT(engine, IsOk());
  auto created = (*engine)->Submit("default", testing::LeafSpec());
  ASSERT_THAT(created, IsOk());
  DemoWorkerOptions options;
  options.render_time = absl::Hours(1);
  {
    DemoWorkers workers(engine->get(), options);
    for (int i = 0; i < 3000; ++i) {
      auto job = (*engine)->Get("default", created->id);
      if (job.ok() && job->state == JobState::kRendering) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  auto job = (*engine)->Get("default", created->id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->attempts, 1);
}

}  // namespace
}  // namespace cascade::server
