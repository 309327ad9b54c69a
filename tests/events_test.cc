// Copyright 2026 The Cascade Authors.
//
// contract §8's event stream (cascade/events.h, Engine::Subscribe), driven through
// the public API and the public fixture (cascade/testing/engine_test.h).
// Beyond the header's words, these decisions are tested:
//   - a submit publishes one event per job it creates, `from` empty, in
//     creation order (pre-order: a parent before its children);
//   - every cause of events.h, with `related_job` where the header promises
//     one: the named job a cancel cascade started from, the prerequisite
//     whose end released a pending job or whose failure ended it, the
//     dependent whose failure left a prerequisite useless;
//   - heartbeats, abort requests and refused calls publish nothing and use no
//     sequence number;
//   - replaying a subscriber's events for a job ends in the state the engine
//     reports, each event starting where the previous one ended;
//   - a subscription starts at an operation boundary, sees one total order
//     (the same as every other subscription's), stops when stopped, destroyed
//     or assigned over, and survives being moved;
//   - a subscriber whose callback never returns stalls nothing: its bounded
//     queue keeps what fits (part of an operation's events when only part
//     fits) and counts the rest as dropped.
// Event times are compared at whole milliseconds: the engine keeps time in
// milliseconds, as it does for a job's stats.
//
// No assertion here depends on how fast anything runs. A Flush or a wait that
// could only time out if the engine were broken is bounded by kHangGuard so
// that such a bug fails the test instead of hanging it.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade {

// Prints states and causes by name in failure messages.
void PrintTo(JobState state, std::ostream* os) { *os << StateName(state); }
void PrintTo(TransitionCause cause, std::ostream* os) { *os << TransitionCauseName(cause); }
void PrintTo(const TransitionEvent& e, std::ostream* os);  // at the end of the file

namespace {

using ::cascade::testing::EngineTest;
using ::cascade::testing::FamilySpec;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kOtherTeam[] = "team-b";
constexpr absl::Duration kHangGuard = absl::Minutes(2);

// ---- What a test expects of an event ----------------------------------------

// The part of an event a test names in full; sequence, team and time are
// checked on their own.
struct Change {
  JobId job;
  std::optional<JobState> from;
  JobState to = JobState::kQueued;
  TransitionCause cause = TransitionCause::kSubmitted;
  std::optional<JobId> related;

  friend bool operator==(const Change&, const Change&) = default;
};

void PrintTo(const Change& c, std::ostream* os) {
  *os << "{" << c.job.ToString() << " "
      << (c.from ? std::string(StateName(*c.from)) : std::string("(new)")) << " -> "
      << StateName(c.to) << " " << TransitionCauseName(c.cause);
  if (c.related) *os << " related " << c.related->ToString();
  *os << "}";
}

Change Created(JobId job, JobState to) {
  return {job, std::nullopt, to, TransitionCause::kSubmitted, std::nullopt};
}
Change Moved(JobId job, JobState from, JobState to, TransitionCause cause,
             std::optional<JobId> related = std::nullopt) {
  return {job, from, to, cause, related};
}

Change ChangeOf(const TransitionEvent& e) {
  return {e.job_id, e.from, e.to, e.cause, e.related_job};
}

std::vector<Change> ChangesOf(const std::vector<TransitionEvent>& events) {
  std::vector<Change> changes;
  for (const TransitionEvent& e : events) changes.push_back(ChangeOf(e));
  return changes;
}

std::string Describe(const TransitionEvent& e) {
  std::ostringstream os;
  PrintTo(ChangeOf(e), &os);
  return absl::StrCat("#", e.sequence, " ", e.team, " ", absl::FormatTime(e.time), " ", os.str());
}

bool SameEvent(const TransitionEvent& a, const TransitionEvent& b) {
  return a.sequence == b.sequence && a.job_id == b.job_id && a.team == b.team && a.from == b.from &&
         a.to == b.to && a.time == b.time && a.cause == b.cause && a.related_job == b.related_job;
}

std::vector<uint64_t> SequencesOf(const std::vector<TransitionEvent>& events) {
  std::vector<uint64_t> sequences;
  for (const TransitionEvent& e : events) sequences.push_back(e.sequence);
  return sequences;
}

// first, first + 1, ..., first + n - 1.
std::vector<uint64_t> Consecutive(uint64_t first, size_t n) {
  std::vector<uint64_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = first + i;
  return v;
}

// A leaf carrying `tag`, so that a claim restricted to the tag takes it.
JobSpec Tagged(std::string tag) {
  JobSpec spec = LeafSpec();
  spec.tags.push_back(std::move(tag));
  return spec;
}

// Fails every validation: a negative asset count.
JobSpec InvalidSpec() {
  JobSpec spec = LeafSpec();
  spec.total_assets = -1;
  return spec;
}

// ---- Recording --------------------------------------------------------------

// Collects what a subscription's callback is handed. Thread-safe: the callback
// runs on the subscription's thread, the test reads on its own.
class Recorder {
 public:
  EventCallback Callback() {
    return [this](const TransitionEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }

  std::vector<TransitionEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<TransitionEvent> events_;
};

// A one-shot signal that can be raised more than once (std::promise cannot).
class Signal {
 public:
  Signal() : future_(promise_.get_future().share()) {}
  void Raise() {
    std::call_once(once_, [this] { promise_.set_value(); });
  }
  // Blocks until raised.
  void Wait() const { future_.wait(); }
  // True if raised within `timeout` (a hang guard, never a timing check).
  bool WaitFor(absl::Duration timeout) const {
    return future_.wait_for(absl::ToChronoNanoseconds(timeout)) == std::future_status::ready;
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_;
  std::once_flag once_;
};

// Raises a signal when it goes out of scope. Declared after a Subscription
// whose callback waits for the signal, it is destroyed first, so a test that
// stops early never leaves ~Subscription waiting for a blocked callback.
class RaiseOnExit {
 public:
  explicit RaiseOnExit(Signal& signal) : signal_(signal) {}
  ~RaiseOnExit() { signal_.Raise(); }
  RaiseOnExit(const RaiseOnExit&) = delete;
  RaiseOnExit& operator=(const RaiseOnExit&) = delete;

 private:
  Signal& signal_;
};

// ---- The fixture --------------------------------------------------------------

// An engine with one subscription taken before anything else happens, so it
// sees every event from sequence 1 on.
class EventsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (HasFatalFailure()) return;
    subscription_ = engine().Subscribe(recorder_.Callback());
  }

  // Every event published so far.
  std::vector<TransitionEvent> AllEvents() {
    EXPECT_TRUE(subscription_.Flush(kHangGuard)) << "the subscription did not catch up";
    return recorder_.events();
  }

  // The events published since the previous call (or since SetUp).
  std::vector<TransitionEvent> NewEvents() {
    std::vector<TransitionEvent> all = AllEvents();
    std::vector<TransitionEvent> fresh(all.begin() + static_cast<std::ptrdiff_t>(seen_), all.end());
    seen_ = all.size();
    return fresh;
  }
  std::vector<Change> NewChanges() { return ChangesOf(NewEvents()); }

  void Tick(absl::Duration d = absl::Milliseconds(1)) { clock().Advance(d); }

