// Copyright 2026 The Cascade Authors.
//
// The SQLite peer of the benchmarks (bench/sqlite_peer.h) gives the engine's
// answers. A benchmark row comparing the two is only fair if both do the
// same work, so the peer and an in-memory engine, on one manual clock and
// with one id seed (so they name the same jobs with the same ids), are fed
// the same seeded random histories: batches of leaves and families (nested
// children, depends_on on earlier jobs of the team, some already finished,
// failed or cancelled), cancels of random ids (any team, any state, unknown
// ids, repeats), and worker claims and finishes. After every operation the
// answers (status code and message, or the ids, states, times and error
// texts of every job returned) and then every job, every batch's counts and
// every team's List(state, limit) must be the same. The peer runs in memory
// and as a WAL file.
//
//   CASCADE_PEER_SEQUENCES=N   sequences per variant (default 300)
//   CASCADE_PEER_SEED=S        run only the sequence with seed S

#include "bench/sqlite_peer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

using ::cascade::bench::PeerJob;
using ::cascade::bench::SqlitePeer;
using ::cascade::bench::SqlitePeerOptions;

constexpr char kTeamA[] = "team-a";
constexpr char kTeamB[] = "team-b";

std::optional<int64_t> MillisOf(const std::optional<absl::Time>& t) {
  if (!t) return std::nullopt;
  return absl::ToUnixMillis(*t);
}

// Every column the peer stores that the engine's view has.
void ExpectSameJob(const Job& e, const PeerJob& p, const std::string& where) {
  SCOPED_TRACE(absl::StrCat(where, ": job ", e.id.ToString()));
  EXPECT_EQ(p.id, e.id);
  EXPECT_EQ(p.team, e.team);
  EXPECT_EQ(p.template_id, e.template_id);
  EXPECT_EQ(p.state, e.state) << StateName(p.state) << " vs the engine's " << StateName(e.state);
  EXPECT_EQ(p.batch_id, e.batch_id);
  EXPECT_EQ(p.parent_id, e.parent_id);
  EXPECT_EQ(p.created_ms, absl::ToUnixMillis(e.stats.created_at));
  EXPECT_EQ(p.updated_ms, absl::ToUnixMillis(e.stats.updated_at));
  EXPECT_EQ(p.started_ms, MillisOf(e.stats.started_at));
  EXPECT_EQ(p.finished_ms, MillisOf(e.stats.finished_at));
  EXPECT_EQ(p.error_ms, MillisOf(e.stats.error_at));
  EXPECT_EQ(p.error, e.stats.error);
  EXPECT_EQ(p.attempts, e.attempts);
  EXPECT_EQ(p.progress, e.progress);
}

void ExpectSameJobs(const std::vector<Job>& e, const std::vector<PeerJob>& p,
                    const std::string& where) {
  std::vector<JobId> e_ids, p_ids;
  for (const Job& j : e) e_ids.push_back(j.id);
  for (const PeerJob& j : p) p_ids.push_back(j.id);
  ASSERT_EQ(p_ids, e_ids) << where;
  for (size_t i = 0; i < e.size(); ++i) ExpectSameJob(e[i], p[i], where);
}

template <typename T, typename U>
void ExpectSameStatus(const absl::StatusOr<T>& e, const absl::StatusOr<U>& p,
                      const std::string& where) {
  EXPECT_EQ(p.status().code(), e.status().code())
      << where << ": peer " << p.status() << ", engine " << e.status();
  EXPECT_EQ(p.status().message(), e.status().message()) << where;
  EXPECT_EQ(GetFieldViolations(p.status()), GetFieldViolations(e.status())) << where;
}

void ExpectSameCreated(const CreatedJob& e, const bench::PeerCreatedJob& p) {
  EXPECT_EQ(p.id, e.id);
  EXPECT_EQ(p.state, e.state);
  ASSERT_EQ(p.children.size(), e.children.size());
  for (size_t i = 0; i < e.children.size(); ++i) ExpectSameCreated(e.children[i], p.children[i]);
}

