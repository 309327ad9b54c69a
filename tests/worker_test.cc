// Copyright 2026 The Cascade Authors.
//
// contract §7 (workers) and the Rendering rows of contract §1, driven through the
// public API and the public fixture (cascade/testing/engine_test.h). Time
// moves only when a test advances the ManualClock, and leases expire or aborts
// run out of grace only when it then calls RunDueWork. Beyond the contract, these
// decisions are tested:
//   - a claim's lease lasts ClaimRequest::lease, else Options::lease_duration;
//     a heartbeat extends it to now + HeartbeatReport::extend, else to now +
//     the length the claim granted; a lease has expired when expiry <= now;
//   - progress outside 0-100 (or NaN) is InvalidArgument and changes nothing;
//     a lower report is accepted and leaves the stored value unchanged;
//   - Release and LeaseExpired use up attempts alike: the job goes back to
//     queued (progress 0), or after Options::max_attempts attempts to error,
//     "lease expired after N attempts", and the failure propagates (contract §3);
//   - an abort ends the job manually_cancelled ("Cancelled via API") when its
//     worker releases it, or when RunDueWork finds that its grace (counted
//     from the first RequestAbort) or its lease ran out; the cancellation
//     cascades like a cancel (contract §4);
//   - a stale or wrong lease is FailedPrecondition and changes nothing; so is
//     any worker call about a job that is not rendering, naming its state.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {

// Prints states by wire name in failure messages.
void PrintTo(JobState state, std::ostream* os) { *os << StateName(state); }

namespace {

using ::cascade::testing::EngineTest;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

constexpr char kOtherTeam[] = "team-b";
constexpr char kNoLease[] = "no-such-lease";
// Shaped like a lease token, held by no job.
constexpr char kForgedLease[] = "0123456789abcdef";

// WorkerTest's options; none is the default, so each is seen to be honoured.
constexpr absl::Duration kLease = absl::Seconds(40);  // Options::lease_duration
constexpr absl::Duration kGrace = absl::Seconds(15);  // Options::abort_grace
constexpr int kMaxAttempts = 3;                       // Options::max_attempts
// A lease long enough never to run out in a test.
constexpr absl::Duration kLongLease = absl::Hours(1);

std::string Time(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : "null";
}

// Every observable field of a job, for "nothing changed" comparisons.
std::string Describe(const Job& j) {
  return absl::StrCat(
      j.id.ToString(), " team=", j.team, " state=", std::string(StateName(j.state)),
      " progress=", j.progress, " created=", Time(j.stats.created_at),
      " updated=", Time(j.stats.updated_at), " started=", Time(j.stats.started_at),
      " finished=", Time(j.stats.finished_at), " errorAt=", Time(j.stats.error_at),
      " duration=", j.stats.render_duration ? absl::StrCat(*j.stats.render_duration) : "null",
      " error=", j.stats.error.value_or("null").str(), " output=", j.output_url.str(),
      " attempts=", j.attempts, " cancelRequested=", j.cancel_requested);
}

std::string Describe(const absl::StatusOr<Job>& job) {
  return job.ok() ? Describe(*job) : job.status().ToString();
}

// A leaf carrying `tag`, so that a claim restricted to the tag takes it.
JobSpec Tagged(std::string tag) {
  JobSpec spec = LeafSpec();
  spec.tags.push_back(std::move(tag));
  return spec;
}

std::string LeaseExpiredAfter(int attempts) {
  return absl::StrCat("lease expired after ", attempts, " attempts");
}

std::string CascadeFrom(JobId id) { return "Cancelled: cascade from " + id.ToString(); }

// The worker calls that present a lease, and the client's RequestAbort.
enum class Call { kHeartbeat, kFinish, kFail, kRelease, kRequestAbort };

std::string CallName(Call call) {
  switch (call) {
    case Call::kHeartbeat:
      return "Heartbeat";
    case Call::kFinish:
      return "Finish";
    case Call::kFail:
      return "Fail";
    case Call::kRelease:
      return "Release";
    case Call::kRequestAbort:
      return "RequestAbort";
  }
  return "?";
}

void PrintTo(Call call, std::ostream* os) { *os << CallName(call); }

absl::Status Invoke(Engine& engine, Call call, JobId id, std::string_view token) {
  switch (call) {
    case Call::kHeartbeat: {
      HeartbeatReport report;
      report.progress = 50.0;
      return engine.Heartbeat(id, token, report).status();
    }
    case Call::kFinish:
      return engine.Finish(id, token, {}).status();
    case Call::kFail:
      return engine.Fail(id, token, {.error = "late failure", .retry = false}).status();
    case Call::kRelease:
      return engine.Release(id, token).status();
    case Call::kRequestAbort:
      return engine.RequestAbort(EngineTest::kTeam, id).status();
  }
  return absl::InternalError("unknown call");
}

// Gives test names for a state: its wire name, with '_' for other characters.
std::string NameOf(JobState state) {
  std::string name(StateName(state));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// A nested family: the parent tagged `name`, child i tagged `name-c<i>`.
struct Family {
  JobId parent;
  std::vector<JobId> children;
};

// A job put in a given state, with the last lease token it was given (or one
// that never was, for a job never claimed).
struct Subject {
  JobId id;
  std::string token = kNoLease;
};

class WorkerTest : public EngineTest {
 protected:
  Options MakeOptions() override {
    Options options = EngineTest::MakeOptions();
    options.lease_duration = kLease;
    options.abort_grace = kGrace;
    options.max_attempts = kMaxAttempts;
    return options;
  }

  void Tick(absl::Duration d = absl::Seconds(1)) { clock().Advance(d); }

  // Claims the next queued job carrying `tag`, asking for a lease of `lease`.
  absl::StatusOr<ClaimedJob> ClaimFor(std::string tag, absl::Duration lease) {
    ClaimRequest request;
    request.worker = "worker-2";
    request.tags = {std::move(tag)};
    request.lease = lease;
    return engine().Claim(request);
  }

  // Submits a leaf carrying `tag` and claims it with the default lease.
  absl::StatusOr<ClaimedJob> SubmitAndClaim(const std::string& tag) {
    absl::StatusOr<JobId> id = SubmitTagged(tag, LeafSpec());
    if (!id.ok()) return id.status();
    return ClaimTagged(tag);
  }

  absl::StatusOr<Family> SubmitFamily(const std::string& name, int n) {
    JobSpec parent = Tagged(name);
    for (int i = 0; i < n; ++i) parent.children.push_back(Tagged(absl::StrCat(name, "-c", i)));
    absl::StatusOr<CreatedJob> created = Submit(parent);
    if (!created.ok()) return created.status();
    Family family{.parent = created->id};
    for (const CreatedJob& child : created->children) family.children.push_back(child.id);
    return family;
  }

  absl::StatusOr<Job> Release(const ClaimedJob& claimed) {
    return engine().Release(claimed.job.id, claimed.lease.token);
  }

  absl::StatusOr<HeartbeatResult> HeartbeatExtending(const ClaimedJob& claimed,
                                                     absl::Duration extend) {
    HeartbeatReport report;
    report.extend = extend;
    return engine().Heartbeat(claimed.job.id, claimed.lease.token, report);
  }

  // Every observable field of the job, or why it cannot be read.
  std::string Snapshot(JobId id) const { return Describe(Get(id)); }

  std::optional<std::string> ErrorOf(JobId id) const {
    absl::StatusOr<Job> job = Get(id);
    if (!job.ok()) return "Get failed: " + job.status().ToString();
    if (!job->stats.error) return std::nullopt;
    return job->stats.error->str();
  }

  // Submits a job tagged "subject" and brings it to `state`.
  absl::StatusOr<Subject> MakeJobIn(JobState state) {
    Subject s;
    if (state == JobState::kPending) {
      absl::StatusOr<JobId> blocker = SubmitTagged("blocker", LeafSpec());
      if (!blocker.ok()) return blocker.status();
      JobSpec spec = LeafSpec();
      spec.depends_on = {*blocker};
      absl::StatusOr<JobId> id = SubmitTagged("subject", spec);
      if (!id.ok()) return id.status();
      s.id = *id;
    } else {
      absl::StatusOr<ClaimedJob> claimed = SubmitAndClaim("subject");
      if (!claimed.ok()) return claimed.status();
      s.id = claimed->job.id;
      s.token = claimed->lease.token;
      Tick();
      absl::Status st;
      switch (state) {
        case JobState::kQueued:
          st = Release(*claimed).status();
          break;
        case JobState::kFinished:
          st = engine().Finish(s.id, s.token, {}).status();
          break;
        case JobState::kError:
          st = engine().Fail(s.id, s.token, {.error = "boom", .retry = false}).status();
          break;
        case JobState::kCancelled:
          st = engine().RequestAbort(kTeam, s.id).status();
          if (st.ok()) st = Release(*claimed).status();
          break;
        default:
          break;
      }
      if (!st.ok()) return st;
    }
    absl::StatusOr<Job> job = Get(s.id);
    if (!job.ok()) return job.status();
    if (job->state != state) {
      return absl::InternalError(absl::StrCat("setup reached ", std::string(StateName(job->state)),
                                              ", wanted ", std::string(StateName(state))));
    }
    Tick();
    return s;
  }
};

// ---- Queued -> Claim -> Rendering ---------------------------------------------------

TEST_F(WorkerTest, ClaimGrantsTheConfiguredLeaseAndStartsAnAttempt) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, SubmitTagged("a", LeafSpec()));
  Tick(absl::Seconds(3));
  const absl::Time t = Now();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
  EXPECT_EQ(claimed.job.id, id);
  EXPECT_FALSE(claimed.lease.token.empty());
  EXPECT_EQ(claimed.lease.expires_at, t + kLease);
  EXPECT_EQ(claimed.job.state, JobState::kRendering);
  EXPECT_EQ(claimed.job.attempts, 1);
  EXPECT_EQ(claimed.job.progress, 0.0);
  EXPECT_FALSE(claimed.job.cancel_requested);
  EXPECT_THAT(claimed.job.stats.started_at, Optional(t));
  EXPECT_EQ(Snapshot(id), Describe(claimed.job));
}