  Recorder recorder_;          // declared first: outlives the subscription
  Subscription subscription_;  // the fixture's own, from sequence 1
  size_t seen_ = 0;
};

// ---- Creation ---------------------------------------------------------------

TEST_F(EventsTest, SubmitOfALeafIsOneQueuedEventWithSequenceTeamAndTime) {
  Tick(absl::Milliseconds(1234));
  absl::StatusOr<CreatedJob> created = Submit(LeafSpec());
  ASSERT_THAT(created, IsOk());

  std::vector<TransitionEvent> events = NewEvents();
  ASSERT_EQ(events.size(), 1u);
  const TransitionEvent& e = events[0];
  EXPECT_EQ(e.sequence, 1u);
  EXPECT_EQ(e.job_id, created->id);
  EXPECT_EQ(e.team, kTeam);
  EXPECT_EQ(e.from, std::nullopt);
  EXPECT_EQ(e.to, JobState::kQueued);
  EXPECT_EQ(e.time, Now());
  EXPECT_EQ(e.time, kStartTime + absl::Milliseconds(1234));
  EXPECT_EQ(e.cause, TransitionCause::kSubmitted);
  EXPECT_EQ(e.related_job, std::nullopt);
  EXPECT_EQ(e.batch_id, std::nullopt);  // not submitted in a batch
}

TEST_F(EventsTest, NestedFamilyIsPendingParentsAndQueuedLeavesInPreOrder) {
  //   parent
  //   +-- mid
  //   |   +-- g1
  //   |   +-- g2
  //   +-- c2
  JobSpec mid = FamilySpec(2);
  JobSpec parent = LeafSpec("parent");
  parent.children = {mid, LeafSpec("c2")};
  absl::StatusOr<CreatedJob> created = Submit(parent);
  ASSERT_THAT(created, IsOk());
  ASSERT_EQ(created->children.size(), 2u);
  ASSERT_EQ(created->children[0].children.size(), 2u);
  const JobId p = created->id;
  const JobId m = created->children[0].id;
  const JobId g1 = created->children[0].children[0].id;
  const JobId g2 = created->children[0].children[1].id;
  const JobId c2 = created->children[1].id;

  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(ChangesOf(events),
              ElementsAre(Created(p, JobState::kPending), Created(m, JobState::kPending),
                          Created(g1, JobState::kQueued), Created(g2, JobState::kQueued),
                          Created(c2, JobState::kQueued)));
  EXPECT_THAT(SequencesOf(events), ElementsAreArray(Consecutive(1, 5)));
  for (const TransitionEvent& e : events) {
    EXPECT_EQ(e.team, kTeam) << Describe(e);
    EXPECT_EQ(e.time, Now()) << Describe(e);
  }
  // Pre-order is creation order, which is id order.
  EXPECT_TRUE(std::is_sorted(
      events.begin(), events.end(),
      [](const TransitionEvent& a, const TransitionEvent& b) { return a.job_id < b.job_id; }));
}

TEST_F(EventsTest, SubmitBatchIsOneEventPerCreatedJobInRequestOrder) {
  const std::vector<JobSpec> specs = {LeafSpec("a"), FamilySpec(2), InvalidSpec(), LeafSpec("b")};
  absl::StatusOr<BatchSubmitResult> batch = engine().SubmitBatch(kTeam, specs);
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->jobs.size(), 3u);
  ASSERT_EQ(batch->errors.size(), 1u);
  const CreatedJob& a = batch->jobs[0].job;
  const CreatedJob& family = batch->jobs[1].job;
  const CreatedJob& b = batch->jobs[2].job;
  ASSERT_EQ(family.children.size(), 2u);

  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(ChangesOf(events),
              ElementsAre(Created(a.id, JobState::kQueued), Created(family.id, JobState::kPending),
                          Created(family.children[0].id, JobState::kQueued),
                          Created(family.children[1].id, JobState::kQueued),
                          Created(b.id, JobState::kQueued)));
  EXPECT_THAT(SequencesOf(events), ElementsAreArray(Consecutive(1, 5)));
  // Every job of the batch, children included, names it; later changes too.
  for (const TransitionEvent& e : events) EXPECT_EQ(e.batch_id, batch->batch_id) << Describe(e);
  ASSERT_THAT(engine().Cancel(kTeam, b.id), IsOk());
  std::vector<TransitionEvent> cancelled = NewEvents();
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].batch_id, batch->batch_id);
}

TEST_F(EventsTest, DependsOnAnUnfinishedJobIsPendingAndOnAFinishedOneQueued) {
  absl::StatusOr<JobId> first = SubmitTagged("first");
  ASSERT_THAT(first, IsOk());
  JobSpec waiting = LeafSpec();
  waiting.depends_on = {*first};
  absl::StatusOr<CreatedJob> pending = Submit(waiting);
  ASSERT_THAT(pending, IsOk());
  ASSERT_THAT(RenderAndFinish("first"), IsOk());
  absl::StatusOr<CreatedJob> queued = Submit(waiting);  // `first` has finished now
  ASSERT_THAT(queued, IsOk());

  std::vector<Change> changes = NewChanges();
  ASSERT_EQ(changes.size(), 6u);
  EXPECT_EQ(changes[1], Created(pending->id, JobState::kPending));
  // changes[2..3]: `first` claimed and finished, which releases `pending`.
  EXPECT_EQ(changes[4], Moved(pending->id, JobState::kPending, JobState::kQueued,
                              TransitionCause::kPrerequisitesFinished, *first));
  EXPECT_EQ(changes[5], Created(queued->id, JobState::kQueued));
}

// ---- Sequence, team and time ---------------------------------------------------

TEST_F(EventsTest, SequenceIncreasesByOneAcrossOperationsAndTeamsWithEachCallsTime) {
  // Each step: what it did, and the clock's time during the call.
  std::vector<std::pair<std::string, absl::Time>> expected;  // team, time per event
  auto step = [&](absl::Duration advance) {
    Tick(advance);
    return Now();
  };

  absl::Time t = step(absl::Milliseconds(5));
  ASSERT_THAT(SubmitTagged("a1"), IsOk());
  expected.push_back({kTeam, t});

  t = step(absl::Milliseconds(7));
  ASSERT_THAT(SubmitTagged("b1", LeafSpec(), kOtherTeam), IsOk());
  expected.push_back({kOtherTeam, t});

  t = step(absl::Seconds(3));
  ASSERT_THAT(Submit(FamilySpec(2), kOtherTeam), IsOk());
  for (int i = 0; i < 3; ++i) expected.push_back({kOtherTeam, t});

  t = step(absl::Milliseconds(1));
  absl::StatusOr<ClaimedJob> b1 = ClaimTagged("b1");  // another team's job: workers serve all
  ASSERT_THAT(b1, IsOk());
  expected.push_back({kOtherTeam, t});

  t = step(absl::Milliseconds(250));
  ASSERT_THAT(RenderAndFinish("a1"), IsOk());  // claim + finish: two calls at one time
  expected.push_back({kTeam, t});
  expected.push_back({kTeam, t});

  t = step(absl::Seconds(61));
  ASSERT_EQ(engine().RunDueWork(), 1u);  // b1's lease ran out
  expected.push_back({kOtherTeam, t});

  std::vector<TransitionEvent> events = NewEvents();
  ASSERT_EQ(events.size(), expected.size());
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(Describe(events[i]));
    EXPECT_EQ(events[i].sequence, i + 1);
    EXPECT_EQ(events[i].team, expected[i].first);
    EXPECT_EQ(events[i].time, expected[i].second);
  }
  EXPECT_EQ(events.back().job_id, b1->job.id);
  EXPECT_EQ(events.back().cause, TransitionCause::kLeaseExpired);
}

// ---- Worker causes ------------------------------------------------------------

TEST_F(EventsTest, ClaimAndFinishAreClaimedAndFinished) {
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  NewEvents();
  Tick();
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
  ASSERT_THAT(claimed, IsOk());
  std::vector<TransitionEvent> events = NewEvents();
  ASSERT_THAT(ChangesOf(events), ElementsAre(Moved(*id, JobState::kQueued, JobState::kRendering,
                                                   TransitionCause::kClaimed)));
  EXPECT_EQ(events[0].time, Now());

  Tick();
  ASSERT_THAT(engine().Finish(*id, claimed->lease.token, {}), IsOk());
  events = NewEvents();
  ASSERT_THAT(ChangesOf(events), ElementsAre(Moved(*id, JobState::kRendering, JobState::kFinished,
                                                   TransitionCause::kFinished)));
  EXPECT_EQ(events[0].time, Now());
}

TEST_F(EventsTest, FailIsFailed) {
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(RenderAndFail("job"), IsOk());
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(Created(*id, JobState::kQueued),
                  Moved(*id, JobState::kQueued, JobState::kRendering, TransitionCause::kClaimed),
                  Moved(*id, JobState::kRendering, JobState::kError, TransitionCause::kFailed)));
}

TEST_F(EventsTest, RetriesHoldsAndTheirEndsCarryTheirCauses) {
  JobSpec spec;
  spec.retry_backoff = absl::Seconds(1);
  absl::StatusOr<JobId> id = SubmitTagged("job", spec);
  ASSERT_THAT(id, IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
  ASSERT_THAT(claimed, IsOk());
  NewEvents();
  ASSERT_THAT(engine().Fail(*id, claimed->lease.token, "crash"), IsOk());
  ASSERT_THAT(engine().Suspend(kTeam, {*id}), IsOk());  // ends the backoff's wait
  ASSERT_THAT(engine().Resume(kTeam, {*id}), IsOk());
  ASSERT_THAT(RenderAndFail("job"), IsOk());
  ASSERT_THAT(engine().Retry(kTeam, {*id}), IsOk());
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(Moved(*id, JobState::kRendering, JobState::kQueued, TransitionCause::kFailed),
                  Moved(*id, JobState::kQueued, JobState::kQueued, TransitionCause::kSuspended),
                  Moved(*id, JobState::kQueued, JobState::kQueued, TransitionCause::kResumed),
                  Moved(*id, JobState::kQueued, JobState::kRendering, TransitionCause::kClaimed),
                  Moved(*id, JobState::kRendering, JobState::kError, TransitionCause::kFailed),
                  Moved(*id, JobState::kError, JobState::kQueued, TransitionCause::kRetried)));
}

TEST_F(EventsTest, TheEndOfABackoffIsRetryDue) {
  JobSpec spec;
  spec.retry_backoff = absl::Seconds(1);
  absl::StatusOr<JobId> id = SubmitTagged("job", spec);
  ASSERT_THAT(id, IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
  ASSERT_THAT(claimed, IsOk());
  ASSERT_THAT(engine().Release(*id, claimed->lease.token), IsOk());
  NewEvents();
  AdvanceAndRunDue(absl::Seconds(1));
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(*id, JobState::kQueued, JobState::kQueued,
                                              TransitionCause::kRetryDue)));
}

