// Copyright 2026 The Cascade Authors.
//
// contract §6 (listing) and seed 002: every ListQuery field through the engine
// (filters, order, paging), and ParseListQuery for each `GET /jobs` query
// parameter, good and bad.

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
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
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr char kTeam[] = "team-a";

// Six jobs, one per state, created one second apart in this order:
//
//   name  state            tags     priority
//   a     render:dorender  x        1
//   b     finished         x y      5
//   c     error            y        1
//   d     manually_cancel  -        5
//   e     queued           x y z    0
//   p     pending (on e)   z        3
class ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct Def {
      std::string name;
      std::vector<std::string> tags;
      int priority;
    };
    const Def defs[] = {
        {"a", {"x"}, 1}, {"b", {"x", "y"}, 5},      {"c", {"y"}, 1},
        {"d", {}, 5},    {"e", {"x", "y", "z"}, 0}, {"p", {"z"}, 3},
    };
    for (const Def& def : defs) {
      JobSpec spec = LeafSpec(def.name);
      spec.tags = def.tags;
      spec.tags.push_back("id-" + def.name);
      spec.priority = def.priority;
      if (def.name == "p") spec.depends_on = {id_["e"]};
      created_[def.name] = engine_.clock.Now();
      CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob job, engine_->Submit(kTeam, spec));
      id_[def.name] = job.id;
      engine_.clock.Advance(absl::Seconds(1));
    }
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob a, Claim("id-a"));
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob b, Claim("id-b"));
    ASSERT_THAT(engine_->Finish(b.job.id, b.lease.token, {}), IsOk());
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob c, Claim("id-c"));
    ASSERT_THAT(engine_->Fail(c.job.id, c.lease.token, {.error = "boom", .retry = false}), IsOk());
    ASSERT_THAT(engine_->Cancel(kTeam, id_["d"]), IsOk());
  }

  absl::StatusOr<ClaimedJob> Claim(std::string tag) {
    ClaimRequest request;
    request.tags = {std::move(tag)};
    return engine_->Claim(request);
  }

  // The listed jobs' names, in order.
  std::vector<std::string> Names(const ListQuery& query) {
    absl::StatusOr<std::vector<Job>> jobs = engine_->List(kTeam, query);
    if (!jobs.ok()) return {"List failed: " + jobs.status().ToString()};
    std::vector<std::string> names;
    for (const Job& job : *jobs) {
      std::string name = "?";
      for (const auto& [n, id] : id_) {
        if (id == job.id) name = n;
      }
      names.push_back(name);
    }
    return names;
  }

  DeterministicEngine engine_;
  std::map<std::string, JobId> id_;
  std::map<std::string, absl::Time> created_;
};

ListQuery States(std::vector<JobState> states, std::vector<JobState> exclude = {}) {
  ListQuery q;
  q.states = std::move(states);
  q.exclude_states = std::move(exclude);
  return q;
}

TEST_F(ListTest, DefaultQueryListsEveryJobOldestFirst) {
  EXPECT_THAT(Names(ListQuery{}), ElementsAre("a", "b", "c", "d", "e", "p"));
}

TEST_F(ListTest, ListedJobsAreFullSnapshots) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, engine_->List(kTeam, ListQuery{}));
  ASSERT_EQ(jobs.size(), 6u);
  for (const Job& job : jobs) {
    CASCADE_ASSERT_OK_AND_ASSIGN(Job got, engine_->Get(kTeam, job.id));
    EXPECT_EQ(job.state, got.state);
    EXPECT_EQ(job.stats.created_at, got.stats.created_at);
    EXPECT_EQ(job.stats.updated_at, got.stats.updated_at);
    EXPECT_EQ(job.tags, got.tags);
    EXPECT_EQ(job.priority, got.priority);
  }
  EXPECT_EQ(jobs[0].stats.created_at, created_["a"]);
}

struct StatesCase {
  std::vector<JobState> states;
  std::vector<JobState> exclude;
  std::vector<std::string> expected;
};

