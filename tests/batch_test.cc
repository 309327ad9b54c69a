// Copyright 2026 The Cascade Authors.
//
// contract §5 (batches) and §2 (the planned outputUrl): submitting 1-1000 specs
// with per-spec validation, the aggregate counts of a batch's top-level jobs
// and the batch status derived from them.

#include <array>
#include <functional>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::ClaimTagged;
using ::cascade::testing::DeterministicEngine;
using ::cascade::testing::FamilySpec;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::RenderAndFail;
using ::cascade::testing::RenderAndFinish;
using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;

constexpr char kTeam[] = "team-a";

JobSpec Tagged(std::string tag, JobSpec spec = LeafSpec()) {
  spec.tags.push_back(std::move(tag));
  return spec;
}

JobSpec TaggedFamily(const std::string& name, int n) {
  JobSpec parent = Tagged(name);
  for (int i = 0; i < n; ++i) parent.children.push_back(Tagged(absl::StrCat(name, "-c", i)));
  return parent;
}

JobSpec BadTagSpec() { return Tagged("not a tag!"); }

int Sum(const BatchCounts& counts) {
  return std::accumulate(counts.by_state.begin(), counts.by_state.end(), 0);
}

class BatchTest : public ::testing::Test {
 protected:
  DeterministicEngine engine_;
};

// ---- Submit --------------------------------------------------------------------------

TEST_F(BatchTest, AllValidSpecsAreCreatedInRequestOrder) {
  const std::vector<JobSpec> specs = {Tagged("t0"), TaggedFamily("t1", 2), Tagged("t2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  EXPECT_EQ(result.status, BatchSubmitStatus::kCreated);
  EXPECT_FALSE(result.batch_id.is_zero());
  EXPECT_EQ(result.total_jobs, 3u);
  EXPECT_EQ(result.success_count, 3u);
  EXPECT_THAT(result.errors, IsEmpty());
  ASSERT_EQ(result.jobs.size(), 3u);

  const JobState expected_states[] = {JobState::kQueued, JobState::kPending, JobState::kQueued};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const CreatedJob& created = result.jobs[i].job;
    EXPECT_EQ(result.jobs[i].index, i);
    EXPECT_EQ(created.state, expected_states[i]);
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
    EXPECT_EQ(job.state, created.state);
    EXPECT_EQ(job.output_url, created.output_url);
    EXPECT_FALSE(created.output_url.empty());
    EXPECT_THAT(job.batch_id, Optional(result.batch_id));
    EXPECT_THAT(job.tags, ::testing::Contains(absl::StrCat("t", i)));
    if (i > 0) {
      EXPECT_LT(result.jobs[i - 1].job.id, created.id);  // creation order
    }
  }
  EXPECT_THAT(result.jobs[0].job.children, IsEmpty());
  ASSERT_EQ(result.jobs[1].job.children.size(), 2u);
  for (const CreatedJob& child : result.jobs[1].job.children) {
    EXPECT_EQ(child.state, JobState::kQueued);
    EXPECT_FALSE(child.output_url.empty());
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, child.id));
    EXPECT_THAT(job.batch_id, Optional(result.batch_id));  // children carry it too
    EXPECT_THAT(job.parent_id, Optional(result.jobs[1].job.id));
    EXPECT_EQ(job.output_url, child.output_url);
  }
  EXPECT_EQ(engine_->JobCount(), 5u);
}