TEST_F(EventsTest, ReleaseIsReleasedBackToQueuedThenToErrorAtMaxAttempts) {
  // Options::max_attempts is 3 by default.
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  NewEvents();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
    ASSERT_THAT(claimed, IsOk());
    ASSERT_THAT(engine().Release(*id, claimed->lease.token), IsOk());
    const JobState after = attempt < 3 ? JobState::kQueued : JobState::kError;
    EXPECT_THAT(
        NewChanges(),
        ElementsAre(Moved(*id, JobState::kQueued, JobState::kRendering, TransitionCause::kClaimed),
                    Moved(*id, JobState::kRendering, after, TransitionCause::kReleased)));
  }
}

TEST_F(EventsTest, LeaseExpiryIsLeaseExpiredBackToQueuedThenToErrorWhichPropagates) {
  //   parent (pending)
  //   +-- c1      its lease runs out three times
  //   +-- c2      never claimed
  JobSpec parent = LeafSpec("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  absl::StatusOr<CreatedJob> family = Submit(parent);
  ASSERT_THAT(family, IsOk());
  const JobId p = family->id;
  const JobId c1 = family->children[0].id;
  const JobId c2 = family->children[1].id;
  NewEvents();

  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    ASSERT_THAT(ClaimTagged("c1"), IsOk());
    NewEvents();
    EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(59)), 0u);  // Options::lease_duration is 60 s
    EXPECT_THAT(NewEvents(), IsEmpty());
    ASSERT_EQ(AdvanceAndRunDue(absl::Seconds(1)), 1u);
    std::vector<TransitionEvent> events = NewEvents();
    for (const TransitionEvent& e : events) EXPECT_EQ(e.time, Now()) << Describe(e);
    if (attempt < 3) {
      EXPECT_THAT(ChangesOf(events), ElementsAre(Moved(c1, JobState::kRendering, JobState::kQueued,
                                                       TransitionCause::kLeaseExpired)));
    } else {
      // The parent needed c1, and c2 was needed by the parent only (§3).
      EXPECT_THAT(ChangesOf(events), ElementsAre(Moved(c1, JobState::kRendering, JobState::kError,
                                                       TransitionCause::kLeaseExpired),
                                                 Moved(p, JobState::kPending, JobState::kError,
                                                       TransitionCause::kPrerequisiteFailed, c1),
                                                 Moved(c2, JobState::kQueued, JobState::kError,
                                                       TransitionCause::kDependentsFailed, p)));
    }
  }
}

// ---- Cancellation causes --------------------------------------------------------

TEST_F(EventsTest, CancelCancelManyAndCancelBatchNameTheirJobsCancelled) {
  absl::StatusOr<JobId> one = SubmitTagged("one");
  absl::StatusOr<JobId> two = SubmitTagged("two");
  absl::StatusOr<JobId> three = SubmitTagged("three");
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(two, IsOk());
  ASSERT_THAT(three, IsOk());
  absl::StatusOr<BatchSubmitResult> batch =
      engine().SubmitBatch(kTeam, std::vector<JobSpec>{LeafSpec("x"), LeafSpec("y")});
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->jobs.size(), 2u);
  NewEvents();

  Tick();
  ASSERT_THAT(engine().Cancel(kTeam, *one), IsOk());
  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(ChangesOf(events), ElementsAre(Moved(*one, JobState::kQueued, JobState::kCancelled,
                                                   TransitionCause::kCancelled)));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].time, Now());

  ASSERT_THAT(engine().CancelMany(kTeam, std::vector<JobId>{*three, *two}), IsOk());
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(
          Moved(*three, JobState::kQueued, JobState::kCancelled, TransitionCause::kCancelled),
          Moved(*two, JobState::kQueued, JobState::kCancelled, TransitionCause::kCancelled)));

  ASSERT_THAT(engine().CancelBatch(kTeam, batch->batch_id), IsOk());
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(batch->jobs[0].job.id, JobState::kQueued,
                                              JobState::kCancelled, TransitionCause::kCancelled),
                                        Moved(batch->jobs[1].job.id, JobState::kQueued,
                                              JobState::kCancelled, TransitionCause::kCancelled)));
}

TEST_F(EventsTest, CascadeNamesTheCancelledChildForItsParentAndWaitingSibling) {
  absl::StatusOr<CreatedJob> family = Submit(FamilySpec(2));
  ASSERT_THAT(family, IsOk());
  const JobId p = family->id;
  const JobId c1 = family->children[0].id;
  const JobId c2 = family->children[1].id;
  NewEvents();

  ASSERT_THAT(engine().Cancel(kTeam, c1), IsOk());
  // Breadth-first from c1: the parent by rule R, then the sibling by rule U
  // (its only dependent, the parent, is cancelled).
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(
          Moved(c1, JobState::kQueued, JobState::kCancelled, TransitionCause::kCancelled),
          Moved(p, JobState::kPending, JobState::kCancelled, TransitionCause::kCascade, c1),
          Moved(c2, JobState::kQueued, JobState::kCancelled, TransitionCause::kCascade, c1)));
}

TEST_F(EventsTest, CascadeByRuleRNamesTheJobWhoseCancellationStartedIt) {
  // a <- b <- c (dependsOn chains), all waiting.
  absl::StatusOr<JobId> a = SubmitTagged("a");
  ASSERT_THAT(a, IsOk());
  JobSpec needs_a = LeafSpec();
  needs_a.depends_on = {*a};
  absl::StatusOr<CreatedJob> b = Submit(needs_a);
  ASSERT_THAT(b, IsOk());
  JobSpec needs_b = LeafSpec();
  needs_b.depends_on = {b->id};
  absl::StatusOr<CreatedJob> c = Submit(needs_b);
  ASSERT_THAT(c, IsOk());
  NewEvents();

  ASSERT_THAT(engine().Cancel(kTeam, *a), IsOk());
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(
          Moved(*a, JobState::kQueued, JobState::kCancelled, TransitionCause::kCancelled),
          Moved(b->id, JobState::kPending, JobState::kCancelled, TransitionCause::kCascade, *a),
          Moved(c->id, JobState::kPending, JobState::kCancelled, TransitionCause::kCascade, *a)));
}

TEST_F(EventsTest, CascadeByRuleUWaitsForTheLastDependentAndNamesIt) {
  // shared <- d1, shared <- d2: the shared prerequisite survives d1.
  absl::StatusOr<JobId> shared = SubmitTagged("shared");
  ASSERT_THAT(shared, IsOk());
  JobSpec dependent = LeafSpec();
  dependent.depends_on = {*shared};
  absl::StatusOr<CreatedJob> d1 = Submit(dependent);
  absl::StatusOr<CreatedJob> d2 = Submit(dependent);
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(d2, IsOk());
  NewEvents();

  ASSERT_THAT(engine().Cancel(kTeam, d1->id), IsOk());
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(d1->id, JobState::kPending, JobState::kCancelled,
                                              TransitionCause::kCancelled)));
  ASSERT_THAT(engine().Cancel(kTeam, d2->id), IsOk());
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(d2->id, JobState::kPending, JobState::kCancelled,
                                              TransitionCause::kCancelled),
                                        Moved(*shared, JobState::kQueued, JobState::kCancelled,
                                              TransitionCause::kCascade, d2->id)));
}

TEST_F(EventsTest, CascadeFromCancelManyNamesTheFirstNamedJobThatReachedIt) {
  // The closure walks breadth-first from the named jobs in request order, so
  // a job reached from two named jobs is credited to the earlier one.
  absl::StatusOr<JobId> shared = SubmitTagged("shared");
  ASSERT_THAT(shared, IsOk());
  JobSpec dependent = LeafSpec();
  dependent.depends_on = {*shared};
  absl::StatusOr<CreatedJob> d1 = Submit(dependent);
  absl::StatusOr<CreatedJob> d2 = Submit(dependent);
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(d2, IsOk());
  NewEvents();

  ASSERT_THAT(engine().CancelMany(kTeam, std::vector<JobId>{d2->id, d1->id}), IsOk());
  EXPECT_THAT(
      NewChanges(),
      ElementsAre(
          Moved(d2->id, JobState::kPending, JobState::kCancelled, TransitionCause::kCancelled),
          Moved(d1->id, JobState::kPending, JobState::kCancelled, TransitionCause::kCancelled),
          Moved(*shared, JobState::kQueued, JobState::kCancelled, TransitionCause::kCascade,
                d2->id)));
}

