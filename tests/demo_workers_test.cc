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
    EXPECT_THAT(job->output_url, HasSubstr(id.ToString()));
  }
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