TEST_F(BatchTest, SomeInvalidSpecsArePartialWithErrorsByIndex) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob cancelled, engine_->Submit(kTeam, Tagged("gone")));
  ASSERT_THAT(engine_->Cancel(kTeam, cancelled.id), IsOk());
  const JobId unknown = IdGenerator(999).Next(engine_.clock.Now());
  JobSpec long_template = LeafSpec();
  long_template.template_id = std::string(257, 'x');
  JobSpec bad_child = TaggedFamily("family", 2);
  bad_child.children[1].tags = {"bad tag"};

  std::vector<JobSpec> specs = {
      Tagged("ok0"),              // 0
      BadTagSpec(),               // 1: invalid_argument
      Tagged("ok2"),              // 2
      Tagged("needs-unknown"),    // 3: not_found
      Tagged("ok4"),              // 4
      Tagged("needs-cancelled"),  // 5: failed_precondition
      long_template,              // 6: invalid_argument
      bad_child,                  // 7: invalid_argument, no child created
  };
  specs[3].depends_on = {unknown};
  specs[5].depends_on = {cancelled.id};
  const size_t jobs_before = engine_->JobCount();

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  EXPECT_EQ(result.status, BatchSubmitStatus::kPartial);
  EXPECT_EQ(result.total_jobs, 8u);
  EXPECT_EQ(result.success_count, 3u);
  ASSERT_EQ(result.jobs.size(), 3u);
  EXPECT_EQ(result.jobs[0].index, 0u);
  EXPECT_EQ(result.jobs[1].index, 2u);
  EXPECT_EQ(result.jobs[2].index, 4u);

  const std::pair<size_t, const char*> expected_errors[] = {
      {1, "invalid_argument"}, {3, "not_found"},        {5, "failed_precondition"},
      {6, "invalid_argument"}, {7, "invalid_argument"},
  };
  ASSERT_EQ(result.errors.size(), std::size(expected_errors));
  for (size_t i = 0; i < result.errors.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(result.errors[i].index, expected_errors[i].first);
    EXPECT_EQ(result.errors[i].error_code, expected_errors[i].second);
    EXPECT_THAT(result.errors[i].error, Not(IsEmpty()));
  }
  EXPECT_THAT(result.errors[0].error, HasSubstr("tags[0]"));  // the field at fault, named
  EXPECT_THAT(result.errors[1].error, HasSubstr(unknown.ToString()));
  EXPECT_THAT(result.errors[2].error, HasSubstr(cancelled.id.ToString()));
  EXPECT_THAT(result.errors[4].error, HasSubstr("children[1].tags[0]"));
  EXPECT_EQ(engine_->JobCount(), jobs_before + 3);

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCounts counts, engine_->GetBatchCounts(kTeam, result.batch_id));
  EXPECT_EQ(counts.total, 3);
}