TEST_F(WorkerTest, ClaimGrantsTheLeaseTheWorkerAsksFor) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", absl::Minutes(10)));
  EXPECT_EQ(claimed.lease.expires_at, Now() + absl::Minutes(10));
}

// ---- Rendering -> Progress -> Rendering (Heartbeat) ---------------------------------

TEST_F(WorkerTest, HeartbeatRecordsProgressAndAnswersWithTheJob) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(5));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed, 25.0));
  EXPECT_EQ(beat.job.state, JobState::kRendering);
  EXPECT_EQ(beat.job.progress, 25.0);
  EXPECT_EQ(beat.job.stats.updated_at, Now());
  EXPECT_EQ(beat.job.attempts, 1);
  EXPECT_FALSE(beat.cancel_requested);
  EXPECT_EQ(beat.lease.token, claimed.lease.token);
  EXPECT_EQ(Snapshot(claimed.job.id), Describe(beat.job));
}

TEST_F(WorkerTest, ProgressNeverDecreasesWithinAnAttempt) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  const struct {
    double reported;
    double stored;
  } kSteps[] = {{12.5, 12.5}, {40.0, 40.0}, {30.0, 40.0}, {0.0, 40.0}, {40.0, 40.0}, {99.5, 99.5}};
  for (const auto& step : kSteps) {
    SCOPED_TRACE(absl::StrCat("reported ", step.reported));
    Tick();
    CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed, step.reported));
    EXPECT_EQ(beat.job.progress, step.stored);
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(claimed.job.id));
    EXPECT_EQ(job.progress, step.stored);
    EXPECT_EQ(job.state, JobState::kRendering);
  }
}

TEST_F(WorkerTest, EveryProgressReportUpdatesUpdatedAtEvenALowerOne) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick();
  ASSERT_THAT(Heartbeat(claimed, 50.0), IsOk());
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed, 20.0));
  EXPECT_EQ(beat.job.progress, 50.0);
  EXPECT_EQ(beat.job.stats.updated_at, Now());
}

TEST_F(WorkerTest, ProgressBoundsAreInclusive) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult low, Heartbeat(claimed, 0.0));
  EXPECT_EQ(low.job.progress, 0.0);
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult high, Heartbeat(claimed, 100.0));
  EXPECT_EQ(high.job.progress, 100.0);
  EXPECT_EQ(high.job.state, JobState::kRendering);  // only Finish finishes
}

TEST_F(WorkerTest, ProgressOutsideZeroToHundredIsInvalidArgumentAndChangesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  const absl::Time expiry = claimed.lease.expires_at;
  ASSERT_THAT(Heartbeat(claimed, 30.0), IsOk());
  const std::string before = Snapshot(claimed.job.id);
  const double kBad[] = {-0.5,
                         -1.0,
                         100.5,
                         1000.0,
                         std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()};
  for (double progress : kBad) {
    SCOPED_TRACE(absl::StrCat("progress ", progress));
    Tick();
    EXPECT_THAT(Heartbeat(claimed, progress), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(Snapshot(claimed.job.id), before);
  }
  // Nor was the lease extended: it runs out when the claim said.
  clock().Set(expiry - absl::Seconds(1));
  EXPECT_EQ(engine().RunDueWork(), 0u);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kQueued);
}