// An engine and a peer fed the same calls.
class Twins {
 public:
  Twins(uint64_t seed, bool wal, const std::string& dir) {
    Options options;
    options.clock = &clock_;
    options.id_seed = seed;
    auto engine = Engine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    SqlitePeerOptions peer_options;
    peer_options.clock = &clock_;
    peer_options.id_seed = seed;
    if (wal) peer_options.path = absl::StrCat(dir, "/peer-", seed, ".db");
    auto peer = SqlitePeer::Open(peer_options);
    EXPECT_TRUE(peer.ok()) << peer.status();
    peer_ = *std::move(peer);
  }

  ManualClock& clock() { return clock_; }
  Engine& engine() { return *engine_; }
  SqlitePeer& peer() { return *peer_; }

 private:
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<SqlitePeer> peer_;
};

// A fresh directory for the WAL files, removed with the test.
class PeerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sqlite-peer-test-XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool wal() const { return GetParam(); }

  std::string dir_;
};

JobSpec Leaf() {
  JobSpec spec;
  spec.template_id = "tpl-1";
  return spec;
}

JobSpec Family(int children) {
  JobSpec parent = Leaf();
  for (int i = 0; i < children; ++i) parent.children.push_back(Leaf());
  return parent;
}

// ---- Hand-worked cases (contract §4's table) -------------------------------------

TEST_P(PeerTest, CancellingAParentCancelsItsChildren) {
  Twins t(1, wal(), dir_);
  const std::vector<JobSpec> specs = {Family(3), Leaf()};
  auto e = t.engine().SubmitBatch(kTeamA, specs);
  auto p = t.peer().SubmitBatch(kTeamA, specs);
  ASSERT_TRUE(e.ok() && p.ok());
  const JobId parent = p->jobs[0].job.id;
  ASSERT_EQ(parent, e->jobs[0].job.id);
  EXPECT_EQ(p->jobs[0].job.state, JobState::kPending);
  auto ec = t.engine().CancelMany(kTeamA, {parent});
  auto pc = t.peer().CancelMany(kTeamA, {parent});
  ASSERT_TRUE(ec.ok() && pc.ok()) << pc.status();
  EXPECT_EQ(pc->size(), 4u);
  ExpectSameJobs(*ec, *pc, "cancel");
  EXPECT_EQ(pc->front().error, "Cancelled via API");
  EXPECT_EQ(pc->back().error, absl::StrCat("Cancelled: cascade from ", parent.ToString()));
}

TEST_P(PeerTest, CancellingAChildCancelsItsParentAndWaitingSiblings) {
  Twins t(2, wal(), dir_);
  const std::vector<JobSpec> specs = {Family(3)};
  auto e = t.engine().SubmitBatch(kTeamA, specs);
  auto p = t.peer().SubmitBatch(kTeamA, specs);
  ASSERT_TRUE(e.ok() && p.ok());
  // The first child renders and finishes; cancelling the second cancels the
  // parent (R) and the third (U), not the finished one.
  auto claimed = t.peer().Claim("w");
  auto engine_claimed = t.engine().Claim({});
  ASSERT_TRUE(claimed.ok() && engine_claimed.ok());
  ASSERT_EQ(claimed->job.id, p->jobs[0].job.children[0].id);
  ASSERT_TRUE(t.peer().Finish(claimed->job.id, claimed->lease_token).ok());
  ASSERT_TRUE(t.engine().Finish(engine_claimed->job.id, engine_claimed->lease.token, {}).ok());
  const JobId second = p->jobs[0].job.children[1].id;
  auto ec = t.engine().CancelMany(kTeamA, {second});
  auto pc = t.peer().CancelMany(kTeamA, {second});
  ASSERT_TRUE(ec.ok() && pc.ok()) << pc.status();
  EXPECT_EQ(pc->size(), 3u);
  ExpectSameJobs(*ec, *pc, "cancel");
}