TEST_F(BatchTest, AllInvalidIsErrorAndItsBatchIdIsUnknown) {
  const std::vector<JobSpec> specs = {BadTagSpec(), BadTagSpec()};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  EXPECT_EQ(result.status, BatchSubmitStatus::kError);
  EXPECT_FALSE(result.batch_id.is_zero());
  EXPECT_EQ(result.total_jobs, 2u);
  EXPECT_EQ(result.success_count, 0u);
  EXPECT_THAT(result.jobs, IsEmpty());
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].index, 0u);
  EXPECT_EQ(result.errors[1].index, 1u);
  EXPECT_EQ(engine_->JobCount(), 0u);

  EXPECT_THAT(engine_->GetBatch(kTeam, result.batch_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->GetBatchCounts(kTeam, result.batch_id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->CancelBatch(kTeam, result.batch_id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BatchTest, NoSpecsIsInvalidArgument) {
  EXPECT_THAT(engine_->SubmitBatch(kTeam, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(BatchTest, EntriesThatAlreadyFailedAreReportedAtTheirIndexAndTheRestKeepTheirs) {
  std::vector<absl::StatusOr<JobSpec>> entries;
  entries.push_back(LeafSpec());
  entries.push_back(InvalidArgumentWithViolations(
      "invalid job", {{"jobs[1].template.id", "is required"}, {"jobs[1].assets", "not an array"}}));
  entries.push_back(LeafSpec());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result,
                               engine_->SubmitBatchEntries(kTeam, entries));
  EXPECT_EQ(result.status, BatchSubmitStatus::kPartial);
  EXPECT_EQ(result.total_jobs, 3u);
  EXPECT_EQ(result.success_count, 2u);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].index, 1u);
  EXPECT_EQ(result.errors[0].error_code, "invalid_argument");
  EXPECT_EQ(result.errors[0].error,
            "invalid job: jobs[1].template.id: is required; jobs[1].assets: not an array");
  ASSERT_EQ(result.jobs.size(), 2u);
  EXPECT_EQ(result.jobs[0].index, 0u);
  EXPECT_EQ(result.jobs[1].index, 2u);
  // The batch keeps the request positions.
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchView view, engine_->GetBatch(kTeam, result.batch_id));
  ASSERT_EQ(view.jobs.size(), 2u);
  EXPECT_EQ(view.jobs[0].index, 0u);
  EXPECT_EQ(view.jobs[1].index, 2u);
}

TEST_F(BatchTest, EntriesThatAllFailedAreAnErrorBatch) {
  std::vector<absl::StatusOr<JobSpec>> entries(2, absl::InvalidArgumentError("not an object"));
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result,
                               engine_->SubmitBatchEntries(kTeam, entries));
  EXPECT_EQ(result.status, BatchSubmitStatus::kError);
  EXPECT_EQ(result.errors.size(), 2u);
  EXPECT_THAT(engine_->GetBatchCounts(kTeam, result.batch_id),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(BatchTest, MoreThanAThousandSpecsIsInvalidArgument) {
  const std::vector<JobSpec> specs(kMaxBatchJobs + 1, LeafSpec());
  EXPECT_THAT(engine_->SubmitBatch(kTeam, specs), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(BatchTest, AThousandSpecsAreCreated) {
  const std::vector<JobSpec> specs(kMaxBatchJobs, LeafSpec());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  EXPECT_EQ(result.status, BatchSubmitStatus::kCreated);
  EXPECT_EQ(result.total_jobs, 1000u);
  EXPECT_EQ(result.success_count, 1000u);
  ASSERT_EQ(result.jobs.size(), 1000u);
  EXPECT_EQ(result.jobs[999].index, 999u);
  EXPECT_EQ(engine_->JobCount(), 1000u);
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCounts counts, engine_->GetBatchCounts(kTeam, result.batch_id));
  EXPECT_EQ(counts.total, 1000);
  EXPECT_EQ(counts.count(JobState::kQueued), 1000);
}

TEST_F(BatchTest, EachBatchGetsItsOwnId) {
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult a, engine_->SubmitBatch(kTeam, {LeafSpec()}));
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult b, engine_->SubmitBatch(kTeam, {LeafSpec()}));
  EXPECT_NE(a.batch_id, b.batch_id);
  EXPECT_NE(a.batch_id, a.jobs[0].job.id);
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCounts counts, engine_->GetBatchCounts(kTeam, a.batch_id));
  EXPECT_EQ(counts.total, 1);
}

// ---- Aggregate -----------------------------------------------------------------------

TEST_F(BatchTest, CountsSumToTotalAndCountOnlyTopLevelJobs) {
  const std::vector<JobSpec> specs = {TaggedFamily("a", 2), TaggedFamily("b", 2), Tagged("c")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  const BatchId batch = result.batch_id;
  struct Step {
    const char* what;
    std::function<absl::Status()> action;
    std::array<int, kNumJobStates> by_state;  // queued, pending, rendering, finished, error,
                                              // cancelled
  };
  const Step steps[] = {
      {"submitted", [] { return absl::OkStatus(); }, {1, 2, 0, 0, 0, 0}},
      // Children finish: their counts are not the batch's.
      {"a's children finish",
       [&] {
         absl::Status s = RenderAndFinish(*engine_.engine, "a-c0");
         return s.ok() ? RenderAndFinish(*engine_.engine, "a-c1") : s;
       },
       {2, 1, 0, 0, 0, 0}},
      {"a renders", [&] { return ClaimTagged(*engine_.engine, "a").status(); }, {1, 1, 1, 0, 0, 0}},
      {"c fails", [&] { return RenderAndFail(*engine_.engine, "c"); }, {0, 1, 1, 0, 1, 0}},
      {"b cancelled",
       [&] { return engine_->Cancel(kTeam, result.jobs[1].job.id).status(); },
       {0, 0, 1, 0, 1, 1}},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    ASSERT_THAT(step.action(), IsOk());
    CASCADE_ASSERT_OK_AND_ASSIGN(BatchCounts counts, engine_->GetBatchCounts(kTeam, batch));
    EXPECT_EQ(counts.by_state, step.by_state);
    EXPECT_EQ(counts.total, 3);
    EXPECT_EQ(Sum(counts), counts.total);
    EXPECT_EQ(counts.finished() + counts.failed() + counts.pending(), counts.total);
  }
}

TEST_F(BatchTest, GetBatchListsTopLevelJobsByRequestIndex) {
  const std::vector<JobSpec> specs = {Tagged("t0"), BadTagSpec(), TaggedFamily("t2", 1)};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, specs));
  ASSERT_THAT(ClaimTagged(*engine_.engine, "t0"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchView view, engine_->GetBatch(kTeam, result.batch_id));
  EXPECT_EQ(view.batch_id, result.batch_id);
  EXPECT_EQ(view.status, BatchStatus::kProcessing);
  ASSERT_EQ(view.jobs.size(), 2u);
  EXPECT_EQ(view.jobs[0].index, 0u);
  EXPECT_EQ(view.jobs[0].job.id, result.jobs[0].job.id);
  EXPECT_EQ(view.jobs[0].job.state, JobState::kRendering);
  EXPECT_EQ(view.jobs[1].index, 2u);
  EXPECT_EQ(view.jobs[1].job.id, result.jobs[1].job.id);
  EXPECT_EQ(view.jobs[1].job.state, JobState::kPending);
  EXPECT_EQ(view.counts.total, 2);
  EXPECT_EQ(view.counts.count(JobState::kRendering), 1);
  EXPECT_EQ(view.counts.count(JobState::kPending), 1);
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCounts counts, engine_->GetBatchCounts(kTeam, result.batch_id));
  EXPECT_EQ(counts.by_state, view.counts.by_state);
}