TEST_F(WorkerTest, NonPositiveExtensionIsInvalidArgumentAndChangesNothing) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  const std::string before = Snapshot(claimed.job.id);
  for (absl::Duration extend : {absl::ZeroDuration(), absl::Seconds(-5)}) {
    SCOPED_TRACE(absl::FormatDuration(extend));
    Tick();
    HeartbeatReport report;
    report.progress = 60.0;
    report.extend = extend;
    EXPECT_THAT(engine().Heartbeat(claimed.job.id, claimed.lease.token, report),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(Snapshot(claimed.job.id), before);
  }
}

TEST_F(WorkerTest, ProgressStartsAgainAtZeroOnTheNextAttempt) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, SubmitAndClaim("a"));
  ASSERT_THAT(Heartbeat(first, 80.0), IsOk());
  ASSERT_THAT(Release(first), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimTagged("a"));
  EXPECT_EQ(second.job.progress, 0.0);
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(second, 10.0));
  EXPECT_EQ(beat.job.progress, 10.0);  // monotone within an attempt only
}

// ---- Heartbeats and the lease ------------------------------------------------------

TEST_F(WorkerTest, HeartbeatExtendsTheLeaseByTheLengthTheClaimGranted) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", absl::Seconds(10)));
  Tick(absl::Seconds(8));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed));
  EXPECT_EQ(beat.lease.token, claimed.lease.token);
  EXPECT_EQ(beat.lease.expires_at, Now() + absl::Seconds(10));

  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(9)), 0u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kQueued);
}

TEST_F(WorkerTest, HeartbeatExtendsTheDefaultLeaseByOptionsLeaseDuration) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(30));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed, 5.0));
  EXPECT_EQ(beat.lease.expires_at, Now() + kLease);
}

TEST_F(WorkerTest, HeartbeatExtendsTheLeaseByTheRequestedLength) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", absl::Seconds(10)));
  Tick(absl::Seconds(5));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, HeartbeatExtending(claimed, absl::Minutes(5)));
  EXPECT_EQ(beat.lease.expires_at, Now() + absl::Minutes(5));
  EXPECT_EQ(AdvanceAndRunDue(absl::Minutes(5) - absl::Seconds(1)), 0u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);

  // A heartbeat without `extend` goes back to the length the claim granted.
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult next, Heartbeat(claimed));
  EXPECT_EQ(next.lease.expires_at, Now() + absl::Seconds(10));
}

TEST_F(WorkerTest, AJobHeartbeatedInTimeNeverExpiresAndOneThatStopsDoes) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  for (int i = 0; i < 6; ++i) {  // 6 x 30 s, far past the first 40 s lease
    SCOPED_TRACE(absl::StrCat("heartbeat ", i));
    EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(30)), 0u);
    ASSERT_THAT(Heartbeat(claimed, 10.0 * i), IsOk());
  }
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);

  // The worker goes silent.
  EXPECT_EQ(AdvanceAndRunDue(kLease - absl::Seconds(1)), 0u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kQueued);
}

TEST_F(WorkerTest, RejectedHeartbeatDoesNotExtendTheLease) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(30));
  HeartbeatReport report;
  report.extend = absl::Hours(1);
  EXPECT_THAT(engine().Heartbeat(claimed.job.id, kForgedLease, report),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(AdvanceAndRunDue(kLease - absl::Seconds(30)), 1u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kQueued);
}

// Whatever happens, after RunDueWork no job is rendering past its lease, and
// none was taken from its worker early.
TEST_F(WorkerTest, NoJobStaysRenderingPastItsLease) {
  constexpr int kJobs = 8;
  std::map<JobId, absl::Time> expiry;
  std::vector<ClaimedJob> claims;
  for (int i = 0; i < kJobs; ++i) {
    const std::string tag = absl::StrCat("j", i);
    ASSERT_THAT(SubmitTagged(tag, LeafSpec()), IsOk());
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor(tag, absl::Seconds(7 * (i + 1))));
    expiry[claimed.job.id] = claimed.lease.expires_at;
    claims.push_back(claimed);
  }
  // 20 steps of 5 s: past every lease, the extended ones included.
  for (int step = 0; step < 20; ++step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    AdvanceAndRunDue(absl::Seconds(5));
    for (const auto& [id, expires_at] : expiry) {
      const JobState expected = expires_at > Now() ? JobState::kRendering : JobState::kQueued;
      EXPECT_EQ(StateOf(id), expected) << id.ToString() << " lease until " << expires_at;
    }
    // Even jobs keep heartbeating for a while.
    for (int i = 0; step < 6 && i < kJobs; i += 2) {
      if (expiry[claims[i].job.id] <= Now()) continue;
      CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claims[i]));
      expiry[claims[i].job.id] = beat.lease.expires_at;
    }
  }
  ListQuery rendering;
  rendering.states = {JobState::kRendering};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> left, engine().List(kTeam, rendering));
  EXPECT_TRUE(left.empty()) << left.size() << " jobs still rendering";
}

// ---- Rendering -> Finish -> Finished; Rendering -> Fail -> Error --------------------

TEST_F(WorkerTest, FinishEndsTheAttemptAtFullProgress) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(4));
  ASSERT_THAT(Heartbeat(claimed, 60.0), IsOk());
  Tick(absl::Seconds(2));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, engine().Finish(claimed.job.id, claimed.lease.token, {}));
  EXPECT_EQ(job.state, JobState::kFinished);
  EXPECT_EQ(job.progress, 100.0);
  EXPECT_THAT(job.stats.finished_at, Optional(Now()));
  EXPECT_THAT(job.stats.render_duration, Optional(6.0));
  EXPECT_EQ(job.attempts, 1);
  // The lease ended with the attempt.
  EXPECT_EQ(AdvanceAndRunDue(kLease), 0u);
  EXPECT_EQ(Snapshot(claimed.job.id), Describe(job));
}

TEST_F(WorkerTest, FailEndsTheAttemptInErrorAndReachesThePendingParent) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family family, SubmitFamily("p", 2));
  Tick();
  ASSERT_THAT(RenderAndFail("p-c0", "codec missing"), IsOk());
  EXPECT_EQ(StateOf(family.children[0]), JobState::kError);
  EXPECT_THAT(ErrorOf(family.children[0]), Optional(std::string("codec missing")));
  EXPECT_EQ(StateOf(family.parent), JobState::kError);
  EXPECT_THAT(ErrorOf(family.parent),
              Optional("prerequisite " + family.children[0].ToString() + " failed"));
}

// ---- Rendering -> Release -> Queued / Error ----------------------------------------