TEST_F(ListTest, StatesAndExcludeStatesFilter) {
  const JobState q = JobState::kQueued, pe = JobState::kPending, r = JobState::kRendering,
                 f = JobState::kFinished, e = JobState::kError, c = JobState::kCancelled;
  const StatesCase kCases[] = {
      {{q}, {}, {"e"}},
      {{pe}, {}, {"p"}},
      {{r}, {}, {"a"}},
      {{f}, {}, {"b"}},
      {{e}, {}, {"c"}},
      {{c}, {}, {"d"}},
      {{q, pe}, {}, {"e", "p"}},
      {{pe, q}, {}, {"e", "p"}},  // order of the list does not matter
      {{f, e, c}, {}, {"b", "c", "d"}},
      {{}, {q}, {"a", "b", "c", "d", "p"}},
      {{}, {f, e, c}, {"a", "e", "p"}},
      {{}, {q, pe, r, f, e, c}, {}},
      {{q, pe, r}, {pe}, {"a", "e"}},  // both: in states and not excluded
      {{q}, {q}, {}},
  };
  for (const StatesCase& s : kCases) {
    ::testing::Message trace;
    for (JobState st : s.states) trace << "+" << std::string(StateName(st)) << " ";
    for (JobState st : s.exclude) trace << "-" << std::string(StateName(st)) << " ";
    SCOPED_TRACE(trace);
    EXPECT_THAT(Names(States(s.states, s.exclude)), ElementsAreArray(s.expected));
  }
}

TEST_F(ListTest, OffsetAndLimitPage) {
  struct Page {
    size_t offset;
    size_t limit;
    std::vector<std::string> expected;
  };
  const Page kPages[] = {
      {0, 2, {"a", "b"}},
      {2, 2, {"c", "d"}},
      {4, 2, {"e", "p"}},
      {5, 100, {"p"}},
      {6, 100, {}},
      {1000, 1, {}},
      {0, 1000, {"a", "b", "c", "d", "e", "p"}},
  };
  for (const Page& page : kPages) {
    SCOPED_TRACE(::testing::Message() << "from=" << page.offset << " limit=" << page.limit);
    ListQuery query;
    query.offset = page.offset;
    query.limit = page.limit;
    EXPECT_THAT(Names(query), ElementsAreArray(page.expected));
  }
}

TEST_F(ListTest, OffsetAppliesAfterFilterAndOrder) {
  ListQuery query;
  query.sort = SortOrder::kNewestFirst;
  query.offset = 1;
  query.limit = 2;
  EXPECT_THAT(Names(query), ElementsAre("e", "d"));

  ListQuery filtered = States({JobState::kQueued, JobState::kPending, JobState::kRendering});
  filtered.offset = 1;
  EXPECT_THAT(Names(filtered), ElementsAre("e", "p"));
}

TEST_F(ListTest, DefaultLimitIsAHundred) {
  for (int i = 0; i < 150; ++i) ASSERT_THAT(engine_->Submit(kTeam, LeafSpec()), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, engine_->List(kTeam, ListQuery{}));
  ASSERT_EQ(jobs.size(), 100u);
  EXPECT_EQ(jobs[0].id, id_["a"]);
  EXPECT_TRUE(std::is_sorted(jobs.begin(), jobs.end(),
                             [](const Job& x, const Job& y) { return x.id < y.id; }));
}

TEST_F(ListTest, LimitOutsideOneToAThousandIsInvalidArgument) {
  ListQuery zero;
  zero.limit = 0;
  EXPECT_THAT(engine_->List(kTeam, zero), StatusIs(absl::StatusCode::kInvalidArgument));
  ListQuery over;
  over.limit = 1001;
  EXPECT_THAT(engine_->List(kTeam, over), StatusIs(absl::StatusCode::kInvalidArgument));
  ListQuery max;
  max.limit = 1000;
  EXPECT_THAT(engine_->List(kTeam, max), IsOk());
}

TEST_F(ListTest, FromDateIsInclusiveAndToDateExclusive) {
  struct DateCase {
    const char* name;
    std::optional<absl::Time> from;
    std::optional<absl::Time> to;
    std::vector<std::string> expected;
  };
  const absl::Time c = created_["c"];
  const DateCase kCases[] = {
      {"from = c", c, std::nullopt, {"c", "d", "e", "p"}},
      {"from = c + 1ms", c + absl::Milliseconds(1), std::nullopt, {"d", "e", "p"}},
      {"from = c - 1ms", c - absl::Milliseconds(1), std::nullopt, {"c", "d", "e", "p"}},
      {"to = c", std::nullopt, c, {"a", "b"}},
      {"to = c + 1ms", std::nullopt, c + absl::Milliseconds(1), {"a", "b", "c"}},
      {"from = b, to = e", created_["b"], created_["e"], {"b", "c", "d"}},
      {"from = to = c", c, c, {}},
      {"far future", c + absl::Hours(1), std::nullopt, {}},
  };
  for (const DateCase& d : kCases) {
    SCOPED_TRACE(d.name);
    ListQuery query;
    query.from_date = d.from;
    query.to_date = d.to;
    EXPECT_THAT(Names(query), ElementsAreArray(d.expected));
  }
}