TEST_P(PeerTest, SharedPrerequisiteSurvivesUntilItsLastDependentIsCancelled) {
  Twins t(3, wal(), dir_);
  auto shared = t.peer().SubmitBatch(kTeamA, {Leaf()});
  ASSERT_TRUE(t.engine().SubmitBatch(kTeamA, {Leaf()}).ok());
  ASSERT_TRUE(shared.ok());
  JobSpec dependent = Leaf();
  dependent.depends_on = {shared->jobs[0].job.id};
  const std::vector<JobSpec> two = {dependent, dependent};
  auto p = t.peer().SubmitBatch(kTeamA, two);
  auto e = t.engine().SubmitBatch(kTeamA, two);
  ASSERT_TRUE(p.ok() && e.ok());
  auto first = t.peer().CancelMany(kTeamA, {p->jobs[0].job.id});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 1u);
  ASSERT_TRUE(t.engine().CancelMany(kTeamA, {e->jobs[0].job.id}).ok());
  auto second = t.peer().CancelMany(kTeamA, {p->jobs[1].job.id});
  auto engine_second = t.engine().CancelMany(kTeamA, {e->jobs[1].job.id});
  ASSERT_TRUE(second.ok() && engine_second.ok());
  EXPECT_EQ(second->size(), 2u);  // the dependent, then (U) the shared one
  ExpectSameJobs(*engine_second, *second, "second cancel");
}

TEST_P(PeerTest, RefusedCancelChangesNothing) {
  Twins t(4, wal(), dir_);
  auto p = t.peer().SubmitBatch(kTeamA, {Leaf(), Family(2)});
  ASSERT_TRUE(p.ok());
  auto claimed = t.peer().Claim("w");  // the leaf
  ASSERT_TRUE(claimed.ok());
  auto refused = t.peer().CancelMany(kTeamA, {p->jobs[1].job.id, p->jobs[0].job.id});
  EXPECT_THAT(refused, testing::StatusIs(absl::StatusCode::kFailedPrecondition));
  auto family = t.peer().Get(kTeamA, p->jobs[1].job.id);
  ASSERT_TRUE(family.ok());
  EXPECT_EQ(family->state, JobState::kPending);  // rolled back
}

// ---- Random histories --------------------------------------------------------

int SequenceCount() {
  const char* env = std::getenv("CASCADE_PEER_SEQUENCES");
  return env != nullptr ? std::max(1, std::atoi(env)) : 300;
}

class History {
 public:
  History(uint64_t seed, bool wal, const std::string& dir)
      : seed_(seed), t_(seed, wal, dir), rng_(seed * 7919 + 1) {}

  void Run(int operations) {
    for (int op = 0; op < operations && !::testing::Test::HasFatalFailure(); ++op) {
      t_.clock().Advance(absl::Milliseconds(Pick(0, 3)));
      where_ = absl::StrCat("seed ", seed_, " op ", op);
      const int r = Pick(0, 99);
      if (r < 35) {
        Submit();
      } else if (r < 60) {
        Cancel();
      } else if (r < 85) {
        Claim();
      } else {
        FinishOne();
      }
      CompareEverything();
    }
  }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  const char* Team() { return Pick(0, 3) == 0 ? kTeamB : kTeamA; }

  struct Known {
    JobId id;
    std::string team;
  };