TEST_F(WorkerTest, ReleaseWithAttemptsLeftRequeuesTheJob) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(5));
  ASSERT_THAT(Heartbeat(claimed, 70.0), IsOk());
  Tick(absl::Seconds(5));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Release(claimed));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.progress, 0.0);
  EXPECT_EQ(job.stats.updated_at, Now());
  EXPECT_EQ(job.stats.error, "lease expired after 1 attempts")
      << "the attempt's end, while it waits";
  EXPECT_EQ(job.stats.error_at, std::nullopt);
  EXPECT_EQ(job.stats.finished_at, std::nullopt);
  EXPECT_FALSE(job.cancel_requested);
  EXPECT_EQ(Snapshot(claimed.job.id), Describe(job));
  // The released lease has nothing left to expire.
  EXPECT_EQ(AdvanceAndRunDue(kLease), 0u);

  // Claimable again, as a new attempt under a new lease.
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob again, ClaimTagged("a"));
  EXPECT_EQ(again.job.id, claimed.job.id);
  EXPECT_EQ(again.job.attempts, 2);
  EXPECT_THAT(again.job.stats.started_at, Optional(Now()));
  EXPECT_NE(again.lease.token, claimed.lease.token);
}

// ---- Rendering -> LeaseExpired -> Queued / Error -----------------------------------

TEST_F(WorkerTest, ExpiredLeaseRequeuesTheJobAtItsExpiryAndNotBefore) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  Tick(absl::Seconds(10));
  ASSERT_THAT(Heartbeat(claimed, 50.0), IsOk());  // lease until claim + 50 s
  EXPECT_EQ(AdvanceAndRunDue(kLease - absl::Seconds(1)), 0u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);

  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(claimed.job.id));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.progress, 0.0);
  EXPECT_EQ(job.stats.updated_at, Now());
  EXPECT_EQ(job.stats.error, "lease expired after 1 attempts");
  EXPECT_EQ(engine().RunDueWork(), 0u);  // nothing is due twice

  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob again, ClaimTagged("a"));
  EXPECT_EQ(again.job.attempts, 2);
}

TEST_F(WorkerTest, RunDueWorkCountsTheJobsItChanged) {
  for (const char* tag : {"x", "y", "z"}) ASSERT_THAT(SubmitAndClaim(tag), IsOk());
  ASSERT_THAT(SubmitTagged("long", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob long_lease, ClaimFor("long", kLongLease));
  ASSERT_THAT(SubmitTagged("aborted", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob aborted, ClaimFor("aborted", kLongLease));
  ASSERT_THAT(engine().RequestAbort(kTeam, aborted.job.id), IsOk());
  ASSERT_THAT(SubmitTagged("waiting", LeafSpec()), IsOk());  // queued jobs have no lease

  EXPECT_EQ(engine().RunDueWork(), 0u);
  EXPECT_EQ(AdvanceAndRunDue(kGrace), 1u);           // the abort
  EXPECT_EQ(AdvanceAndRunDue(kLease - kGrace), 3u);  // x, y, z
  EXPECT_EQ(AdvanceAndRunDue(kLongLease), 1u);       // long
  EXPECT_EQ(AdvanceAndRunDue(kLongLease), 0u);
  EXPECT_EQ(StateOf(long_lease.job.id), JobState::kQueued);
}

// The retry cap, for both ways an attempt ends without a result.
enum class LostBy { kRelease, kExpiry };

struct RetryCase {
  int max_attempts;
  LostBy lost_by;
};

void PrintTo(const RetryCase& c, std::ostream* os) {
  *os << "max_attempts " << c.max_attempts << ", lost by "
      << (c.lost_by == LostBy::kRelease ? "release" : "expiry");
}

class RetryCapTest : public WorkerTest, public ::testing::WithParamInterface<RetryCase> {
 protected:
  Options MakeOptions() override {
    Options options = WorkerTest::MakeOptions();
    options.max_attempts = GetParam().max_attempts;
    return options;
  }
};

TEST_P(RetryCapTest, EachLostAttemptRequeuesUntilTheLastEndsInError) {
  const RetryCase& c = GetParam();
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, SubmitTagged("a", LeafSpec()));
  for (int attempt = 1; attempt <= c.max_attempts; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    Tick();
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
    ASSERT_EQ(claimed.job.id, id);
    EXPECT_EQ(claimed.job.attempts, attempt);
    ASSERT_THAT(Heartbeat(claimed, 42.0), IsOk());
    if (c.lost_by == LostBy::kRelease) {
      ASSERT_THAT(Release(claimed), IsOk());
    } else {
      EXPECT_EQ(AdvanceAndRunDue(kLease), 1u);
    }
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(id));
    EXPECT_EQ(job.attempts, attempt);
    EXPECT_EQ(job.stats.updated_at, Now());
    if (attempt < c.max_attempts) {
      EXPECT_EQ(job.state, JobState::kQueued);
      EXPECT_EQ(job.progress, 0.0);
      EXPECT_EQ(job.stats.error, absl::StrCat("lease expired after ", attempt, " attempts"));
    } else {
      EXPECT_EQ(job.state, JobState::kError);
      EXPECT_THAT(job.stats.error, Optional(LeaseExpiredAfter(c.max_attempts)));
      EXPECT_THAT(job.stats.error_at, Optional(Now()));
    }
  }
  // Terminal: never claimed, never due again.
  EXPECT_THAT(ClaimTagged("a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AdvanceAndRunDue(kLease), 0u);
  EXPECT_EQ(StateOf(id), JobState::kError);
}

INSTANTIATE_TEST_SUITE_P(
    MaxAttempts, RetryCapTest,
    ::testing::Values(RetryCase{1, LostBy::kRelease}, RetryCase{2, LostBy::kRelease},
                      RetryCase{3, LostBy::kRelease}, RetryCase{1, LostBy::kExpiry},
                      RetryCase{2, LostBy::kExpiry}, RetryCase{3, LostBy::kExpiry}),
    [](const ::testing::TestParamInfo<RetryCase>& info) {
      return absl::StrCat("Max", info.param.max_attempts,
                          info.param.lost_by == LostBy::kRelease ? "Release" : "Expiry");
    });

TEST_F(WorkerTest, ReleasesAndExpiriesDrawOnOneAttemptBudget) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, SubmitAndClaim("a"));
  ASSERT_THAT(Release(first), IsOk());
  ASSERT_THAT(ClaimTagged("a"), IsOk());
  ASSERT_EQ(AdvanceAndRunDue(kLease), 1u);
  EXPECT_EQ(StateOf(first.job.id), JobState::kQueued);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob third, ClaimTagged("a"));
  EXPECT_EQ(third.job.attempts, kMaxAttempts);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Release(third));
  EXPECT_EQ(job.state, JobState::kError);
  EXPECT_THAT(job.stats.error, Optional(LeaseExpiredAfter(kMaxAttempts)));
}