TEST_F(ListTest, TagsMustAllMatch) {
  struct TagCase {
    std::vector<std::string> tags;
    std::vector<std::string> expected;
  };
  const TagCase kCases[] = {
      {{"x"}, {"a", "b", "e"}}, {{"y"}, {"b", "c", "e"}}, {{"z"}, {"e", "p"}},
      {{"x", "y"}, {"b", "e"}}, {{"y", "x"}, {"b", "e"}}, {{"x", "y", "z"}, {"e"}},
      {{"x", "nope"}, {}},      {{"nope"}, {}},
  };
  for (const TagCase& t : kCases) {
    SCOPED_TRACE(::testing::PrintToString(t.tags));
    ListQuery query;
    query.tags = t.tags;
    EXPECT_THAT(Names(query), ElementsAreArray(t.expected));
  }
}

TEST_F(ListTest, FiltersCombine) {
  ListQuery query = States({JobState::kQueued, JobState::kPending, JobState::kFinished});
  query.tags = {"z"};
  EXPECT_THAT(Names(query), ElementsAre("e", "p"));
  query.sort = SortOrder::kPriority;
  EXPECT_THAT(Names(query), ElementsAre("p", "e"));
  query.from_date = created_["p"];
  EXPECT_THAT(Names(query), ElementsAre("p"));
}

TEST_F(ListTest, NewestFirstReversesCreationOrder) {
  ListQuery query;
  query.sort = SortOrder::kNewestFirst;
  EXPECT_THAT(Names(query), ElementsAre("p", "e", "d", "c", "b", "a"));
}

TEST_F(ListTest, PriorityOrderIsHighestFirstThenOldest) {
  ListQuery query;
  query.sort = SortOrder::kPriority;
  EXPECT_THAT(Names(query), ElementsAre("b", "d", "p", "a", "c", "e"));
  query.limit = 3;
  EXPECT_THAT(Names(query), ElementsAre("b", "d", "p"));
  query.offset = 3;
  EXPECT_THAT(Names(query), ElementsAre("a", "c", "e"));
}

TEST_F(ListTest, PriorityOrderHandlesNegativePriorities) {
  JobSpec low = LeafSpec();
  low.priority = -10;
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, engine_->Submit(kTeam, low));
  ListQuery query;
  query.sort = SortOrder::kPriority;
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, engine_->List(kTeam, query));
  ASSERT_EQ(jobs.size(), 7u);
  EXPECT_EQ(jobs.back().id, created.id);
}

TEST_F(ListTest, RandomOrderListsTheSameJobsOnceEach) {
  ListQuery oldest;
  ListQuery random;
  random.sort = SortOrder::kRandom;
  const std::vector<std::string> all = Names(oldest);
  std::set<std::vector<std::string>> orders;
  for (int i = 0; i < 20; ++i) {
    const std::vector<std::string> names = Names(random);
    EXPECT_THAT(names, UnorderedElementsAreArray(all));
    orders.insert(names);
  }
  // A fresh order on every call: 20 draws of 720 orders are not all equal.
  EXPECT_GT(orders.size(), 1u);

  random.limit = 3;
  const std::vector<std::string> page = Names(random);
  EXPECT_EQ(page.size(), 3u);
  EXPECT_EQ(std::set<std::string>(page.begin(), page.end()).size(), 3u);
  for (const std::string& name : page) EXPECT_THAT(all, Contains(name));

  random.states = {JobState::kQueued, JobState::kPending};
  random.limit = 100;
  EXPECT_THAT(Names(random), UnorderedElementsAre("e", "p"));
}

TEST_F(ListTest, NestedChildrenAreListedLikeAnyJob) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob family, engine_->Submit(kTeam, FamilySpec(2)));
  ListQuery query;
  query.from_date = engine_.clock.Now();
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, engine_->List(kTeam, query));
  EXPECT_THAT(IdsOf(jobs),
              UnorderedElementsAre(family.id, family.children[0].id, family.children[1].id));

  query.states = {JobState::kQueued};
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> queued, engine_->List(kTeam, query));
  EXPECT_THAT(IdsOf(queued), UnorderedElementsAre(family.children[0].id, family.children[1].id));
}