TEST_F(EventsTest, CancelBatchCascadesFromEachTopLevelJobInTurn) {
  absl::StatusOr<BatchSubmitResult> batch =
      engine().SubmitBatch(kTeam, std::vector<JobSpec>{FamilySpec(2), LeafSpec("solo")});
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->jobs.size(), 2u);
  const CreatedJob& family = batch->jobs[0].job;
  const JobId solo = batch->jobs[1].job.id;
  NewEvents();

  ASSERT_THAT(engine().CancelBatch(kTeam, batch->batch_id), IsOk());
  std::vector<Change> changes = NewChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0], Moved(family.id, JobState::kPending, JobState::kCancelled,
                              TransitionCause::kCancelled));
  // The two children (rule U), in the graph's order.
  EXPECT_THAT(
      std::vector<Change>(changes.begin() + 1, changes.begin() + 3),
      UnorderedElementsAre(Moved(family.children[0].id, JobState::kQueued, JobState::kCancelled,
                                 TransitionCause::kCascade, family.id),
                           Moved(family.children[1].id, JobState::kQueued, JobState::kCancelled,
                                 TransitionCause::kCascade, family.id)));
  EXPECT_EQ(changes[3],
            Moved(solo, JobState::kQueued, JobState::kCancelled, TransitionCause::kCancelled));
}

// ---- Abort causes ---------------------------------------------------------------

TEST_F(EventsTest, ReleaseAfterAbortIsAbortAcknowledgedAndCascades) {
  JobSpec parent = LeafSpec("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  absl::StatusOr<CreatedJob> family = Submit(parent);
  ASSERT_THAT(family, IsOk());
  const JobId p = family->id;
  const JobId c1 = family->children[0].id;
  const JobId c2 = family->children[1].id;
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("c1");
  ASSERT_THAT(claimed, IsOk());
  NewEvents();

  // Asking is no change of state, but of sub-state: an event of its own.
  ASSERT_THAT(engine().RequestAbort(kTeam, c1), IsOk());
  const std::vector<TransitionEvent> asked = NewEvents();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].from, JobState::kRendering);
  EXPECT_EQ(asked[0].to, JobState::kRendering);
  EXPECT_EQ(asked[0].cause, TransitionCause::kAbortRequested);
  absl::StatusOr<HeartbeatResult> beat = Heartbeat(*claimed, 40.0);
  ASSERT_THAT(beat, IsOk());
  EXPECT_TRUE(beat->cancel_requested);
  EXPECT_THAT(NewEvents(), IsEmpty());

  Tick();
  ASSERT_THAT(engine().Release(c1, claimed->lease.token), IsOk());
  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(
      ChangesOf(events),
      ElementsAre(
          Moved(c1, JobState::kRendering, JobState::kCancelled,
                TransitionCause::kAbortAcknowledged),
          Moved(p, JobState::kPending, JobState::kCancelled, TransitionCause::kCascade, c1),
          Moved(c2, JobState::kQueued, JobState::kCancelled, TransitionCause::kCascade, c1)));
  for (const TransitionEvent& e : events) EXPECT_EQ(e.time, Now()) << Describe(e);
}

TEST_F(EventsTest, AbortUnansweredPastTheGraceIsAbortGraceExpired) {
  // Options::abort_grace is 30 s, the lease 60 s: the grace runs out first.
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(ClaimTagged("job"), IsOk());
  ASSERT_THAT(engine().RequestAbort(kTeam, *id), IsOk());
  NewEvents();

  EXPECT_EQ(AdvanceAndRunDue(absl::Seconds(30) - absl::Milliseconds(1)), 0u);
  EXPECT_THAT(NewEvents(), IsEmpty());
  ASSERT_EQ(AdvanceAndRunDue(absl::Milliseconds(1)), 1u);
  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(ChangesOf(events), ElementsAre(Moved(*id, JobState::kRendering, JobState::kCancelled,
                                                   TransitionCause::kAbortGraceExpired)));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].time, kStartTime + absl::Seconds(30));
}

TEST_F(EventsTest, LeaseLostWhileAnAbortWaitsIsAlsoAbortGraceExpired) {
  // The lease (10 s) runs out before the grace (30 s). The job ends
  // manually_cancelled, not queued (docs/semantics.md), so the cause is not
  // kLeaseExpired ("back to queued, or error"); the abort ended without the
  // worker, which is what kAbortGraceExpired reports.
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  ClaimRequest request;
  request.tags = {"job"};
  request.lease = absl::Seconds(10);
  ASSERT_THAT(engine().Claim(request), IsOk());
  ASSERT_THAT(engine().RequestAbort(kTeam, *id), IsOk());
  NewEvents();

  ASSERT_EQ(AdvanceAndRunDue(absl::Seconds(10)), 1u);
  std::vector<TransitionEvent> events = NewEvents();
  EXPECT_THAT(ChangesOf(events), ElementsAre(Moved(*id, JobState::kRendering, JobState::kCancelled,
                                                   TransitionCause::kAbortGraceExpired)));
}

// ---- Prerequisite causes --------------------------------------------------------

TEST_F(EventsTest, LastChildToFinishReleasesTheParentAsPrerequisitesFinished) {
  JobSpec parent = LeafSpec("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  absl::StatusOr<CreatedJob> family = Submit(parent);
  ASSERT_THAT(family, IsOk());
  const JobId p = family->id;
  const JobId c2 = family->children[1].id;
  ASSERT_THAT(RenderAndFinish("c1"), IsOk());
  NewEvents();

  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("c2");
  ASSERT_THAT(claimed, IsOk());
  NewEvents();
  ASSERT_THAT(engine().Finish(c2, claimed->lease.token, {}), IsOk());
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(c2, JobState::kRendering, JobState::kFinished,
                                              TransitionCause::kFinished),
                                        Moved(p, JobState::kPending, JobState::kQueued,
                                              TransitionCause::kPrerequisitesFinished, c2)));
}

TEST_F(EventsTest, DependsOnJobIsReleasedByTheLastPrerequisiteToFinish) {
  absl::StatusOr<JobId> a = SubmitTagged("a");
  absl::StatusOr<JobId> b = SubmitTagged("b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  JobSpec both = LeafSpec();
  both.depends_on = {*a, *b};
  absl::StatusOr<CreatedJob> waiting = Submit(both);
  ASSERT_THAT(waiting, IsOk());
  ASSERT_EQ(waiting->state, JobState::kPending);

  ASSERT_THAT(RenderAndFinish("b"), IsOk());
  NewEvents();
  ASSERT_THAT(RenderAndFinish("a"), IsOk());
  std::vector<Change> changes = NewChanges();
  ASSERT_EQ(changes.size(), 3u);  // a claimed, a finished, the dependent queued
  EXPECT_EQ(changes[2], Moved(waiting->id, JobState::kPending, JobState::kQueued,
                              TransitionCause::kPrerequisitesFinished, *a));
}

TEST_F(EventsTest, FailedPrerequisiteEndsPendingDependentsAndUselessSiblings) {
  //   after       dependsOn parent
  //   parent
  //   +-- c1      fails
  //   +-- c2
  JobSpec parent = LeafSpec("parent");
  parent.children = {Tagged("c1"), Tagged("c2")};
  absl::StatusOr<CreatedJob> family = Submit(parent);
  ASSERT_THAT(family, IsOk());
  const JobId p = family->id;
  const JobId c1 = family->children[0].id;
  const JobId c2 = family->children[1].id;
  JobSpec after = LeafSpec("after");
  after.depends_on = {p};
  absl::StatusOr<CreatedJob> later = Submit(after);
  ASSERT_THAT(later, IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("c1");
  ASSERT_THAT(claimed, IsOk());
  NewEvents();

  ASSERT_THAT(engine().Fail(c1, claimed->lease.token, {.error = "crashed", .retry = false}),
              IsOk());
  // Breadth-first from c1 (docs/semantics.md): its dependent, the parent,
  // fails; from the parent, its own dependent fails and c2, whose only
  // dependent the parent was, is useless.
  std::vector<Change> changes = NewChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0],
            Moved(c1, JobState::kRendering, JobState::kError, TransitionCause::kFailed));
  EXPECT_EQ(changes[1], Moved(p, JobState::kPending, JobState::kError,
                              TransitionCause::kPrerequisiteFailed, c1));
  EXPECT_THAT(std::vector<Change>(changes.begin() + 2, changes.end()),
              UnorderedElementsAre(Moved(later->id, JobState::kPending, JobState::kError,
                                         TransitionCause::kPrerequisiteFailed, p),
                                   Moved(c2, JobState::kQueued, JobState::kError,
                                         TransitionCause::kDependentsFailed, p)));
}