TEST_F(WorkerTest, LeaseExhaustionErrorReachesThePendingParentAndWaitingSiblings) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family family, SubmitFamily("p", 3));
  const JobId lost = family.children[0];
  const JobId waiting = family.children[1];
  const JobId done = family.children[2];
  ASSERT_THAT(RenderAndFinish("p-c2"), IsOk());
  const std::string done_before = Snapshot(done);
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    ASSERT_THAT(ClaimTagged("p-c0"), IsOk());
    EXPECT_GE(AdvanceAndRunDue(kLease), 1u);
  }
  EXPECT_EQ(StateOf(lost), JobState::kError);
  EXPECT_THAT(ErrorOf(lost), Optional(LeaseExpiredAfter(kMaxAttempts)));
  EXPECT_EQ(StateOf(family.parent), JobState::kError);
  EXPECT_THAT(ErrorOf(family.parent), Optional("prerequisite " + lost.ToString() + " failed"));
  // Rule U, with "failed" for "cancelled": the parent no longer needs it.
  EXPECT_EQ(StateOf(waiting), JobState::kError);
  EXPECT_THAT(ErrorOf(waiting), Optional("dependent " + family.parent.ToString() + " failed"));
  EXPECT_EQ(Snapshot(done), done_before);
}

TEST_F(WorkerTest, ReleaseOnTheLastAttemptFailsTheDependentsToo) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId a, SubmitTagged("a", LeafSpec()));
  JobSpec dependent = LeafSpec();
  dependent.depends_on = {a};
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId d, SubmitTagged("d", dependent));
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
    ASSERT_THAT(Release(claimed), IsOk());
    EXPECT_EQ(StateOf(d), attempt < kMaxAttempts ? JobState::kPending : JobState::kError);
  }
  EXPECT_THAT(ErrorOf(d), Optional("prerequisite " + a.ToString() + " failed"));
}

// ---- Rendering -> AbortAcknowledged -> Cancelled (contract §7 abort) -------------------

TEST_F(WorkerTest, RequestAbortFlagsTheJobAndTheNextHeartbeatTellsTheWorker) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult before, Heartbeat(claimed, 10.0));
  EXPECT_FALSE(before.cancel_requested);
  EXPECT_FALSE(before.job.cancel_requested);

  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(Job asked, engine().RequestAbort(kTeam, claimed.job.id));
  EXPECT_EQ(asked.state, JobState::kRendering);
  EXPECT_TRUE(asked.cancel_requested);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job got, Get(claimed.job.id));
  EXPECT_TRUE(got.cancel_requested);
  EXPECT_EQ(got.state, JobState::kRendering);

  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult after, Heartbeat(claimed, 20.0));
  EXPECT_TRUE(after.cancel_requested);
  EXPECT_TRUE(after.job.cancel_requested);
  EXPECT_EQ(after.job.state, JobState::kRendering);
}

TEST_F(WorkerTest, ReleaseAcknowledgesAnAbortAndEndsTheJobCancelled) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());
  Tick(absl::Seconds(3));
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(claimed));
  ASSERT_TRUE(beat.cancel_requested);
  Tick(absl::Seconds(2));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Release(claimed));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
  EXPECT_THAT(job.stats.error_at, Optional(Now()));
  EXPECT_EQ(job.stats.updated_at, Now());
  EXPECT_EQ(job.stats.finished_at, std::nullopt);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(Snapshot(claimed.job.id), Describe(job));
  // Not requeued, and nothing is left to force.
  EXPECT_THAT(ClaimTagged("a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(AdvanceAndRunDue(kGrace + kLease), 0u);
  EXPECT_EQ(Snapshot(claimed.job.id), Describe(job));
}

TEST_F(WorkerTest, UnansweredAbortIsForcedWhenTheGraceRunsOut) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", kLongLease));
  Tick();
  const absl::Time asked = Now();
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());
  // Heartbeats extend the lease, never the grace.
  Tick(absl::Seconds(5));
  ASSERT_THAT(Heartbeat(claimed, 90.0), IsOk());
  EXPECT_EQ(AdvanceAndRunDue(kGrace - absl::Seconds(6)), 0u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kRendering);

  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  ASSERT_EQ(Now(), asked + kGrace);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(claimed.job.id));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
  EXPECT_THAT(job.stats.error_at, Optional(Now()));
  EXPECT_EQ(job.stats.updated_at, Now());
  EXPECT_EQ(job.attempts, 1);
  EXPECT_THAT(ClaimTagged("a"), StatusIs(absl::StatusCode::kNotFound));

  // The worker's lease died with the job.
  Tick();
  const std::string before = Snapshot(claimed.job.id);
  for (Call call : {Call::kHeartbeat, Call::kRelease, Call::kFinish, Call::kFail}) {
    SCOPED_TRACE(CallName(call));
    EXPECT_THAT(Invoke(engine(), call, claimed.job.id, claimed.lease.token),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr(claimed.job.id.ToString()),
                               HasSubstr(StateName(JobState::kCancelled)))));
  }
  EXPECT_EQ(Snapshot(claimed.job.id), before);
}

TEST_F(WorkerTest, AbortIsForcedWhenTheLeaseRunsOutBeforeTheGrace) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", absl::Seconds(10)));
  Tick(absl::Seconds(5));
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());  // grace: 15 s more
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(4)), 0u);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);  // the lease ran out
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(claimed.job.id));
  EXPECT_EQ(job.state, JobState::kCancelled);  // not requeued: the abort stands
  EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
  EXPECT_THAT(ClaimTagged("a"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(WorkerTest, RequestingAnAbortTwiceIsFineAndKeepsTheFirstGrace) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", kLongLease));
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());
  Tick(absl::Seconds(10));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job again, engine().RequestAbort(kTeam, claimed.job.id));
  EXPECT_TRUE(again.cancel_requested);
  EXPECT_EQ(again.state, JobState::kRendering);
  EXPECT_EQ(AdvanceAndRunDue(kGrace - absl::Seconds(10)), 1u);
  EXPECT_EQ(StateOf(claimed.job.id), JobState::kCancelled);
}