TEST_F(ListTest, ListingFollowsStateChanges) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob claimed, Claim("id-e"));
  ASSERT_THAT(engine_->Finish(claimed.job.id, claimed.lease.token, {}), IsOk());
  // e finished, so p is queued.
  EXPECT_THAT(Names(States({JobState::kQueued})), ElementsAre("p"));
  EXPECT_THAT(Names(States({JobState::kFinished})), ElementsAre("b", "e"));
  EXPECT_THAT(Names(States({JobState::kPending})), IsEmpty());
}

// ---- ParseListQuery --------------------------------------------------------------------

using Params = std::vector<std::pair<std::string, std::string>>;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(ParseListQueryTest, NoParametersGiveTheDefaults) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ListQuery q, ParseListQuery(Params{}));
  EXPECT_THAT(q.states, IsEmpty());
  EXPECT_THAT(q.exclude_states, IsEmpty());
  EXPECT_EQ(q.from_date, std::nullopt);
  EXPECT_EQ(q.to_date, std::nullopt);
  EXPECT_THAT(q.tags, IsEmpty());
  EXPECT_EQ(q.sort, SortOrder::kOldestFirst);
  EXPECT_EQ(q.offset, 0u);
  EXPECT_EQ(q.limit, 100u);
  EXPECT_FALSE(q.minimal);
}

struct GoodParamCase {
  const char* name;
  Params params;
  std::function<void(const ListQuery&)> check;
};

TEST(ParseListQueryTest, ParsesEveryParameter) {
  const GoodParamCase kCases[] = {
      {"states",
       {{"states", "queued,render:dorender"}},
       [](const ListQuery& q) {
         EXPECT_THAT(q.states, ElementsAre(JobState::kQueued, JobState::kRendering));
       }},
      {"states, all six",
       {{"states", "queued,pending,render:dorender,finished,error,manually_cancelled"}},
       [](const ListQuery& q) {
         EXPECT_THAT(q.states,
                     ElementsAre(JobState::kQueued, JobState::kPending, JobState::kRendering,
                                 JobState::kFinished, JobState::kError, JobState::kCancelled));
       }},
      {"exclude_states",
       {{"exclude_states", "finished,manually_cancelled"}},
       [](const ListQuery& q) {
         EXPECT_THAT(q.exclude_states, ElementsAre(JobState::kFinished, JobState::kCancelled));
         EXPECT_THAT(q.states, IsEmpty());
       }},
      {"from", {{"from", "25"}}, [](const ListQuery& q) { EXPECT_EQ(q.offset, 25u); }},
      {"from=0", {{"from", "0"}}, [](const ListQuery& q) { EXPECT_EQ(q.offset, 0u); }},
      {"limit=1", {{"limit", "1"}}, [](const ListQuery& q) { EXPECT_EQ(q.limit, 1u); }},
      {"limit=1000", {{"limit", "1000"}}, [](const ListQuery& q) { EXPECT_EQ(q.limit, 1000u); }},
      {"from_date date",
       {{"from_date", "2026-11-22"}},
       [](const ListQuery& q) { EXPECT_EQ(q.from_date, Utc(2026, 11, 22)); }},
      {"to_date offset",
       {{"to_date", "2026-11-22T18:30:00.250+01:00"}},
       [](const ListQuery& q) {
         EXPECT_EQ(q.to_date, Utc(2026, 11, 22, 17, 30, 0) + absl::Milliseconds(250));
       }},
      {"tags",
       {{"tags", "x,y"}},
       [](const ListQuery& q) { EXPECT_THAT(q.tags, ElementsAre("x", "y")); }},
      {"tags one",
       {{"tags", "hero"}},
       [](const ListQuery& q) { EXPECT_THAT(q.tags, ElementsAre("hero")); }},
      {"sort oldest_first",
       {{"sort", "oldest_first"}},
       [](const ListQuery& q) { EXPECT_EQ(q.sort, SortOrder::kOldestFirst); }},
      {"sort newest_first",
       {{"sort", "newest_first"}},
       [](const ListQuery& q) { EXPECT_EQ(q.sort, SortOrder::kNewestFirst); }},
      {"sort random",
       {{"sort", "random"}},
       [](const ListQuery& q) { EXPECT_EQ(q.sort, SortOrder::kRandom); }},
      {"sort priority",
       {{"sort", "priority"}},
       [](const ListQuery& q) { EXPECT_EQ(q.sort, SortOrder::kPriority); }},
      {"minimal true", {{"minimal", "true"}}, [](const ListQuery& q) { EXPECT_TRUE(q.minimal); }},
      {"minimal false",
       {{"minimal", "false"}},
       [](const ListQuery& q) { EXPECT_FALSE(q.minimal); }},
      {"unknown parameters are ignored",
       {{"foo", "bar"}, {"page", "-3"}, {"limit", "7"}},
       [](const ListQuery& q) { EXPECT_EQ(q.limit, 7u); }},
      {"repeated parameter takes its last value",
       {{"limit", "5"}, {"limit", "9"}},
       [](const ListQuery& q) { EXPECT_EQ(q.limit, 9u); }},
      {"a bad value overridden by a good one",
       {{"limit", "0"}, {"limit", "9"}},
       [](const ListQuery& q) { EXPECT_EQ(q.limit, 9u); }},
      {"everything at once",
       {{"states", "queued"},
        {"exclude_states", "error"},
        {"from", "3"},
        {"limit", "50"},
        {"from_date", "2026-01-01"},
        {"to_date", "2026-02-01T00:00:00Z"},
        {"tags", "a,b,c"},
        {"sort", "priority"},
        {"minimal", "true"}},
       [](const ListQuery& q) {
         EXPECT_THAT(q.states, ElementsAre(JobState::kQueued));
         EXPECT_THAT(q.exclude_states, ElementsAre(JobState::kError));
         EXPECT_EQ(q.offset, 3u);
         EXPECT_EQ(q.limit, 50u);
         EXPECT_EQ(q.from_date, Utc(2026, 1, 1));
         EXPECT_EQ(q.to_date, Utc(2026, 2, 1));
         EXPECT_THAT(q.tags, ElementsAre("a", "b", "c"));
         EXPECT_EQ(q.sort, SortOrder::kPriority);
         EXPECT_TRUE(q.minimal);
       }},
  };
  for (const GoodParamCase& c : kCases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ListQuery> q = ParseListQuery(c.params);
    ASSERT_THAT(q, IsOk());
    c.check(*q);
  }
}