TEST_F(EventsTest, DependentsFailedNamesTheDependentThatFailedLast) {
  //   d1      d2         d1 needs {shared, x1}, d2 needs {shared, x2};
  //   | \    / |         x1 fails, then x2
  //  x1 shared  x2
  absl::StatusOr<JobId> shared = SubmitTagged("shared");
  absl::StatusOr<JobId> x1 = SubmitTagged("x1");
  absl::StatusOr<JobId> x2 = SubmitTagged("x2");
  ASSERT_THAT(shared, IsOk());
  ASSERT_THAT(x1, IsOk());
  ASSERT_THAT(x2, IsOk());
  JobSpec needs1 = LeafSpec();
  needs1.depends_on = {*shared, *x1};
  JobSpec needs2 = LeafSpec();
  needs2.depends_on = {*shared, *x2};
  absl::StatusOr<CreatedJob> d1 = Submit(needs1);
  absl::StatusOr<CreatedJob> d2 = Submit(needs2);
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(d2, IsOk());

  absl::StatusOr<ClaimedJob> first = ClaimTagged("x1");
  ASSERT_THAT(first, IsOk());
  NewEvents();
  ASSERT_THAT(engine().Fail(*x1, first->lease.token, {.error = "", .retry = false}), IsOk());
  // `shared` is still needed by d2.
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(*x1, JobState::kRendering, JobState::kError,
                                              TransitionCause::kFailed),
                                        Moved(d1->id, JobState::kPending, JobState::kError,
                                              TransitionCause::kPrerequisiteFailed, *x1)));

  absl::StatusOr<ClaimedJob> second = ClaimTagged("x2");
  ASSERT_THAT(second, IsOk());
  NewEvents();
  ASSERT_THAT(engine().Fail(*x2, second->lease.token, {.error = "", .retry = false}), IsOk());
  EXPECT_THAT(NewChanges(), ElementsAre(Moved(*x2, JobState::kRendering, JobState::kError,
                                              TransitionCause::kFailed),
                                        Moved(d2->id, JobState::kPending, JobState::kError,
                                              TransitionCause::kPrerequisiteFailed, *x2),
                                        Moved(*shared, JobState::kQueued, JobState::kError,
                                              TransitionCause::kDependentsFailed, d2->id)));
}

TEST_F(EventsTest, IgnoringDependentIsReleasedByWhicheverPrerequisiteEndsLast) {
  // `ignore` counts a failed prerequisite as resolved (contract §3); the event
  // names the prerequisite whose end released the job, failed or finished.
  for (bool fail_last : {false, true}) {
    SCOPED_TRACE(fail_last ? "the failure comes last" : "the finish comes last");
    const std::string fails = absl::StrCat("fails-", fail_last);
    const std::string finishes = absl::StrCat("finishes-", fail_last);
    absl::StatusOr<JobId> bad = SubmitTagged(fails);
    absl::StatusOr<JobId> good = SubmitTagged(finishes);
    ASSERT_THAT(bad, IsOk());
    ASSERT_THAT(good, IsOk());
    JobSpec tolerant = LeafSpec();
    tolerant.depends_on = {*bad, *good};
    tolerant.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    absl::StatusOr<CreatedJob> waiting = Submit(tolerant);
    ASSERT_THAT(waiting, IsOk());

    if (fail_last) {
      ASSERT_THAT(RenderAndFinish(finishes), IsOk());
      NewEvents();
      ASSERT_THAT(RenderAndFail(fails), IsOk());
    } else {
      ASSERT_THAT(RenderAndFail(fails), IsOk());
      NewEvents();
      ASSERT_THAT(RenderAndFinish(finishes), IsOk());
    }
    const JobId last = fail_last ? *bad : *good;
    std::vector<Change> changes = NewChanges();
    ASSERT_EQ(changes.size(), 3u);  // claimed, ended, the dependent queued
    EXPECT_EQ(changes[1].job, last);
    EXPECT_EQ(changes[2], Moved(waiting->id, JobState::kPending, JobState::kQueued,
                                TransitionCause::kPrerequisitesFinished, last));
  }
}

// ---- What publishes nothing -------------------------------------------------------

TEST_F(EventsTest, HeartbeatWithProgressPublishesNothingAndUsesNoSequenceNumber) {
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
  ASSERT_THAT(claimed, IsOk());
  ASSERT_EQ(NewEvents().size(), 2u);

  for (double progress : {10.0, 55.5, 30.0, 100.0}) {
    Tick();
    ASSERT_THAT(Heartbeat(*claimed, progress), IsOk());
  }
  ASSERT_THAT(Heartbeat(*claimed), IsOk());
  absl::StatusOr<Job> job = Get(*id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->progress, 100.0);  // the reports did land
  EXPECT_THAT(NewEvents(), IsEmpty());

  ASSERT_THAT(engine().Finish(*id, claimed->lease.token, {}), IsOk());
  std::vector<TransitionEvent> events = NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, 3u);
}

TEST_F(EventsTest, ProgressSubscriberSeesEachReportWithTheSequenceOfTheChangeBeforeIt) {
  Recorder progress_recorder;
  Subscription progress_subscription =
      engine().Subscribe(progress_recorder.Callback(), {.progress = true});
  absl::StatusOr<JobId> id = SubmitTagged("job");
  ASSERT_THAT(id, IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("job");
  ASSERT_THAT(claimed, IsOk());
  for (double progress : {10.0, 55.5}) {
    Tick();
    ASSERT_THAT(Heartbeat(*claimed, progress), IsOk());
  }
  ASSERT_THAT(Heartbeat(*claimed), IsOk());  // no progress: no report
  ASSERT_THAT(engine().Finish(*id, claimed->lease.token, {}), IsOk());

  ASSERT_TRUE(progress_subscription.Flush(kHangGuard));
  const std::vector<TransitionEvent> events = progress_recorder.events();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[1].cause, TransitionCause::kClaimed);
  for (int i : {2, 3}) {
    const TransitionEvent& e = events[i];
    EXPECT_EQ(e.cause, TransitionCause::kProgress) << Describe(e);
    EXPECT_EQ(e.job_id, *id);
    EXPECT_EQ(e.from, JobState::kRendering);
    EXPECT_EQ(e.to, JobState::kRendering);
    EXPECT_EQ(e.sequence, 2u);  // the claim's: a report takes no number
    EXPECT_EQ(e.team, kTeam);
  }
  EXPECT_EQ(events[2].progress, 10.0);
  EXPECT_EQ(events[3].progress, 55.5);
  EXPECT_EQ(events[3].time, Now());
  EXPECT_EQ(events[4].cause, TransitionCause::kFinished);
  EXPECT_EQ(events[4].sequence, 3u);
  // The fixture's subscription did not ask: it saw the three changes only.
  EXPECT_THAT(SequencesOf(NewEvents()), ElementsAre(1u, 2u, 3u));
}