TEST_F(WorkerTest, RequestAbortOfAnUnknownOrAnotherTeamsJobIsNotFound) {
  ASSERT_THAT(SubmitTagged("theirs", LeafSpec(), kOtherTeam), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob theirs, ClaimTagged("theirs"));
  const std::string before = Describe(engine().Get(kOtherTeam, theirs.job.id));
  EXPECT_THAT(engine().RequestAbort(kTeam, theirs.job.id),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(theirs.job.id.ToString())));
  EXPECT_EQ(Describe(engine().Get(kOtherTeam, theirs.job.id)), before);
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(theirs));
  EXPECT_FALSE(beat.cancel_requested);

  const JobId unknown = IdGenerator(999).Next(Now());
  EXPECT_THAT(engine().RequestAbort(kTeam, unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine().RequestAbort("", theirs.job.id),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(WorkerTest, HeartbeatOrReleaseOfAnUnknownJobIsNotFound) {
  const JobId unknown = IdGenerator(999).Next(Now());
  EXPECT_THAT(engine().Heartbeat(unknown, kForgedLease, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine().Release(unknown, kForgedLease), StatusIs(absl::StatusCode::kNotFound));
}

// The cancellation an abort ends in cascades like a cancel (contract §4): rule R
// takes the pending parent, rule U the siblings waiting alongside; rendering
// and finished siblings are untouched.
enum class AbortEnd { kAcknowledged, kForcedAfterGrace };

void PrintTo(AbortEnd end, std::ostream* os) {
  *os << (end == AbortEnd::kAcknowledged ? "acknowledged by release" : "forced after grace");
}

class AbortCascadeTest : public WorkerTest, public ::testing::WithParamInterface<AbortEnd> {};

TEST_P(AbortCascadeTest, ReachesThePendingParentAndWaitingSiblings) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family family, SubmitFamily("p", 4));
  const JobId aborted = family.children[0];
  const JobId waiting = family.children[1];
  const JobId rendering = family.children[2];
  const JobId done = family.children[3];
  ASSERT_THAT(RenderAndFinish("p-c3"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob runs_on, ClaimFor("p-c2", kLongLease));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("p-c0", kLongLease));
  const std::string done_before = Snapshot(done);
  const std::string rendering_before = Snapshot(rendering);

  ASSERT_THAT(engine().RequestAbort(kTeam, aborted), IsOk());
  if (GetParam() == AbortEnd::kAcknowledged) {
    Tick();
    ASSERT_THAT(Release(claimed), IsOk());
  } else {
    EXPECT_GE(AdvanceAndRunDue(kGrace), 1u);
  }
  const absl::Time t = Now();

  EXPECT_EQ(StateOf(aborted), JobState::kCancelled);
  EXPECT_THAT(ErrorOf(aborted), Optional(std::string("Cancelled via API")));
  for (JobId id : {family.parent, waiting}) {
    SCOPED_TRACE(id.ToString());
    CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(id));
    EXPECT_EQ(job.state, JobState::kCancelled);
    EXPECT_THAT(job.stats.error, Optional(CascadeFrom(aborted)));
    EXPECT_THAT(job.stats.error_at, Optional(t));
  }
  EXPECT_EQ(Snapshot(done), done_before);
  EXPECT_EQ(Snapshot(rendering), rendering_before);
  // The rendering sibling may still finish; the parent stays cancelled.
  ASSERT_THAT(engine().Finish(rendering, runs_on.lease.token, {}), IsOk());
  EXPECT_EQ(StateOf(family.parent), JobState::kCancelled);
}

INSTANTIATE_TEST_SUITE_P(BothWays, AbortCascadeTest,
                         ::testing::Values(AbortEnd::kAcknowledged, AbortEnd::kForcedAfterGrace),
                         [](const ::testing::TestParamInfo<AbortEnd>& info) {
                           return info.param == AbortEnd::kAcknowledged ? "AcknowledgedByRelease"
                                                                        : "ForcedAfterGrace";
                         });

// With one attempt, a lost lease would end the job in error; an abort that
// ends the attempt ends it cancelled instead.
class SingleAttemptTest : public WorkerTest {
 protected:
  Options MakeOptions() override {
    Options options = WorkerTest::MakeOptions();
    options.max_attempts = 1;
    return options;
  }
};

TEST_F(SingleAttemptTest, AcknowledgedAbortOnTheLastAttemptIsCancelledNotError) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Release(claimed));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
}

TEST_F(SingleAttemptTest, AbortedJobWhoseLeaseRunsOutOnTheLastAttemptIsCancelledNotError) {
  ASSERT_THAT(SubmitTagged("a", LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimFor("a", absl::Seconds(5)));
  ASSERT_THAT(engine().RequestAbort(kTeam, claimed.job.id), IsOk());
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(5)), 1u);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(claimed.job.id));
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_THAT(job.stats.error, Optional(std::string("Cancelled via API")));
}

// ---- Fencing: a stale or wrong lease changes nothing -------------------------------

enum class BadLease {
  kGarbage,                // not a token at all
  kEmpty,                  // no token
  kForged,                 // shaped like one, never issued
  kAnotherJobs,            // a live lease of another rendering job
  kReleasedThenReclaimed,  // this job's, before a release and a new claim
  kExpiredThenReclaimed,   // this job's, before it expired and was claimed again
};

std::string BadLeaseName(BadLease bad) {
  switch (bad) {
    case BadLease::kGarbage:
      return "Garbage";
    case BadLease::kEmpty:
      return "Empty";
    case BadLease::kForged:
      return "Forged";
    case BadLease::kAnotherJobs:
      return "AnotherJobs";
    case BadLease::kReleasedThenReclaimed:
      return "ReleasedThenReclaimed";
    case BadLease::kExpiredThenReclaimed:
      return "ExpiredThenReclaimed";
  }
  return "?";
}

void PrintTo(BadLease bad, std::ostream* os) { *os << BadLeaseName(bad); }

class FencingTest : public WorkerTest,
                    public ::testing::WithParamInterface<std::tuple<Call, BadLease>> {};

TEST_P(FencingTest, IsFailedPreconditionChangesNothingAndTheHolderCarriesOn) {
  const auto [call, bad] = GetParam();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob holder, SubmitAndClaim("subject"));
  std::string token;
  switch (bad) {
    case BadLease::kGarbage:
      token = kNoLease;
      break;
    case BadLease::kEmpty:
      token = "";
      break;
    case BadLease::kForged:
      token = kForgedLease;
      break;
    case BadLease::kAnotherJobs: {
      CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob other, SubmitAndClaim("other"));
      token = other.lease.token;
      break;
    }
    case BadLease::kReleasedThenReclaimed: {
      token = holder.lease.token;
      ASSERT_THAT(Release(holder), IsOk());
      CASCADE_ASSERT_OK_AND_ASSIGN(holder, ClaimTagged("subject"));
      break;
    }
    case BadLease::kExpiredThenReclaimed: {
      token = holder.lease.token;
      ASSERT_EQ(AdvanceAndRunDue(kLease), 1u);
      CASCADE_ASSERT_OK_AND_ASSIGN(holder, ClaimTagged("subject"));
      break;
    }
  }
  ASSERT_NE(token, holder.lease.token);
  const JobId id = holder.job.id;
  const std::string before = Snapshot(id);
  Tick();

  EXPECT_THAT(Invoke(engine(), call, id, token),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(id.ToString())));
  EXPECT_EQ(Snapshot(id), before);

  // The current holder's lease still works.
  CASCADE_ASSERT_OK_AND_ASSIGN(HeartbeatResult beat, Heartbeat(holder, 75.0));
  EXPECT_EQ(beat.job.progress, 75.0);
  EXPECT_FALSE(beat.cancel_requested);
  EXPECT_THAT(engine().Finish(id, holder.lease.token, {}), IsOk());
}