  // Up to `n` distinct ids of the team's jobs, in id order (the engine walks
  // a job's prerequisites in the order its spec named them, the peer in id
  // order; with the names in id order the cascades meet the jobs in the same
  // order and blame the same named job).
  std::vector<JobId> SomeJobsOf(const std::string& team, int n) {
    std::vector<JobId> ids;
    for (int i = 0; i < n && !jobs_.empty(); ++i) {
      const Known& k = jobs_[Pick(0, static_cast<int>(jobs_.size()) - 1)];
      if (k.team == team && std::find(ids.begin(), ids.end(), k.id) == ids.end()) {
        ids.push_back(k.id);
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  JobSpec RandomSpec(const std::string& team, int depth) {
    JobSpec spec = Leaf();
    if (Pick(0, 2) == 0) spec.template_id.clear();
    if (depth < 2 && Pick(0, 2) == 0) {
      const int children = Pick(1, 3);
      for (int i = 0; i < children; ++i) spec.children.push_back(RandomSpec(team, depth + 1));
    }
    if (Pick(0, 2) == 0) spec.depends_on = SomeJobsOf(team, Pick(1, 3));
    // Now and then another team's job: NotFound for this spec.
    if (Pick(0, 30) == 0 && !jobs_.empty()) {
      const Known& k = jobs_[Pick(0, static_cast<int>(jobs_.size()) - 1)];
      if (k.team != team) spec.depends_on.push_back(k.id);
    }
    return spec;
  }

  void Record(const std::string& team, const CreatedJob& job) {
    jobs_.push_back({job.id, team});
    for (const CreatedJob& child : job.children) Record(team, child);
  }

  void Submit() {
    const std::string team = Team();
    std::vector<JobSpec> specs;
    const int n = Pick(1, 4);
    for (int i = 0; i < n; ++i) specs.push_back(RandomSpec(team, 0));
    auto e = t_.engine().SubmitBatch(team, specs);
    auto p = t_.peer().SubmitBatch(team, specs);
    ASSERT_TRUE(e.ok() && p.ok()) << where_ << ": " << e.status() << " / " << p.status();
    EXPECT_EQ(p->batch_id, e->batch_id) << where_;
    ASSERT_EQ(p->jobs.size(), e->jobs.size()) << where_;
    for (size_t i = 0; i < e->jobs.size(); ++i) {
      EXPECT_EQ(p->jobs[i].index, e->jobs[i].index) << where_;
      ExpectSameCreated(e->jobs[i].job, p->jobs[i].job);
      Record(team, e->jobs[i].job);
    }
    ASSERT_EQ(p->errors.size(), e->errors.size()) << where_;
    for (size_t i = 0; i < e->errors.size(); ++i) {
      EXPECT_EQ(p->errors[i].index, e->errors[i].index) << where_;
      EXPECT_EQ(p->errors[i].status.message(), e->errors[i].error) << where_;
      EXPECT_EQ(ErrorCodeName(p->errors[i].status.code()), e->errors[i].error_code) << where_;
    }
    if (!e->jobs.empty()) batches_.push_back({e->batch_id, team});
  }

  void Cancel() {
    const std::string team = Team();
    std::vector<JobId> ids;
    const int n = Pick(1, 4);
    for (int i = 0; i < n && !jobs_.empty(); ++i) {
      const Known& k = jobs_[Pick(0, static_cast<int>(jobs_.size()) - 1)];
      // Mostly the team's own jobs; the others' are NotFound.
      if (k.team == team || Pick(0, 5) == 0) ids.push_back(k.id);
    }
    if (Pick(0, 20) == 0) ids.push_back(JobId(0x0123, 0x4567));        // unknown
    if (Pick(0, 20) == 0 && !ids.empty()) ids.push_back(ids.front());  // a repeat
    if (ids.empty() && Pick(0, 3) != 0) return;                        // and now and then, none
    auto e = t_.engine().CancelMany(team, ids);
    auto p = t_.peer().CancelMany(team, ids);
    ExpectSameStatus(e, p, where_ + " CancelMany");
    if (e.ok() && p.ok()) ExpectSameJobs(*e, *p, where_ + " CancelMany");
  }

  void Claim() {
    auto e = t_.engine().Claim({});
    auto p = t_.peer().Claim("worker");
    ExpectSameStatus(e, p, where_ + " Claim");
    if (!e.ok() || !p.ok()) return;
    ExpectSameJob(e->job, p->job, where_ + " Claim");
    EXPECT_EQ(p->job.lease_expires_ms, absl::ToUnixMillis(e->lease.expires_at)) << where_;
    rendering_.push_back({e->job.id, e->lease.token, p->lease_token});
    if (Pick(0, 2) != 0) FinishOne();
  }

  void FinishOne() {
    if (rendering_.empty()) {
      // Finishing a job that is not rendering: the same refusal.
      if (jobs_.empty()) return;
      const JobId id = jobs_[Pick(0, static_cast<int>(jobs_.size()) - 1)].id;
      ExpectSameStatus(t_.engine().Finish(id, "0000000000000000", {}), t_.peer().Finish(id, 1),
                       where_ + " Finish of a job not rendering");
      return;
    }
    const size_t i = static_cast<size_t>(Pick(0, static_cast<int>(rendering_.size()) - 1));
    const Lease lease = rendering_[i];
    rendering_.erase(rendering_.begin() + static_cast<std::ptrdiff_t>(i));
    auto e = t_.engine().Finish(lease.id, lease.engine_token, {});
    auto p = t_.peer().Finish(lease.id, lease.peer_token);
    ExpectSameStatus(e, p, where_ + " Finish");
    if (e.ok() && p.ok()) ExpectSameJob(*e, *p, where_ + " Finish");
  }

  void CompareEverything() {
    for (const Known& k : jobs_) {
      auto e = t_.engine().Get(k.team, k.id);
      auto p = t_.peer().Get(k.team, k.id);
      ASSERT_TRUE(e.ok() && p.ok()) << where_ << ": " << p.status();
      ExpectSameJob(*e, *p, where_ + " Get");
      const std::string other = k.team == kTeamA ? kTeamB : kTeamA;
      ExpectSameStatus(t_.engine().Get(other, k.id), t_.peer().Get(other, k.id),
                       where_ + " Get of another team's job");
    }
    for (const auto& [id, team] : batches_) {
      auto e = t_.engine().GetBatchCounts(team, id);
      auto p = t_.peer().GetBatchCounts(team, id);
      ASSERT_TRUE(e.ok() && p.ok()) << where_ << ": " << p.status();
      EXPECT_EQ(p->by_state, e->by_state) << where_ << " batch " << id.ToString();
      EXPECT_EQ(p->total, e->total) << where_;
      const std::string other = team == kTeamA ? kTeamB : kTeamA;
      ExpectSameStatus(t_.engine().GetBatchCounts(other, id), t_.peer().GetBatchCounts(other, id),
                       where_ + " counts of another team's batch");
    }
    for (const char* team : {kTeamA, kTeamB}) {
      for (int s = 0; s < kNumJobStates; ++s) {
        for (size_t limit : {size_t{3}, size_t{50}}) {
          ListQuery query;
          query.states = {static_cast<JobState>(s)};
          query.limit = limit;
          auto e = t_.engine().List(team, query);
          auto p = t_.peer().List(team, static_cast<JobState>(s), limit);
          ASSERT_TRUE(e.ok() && p.ok()) << where_;
          ExpectSameJobs(*e, *p,
                         absl::StrCat(where_, " List ", team, " state ", s, " limit ", limit));
        }
      }
    }
  }

  struct Lease {
    JobId id;
    std::string engine_token;
    int64_t peer_token;
  };

  const uint64_t seed_;
  Twins t_;
  std::mt19937_64 rng_;
  std::string where_;
  std::vector<Known> jobs_;
  std::vector<std::pair<BatchId, std::string>> batches_;
  std::vector<Lease> rendering_;
};

TEST_P(PeerTest, RandomHistoriesGiveTheEnginesAnswers) {
  const char* only = std::getenv("CASCADE_PEER_SEED");
  const int sequences = SequenceCount() / (wal() ? 3 : 1);
  for (int i = 0; i < sequences; ++i) {
    const uint64_t seed = only != nullptr ? std::strtoull(only, nullptr, 10) : 1000 + i;
    History history(seed, wal(), dir_);
    history.Run(40);
    if (HasFailure()) {
      ADD_FAILURE() << "sequence " << seed
                    << " differs; rerun it alone with CASCADE_PEER_SEED=" << seed;
      return;
    }
    if (only != nullptr) return;
  }
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndWal, PeerTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Wal" : "InMemory";
                         });

}  // namespace
}  // namespace cascade
