// Copyright 2026 The Cascade Authors.
//
// Contract §15 in the engine: "any of" tag claims (nexrender v1's pickup),
// the render log of each job, and the worker list, in memory and across a
// reopen of a data directory.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class RenderNodesTest : public ::cascade::testing::EngineTest {
 protected:
  Options MakeOptions() override {
    Options options = EngineTest::MakeOptions();
    options.pickup_order = SortOrder::kPriority;  // oldest first within a priority
    return options;
  }
  JobId Leaf(std::vector<std::string> tags, int32_t priority = 0, std::string_view team = kTeam) {
    JobSpec spec = testing::LeafSpec();
    spec.tags = std::move(tags);
    spec.priority = priority;
    absl::StatusOr<CreatedJob> created = Submit(spec, team);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->id : JobId();
  }
  absl::StatusOr<ClaimedJob> ClaimAs(std::string worker, std::vector<std::string> any_tags = {},
                                     std::vector<std::string> tags = {}) {
    ClaimRequest request;
    request.worker = std::move(worker);
    request.any_tags = std::move(any_tags);
    request.tags = std::move(tags);
    return engine().Claim(request);
  }
  std::string LogOf(JobId id, std::string_view team = kTeam) {
    absl::StatusOr<std::string> log = engine().GetLog(team, id);
    EXPECT_THAT(log, IsOk());
    return log.value_or("");
  }
};

// ---- Claims with "any of" tags -------------------------------------------------

TEST_F(RenderNodesTest, AnyTagClaimTakesTheOldestJobCarryingOneOfTheTags) {
  const JobId b = Leaf({"b"});
  const JobId a = Leaf({"a"});
  const JobId c = Leaf({"c", "x"});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimAs("w", {"c", "a"}));
  EXPECT_EQ(first.job.id, a) << "b carries neither tag; a is older than c";
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimAs("w", {"c", "a"}));
  EXPECT_EQ(second.job.id, c);
  EXPECT_THAT(ClaimAs("w", {"c", "a"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ClaimAs("w", {"nobody-has-this"}), StatusIs(absl::StatusCode::kNotFound));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob third, ClaimAs("w", {"b", "nobody-has-this"}));
  EXPECT_EQ(third.job.id, b) << "an unknown tag among the any-of tags matches nothing, no error";
}

TEST_F(RenderNodesTest, AnyTagClaimFollowsThePriorityOrderAcrossTags) {
  const JobId low = Leaf({"a"}, 1);
  const JobId high = Leaf({"b"}, 5);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimAs("w", {"a", "b"}));
  EXPECT_EQ(first.job.id, high);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimAs("w", {"a", "b"}));
  EXPECT_EQ(second.job.id, low);
}

TEST_F(RenderNodesTest, AnyTagClaimAlsoNeedsEveryAllOfTag) {
  Leaf({"a"});
  const JobId both = Leaf({"a", "gpu"});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimAs("w", {"a", "b"}, {"gpu"}));
  EXPECT_EQ(claimed.job.id, both);
  EXPECT_THAT(ClaimAs("w", {"a", "b"}, {"gpu"}), StatusIs(absl::StatusCode::kNotFound));
}

// ---- Render logs ---------------------------------------------------------------