TEST_F(BatchTest, UnknownBatchIsNotFound) {
  ASSERT_THAT(engine_->SubmitBatch(kTeam, {LeafSpec()}), IsOk());
  const BatchId unknown = IdGenerator(999).Next(engine_.clock.Now());
  EXPECT_THAT(engine_->GetBatch(kTeam, unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->GetBatchCounts(kTeam, unknown), StatusIs(absl::StatusCode::kNotFound));
  // A job id is not a batch id.
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob job, engine_->Submit(kTeam, LeafSpec()));
  EXPECT_THAT(engine_->GetBatch(kTeam, job.id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BatchTest, JobOutsideABatchHasNoBatchId) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, FamilySpec(1)));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
  EXPECT_EQ(job.batch_id, std::nullopt);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job child, engine_->Get(kTeam, created.children[0].id));
  EXPECT_EQ(child.batch_id, std::nullopt);
}

// ---- Batch status --------------------------------------------------------------------

BatchCounts CountsOf(std::initializer_list<std::pair<JobState, int>> entries) {
  BatchCounts counts;
  for (const auto& [state, n] : entries) {
    counts.by_state[static_cast<int>(state)] = n;
    counts.total += n;
  }
  return counts;
}

struct StatusCase {
  const char* name;
  BatchCounts counts;
  BatchStatus expected;
};

TEST(BatchStatusTest, StatusOfFollowsTheCounts) {
  const StatusCase kCases[] = {
      {"queued", CountsOf({{JobState::kQueued, 1}}), BatchStatus::kProcessing},
      {"pending", CountsOf({{JobState::kPending, 2}}), BatchStatus::kProcessing},
      {"rendering", CountsOf({{JobState::kRendering, 1}}), BatchStatus::kProcessing},
      {"one left", CountsOf({{JobState::kFinished, 9}, {JobState::kQueued, 1}}),
       BatchStatus::kProcessing},
      {"error but still running", CountsOf({{JobState::kError, 3}, {JobState::kRendering, 1}}),
       BatchStatus::kProcessing},
      {"all finished", CountsOf({{JobState::kFinished, 3}}), BatchStatus::kFinished},
      {"finished and error", CountsOf({{JobState::kFinished, 1}, {JobState::kError, 2}}),
       BatchStatus::kFinished},
      {"finished and cancelled", CountsOf({{JobState::kFinished, 1}, {JobState::kCancelled, 5}}),
       BatchStatus::kFinished},
      {"all error", CountsOf({{JobState::kError, 2}}), BatchStatus::kError},
      {"all cancelled", CountsOf({{JobState::kCancelled, 2}}), BatchStatus::kError},
      {"error and cancelled", CountsOf({{JobState::kError, 1}, {JobState::kCancelled, 1}}),
       BatchStatus::kError},
  };
  for (const StatusCase& c : kCases) {
    EXPECT_EQ(StatusOf(c.counts), c.expected) << c.name;
  }
}

TEST(BatchStatusTest, WireViewOfTheCounts) {
  const BatchCounts counts = CountsOf({{JobState::kQueued, 1},
                                       {JobState::kPending, 2},
                                       {JobState::kRendering, 3},
                                       {JobState::kFinished, 4},
                                       {JobState::kError, 5},
                                       {JobState::kCancelled, 6}});
  EXPECT_EQ(counts.finished(), 4);
  EXPECT_EQ(counts.failed(), 11);
  EXPECT_EQ(counts.pending(), 6);
}

TEST(BatchStatusTest, WireNames) {
  EXPECT_EQ(BatchStatusName(BatchStatus::kProcessing), "processing");
  EXPECT_EQ(BatchStatusName(BatchStatus::kFinished), "finished");
  EXPECT_EQ(BatchStatusName(BatchStatus::kError), "error");
  EXPECT_EQ(BatchSubmitStatusName(BatchSubmitStatus::kCreated), "created");
  EXPECT_EQ(BatchSubmitStatusName(BatchSubmitStatus::kPartial), "partial");
  EXPECT_EQ(BatchSubmitStatusName(BatchSubmitStatus::kError), "error");
}