TEST_F(EventsTest, RefusedCallsPublishNothingAndUseNoSequenceNumber) {
  absl::StatusOr<JobId> done = SubmitTagged("done");
  absl::StatusOr<JobId> waiting = SubmitTagged("waiting");
  absl::StatusOr<JobId> running = SubmitTagged("running");
  ASSERT_THAT(done, IsOk());
  ASSERT_THAT(waiting, IsOk());
  ASSERT_THAT(running, IsOk());
  ASSERT_THAT(RenderAndFinish("done"), IsOk());
  absl::StatusOr<ClaimedJob> claimed = ClaimTagged("running");
  ASSERT_THAT(claimed, IsOk());
  const uint64_t last = AllEvents().back().sequence;
  NewEvents();

  const JobId unknown = IdGenerator(99).Next(Now());
  EXPECT_THAT(Submit(InvalidSpec()), StatusIs(absl::StatusCode::kInvalidArgument));
  JobSpec bad_dependency = LeafSpec();
  bad_dependency.depends_on = {unknown};
  EXPECT_THAT(Submit(bad_dependency), StatusIs(absl::StatusCode::kNotFound));
  JobSpec family_with_bad_child = FamilySpec(2);
  family_with_bad_child.children.push_back(InvalidSpec());
  EXPECT_THAT(Submit(family_with_bad_child), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<BatchSubmitResult> all_invalid =
      engine().SubmitBatch(kTeam, std::vector<JobSpec>{InvalidSpec(), bad_dependency});
  ASSERT_THAT(all_invalid, IsOk());
  EXPECT_EQ(all_invalid->status, BatchSubmitStatus::kError);
  EXPECT_THAT(engine().Cancel(kTeam, *done), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(engine().Cancel(kOtherTeam, *waiting), StatusIs(absl::StatusCode::kNotFound));
  // Atomic: the cancellable `waiting` is not cancelled either.
  EXPECT_THAT(engine().CancelMany(kTeam, std::vector<JobId>{*waiting, *done}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(engine().Finish(*running, "0123456789abcdef", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(engine().Fail(*running, "not-a-lease", "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(engine().Release(*done, claimed->lease.token),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  HeartbeatReport out_of_range;
  out_of_range.progress = 101.0;
  EXPECT_THAT(engine().Heartbeat(*running, claimed->lease.token, out_of_range),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(engine().RequestAbort(kTeam, *waiting),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ClaimTagged("no-such-tag"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(engine().RunDueWork(), 0u);
  EXPECT_THAT(NewEvents(), IsEmpty());
  EXPECT_EQ(StateOf(*waiting), JobState::kQueued);

  ASSERT_THAT(engine().Cancel(kTeam, *waiting), IsOk());
  std::vector<TransitionEvent> events = NewEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence, last + 1);
}

// ---- Replay -----------------------------------------------------------------------

// Which (from, to) pairs each cause may carry (contract §1's table), and whether
// it names a related job.
bool Allowed(const TransitionEvent& e) {
  using S = JobState;
  using C = TransitionCause;
  auto from_is = [&](std::initializer_list<S> states) {
    return e.from.has_value() && std::find(states.begin(), states.end(), *e.from) != states.end();
  };
  auto to_is = [&](std::initializer_list<S> states) {
    return std::find(states.begin(), states.end(), e.to) != states.end();
  };
  const bool related = e.related_job.has_value();
  switch (e.cause) {
    case C::kSubmitted:
      return !e.from && to_is({S::kQueued, S::kPending}) && !related;
    case C::kClaimed:
      return from_is({S::kQueued}) && to_is({S::kRendering}) && !related;
    case C::kFinished:
      return from_is({S::kRendering}) && to_is({S::kFinished}) && !related;
    case C::kFailed:  // to queued when the attempt is retried (contract §14)
      return from_is({S::kRendering}) && to_is({S::kQueued, S::kError}) && !related;
    case C::kTimedOut:
      return from_is({S::kRendering}) && to_is({S::kQueued, S::kError}) && !related;
    case C::kRetried:  // names the job whose revival brought it back, if not named
      return from_is({S::kError, S::kCancelled}) && to_is({S::kQueued, S::kPending});
    case C::kSuspended:
    case C::kResumed:  // a hold changes no state
      return from_is({S::kQueued, S::kPending}) && e.from == e.to && !related;
    case C::kRetryDue:
      return from_is({S::kQueued}) && to_is({S::kQueued}) && !related;
    case C::kAbortRequested:
      return from_is({S::kRendering}) && to_is({S::kRendering}) && !related;
    case C::kReleased:
    case C::kLeaseExpired:
      return from_is({S::kRendering}) && to_is({S::kQueued, S::kError}) && !related;
    case C::kCancelled:
      return from_is({S::kQueued, S::kPending}) && to_is({S::kCancelled}) && !related;
    case C::kCascade:
      return from_is({S::kQueued, S::kPending}) && to_is({S::kCancelled}) && related;
    case C::kAbortAcknowledged:
    case C::kAbortGraceExpired:
      return from_is({S::kRendering}) && to_is({S::kCancelled}) && !related;
    case C::kPrerequisitesFinished:
      return from_is({S::kPending}) && to_is({S::kQueued}) && related;
    case C::kPrerequisiteFailed:
      return from_is({S::kPending}) && to_is({S::kError}) && related;
    case C::kDependentsFailed:
      return from_is({S::kQueued, S::kPending}) && to_is({S::kError}) && related;
  }
  return false;
}

class EventsReplayTest : public EventsTest, public ::testing::WithParamInterface<uint64_t> {
 protected:
  // Short enough that random clock moves expire leases and run out graces,
  // few enough attempts that expiries end jobs in error.
  Options MakeOptions() override {
    Options options = EventsTest::MakeOptions();
    options.max_attempts = 2;
    options.lease_duration = absl::Seconds(20);
    options.abort_grace = absl::Seconds(10);
    return options;
  }
};

TEST_P(EventsReplayTest, EachJobsEventsChainAndEndInItsState) {
  std::mt19937_64 rng(GetParam());
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  std::map<JobId, std::string> team_of;  // every job created, with its team
  std::map<std::string, std::vector<JobId>> jobs_of;
  std::vector<std::pair<std::string, BatchId>> batches;
  std::vector<ClaimedJob> held;  // leases handed out; some go stale
  const std::string teams[] = {kTeam, kOtherTeam};

  auto remember = [&](const std::string& team, const CreatedJob& created, auto& self) -> void {
    team_of[created.id] = team;
    jobs_of[team].push_back(created.id);
    for (const CreatedJob& child : created.children) self(team, child, self);
  };
  auto random_spec = [&](const std::string& team, int depth, auto& self) -> JobSpec {
    JobSpec spec = LeafSpec();
    if (depth < 2 && chance(30)) {
      const int n = 1 + static_cast<int>(pick(3));
      for (int i = 0; i < n; ++i) spec.children.push_back(self(team, depth + 1, self));
    }
    const std::vector<JobId>& existing = jobs_of[team];
    if (depth == 0 && !existing.empty() && chance(35)) {
      std::set<JobId> deps;
      const int n = 1 + static_cast<int>(pick(2));
      for (int i = 0; i < n; ++i) deps.insert(existing[pick(existing.size())]);
      spec.depends_on.assign(deps.begin(), deps.end());  // may be refused: a dead one
    }
    if (chance(25)) spec.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    if (chance(3)) spec.total_assets = -1;  // refused
    return spec;
  };
  auto random_job = [&](const std::string& team) -> std::optional<JobId> {
    const std::vector<JobId>& existing = jobs_of[team];
    if (existing.empty()) return std::nullopt;
    return existing[pick(existing.size())];
  };
  auto take_held = [&]() -> std::optional<ClaimedJob> {
    if (held.empty()) return std::nullopt;
    const size_t i = pick(held.size());
    ClaimedJob claimed = held[i];
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
    return claimed;
  };

  constexpr int kOperations = 700;
  for (int op = 0; op < kOperations; ++op) {
    const std::string& team = teams[chance(25) ? 1 : 0];
    Tick(absl::Milliseconds(static_cast<int64_t>(pick(50))));
    const int roll = static_cast<int>(pick(100));
    if (roll < 22) {
      absl::StatusOr<CreatedJob> created = engine().Submit(team, random_spec(team, 0, random_spec));
      if (created.ok()) remember(team, *created, remember);
    } else if (roll < 28) {
      std::vector<JobSpec> specs;
      const size_t n = 1 + pick(4);
      for (size_t i = 0; i < n; ++i) specs.push_back(random_spec(team, 0, random_spec));
      absl::StatusOr<BatchSubmitResult> batch = engine().SubmitBatch(team, specs);
      ASSERT_THAT(batch, IsOk());
      for (const BatchJobResult& job : batch->jobs) remember(team, job.job, remember);
      if (!batch->jobs.empty()) batches.push_back({team, batch->batch_id});
    } else if (roll < 34) {
      if (std::optional<JobId> id = random_job(team)) (void)engine().Cancel(team, *id);
    } else if (roll < 38) {
      std::set<JobId> ids;
      for (int i = 0; i < 3; ++i) {
        if (std::optional<JobId> id = random_job(team)) ids.insert(*id);
      }
      if (!ids.empty()) {
        (void)engine().CancelMany(team, std::vector<JobId>(ids.begin(), ids.end()));
      }
    } else if (roll < 40) {
      if (!batches.empty()) {
        const auto& [batch_team, batch_id] = batches[pick(batches.size())];
        (void)engine().CancelBatch(batch_team, batch_id);
      }
    } else if (roll < 62) {
      absl::StatusOr<ClaimedJob> claimed = engine().Claim(ClaimRequest{});
      if (claimed.ok()) held.push_back(*std::move(claimed));
    } else if (roll < 74) {
      if (std::optional<ClaimedJob> c = take_held()) {
        (void)engine().Finish(c->job.id, c->lease.token, {});
      }
    } else if (roll < 80) {
      if (std::optional<ClaimedJob> c = take_held()) {
        (void)engine().Fail(c->job.id, c->lease.token, {.error = "random failure", .retry = false});
      }
    } else if (roll < 86) {
      if (std::optional<ClaimedJob> c = take_held()) {
        (void)engine().Release(c->job.id, c->lease.token);
      }
    } else if (roll < 90) {
      if (!held.empty()) {
        const ClaimedJob& c = held[pick(held.size())];
        HeartbeatReport report;
        report.progress = static_cast<double>(pick(101));
        (void)engine().Heartbeat(c.job.id, c.lease.token, report);
      }
    } else if (roll < 93) {
      if (!held.empty()) {
        const ClaimedJob& c = held[pick(held.size())];
        (void)engine().RequestAbort(c.job.team, c.job.id);
      }
    } else {
      AdvanceAndRunDue(absl::Seconds(1 + static_cast<int64_t>(pick(15))));
    }
    // Every event of the operation carries the clock's time during the call.
    for (const TransitionEvent& e : NewEvents()) {
      ASSERT_EQ(e.time, Now()) << "operation " << op << ": " << Describe(e);
    }
  }

  const std::vector<TransitionEvent> events = AllEvents();
  ASSERT_THAT(SequencesOf(events), ElementsAreArray(Consecutive(1, events.size())));
  // Enough of a workload to mean something: most causes occurred.
  std::set<TransitionCause> causes;
  for (const TransitionEvent& e : events) causes.insert(e.cause);
  EXPECT_GE(causes.size(), 10u);

  std::map<JobId, TransitionEvent> last;  // each job's latest event so far
  for (const TransitionEvent& e : events) {
    SCOPED_TRACE(Describe(e));
    ASSERT_TRUE(team_of.contains(e.job_id)) << "an event for a job no call created";
    EXPECT_EQ(e.team, team_of[e.job_id]);
    EXPECT_TRUE(Allowed(e)) << "this cause cannot carry this change";
    auto it = last.find(e.job_id);
    if (it == last.end()) {
      EXPECT_EQ(e.from, std::nullopt) << "a job's first event is its creation";
    } else {
      EXPECT_EQ(e.from, std::optional<JobState>(it->second.to))
          << "does not start where the job's previous event ended";
    }
    if (e.related_job) {
      // The related job is of the same team and changed earlier, the way the
      // cause says.
      auto rel = last.find(*e.related_job);
      ASSERT_NE(rel, last.end()) << "related job " << e.related_job->ToString() << " unseen";
      const TransitionEvent& r = rel->second;
      EXPECT_EQ(r.team, e.team);
      switch (e.cause) {
        case TransitionCause::kCascade:
          EXPECT_EQ(r.to, JobState::kCancelled) << Describe(r);
          EXPECT_TRUE(r.cause == TransitionCause::kCancelled ||
                      r.cause == TransitionCause::kAbortAcknowledged ||
                      r.cause == TransitionCause::kAbortGraceExpired)
              << "a cascade starts from a named or aborted job: " << Describe(r);
          break;
        case TransitionCause::kPrerequisitesFinished:
          // Finished, or failed for a job that ignores failed prerequisites.
          EXPECT_TRUE(r.to == JobState::kFinished || r.to == JobState::kError) << Describe(r);
          break;
        case TransitionCause::kPrerequisiteFailed:
        case TransitionCause::kDependentsFailed:
          EXPECT_EQ(r.to, JobState::kError) << Describe(r);
          break;
        default:
          break;
      }
    }
    last.insert_or_assign(e.job_id, e);
  }

  EXPECT_EQ(last.size(), team_of.size()) << "every job created has its creation event";
  for (const auto& [id, team] : team_of) {
    absl::StatusOr<Job> job = engine().Get(team, id);
    ASSERT_THAT(job, IsOk());
    ASSERT_TRUE(last.contains(id));
    EXPECT_EQ(last[id].to, job->state) << "replay of " << id.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, EventsReplayTest, ::testing::Values(1, 2, 3, 4, 5));

// ---- Subscriptions -----------------------------------------------------------------

TEST_F(EventsTest, TwoSubscribersSeeIdenticalSequences) {
  Recorder second;
  Subscription sub = engine().Subscribe(second.Callback());
  absl::StatusOr<CreatedJob> family = Submit(FamilySpec(3));
  ASSERT_THAT(family, IsOk());
  ASSERT_THAT(SubmitTagged("x"), IsOk());
  ASSERT_THAT(RenderAndFinish("x"), IsOk());
  ASSERT_THAT(engine().Cancel(kTeam, family->children[1].id), IsOk());

  ASSERT_TRUE(sub.Flush(kHangGuard));
  std::vector<TransitionEvent> mine = AllEvents();
  std::vector<TransitionEvent> theirs = second.events();
  ASSERT_EQ(mine.size(), 11u);  // 4 + 1 submitted, claimed, finished, 4 cancelled
  ASSERT_EQ(theirs.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_TRUE(SameEvent(mine[i], theirs[i]))
        << Describe(mine[i]) << " vs " << Describe(theirs[i]);
  }
  EXPECT_EQ(sub.delivered(), mine.size());
  EXPECT_EQ(sub.dropped(), 0u);
}

TEST_F(EventsTest, SubscriptionStartedMidwaySeesOnlyLaterEvents) {
  ASSERT_THAT(Submit(FamilySpec(2)), IsOk());
  ASSERT_THAT(SubmitTagged("x"), IsOk());
  const size_t before = AllEvents().size();

  Recorder late;
  Subscription sub = engine().Subscribe(late.Callback());
  absl::StatusOr<CreatedJob> family = Submit(FamilySpec(2));
  ASSERT_THAT(family, IsOk());
  ASSERT_THAT(RenderAndFinish("x"), IsOk());

  ASSERT_TRUE(sub.Flush(kHangGuard));
  std::vector<TransitionEvent> all = AllEvents();
  std::vector<TransitionEvent> seen = late.events();
  ASSERT_EQ(seen.size(), all.size() - before);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(SameEvent(seen[i], all[before + i])) << Describe(seen[i]);
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().job_id, family->id);
}

TEST_F(EventsTest, SubscriptionStartedDuringOperationsStartsAtAnOperationBoundary) {
  // Another thread submits batches of kPerOperation events while this one
  // subscribes: whenever the subscription lands, its first event is the first
  // of an operation, and from there it sees every event, in order.
  const std::vector<JobSpec> specs = {FamilySpec(2), LeafSpec(), FamilySpec(1), LeafSpec()};
  constexpr size_t kPerOperation = 3 + 1 + 2 + 1;
  constexpr int kOperations = 300;
  Signal halfway;
  std::atomic<int> failures{0};
  std::thread submitter([&] {
    for (int i = 0; i < kOperations; ++i) {
      if (i == kOperations / 2) halfway.Raise();
      if (!engine().SubmitBatch(kTeam, specs).ok()) ++failures;
    }
  });
  ASSERT_TRUE(halfway.WaitFor(kHangGuard));
  Recorder late;
  Subscription sub = engine().Subscribe(late.Callback());
  submitter.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_THAT(engine().SubmitBatch(kTeam, specs), IsOk());  // at least one operation after it

  ASSERT_TRUE(sub.Flush(kHangGuard));
  std::vector<TransitionEvent> all = AllEvents();
  std::vector<TransitionEvent> seen = late.events();
  ASSERT_EQ(all.size(), (kOperations + 1) * kPerOperation);
  ASSERT_GE(seen.size(), kPerOperation);
  EXPECT_EQ(seen.front().sequence % kPerOperation, 1u) << "starts inside an operation";
  ASSERT_EQ(seen.back().sequence, all.back().sequence);
  ASSERT_EQ(seen.size(), all.size() - (seen.front().sequence - 1));
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(SameEvent(seen[i], all[seen.front().sequence - 1 + i])) << Describe(seen[i]);
  }
}

TEST_F(EventsTest, StopEndsCallbacksAndNoneComesAfterItReturns) {
  std::atomic<bool> stopped{false};
  std::atomic<int> calls{0};
  std::atomic<int> calls_after_stop{0};
  Subscription sub = engine().Subscribe([&](const TransitionEvent&) {
    ++calls;
    if (stopped.load()) ++calls_after_stop;
  });
  for (int i = 0; i < 50; ++i) ASSERT_THAT(Submit(LeafSpec()), IsOk());
  sub.Stop();  // without a Flush: some events may still be queued
  stopped.store(true);
  EXPECT_FALSE(sub.active());
  EXPECT_TRUE(sub.Flush()) << "a stopped subscription has nothing to wait for";
  const int calls_at_stop = calls.load();
  EXPECT_LE(calls_at_stop, 50);

  for (int i = 0; i < 50; ++i) ASSERT_THAT(Submit(LeafSpec()), IsOk());
  EXPECT_EQ(AllEvents().size(), 100u);  // the fixture's subscription caught up
  EXPECT_EQ(calls_after_stop.load(), 0);
  EXPECT_EQ(calls.load(), calls_at_stop);
  sub.Stop();  // a second Stop is harmless
}

TEST_F(EventsTest, StopWaitsForTheCallbackInProgress) {
  Signal entered, release;
  std::atomic<bool> callback_returned{false};
  std::atomic<int> calls{0};
  Subscription sub = engine().Subscribe([&](const TransitionEvent&) {
    ++calls;
    entered.Raise();
    release.Wait();
    callback_returned.store(true);
  });
  RaiseOnExit unblock(release);

  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(entered.WaitFor(kHangGuard));
  bool returned_when_stop_returned = false;
  std::thread stopper([&] {
    sub.Stop();
    returned_when_stop_returned = callback_returned.load();
  });
  release.Raise();
  stopper.join();
  EXPECT_TRUE(returned_when_stop_returned);
  const int calls_at_stop = calls.load();
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  EXPECT_EQ(AllEvents().size(), 2u);
  EXPECT_EQ(calls.load(), calls_at_stop);
}

TEST_F(EventsTest, DestroyingTheSubscriptionStopsIt) {
  Recorder gone;
  {
    Subscription sub = engine().Subscribe(gone.Callback());
    ASSERT_THAT(Submit(LeafSpec()), IsOk());
    ASSERT_TRUE(sub.Flush(kHangGuard));
  }
  ASSERT_EQ(gone.size(), 1u);
  for (int i = 0; i < 10; ++i) ASSERT_THAT(Submit(FamilySpec(1)), IsOk());
  EXPECT_EQ(AllEvents().size(), 21u);
  EXPECT_EQ(gone.size(), 1u);
}

TEST_F(EventsTest, NewSubscriptionAfterNoneSeesConsecutiveSequenceNumbers) {
  // With nobody listening the engine builds no events; a later subscription
  // still sees consecutive sequence numbers among its own events.
  subscription_.Stop();
  for (int i = 0; i < 5; ++i) ASSERT_THAT(Submit(FamilySpec(1)), IsOk());
  Recorder fresh;
  Subscription sub = engine().Subscribe(fresh.Callback());
  for (int i = 0; i < 5; ++i) ASSERT_THAT(Submit(FamilySpec(1)), IsOk());
  ASSERT_TRUE(sub.Flush(kHangGuard));
  std::vector<TransitionEvent> seen = fresh.events();
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_THAT(SequencesOf(seen), ElementsAreArray(Consecutive(seen.front().sequence, 10)));
}

TEST_F(EventsTest, FlushReturnsTrueOnceCaughtUp) {
  Subscription none;
  EXPECT_FALSE(none.active());
  EXPECT_TRUE(none.Flush()) << "an empty subscription is always caught up";
  EXPECT_EQ(none.delivered(), 0u);

  Recorder mine;
  Subscription sub = engine().Subscribe(mine.Callback());
  EXPECT_TRUE(sub.Flush(kHangGuard)) << "nothing published yet";
  for (int i = 0; i < 20; ++i) ASSERT_THAT(Submit(FamilySpec(2)), IsOk());
  ASSERT_TRUE(sub.Flush(kHangGuard));
  // Flush returned only once every event published before it was handed over.
  EXPECT_EQ(mine.size(), 60u);
  EXPECT_EQ(sub.delivered(), 60u);
  EXPECT_EQ(sub.dropped(), 0u);
}

TEST_F(EventsTest, FlushIsFalseWhileTheCallbackHoldsAnEvent) {
  Signal entered, release;
  Subscription sub = engine().Subscribe([&](const TransitionEvent&) {
    entered.Raise();
    release.Wait();
  });
  RaiseOnExit unblock(release);
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(entered.WaitFor(kHangGuard));
  // Not a timing check: the callback cannot return before the test lets it.
  EXPECT_FALSE(sub.Flush(absl::Milliseconds(20)));
  release.Raise();
  EXPECT_TRUE(sub.Flush(kHangGuard));
  EXPECT_EQ(sub.delivered(), 1u);
}

TEST_F(EventsTest, MovedSubscriptionStaysAlive) {
  Recorder a;
  Subscription first = engine().Subscribe(a.Callback());
  Subscription second(std::move(first));
  EXPECT_FALSE(first.active());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_TRUE(second.active());
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(second.Flush(kHangGuard));
  EXPECT_EQ(a.size(), 1u);

  Subscription third;
  third = std::move(second);
  EXPECT_FALSE(second.active());  // NOLINT(bugprone-use-after-move)
  // Into a vector that reallocates as it grows.
  Recorder others[8];  // declared before `kept`: outlives the subscriptions
  std::vector<Subscription> kept;
  kept.push_back(std::move(third));
  for (Recorder& r : others) kept.push_back(engine().Subscribe(r.Callback()));
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(kept.front().Flush(kHangGuard));
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(kept.front().delivered(), 2u);
  for (Subscription& s : kept) ASSERT_TRUE(s.Flush(kHangGuard));
  for (const Recorder& r : others) EXPECT_EQ(r.size(), 1u);
}

TEST_F(EventsTest, AssigningOverALiveSubscriptionStopsTheOneItHeld) {
  Recorder a, b;
  Subscription held = engine().Subscribe(a.Callback());
  Subscription incoming = engine().Subscribe(b.Callback());
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(held.Flush(kHangGuard));
  ASSERT_TRUE(incoming.Flush(kHangGuard));

  held = std::move(incoming);  // a's subscription ends; b's lives on in `held`
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(held.Flush(kHangGuard));
  EXPECT_EQ(AllEvents().size(), 2u);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 2u);
}

// ---- A subscriber that falls behind ---------------------------------------------------

class BlockedSubscriberTest : public EventsTest {
 protected:
  // A subscription whose callback records each event, raises `entered_` on
  // the first, and returns only once `release_` is raised.
  Subscription SubscribeBlocked(size_t max_queued) {
    SubscribeOptions options;
    options.max_queued = max_queued;
    EventCallback record = blocked_.Callback();
    return engine().Subscribe(
        [this, record](const TransitionEvent& e) {
          record(e);
          entered_.Raise();
          release_.Wait();
        },
        options);
  }

  Recorder blocked_;
  Signal entered_, release_;
};

TEST_F(BlockedSubscriberTest, NeverStallsTheEngineAndCountsWhatItDrops) {
  // Once the callback holds event 1 the queue has room for max_queued more;
  // nothing leaves it until the callback returns. So exactly 1 + 100 are
  // delivered and the rest are dropped, however the threads are scheduled.
  constexpr size_t kQueue = 100;
  constexpr int kSubmits = 5000;
  Subscription sub = SubscribeBlocked(kQueue);
  RaiseOnExit unblock(release_);

  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(entered_.WaitFor(kHangGuard)) << "the callback never got event 1";
  int failed = 0;
  for (int i = 0; i < kSubmits; ++i) failed += Submit(LeafSpec()).ok() ? 0 : 1;
  ASSERT_EQ(failed, 0);  // every submit returned, and succeeded

  const uint64_t published = 1 + kSubmits;
  EXPECT_EQ(sub.delivered(), 0u) << "the callback has not returned yet";
  EXPECT_EQ(sub.dropped(), published - 1 - kQueue);
  EXPECT_EQ(AllEvents().size(), published) << "the other subscriber saw every event";
  EXPECT_EQ(subscription_.dropped(), 0u);

  release_.Raise();
  ASSERT_TRUE(sub.Flush(kHangGuard));
  EXPECT_EQ(sub.delivered(), 1 + kQueue);
  EXPECT_EQ(sub.delivered() + sub.dropped(), published);
  EXPECT_THAT(SequencesOf(blocked_.events()), ElementsAreArray(Consecutive(1, 1 + kQueue)));

  // The gap shows in the sequence of the next event the subscriber gets.
  ASSERT_THAT(Submit(LeafSpec()), IsOk());
  ASSERT_TRUE(sub.Flush(kHangGuard));
  std::vector<TransitionEvent> seen = blocked_.events();
  ASSERT_EQ(seen.size(), 2 + kQueue);
  EXPECT_EQ(seen.back().sequence, published + 1);
}

TEST_F(BlockedSubscriberTest, DeliversTheQueueBoundOrOneMoreWhenNeverWaitedFor) {
  // Without waiting for the callback to take event 1: if it takes it while
  // events are still being published, one more fits in the room it leaves
  // (101 delivered); if its thread first runs after the last submit, the
  // queue holds events 1-100 and that is all (100 delivered).
  constexpr size_t kQueue = 100;
  constexpr int kSubmits = 5000;
  Subscription sub = SubscribeBlocked(kQueue);
  RaiseOnExit unblock(release_);

  int failed = 0;
  for (int i = 0; i < kSubmits; ++i) failed += Submit(LeafSpec()).ok() ? 0 : 1;
  ASSERT_EQ(failed, 0);
  EXPECT_EQ(AllEvents().size(), static_cast<size_t>(kSubmits));

  release_.Raise();
  ASSERT_TRUE(sub.Flush(kHangGuard));
  EXPECT_GE(sub.delivered(), kQueue);
  EXPECT_LE(sub.delivered(), kQueue + 1);
  EXPECT_EQ(sub.delivered() + sub.dropped(), static_cast<uint64_t>(kSubmits));
  std::vector<uint64_t> sequences = SequencesOf(blocked_.events());
  ASSERT_EQ(sequences.size(), sub.delivered());
  // The first 100 always fit; the one more, if any, is a later event.
  EXPECT_EQ(std::vector<uint64_t>(sequences.begin(), sequences.begin() + kQueue),
            Consecutive(1, kQueue));
  if (sequences.size() == kQueue + 1) {
    EXPECT_GT(sequences.back(), kQueue);
  }
}

TEST_F(BlockedSubscriberTest, KeepsThePartOfAnOperationThatFits) {
  constexpr size_t kQueue = 3;
  Subscription sub = SubscribeBlocked(kQueue);
  RaiseOnExit unblock(release_);
  ASSERT_THAT(Submit(LeafSpec()), IsOk());  // event 1, held by the callback
  ASSERT_TRUE(entered_.WaitFor(kHangGuard));

  ASSERT_THAT(Submit(FamilySpec(4)), IsOk());  // events 2-6: 2-4 fit, 5-6 do not
  EXPECT_EQ(sub.dropped(), 2u);
  release_.Raise();
  ASSERT_TRUE(sub.Flush(kHangGuard));
  ASSERT_THAT(Submit(LeafSpec()), IsOk());  // event 7
  ASSERT_TRUE(sub.Flush(kHangGuard));
  EXPECT_THAT(SequencesOf(blocked_.events()), ElementsAre(1u, 2u, 3u, 4u, 7u));
  EXPECT_EQ(sub.delivered(), 5u);
  EXPECT_EQ(sub.dropped(), 2u);
}

}  // namespace

void PrintTo(const TransitionEvent& e, std::ostream* os) { *os << Describe(e); }

}  // namespace cascade