TEST_F(RenderNodesTest, LinesAppendToTheLogOfTheLeaseHolderOnly) {
  const JobId id = Leaf({"a"});
  EXPECT_THAT(engine().GetLog(kTeam, id),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no log")));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimAs("w", {"a"}));
  ASSERT_THAT(engine().AppendLog(id, claimed.lease.token, {"frame 1", "frame 2"}), IsOk());
  ASSERT_THAT(engine().AppendLog(id, claimed.lease.token, {"done"}), IsOk());
  EXPECT_EQ(LogOf(id), "frame 1\nframe 2\ndone\n");

  EXPECT_THAT(engine().AppendLog(id, "0000000000000001", {"x"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stale")));
  EXPECT_THAT(
      engine().AppendLog(*JobId::Parse("01ARZ3NDEKTSV4RRFFQ69G5FAV"), claimed.lease.token, {"x"}),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine().AppendLog(id, claimed.lease.token, {std::string("a\0b", 3)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lines[0]")));
  EXPECT_THAT(engine().AppendLog(id, claimed.lease.token,
                                 std::vector<std::string>(kMaxLogLinesPerCall + 1, "x")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(LogOf(id), "frame 1\nframe 2\ndone\n") << "refused calls change nothing";

  EXPECT_THAT(engine().GetLog("team-b", id), StatusIs(absl::StatusCode::kNotFound))
      << "another team's job does not exist for it";
  ASSERT_THAT(engine().Finish(id, claimed.lease.token, {}), IsOk());
  EXPECT_THAT(engine().AppendLog(id, claimed.lease.token, {"late"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(LogOf(id), "frame 1\nframe 2\ndone\n");
}

TEST_F(RenderNodesTest, ARetriedJobsLogGoesOnAcrossAttempts) {
  const JobId id = Leaf({"a"});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimAs("w", {"a"}));
  ASSERT_THAT(engine().AppendLog(id, first.lease.token, {"attempt 1"}), IsOk());
  ASSERT_THAT(engine().Release(id, first.lease.token), IsOk());
  AdvanceAndRunDue(absl::Hours(1));  // past any backoff
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimAs("w", {"a"}));
  ASSERT_THAT(engine().AppendLog(id, first.lease.token, {"old lease"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(engine().AppendLog(id, second.lease.token, {"attempt 2"}), IsOk());
  EXPECT_EQ(LogOf(id), "attempt 1\nattempt 2\n");
}

TEST_F(RenderNodesTest, ALogKeepsItsLastMebibyteFromALineStart) {
  const JobId id = Leaf({"a"});
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimAs("w", {"a"}));
  // 3000 lines of 1000 bytes: about 2.9 MiB sent, 1 MiB kept.
  for (int call = 0; call < 30; ++call) {
    std::vector<std::string> lines;
    for (int i = 0; i < 100; ++i) {
      std::string line = absl::StrCat("line ", call * 100 + i, " ");
      line.resize(999, '.');
      lines.push_back(std::move(line));
    }
    ASSERT_THAT(engine().AppendLog(id, claimed.lease.token, lines), IsOk());
  }
  const std::string log = LogOf(id);
  EXPECT_LE(log.size(), kMaxJobLogBytes);
  EXPECT_GT(log.size(), kMaxJobLogBytes - 1000) << "at most one line short of the bound";
  EXPECT_EQ(log.size() % 1000, 0u) << "whole lines only";
  EXPECT_THAT(log, ::testing::StartsWith("line "));
  EXPECT_THAT(log, ::testing::EndsWith(std::string(".\n")));
  EXPECT_NE(log.find("line 2999 "), std::string::npos) << "the newest line is kept";
  EXPECT_EQ(log.find("line 0 "), std::string::npos) << "the oldest is not";
}

// ---- The worker list -------------------------------------------------------------

TEST_F(RenderNodesTest, WorkersAreBusyIdleThenLostAndListOnlyTheTeamsJobs) {
  const JobId mine = Leaf({"a"});
  const JobId theirs = Leaf({"a"}, 0, "team-b");
  EXPECT_THAT(engine().ListWorkers(kTeam), IsEmpty());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimAs("node-1", {"a"}, {}));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimAs("node-1", {"a"}, {}));
  ASSERT_THAT(ClaimAs("", {"a"}), StatusIs(absl::StatusCode::kNotFound));  // not remembered
  ASSERT_THAT(ClaimAs("node-2", {}, {"gpu"}), StatusIs(absl::StatusCode::kNotFound));

  std::vector<WorkerInfo> workers = engine().ListWorkers(kTeam);
  ASSERT_THAT(workers, SizeIs(2));
  EXPECT_EQ(workers[0].name, "node-1");
  EXPECT_EQ(workers[0].status, WorkerStatus::kBusy);
  EXPECT_THAT(workers[0].jobs, ElementsAre(mine)) << "team-b's job is held but not shown";
  EXPECT_THAT(workers[0].tags, ElementsAre("a"));
  EXPECT_EQ(workers[0].last_seen, Now());
  EXPECT_EQ(workers[1].name, "node-2");
  EXPECT_EQ(workers[1].status, WorkerStatus::kIdle) << "a claim that found nothing is a sighting";
  EXPECT_THAT(workers[1].tags, ElementsAre("gpu"));
  EXPECT_THAT(engine().ListWorkers("team-b")[0].jobs, ElementsAre(theirs));

  ASSERT_THAT(engine().Finish(first.job.id, first.lease.token, {}), IsOk());
  EXPECT_EQ(engine().ListWorkers(kTeam)[0].status, WorkerStatus::kBusy) << "still holds one";
  clock().Advance(absl::Seconds(50));
  ASSERT_THAT(engine().Heartbeat(second.job.id, second.lease.token, {}), IsOk());
  ASSERT_THAT(engine().Finish(second.job.id, second.lease.token, {}), IsOk());
  workers = engine().ListWorkers(kTeam);
  EXPECT_EQ(workers[0].status, WorkerStatus::kIdle);
  EXPECT_THAT(workers[0].jobs, IsEmpty());
  EXPECT_EQ(workers[0].last_seen, Now()) << "the heartbeat and finish were sightings";
  EXPECT_EQ(workers[1].status, WorkerStatus::kIdle);

  // Lost: not seen for two lease lengths (60 s each here).
  clock().Advance(absl::Seconds(70));
  EXPECT_EQ(engine().ListWorkers(kTeam)[1].status, WorkerStatus::kIdle) << "120 s: not yet";
  clock().Advance(absl::Milliseconds(1));
  EXPECT_EQ(engine().ListWorkers(kTeam)[1].status, WorkerStatus::kLost) << "over 120 s unseen";
  EXPECT_EQ(engine().ListWorkers(kTeam)[0].status, WorkerStatus::kIdle) << "70 s unseen";
  ASSERT_THAT(ClaimAs("node-2", {}, {"gpu"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine().ListWorkers(kTeam)[1].status, WorkerStatus::kIdle) << "seen again";
}

TEST_F(RenderNodesTest, AWorkerThatDiesHoldingAJobIsLostAndItsLeaseEnds) {
  Leaf({"a"});
  ClaimRequest request;
  request.worker = "node-1";
  request.lease = absl::Seconds(10);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, engine().Claim(request));
  EXPECT_EQ(engine().ListWorkers(kTeam)[0].lease, absl::Seconds(10));
  AdvanceAndRunDue(absl::Seconds(11));  // the lease ran out: the job is queued again
  std::vector<WorkerInfo> workers = engine().ListWorkers(kTeam);
  EXPECT_EQ(workers[0].status, WorkerStatus::kIdle);
  EXPECT_THAT(workers[0].jobs, IsEmpty());
  clock().Advance(absl::Seconds(10));
  EXPECT_EQ(engine().ListWorkers(kTeam)[0].status, WorkerStatus::kLost) << "21 s unseen";
}

// ---- Across a reopen ---------------------------------------------------------------

class RenderNodesDurabilityTest : public ::testing::Test {
 protected:
  RenderNodesDurabilityTest() {
    std::string pattern = (fs::temp_directory_path() / "cascade-nodes-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~RenderNodesDurabilityTest() override { fs::remove_all(dir_); }
  std::unique_ptr<Engine> Open() {
    Options options;
    options.clock = &clock_;
    options.id_seed = 7;
    options.durability.data_dir = dir_;
    options.durability.sync = DurabilityOptions::Sync::kOff;
    options.durability.retention = absl::Hours(1);
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
    EXPECT_THAT(engine, IsOk());
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  ManualClock clock_{absl::FromUnixSeconds(1800000000)};
  std::string dir_;
};

TEST_F(RenderNodesDurabilityTest, LogsAndWorkersSurviveAReopenAndLogsArePurgedWithTheirJob) {
  JobId id;
  std::string log;
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    JobSpec spec = testing::LeafSpec();
    spec.tags = {"a"};
    CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine->Submit("team-a", spec));
    id = created.id;
    ClaimRequest request;
    request.worker = "node-1";
    request.any_tags = {"a"};
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, engine->Claim(request));
    // Enough calls to make the book compact its rows at least once.
    for (int call = 0; call < 40; ++call) {
      std::vector<std::string> lines(100, std::string(600, static_cast<char>('a' + call % 26)));
      ASSERT_THAT(engine->AppendLog(id, claimed.lease.token, lines), IsOk());
    }
    ASSERT_THAT(engine->AppendLog(id, claimed.lease.token, {"\xff not UTF-8"}), IsOk());
    CASCADE_ASSERT_OK_AND_ASSIGN(log, engine->GetLog("team-a", id));
  }
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    absl::StatusOr<std::string> reopened = engine->GetLog("team-a", id);
    ASSERT_THAT(reopened, IsOk());
    EXPECT_EQ(*reopened, log);
    std::vector<WorkerInfo> workers = engine->ListWorkers("team-a");
    ASSERT_THAT(workers, SizeIs(1));
    EXPECT_EQ(workers[0].name, "node-1");
    EXPECT_THAT(workers[0].tags, ElementsAre("a"));
    EXPECT_EQ(workers[0].status, WorkerStatus::kBusy);
    EXPECT_THAT(workers[0].jobs, ElementsAre(id)) << "the lease remembers its worker";
    ASSERT_THAT(engine->Cancel("team-a", id), StatusIs(absl::StatusCode::kFailedPrecondition));
    ASSERT_THAT(engine->RequestAbort("team-a", id), IsOk());
    clock_.Advance(absl::Hours(2));  // the abort's grace, then retention
    engine->RunDueWork();
    clock_.Advance(absl::Hours(2));
    engine->RunDueWork();
    EXPECT_THAT(engine->Get("team-a", id), StatusIs(absl::StatusCode::kNotFound)) << "purged";
  }
  {
    auto engine = Open();
    ASSERT_NE(engine, nullptr);
    EXPECT_THAT(engine->GetLog("team-a", id), StatusIs(absl::StatusCode::kNotFound));
  }
}

}  // namespace
}  // namespace cascade