INSTANTIATE_TEST_SUITE_P(
    EveryWorkerCall, FencingTest,
    ::testing::Combine(::testing::Values(Call::kHeartbeat, Call::kFinish, Call::kFail,
                                         Call::kRelease),
                       ::testing::Values(BadLease::kGarbage, BadLease::kEmpty, BadLease::kForged,
                                         BadLease::kAnotherJobs, BadLease::kReleasedThenReclaimed,
                                         BadLease::kExpiredThenReclaimed)),
    [](const ::testing::TestParamInfo<std::tuple<Call, BadLease>>& info) {
      return CallName(std::get<0>(info.param)) + "_" + BadLeaseName(std::get<1>(info.param));
    });

// Once the lease expired, the token is stale even before anyone claims again.
TEST_F(WorkerTest, ExpiredLeaseIsStaleForEveryWorkerCall) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, SubmitAndClaim("a"));
  ASSERT_EQ(AdvanceAndRunDue(kLease), 1u);
  const std::string before = Snapshot(claimed.job.id);
  for (Call call : {Call::kHeartbeat, Call::kFinish, Call::kFail, Call::kRelease}) {
    SCOPED_TRACE(CallName(call));
    Tick();
    EXPECT_THAT(
        Invoke(engine(), call, claimed.job.id, claimed.lease.token),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(claimed.job.id.ToString())));
    EXPECT_EQ(Snapshot(claimed.job.id), before);
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob again, ClaimTagged("a"));
  EXPECT_EQ(again.job.attempts, 2);
}

// ---- Calls about a job that is not rendering ---------------------------------------

class NotRenderingTest : public WorkerTest,
                         public ::testing::WithParamInterface<std::tuple<JobState, Call>> {};

TEST_P(NotRenderingTest, IsFailedPreconditionNamingTheJobAndItsStateAndChangesNothing) {
  const auto [state, call] = GetParam();
  CASCADE_ASSERT_OK_AND_ASSIGN(Subject s, MakeJobIn(state));
  const std::string before = Snapshot(s.id);
  EXPECT_THAT(Invoke(engine(), call, s.id, s.token),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(s.id.ToString()), HasSubstr(StateName(state)))));
  EXPECT_EQ(Snapshot(s.id), before);
  EXPECT_EQ(AdvanceAndRunDue(kLongLease), 0u);
  EXPECT_EQ(Snapshot(s.id), before);
}

INSTANTIATE_TEST_SUITE_P(
    EveryOtherState, NotRenderingTest,
    ::testing::Combine(::testing::Values(JobState::kQueued, JobState::kPending, JobState::kFinished,
                                         JobState::kError, JobState::kCancelled),
                       ::testing::Values(Call::kHeartbeat, Call::kFinish, Call::kFail,
                                         Call::kRelease, Call::kRequestAbort)),
    [](const ::testing::TestParamInfo<std::tuple<JobState, Call>>& info) {
      return NameOf(std::get<0>(info.param)) + "_" + CallName(std::get<1>(info.param));
    });

// ---- Pickup order and tags ------------------------------------------------------------

struct PickupCase {
  SortOrder order;
  // Indexes of the submitted jobs in claim order; empty: any order.
  std::vector<int> expected;
};

void PrintTo(const PickupCase& c, std::ostream* os) { *os << SortOrderName(c.order); }

class PickupOrderTest : public WorkerTest, public ::testing::WithParamInterface<PickupCase> {
 protected:
  Options MakeOptions() override {
    Options options = WorkerTest::MakeOptions();
    options.pickup_order = GetParam().order;
    return options;
  }
};

TEST_P(PickupOrderTest, ClaimsFollowTheEnginesPickupOrder) {
  const int32_t kPriorities[] = {1, 5, 5, 0};
  std::vector<JobId> ids;
  for (int32_t priority : kPriorities) {
    JobSpec spec = LeafSpec();
    spec.priority = priority;
    CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, SubmitTagged("farm", spec));
    ids.push_back(id);
    Tick();
  }
  std::vector<JobId> claimed;
  for (size_t i = 0; i < ids.size(); ++i) {
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c, engine().Claim(ClaimRequest{}));
    claimed.push_back(c.job.id);
  }
  EXPECT_THAT(engine().Claim(ClaimRequest{}), StatusIs(absl::StatusCode::kNotFound));
  if (GetParam().expected.empty()) {
    EXPECT_THAT(claimed, UnorderedElementsAreArray(ids));
  } else {
    std::vector<JobId> expected;
    for (int i : GetParam().expected) expected.push_back(ids[i]);
    EXPECT_EQ(claimed, expected);
  }
}

TEST_P(PickupOrderTest, AReleasedJobIsPickedUpAgain) {
  for (int i = 0; i < 3; ++i) {
    JobSpec spec = LeafSpec();
    spec.priority = i;
    ASSERT_THAT(SubmitTagged("farm", spec), IsOk());
    Tick();
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, ClaimTagged("farm"));
  ASSERT_THAT(Release(first), IsOk());
  std::vector<JobId> claimed;
  for (int i = 0; i < 3; ++i) {
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c, ClaimTagged("farm"));
    claimed.push_back(c.job.id);
  }
  EXPECT_THAT(ClaimTagged("farm"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(claimed, ::testing::Contains(first.job.id));
  // Ordered by creation or priority, not by release: it keeps its place.
  if (GetParam().order != SortOrder::kRandom) EXPECT_EQ(claimed.front(), first.job.id);
}

INSTANTIATE_TEST_SUITE_P(EveryOrder, PickupOrderTest,
                         ::testing::Values(PickupCase{SortOrder::kOldestFirst, {0, 1, 2, 3}},
                                           PickupCase{SortOrder::kNewestFirst, {3, 2, 1, 0}},
                                           PickupCase{SortOrder::kPriority, {1, 2, 0, 3}},
                                           PickupCase{SortOrder::kRandom, {}}),
                         [](const ::testing::TestParamInfo<PickupCase>& info) {
                           std::string name(SortOrderName(info.param.order));
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST_F(WorkerTest, ClaimTakesOnlyJobsCarryingEveryRequestedTag) {
  JobSpec x = LeafSpec();
  x.tags = {"x"};
  JobSpec xy = LeafSpec();
  xy.tags = {"x", "y"};
  JobSpec y = LeafSpec();
  y.tags = {"y"};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob plain, Submit(LeafSpec()));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob only_x, Submit(x));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob both, Submit(xy));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob only_y, Submit(y));

  auto claim = [&](std::vector<std::string> tags) {
    ClaimRequest request;
    request.tags = std::move(tags);
    return engine().Claim(request);
  };
  const std::string plain_before = Snapshot(plain.id);
  EXPECT_THAT(claim({"z"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(claim({"x", "z"}), StatusIs(absl::StatusCode::kNotFound));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c1, claim({"y", "x"}));
  EXPECT_EQ(c1.job.id, both.id);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c2, claim({"y"}));
  EXPECT_EQ(c2.job.id, only_y.id);
  EXPECT_THAT(claim({"x", "y"}), StatusIs(absl::StatusCode::kNotFound));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c3, claim({"x"}));
  EXPECT_EQ(c3.job.id, only_x.id);
  EXPECT_EQ(Snapshot(plain.id), plain_before);  // untouched by tagged claims
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c4, claim({}));
  EXPECT_EQ(c4.job.id, plain.id);
}