struct BadParamCase {
  const char* param;
  const char* value;
};

TEST(ParseListQueryTest, BadValueIsInvalidArgumentNamingTheParameter) {
  const BadParamCase kCases[] = {
      {"states", "bogus"},
      {"states", "queued,bogus"},
      {"states", "cancelled"},
      {"states", "rendering"},
      {"exclude_states", "nope"},
      {"exclude_states", "finished,QUEUED"},
      {"from", "-1"},
      {"from", "abc"},
      {"from", "1.5"},
      {"limit", "0"},
      {"limit", "1001"},
      {"limit", "-5"},
      {"limit", "ten"},
      {"limit", ""},
      {"from_date", "yesterday"},
      {"from_date", "2026-13-01"},
      {"to_date", "not-a-date"},
      {"to_date", "2026-11-22T25:00:00Z"},
      {"sort", "bogus"},
      {"sort", "oldest"},
      {"minimal", "maybe"},
      {"minimal", "yes"},
  };
  for (const BadParamCase& c : kCases) {
    SCOPED_TRACE(std::string(c.param) + "=" + c.value);
    const Params params = {{c.param, c.value}};
    absl::StatusOr<ListQuery> q = ParseListQuery(params);
    EXPECT_THAT(q, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.param)));
    EXPECT_THAT(GetFieldViolations(q.status()),
                ElementsAre(Field(&FieldViolation::field, c.param)));
  }
}

TEST(ParseListQueryTest, EveryBadParameterGetsItsOwnViolation) {
  const Params params = {{"limit", "0"},
                         {"sort", "bogus"},
                         {"minimal", "maybe"},
                         {"states", "queued"},
                         {"from", "-1"}};
  absl::StatusOr<ListQuery> q = ParseListQuery(params);
  ASSERT_THAT(q, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GetFieldViolations(q.status()),
              UnorderedElementsAre(
                  Field(&FieldViolation::field, "limit"), Field(&FieldViolation::field, "sort"),
                  Field(&FieldViolation::field, "minimal"), Field(&FieldViolation::field, "from")));
}

TEST(SortOrderTest, NamesRoundTrip) {
  const std::pair<SortOrder, const char*> kNames[] = {
      {SortOrder::kOldestFirst, "oldest_first"},
      {SortOrder::kNewestFirst, "newest_first"},
      {SortOrder::kRandom, "random"},
      {SortOrder::kPriority, "priority"},
  };
  for (const auto& [order, name] : kNames) {
    EXPECT_EQ(SortOrderName(order), name);
    absl::StatusOr<SortOrder> parsed = ParseSortOrder(name);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, order);
  }
  EXPECT_THAT(ParseSortOrder("bogus"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace cascade