TEST_F(BatchTest, GetBatchStatusIsProcessingThenFinishedOrError) {
  // Batch 1 ends finished (one success is enough); batch 2 ends in error.
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult one,
                               engine_->SubmitBatch(kTeam, {Tagged("one-a"), Tagged("one-b")}));
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult two,
                               engine_->SubmitBatch(kTeam, {Tagged("two-a"), Tagged("two-b")}));
  auto status_of = [&](BatchId id) -> BatchStatus {
    absl::StatusOr<BatchView> view = engine_->GetBatch(kTeam, id);
    absl::StatusOr<BatchCounts> counts = engine_->GetBatchCounts(kTeam, id);
    if (!view.ok() || !counts.ok()) {
      ADD_FAILURE() << view.status() << " " << counts.status();
      return BatchStatus::kProcessing;
    }
    EXPECT_EQ(view->status, StatusOf(*counts));
    return view->status;
  };
  EXPECT_EQ(status_of(one.batch_id), BatchStatus::kProcessing);
  EXPECT_EQ(status_of(two.batch_id), BatchStatus::kProcessing);

  ASSERT_THAT(RenderAndFinish(*engine_.engine, "one-a"), IsOk());
  EXPECT_EQ(status_of(one.batch_id), BatchStatus::kProcessing);
  ASSERT_THAT(RenderAndFail(*engine_.engine, "one-b"), IsOk());
  EXPECT_EQ(status_of(one.batch_id), BatchStatus::kFinished);

  ASSERT_THAT(RenderAndFail(*engine_.engine, "two-a"), IsOk());
  EXPECT_EQ(status_of(two.batch_id), BatchStatus::kProcessing);
  ASSERT_THAT(engine_->Cancel(kTeam, two.jobs[1].job.id), IsOk());
  EXPECT_EQ(status_of(two.batch_id), BatchStatus::kError);
}

// ---- outputUrl -------------------------------------------------------------------------

class OutputUrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.clock = &clock_;
    options.id_seed = 5;
    options.output_url_template = "s3://renders/{team}/{batch}/{id}.mp4";
    CASCADE_ASSERT_OK_AND_ASSIGN(engine_, Engine::Create(options));
  }

  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(OutputUrlTest, TemplateIsFilledWithIdAndTeamAndEmptyBatchOutsideABatch) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, FamilySpec(1)));
  EXPECT_EQ(created.output_url, "s3://renders/team-a//" + created.id.ToString() + ".mp4");
  ASSERT_EQ(created.children.size(), 1u);
  const JobId child = created.children[0].id;
  EXPECT_EQ(created.children[0].output_url, "s3://renders/team-a//" + child.ToString() + ".mp4");
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, created.id));
  EXPECT_EQ(job.output_url, created.output_url);
}

TEST_F(OutputUrlTest, TemplateIsFilledWithTheBatchIdInABatch) {
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result,
                               engine_->SubmitBatch("studio-7", {FamilySpec(1), LeafSpec()}));
  const std::string prefix = "s3://renders/studio-7/" + result.batch_id.ToString() + "/";
  ASSERT_EQ(result.jobs.size(), 2u);
  for (const BatchJobResult& r : result.jobs) {
    EXPECT_EQ(r.job.output_url, prefix + r.job.id.ToString() + ".mp4");
    for (const CreatedJob& child : r.job.children) {
      EXPECT_EQ(child.output_url, prefix + child.id.ToString() + ".mp4");
    }
  }
}

TEST_F(OutputUrlTest, UploadOutputUrlOverridesTheTemplateAndIsFilledToo) {
  JobSpec spec = LeafSpec();
  spec.output_url = "gs://bucket/{team}/{batch}/{id}.mov";
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine_->SubmitBatch(kTeam, {spec}));
  ASSERT_EQ(result.jobs.size(), 1u);
  const CreatedJob& created = result.jobs[0].job;
  EXPECT_EQ(created.output_url, "gs://bucket/team-a/" + result.batch_id.ToString() + "/" +
                                    created.id.ToString() + ".mov");

  JobSpec fixed = LeafSpec();
  fixed.output_url = "https://cdn.example.com/final.mp4";
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob verbatim, engine_->Submit(kTeam, fixed));
  EXPECT_EQ(verbatim.output_url, "https://cdn.example.com/final.mp4");
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine_->Get(kTeam, verbatim.id));
  EXPECT_EQ(job.output_url, "https://cdn.example.com/final.mp4");
}

TEST_F(BatchTest, DefaultTemplateIsAFileUrlNamedAfterTheJob) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, LeafSpec()));
  EXPECT_EQ(created.output_url, "file:///tmp/cascade/outputs/" + created.id.ToString() + ".mp4");
}

}  // namespace
}  // namespace cascade