TEST_F(WorkerTest, AReleasedOrExpiredJobIsClaimableByItsTagsAgain) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, SubmitAndClaim("a"));
  ASSERT_THAT(SubmitTagged("b", LeafSpec()), IsOk());
  ASSERT_THAT(Release(first), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, ClaimTagged("a"));
  EXPECT_EQ(second.job.id, first.job.id);
  ASSERT_EQ(AdvanceAndRunDue(kLease), 1u);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob third, ClaimTagged("a"));
  EXPECT_EQ(third.job.id, first.job.id);
}

TEST_F(WorkerTest, ClaimServesEveryTeam) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob theirs, Submit(LeafSpec(), kOtherTeam));
  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob ours, Submit(LeafSpec()));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob first, engine().Claim(ClaimRequest{}));
  EXPECT_EQ(first.job.id, theirs.id);
  EXPECT_EQ(first.job.team, kOtherTeam);
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob second, engine().Claim(ClaimRequest{}));
  EXPECT_EQ(second.job.id, ours.id);
  // Worker calls are not scoped to a team.
  EXPECT_THAT(engine().Heartbeat(first.job.id, first.lease.token, {}), IsOk());
  EXPECT_THAT(engine().Finish(first.job.id, first.lease.token, {}), IsOk());
  EXPECT_EQ(StateOf(kOtherTeam, theirs.id), JobState::kFinished);
}

// ---- Pending -> PrerequisitesMet -> Queued, then Claim -----------------------------

TEST_F(WorkerTest, ParentIsQueuedWhenItsLastChildFinishesThenClaimable) {
  CASCADE_ASSERT_OK_AND_ASSIGN(Family family, SubmitFamily("p", 3));
  EXPECT_EQ(StateOf(family.parent), JobState::kPending);
  EXPECT_THAT(ClaimTagged("p"), StatusIs(absl::StatusCode::kNotFound));

  // c0 is released once, c1 loses its lease once; neither frees the parent.
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c0, ClaimTagged("p-c0"));
  ASSERT_THAT(Release(c0), IsOk());
  ASSERT_THAT(ClaimTagged("p-c1"), IsOk());
  ASSERT_EQ(AdvanceAndRunDue(kLease), 1u);
  EXPECT_EQ(StateOf(family.parent), JobState::kPending);

  ASSERT_THAT(RenderAndFinish("p-c0"), IsOk());
  Tick();
  ASSERT_THAT(RenderAndFinish("p-c2"), IsOk());
  EXPECT_EQ(StateOf(family.parent), JobState::kPending);
  EXPECT_THAT(ClaimTagged("p"), StatusIs(absl::StatusCode::kNotFound));

  Tick();
  ASSERT_THAT(RenderAndFinish("p-c1"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(Job parent, Get(family.parent));
  EXPECT_EQ(parent.state, JobState::kQueued);
  EXPECT_EQ(parent.stats.updated_at, Now());
  EXPECT_EQ(parent.attempts, 0);

  Tick();
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("p"));
  EXPECT_EQ(claimed.job.id, family.parent);
  EXPECT_EQ(claimed.job.attempts, 1);
  EXPECT_EQ(claimed.lease.expires_at, Now() + kLease);
  ASSERT_THAT(engine().Finish(family.parent, claimed.lease.token, {}), IsOk());
  EXPECT_EQ(StateOf(family.parent), JobState::kFinished);
}

// ---- The fixture itself ------------------------------------------------------------

// The Example: of cascade/testing/engine_test.h, verbatim.
class RenderFarmTest : public cascade::testing::EngineTest {
 protected:
  cascade::Options MakeOptions() override {
    cascade::Options options = EngineTest::MakeOptions();
    options.max_attempts = 1;
    return options;
  }
};

TEST_F(RenderFarmTest, LostWorkerEndsTheJobInError) {
  absl::StatusOr<cascade::JobId> id = SubmitTagged("intro");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(ClaimTagged("intro").ok());
  AdvanceAndRunDue(absl::Seconds(60));  // Options::lease_duration
  EXPECT_EQ(StateOf(*id), cascade::JobState::kError);
}

class EngineTestFixtureTest : public EngineTest {};

TEST_F(EngineTestFixtureTest, StartsAtAFixedTimeWithReproducibleIds) {
  EXPECT_EQ(Now(), kStartTime);
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, SubmitTagged("a"));
  ManualClock twin_clock(kStartTime);
  Options options;
  options.clock = &twin_clock;
  options.id_seed = kIdSeed;
  CASCADE_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> twin, Engine::Create(options));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob twin_job, twin->Submit(kTeam, JobSpec{}));
  EXPECT_EQ(id, twin_job.id);
}

TEST_F(EngineTestFixtureTest, RunsOnTheDefaultOptions) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId id, SubmitTagged("a"));
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, ClaimTagged("a"));
  EXPECT_EQ(claimed.lease.expires_at, kStartTime + Options{}.lease_duration);
  EXPECT_EQ(AdvanceAndRunDue(Options{}.lease_duration - absl::Seconds(1)), 0u);
  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  EXPECT_EQ(Now(), kStartTime + Options{}.lease_duration);
}

TEST_F(EngineTestFixtureTest, WorkerHelpersDriveJobsToTheirEnd) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId ok, SubmitTagged("ok"));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId bad, SubmitTagged("bad"));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId theirs, SubmitTagged("theirs", {}, kOtherTeam));
  EXPECT_THAT(RenderAndFinish("ok"), IsOk());
  EXPECT_THAT(RenderAndFail("bad", "no disk"), IsOk());
  EXPECT_THAT(RenderAndFinish("theirs"), IsOk());
  EXPECT_EQ(StateOf(ok), JobState::kFinished);
  EXPECT_EQ(StateOf(bad), JobState::kError);
  CASCADE_ASSERT_OK_AND_ASSIGN(Job failed, Get(bad));
  EXPECT_THAT(failed.stats.error, Optional(std::string("no disk")));
  EXPECT_EQ(StateOf(kOtherTeam, theirs), JobState::kFinished);
  EXPECT_THAT(RenderAndFinish("ok"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EngineTestFixtureTest, StateOfAJobTheTeamCannotReadFailsTheTest) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobId theirs, SubmitTagged("theirs", {}, kOtherTeam));
  EXPECT_NONFATAL_FAILURE(EXPECT_FALSE(StateOf(theirs).has_value()), "Get(team-a, ");
}

}  // namespace
}  // namespace cascade
