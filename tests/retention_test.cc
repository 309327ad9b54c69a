// Copyright 2026 The Cascade Authors.
//
// Retention (contract §10): terminal families older than the retention period are
// purged from memory and disk, whole families at a time.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using ::cascade::testing::FakeTransport;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;

constexpr absl::Duration kRetention = absl::Hours(1);

class RetentionTest : public ::testing::Test {
 protected:
  RetentionTest() {
    std::string pattern = (fs::temp_directory_path() / "cascade-retention-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    Open();
  }
  ~RetentionTest() override {
    engine_.reset();
    fs::remove_all(dir_);
  }

  void Open() {
    engine_.reset();
    Options options;
    options.clock = &clock_;
    options.id_seed = 9;
    options.webhooks.transport = &transport_;
    options.durability.data_dir = dir_;
    options.durability.sync = DurabilityOptions::Sync::kOff;
    options.durability.retention = kRetention;
    auto engine = Engine::Create(options);
    ASSERT_THAT(engine, IsOk());
    engine_ = std::move(engine).value();
  }

  // Claims the job `id` (it must be the next in line) and finishes it.
  void Finish(JobId id) {
    auto claimed = engine_->Claim({});
    ASSERT_THAT(claimed, IsOk());
    ASSERT_EQ(claimed->job.id, id);
    ASSERT_THAT(engine_->Finish(id, claimed->lease.token, {}), IsOk());
  }
  void Later(absl::Duration d) {
    clock_.Advance(d);
    engine_->RunDueWork();
  }
  bool Exists(JobId id) { return engine_->Get("team-a", id).ok(); }

  // Rows of `table` in the data directory (the engine must be closed).
  size_t Rows(internal::Table table) {
    auto store = internal::OpenSqliteStore(dir_);
    EXPECT_THAT(store, IsOk());
    if (!store.ok()) return 0;
    size_t n = 0;
    EXPECT_THAT((*store)->Load(table,
                               [&](std::string_view, std::string_view) {
                                 ++n;
                                 return absl::OkStatus();
                               }),
                IsOk());
    EXPECT_THAT((*store)->Close(), IsOk());
    return n;
  }

  ManualClock clock_;
  FakeTransport transport_{&clock_};
  std::string dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(RetentionTest, AJobIsPurgedOnceItEndedMoreThanTheRetentionAgo) {
  auto created = engine_->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(created, IsOk());
  Finish(created->id);
  Later(kRetention);  // exactly the retention: not more
  EXPECT_TRUE(Exists(created->id));
  Later(absl::Milliseconds(1));
  EXPECT_THAT(engine_->Get("team-a", created->id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine_->JobCount(), 0u);
  auto listed = engine_->List("team-a", ListQuery{});
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
}

TEST_F(RetentionTest, QueuedAndRenderingJobsAreNeverPurged) {
  auto queued = engine_->Submit("team-a", testing::LeafSpec());
  auto rendering = engine_->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(queued, IsOk());
  ASSERT_THAT(rendering, IsOk());
  ClaimRequest request;
  request.lease = absl::Hours(100);
  auto claimed = engine_->Claim(request);
  ASSERT_THAT(claimed, IsOk());
  Later(kRetention * 10);
  EXPECT_EQ(engine_->JobCount(), 2u);
}

TEST_F(RetentionTest, AFamilyIsPurgedWholeWhenItsLastJobIsOldEnough) {
  auto parent = engine_->Submit("team-a", testing::FamilySpec(2));
  ASSERT_THAT(parent, IsOk());
  JobSpec spec = testing::LeafSpec();
  spec.depends_on = {parent->id};
  auto dependent = engine_->Submit("team-a", spec);
  ASSERT_THAT(dependent, IsOk());
  const JobId child0 = parent->children[0].id, child1 = parent->children[1].id;
  Finish(child0);
  Later(kRetention * 2);
  // child0 is old, but its family is not done: nothing goes.
  EXPECT_EQ(engine_->JobCount(), 4u);
  Finish(child1);
  Finish(parent->id);
  Later(kRetention / 2);
  Finish(dependent->id);
  Later(kRetention);  // parent is old now; the dependent, which ended last, is not
  EXPECT_EQ(engine_->JobCount(), 4u);
  Later(absl::Seconds(1));
  EXPECT_EQ(engine_->JobCount(), 0u);
  for (JobId id : {parent->id, child0, child1, dependent->id}) EXPECT_FALSE(Exists(id));
}

TEST_F(RetentionTest, ABatchIsPurgedWithAllItsJobs) {
  std::vector<JobSpec> specs(2, testing::LeafSpec());
  auto batch = engine_->SubmitBatch("team-a", specs);
  ASSERT_THAT(batch, IsOk());
  Finish(batch->jobs[0].job.id);
  Later(kRetention * 2);
  EXPECT_THAT(engine_->GetBatchCounts("team-a", batch->batch_id), IsOk());
  ASSERT_THAT(engine_->Cancel("team-a", batch->jobs[1].job.id), IsOk());
  Later(kRetention + absl::Seconds(1));
  EXPECT_THAT(engine_->GetBatchCounts("team-a", batch->batch_id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->GetBatch("team-a", batch->batch_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->CancelBatch("team-a", batch->batch_id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(RetentionTest, AWaitingDeliveryHoldsItsFamilyAndADeadLetterGoesWithIt) {
  transport_.SetDefault(500);
  JobSpec spec = testing::LeafSpec();
  spec.webhook = WebhookSpec{.url = "https://hooks.example.com/x"};
  auto created = engine_->Submit("team-a", spec);
  ASSERT_THAT(created, IsOk());
  Finish(created->id);
  engine_->RunDueWork();  // attempt 1 fails; retries at +1 s, +2 s, +4 s
  clock_.Advance(kRetention + absl::Seconds(1));
  // The retry is due in the same pass as the purge check: the purge waits.
  engine_->RunDueWork();
  EXPECT_TRUE(Exists(created->id));
  for (int i = 0; i < 4; ++i) Later(absl::Seconds(8));
  EXPECT_EQ(engine_->GetOutboxCounts().dead, 1);
  Later(absl::Minutes(1));
  EXPECT_FALSE(Exists(created->id));
  EXPECT_EQ(engine_->GetOutboxCounts().dead, 0);
  auto letters = engine_->ListDeadLetters("team-a");
  ASSERT_THAT(letters, IsOk());
  EXPECT_TRUE(letters->empty());
}

TEST_F(RetentionTest, PurgedRowsAreGoneFromDiskAndKeptOnesReopen) {
  auto old_job = engine_->Submit("team-a", testing::FamilySpec(1));
  ASSERT_THAT(old_job, IsOk());
  Finish(old_job->children[0].id);
  Finish(old_job->id);
  auto young = engine_->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(young, IsOk());
  Later(kRetention + absl::Seconds(1));
  ASSERT_FALSE(Exists(old_job->id));
  engine_.reset();
  EXPECT_EQ(Rows(internal::Table::kJobs), 1u);
  EXPECT_EQ(Rows(internal::Table::kEdges), 0u);
  Open();
  EXPECT_EQ(engine_->JobCount(), 1u);
  EXPECT_TRUE(Exists(young->id));
}

TEST_F(RetentionTest, JobsThatEndedBeforeAReopenArePurgedAfterIt) {
  auto created = engine_->Submit("team-a", testing::LeafSpec());
  ASSERT_THAT(created, IsOk());
  Finish(created->id);
  engine_.reset();
  clock_.Advance(kRetention * 3);
  Open();
  EXPECT_TRUE(Exists(created->id));  // open purges nothing itself
  engine_->RunDueWork();
  EXPECT_FALSE(Exists(created->id));
}

TEST_F(RetentionTest, ALargeBacklogIsPurgedOverSeveralPasses) {
  constexpr int kJobs = 6000;
  for (int i = 0; i < kJobs; ++i) {
    auto created = engine_->Submit("team-a", testing::LeafSpec());
    ASSERT_THAT(created, IsOk());
    ASSERT_THAT(engine_->Cancel("team-a", created->id), IsOk());
  }
  clock_.Advance(kRetention + absl::Seconds(1));
  engine_->RunDueWork();
  const size_t left = engine_->JobCount();
  EXPECT_GT(left, 0u);  // one pass has a budget
  EXPECT_LT(left, static_cast<size_t>(kJobs));
  engine_->RunDueWork();
  EXPECT_EQ(engine_->JobCount(), 0u);
}

}  // namespace
}  // namespace cascade
