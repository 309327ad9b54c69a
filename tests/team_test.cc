// Copyright 2026 The Cascade Authors.
//
// contract §9 (team scoping): another team's jobs and batches do not exist for a
// team (NotFound, never listed, never reached by a cascade); every client
// call names a team of 1-128 bytes. Workers serve the whole farm.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::testing::DeterministicEngine;
using ::cascade::testing::FamilySpec;
using ::cascade::testing::IdsOf;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kA[] = "team-a";
constexpr char kB[] = "team-b";

JobSpec Tagged(std::string tag) {
  JobSpec spec = LeafSpec();
  spec.tags.push_back(std::move(tag));
  return spec;
}

class TeamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob a, engine_->Submit(kA, Tagged("shared-tag")));
    a_job_ = a.id;
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob b, engine_->Submit(kB, Tagged("shared-tag")));
    b_job_ = b.id;
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob family, engine_->Submit(kB, FamilySpec(2)));
    b_family_ = family;
    CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch,
                                 engine_->SubmitBatch(kB, {LeafSpec(), FamilySpec(1)}));
    b_batch_ = batch.batch_id;
    for (const BatchJobResult& r : batch.jobs) {
      b_batch_jobs_.push_back(r.job.id);
      for (const CreatedJob& c : r.job.children) b_batch_jobs_.push_back(c.id);
    }
  }

  // Team B's view of all its jobs, to check that team A's calls change nothing.
  std::vector<std::string> SnapshotOfB() const {
    std::vector<JobId> ids = {b_job_, b_family_.id, b_family_.children[0].id,
                              b_family_.children[1].id};
    ids.insert(ids.end(), b_batch_jobs_.begin(), b_batch_jobs_.end());
    std::vector<std::string> out;
    for (JobId id : ids) {
      absl::StatusOr<Job> job = engine_->Get(kB, id);
      out.push_back(job.ok() ? absl::StrCat(id.ToString(), " ", std::string(StateName(job->state)),
                                            " ", absl::FormatTime(job->stats.updated_at))
                             : job.status().ToString());
    }
    return out;
  }

  DeterministicEngine engine_;
  JobId a_job_;
  JobId b_job_;
  CreatedJob b_family_;
  BatchId b_batch_;
  std::vector<JobId> b_batch_jobs_;
};

// The message for another team's id reads exactly as for an id nobody has.
void ExpectSameNotFound(const absl::Status& other_team, JobId other_id, const absl::Status& unknown,
                        JobId unknown_id) {
  ASSERT_THAT(other_team, StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(unknown, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(absl::StrReplaceAll(other_team.message(), {{other_id.ToString(), "<id>"}}),
            absl::StrReplaceAll(unknown.message(), {{unknown_id.ToString(), "<id>"}}));
}

TEST_F(TeamTest, GetOfAnotherTeamsJobIsNotFound) {
  EXPECT_THAT(engine_->Get(kA, a_job_), IsOk());
  EXPECT_THAT(engine_->Get(kB, a_job_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Get(kA, b_job_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Get(kA, b_family_.children[0].id), StatusIs(absl::StatusCode::kNotFound));
  const JobId unknown = IdGenerator(999).Next(engine_.clock.Now());
  ExpectSameNotFound(engine_->Get(kA, b_job_).status(), b_job_, engine_->Get(kA, unknown).status(),
                     unknown);
}

TEST_F(TeamTest, JobsCarryTheirTeam) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Job a, engine_->Get(kA, a_job_));
  EXPECT_EQ(a.team, kA);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job child, engine_->Get(kB, b_family_.children[1].id));
  EXPECT_EQ(child.team, kB);
}

TEST_F(TeamTest, ListShowsOnlyTheTeamsOwnJobs) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> a_jobs, engine_->List(kA, ListQuery{}));
  EXPECT_THAT(IdsOf(a_jobs), UnorderedElementsAre(a_job_));

  ListQuery by_tag;
  by_tag.tags = {"shared-tag"};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> tagged, engine_->List(kA, by_tag));
  EXPECT_THAT(IdsOf(tagged), UnorderedElementsAre(a_job_));

  ListQuery queued;
  queued.states = {JobState::kQueued};
  queued.sort = SortOrder::kPriority;
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> a_queued, engine_->List(kA, queued));
  EXPECT_THAT(IdsOf(a_queued), UnorderedElementsAre(a_job_));

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> b_jobs, engine_->List(kB, ListQuery{}));
  EXPECT_EQ(b_jobs.size(), 4u + b_batch_jobs_.size());
  for (const Job& job : b_jobs) EXPECT_EQ(job.team, kB);

  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> nobody, engine_->List("team-c", ListQuery{}));
  EXPECT_THAT(nobody, IsEmpty());
}

TEST_F(TeamTest, CancelOfAnotherTeamsJobIsNotFoundAndChangesNothing) {
  const std::vector<std::string> before = SnapshotOfB();
  engine_.clock.Advance(absl::Seconds(1));
  EXPECT_THAT(engine_->Cancel(kA, b_job_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Cancel(kA, b_family_.id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->Cancel(kA, b_family_.children[0].id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SnapshotOfB(), before);
  const JobId unknown = IdGenerator(999).Next(engine_.clock.Now());
  ExpectSameNotFound(engine_->Cancel(kA, b_job_).status(), b_job_,
                     engine_->Cancel(kA, unknown).status(), unknown);
}

TEST_F(TeamTest, CancelManyWithAnotherTeamsIdIsNotFoundListingItAndChangesNothing) {
  const std::vector<std::string> before = SnapshotOfB();
  engine_.clock.Advance(absl::Seconds(1));
  const JobId ids[] = {a_job_, b_job_};
  EXPECT_THAT(engine_->CancelMany(kA, ids),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(b_job_.ToString())));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job a, engine_->Get(kA, a_job_));
  EXPECT_EQ(a.state, JobState::kQueued);  // atomic: the own job was not cancelled either
  EXPECT_EQ(SnapshotOfB(), before);
}

TEST_F(TeamTest, BatchesOfAnotherTeamAreNotFound) {
  const std::vector<std::string> before = SnapshotOfB();
  EXPECT_THAT(engine_->GetBatch(kA, b_batch_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->GetBatchCounts(kA, b_batch_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->CancelBatch(kA, b_batch_), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SnapshotOfB(), before);
  EXPECT_THAT(engine_->GetBatch(kB, b_batch_), IsOk());
  EXPECT_THAT(engine_->GetBatchCounts(kB, b_batch_), IsOk());
}

TEST_F(TeamTest, DependsOnAnotherTeamsJobIsNotFound) {
  JobSpec spec = LeafSpec();
  spec.depends_on = {b_job_};
  const size_t before = engine_->JobCount();
  EXPECT_THAT(engine_->Submit(kA, spec),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(b_job_.ToString())));
  EXPECT_EQ(engine_->JobCount(), before);

  // In a batch, the same spec is reported as not_found by index.
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch,
                               engine_->SubmitBatch(kA, {LeafSpec(), spec}));
  EXPECT_EQ(batch.status, BatchSubmitStatus::kPartial);
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_EQ(batch.errors[0].error_code, "not_found");
}

TEST_F(TeamTest, SameJobSpecsInTwoTeamsAreIndependent) {
  // Cancelling team A's job never reaches team B's, even with identical specs.
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled, engine_->Cancel(kA, a_job_));
  EXPECT_THAT(IdsOf(cancelled), UnorderedElementsAre(a_job_));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job b, engine_->Get(kB, b_job_));
  EXPECT_EQ(b.state, JobState::kQueued);
}

TEST_F(TeamTest, WorkersServeEveryTeam) {
  ClaimRequest request;
  request.tags = {"shared-tag"};
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, engine_->Claim(request));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, engine_->Claim(request));
  EXPECT_THAT(std::vector<JobId>({first.job.id, second.job.id}),
              UnorderedElementsAre(a_job_, b_job_));
  EXPECT_THAT(
      engine_->Finish(b_job_, first.job.id == b_job_ ? first.lease.token : second.lease.token, {}),
      IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job b, engine_->Get(kB, b_job_));
  EXPECT_EQ(b.state, JobState::kFinished);
}

// ---- The team name -----------------------------------------------------------------------

struct TeamCall {
  const char* name;
  std::function<absl::Status(Engine&, std::string_view team, JobId job, BatchId batch)> call;
};

const TeamCall kEveryTeamCall[] = {
    {"Submit", [](Engine& e, std::string_view t, JobId,
                  BatchId) { return e.Submit(t, LeafSpec()).status(); }},
    {"SubmitBatch", [](Engine& e, std::string_view t, JobId,
                       BatchId) { return e.SubmitBatch(t, {LeafSpec()}).status(); }},
    {"Get", [](Engine& e, std::string_view t, JobId j, BatchId) { return e.Get(t, j).status(); }},
    {"List",
     [](Engine& e, std::string_view t, JobId, BatchId) { return e.List(t, ListQuery{}).status(); }},
    {"GetBatch",
     [](Engine& e, std::string_view t, JobId, BatchId b) { return e.GetBatch(t, b).status(); }},
    {"GetBatchCounts", [](Engine& e, std::string_view t, JobId,
                          BatchId b) { return e.GetBatchCounts(t, b).status(); }},
    {"Cancel",
     [](Engine& e, std::string_view t, JobId j, BatchId) { return e.Cancel(t, j).status(); }},
    {"CancelMany",
     [](Engine& e, std::string_view t, JobId j, BatchId) {
       const JobId ids[] = {j};
       return e.CancelMany(t, ids).status();
     }},
    {"CancelBatch",
     [](Engine& e, std::string_view t, JobId, BatchId b) { return e.CancelBatch(t, b).status(); }},
};

TEST(TeamNameTest, EmptyTeamIsInvalidArgumentForEveryCall) {
  DeterministicEngine engine;
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch,
                               engine->SubmitBatch(kA, {LeafSpec(), LeafSpec()}));
  const JobId job = batch.jobs[0].job.id;
  const size_t jobs = engine->JobCount();
  for (const TeamCall& c : kEveryTeamCall) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(c.call(*engine.engine, "", job, batch.batch_id),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(engine->JobCount(), jobs);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job j, engine->Get(kA, job));
  EXPECT_EQ(j.state, JobState::kQueued);
}

TEST(TeamNameTest, TeamOverOneHundredTwentyEightBytesIsInvalidArgument) {
  DeterministicEngine engine;
  const std::string longest(128, 't');
  const std::string too_long(129, 't');
  EXPECT_THAT(engine->Submit(longest, LeafSpec()), IsOk());
  EXPECT_THAT(engine->Submit(too_long, LeafSpec()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(engine->List(too_long, ListQuery{}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(engine->JobCount(), 1u);
}

}  // namespace
}  // namespace cascade
