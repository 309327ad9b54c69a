// Copyright 2026 The Cascade Authors.
//
// EngineHost (server/engine_host.h), the server's side of contract §17, in
// one process against a real PostgreSQL (tests/pg_harness.h): two hosts on
// one database, one leads and the other answers as a standby; the leader that
// loses its lease answers 503 at once and becomes a standby; a stopped
// leader hands over within a poll. Without a URL the host simply serves. The
// same over real processes, with kill -9 and SIGSTOP, is ha_test.cc.

#include "server/engine_host.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "boost/json.hpp"
#include "tests/pg_harness.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::TestDatabase;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kToken[] = "t0ken";
constexpr char kJob[] =
    R"({"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main"}})";

EngineHostOptions HostOptions(const std::string& data, const std::string& name) {
  EngineHostOptions options;
  options.engine.durability.data_dir = data;
  options.engine.durability.leader_lease = absl::Milliseconds(1500);
  options.engine.durability.leader_renew = absl::Milliseconds(300);
  options.engine.durability.node_name = name;
  options.api.client_tokens = {{kToken, "default"}};
  options.api.worker_tokens = {"w0rker"};
  options.standby_poll = absl::Milliseconds(100);
  return options;
}

Response Call(EngineHost& host, std::string method, std::string target, std::string body = "") {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers = {{"authorization", absl::StrCat("Bearer ", kToken)},
                     {"content-type", "application/json"}};
  request.body = std::move(body);
  return host.Handle(request);
}

// Waits until `host` answers GET /health with `status`.
bool AwaitHealth(EngineHost& host, int status, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (Call(host, "GET", "/api/v2/health").status == status) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

std::string Metric(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, absl::StrCat(name, " "))) {
      return std::string(line.substr(name.size() + 1));
    }
  }
  return "(absent)";
}

TEST(EngineHostTest, WithoutAUrlTheHostSimplyServes) {
  EngineHost host(HostOptions("", "memory"));
  ASSERT_THAT(host.Start(), IsOk());
  EXPECT_FALSE(host.high_availability());
  EXPECT_EQ(host.role(), "single");
  EXPECT_EQ(Call(host, "POST", "/api/v2/jobs", kJob).status, 201);
  const Response health = Call(host, "GET", "/api/v2/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_THAT(health.body, ::testing::Not(HasSubstr("role")));
  EXPECT_EQ(Metric(Call(host, "GET", "/api/v2/metrics").body, "cascade_leader"), "(absent)");
}

TEST(EngineHostTest, OneLeadsTheOtherAnswersAsAStandbyAndTakesOverWhenTheLeaderStops) {
  TestDatabase db;
  EngineHost first(HostOptions(db.url(), "first"));
  ASSERT_THAT(first.Start(), IsOk());
  EXPECT_EQ(first.role(), "leader");
  EngineHost second(HostOptions(db.url(), "second"));
  ASSERT_THAT(second.Start(), IsOk());  // a standby starts fine
  EXPECT_EQ(second.role(), "standby");

  const Response created = Call(first, "POST", "/api/v2/jobs", kJob);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = boost::json::parse(created.body).at("id").as_string().c_str();

  const Response health = Call(first, "GET", "/api/v2/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_THAT(health.body, HasSubstr(R"("role":"leader","epoch":1)"));
  const std::string metrics = Call(first, "GET", "/api/v2/metrics").body;
  EXPECT_EQ(Metric(metrics, "cascade_leader"), "1");
  EXPECT_EQ(Metric(metrics, "cascade_leader_epoch"), "1");
  EXPECT_NE(Metric(metrics, "cascade_leader_lease_age_seconds"), "(absent)");

  // The standby: 503 with Retry-After everywhere, its health says why.
  const Response refused = Call(second, "GET", absl::StrCat("/api/v2/jobs/", id));
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.headers, Contains(Pair("Retry-After", "1")));
  EXPECT_THAT(refused.body, HasSubstr("standby"));
  EXPECT_EQ(Call(second, "POST", "/api/v2/jobs", kJob).status, 503);
  const Response standby_health = Call(second, "GET", "/api/v2/health");
  EXPECT_EQ(standby_health.status, 503);
  EXPECT_THAT(standby_health.body, HasSubstr(R"("status":"standby")"));
  EXPECT_THAT(standby_health.body, HasSubstr(R"(held by \"first\" (epoch 1))"));
  const Response standby_metrics = Call(second, "GET", "/api/v2/metrics");
  EXPECT_EQ(standby_metrics.status, 200);
  EXPECT_EQ(Metric(standby_metrics.body, "cascade_leader"), "0");
  EXPECT_EQ(Metric(standby_metrics.body, "cascade_leader_epoch"), "0");

  // A stopped leader gives its lease up: the standby takes over within a
  // poll or two, not a lease, and serves what the first one committed.
  const absl::Time stop = absl::Now();
  first.Stop();
  ASSERT_TRUE(AwaitHealth(second, 200, absl::Seconds(5)));
  EXPECT_LT(absl::Now() - stop, absl::Seconds(1));
  EXPECT_EQ(second.role(), "leader");
  EXPECT_EQ(Call(second, "GET", absl::StrCat("/api/v2/jobs/", id)).status, 200);
  EXPECT_EQ(Metric(Call(second, "GET", "/api/v2/metrics").body, "cascade_leader_epoch"), "2");
}

TEST(EngineHostTest, ALeaderThatLosesItsLeaseAnswers503AtOnceAndBecomesAStandby) {
  TestDatabase db;
  EngineHost first(HostOptions(db.url(), "first"));
  ASSERT_THAT(first.Start(), IsOk());
  ASSERT_EQ(Call(first, "POST", "/api/v2/jobs", kJob).status, 201);

  // Another server takes the row over (as one would once the lease lapsed
  // while this one was paused): the next commit or renewal finds the epoch
  // changed.
  db.Query(
      "UPDATE cascade.leader SET epoch = epoch + 1, holder = 'usurper',"
      " expires_at = clock_timestamp() + interval '1 hour'");
  const Response stale = Call(first, "POST", "/api/v2/jobs", kJob);
  EXPECT_EQ(stale.status, 503) << stale.body;
  EXPECT_THAT(stale.body, HasSubstr("lost the leader lease"));
  // From then on, nothing but the standby's answers.
  ASSERT_TRUE(AwaitHealth(first, 503, absl::Seconds(5)));
  EXPECT_EQ(first.role(), "standby");
  EXPECT_EQ(Call(first, "GET", "/api/v2/jobs").status, 503);
  EXPECT_EQ(Metric(Call(first, "GET", "/api/v2/metrics").body, "cascade_leader"), "0");
  EXPECT_EQ(db.Query("SELECT count(*) FROM cascade.jobs"), "1");

  // When that lease lapses, this server takes over again with a new epoch,
  // restoring the job it had committed.
  db.Query("UPDATE cascade.leader SET expires_at = '-infinity'");
  ASSERT_TRUE(AwaitHealth(first, 200, absl::Seconds(5)));
  EXPECT_THAT(Call(first, "GET", "/api/v2/health").body, HasSubstr(R"("epoch":3)"));
  const Response jobs = Call(first, "GET", "/api/v2/jobs");
  EXPECT_EQ(boost::json::parse(jobs.body).as_array().size(), 1u) << jobs.body;
}

TEST(EngineHostTest, AnErrorNoWaitCanFixStopsTheStart) {
  TestDatabase db;
  db.Query("CREATE SCHEMA cascade; CREATE TABLE cascade.invoices (id int)");
  EngineHost host(HostOptions(db.url(), "host"));
  const absl::Status started = host.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
  EXPECT_THAT(started.message(), HasSubstr("not a Cascade database"));
}

}  // namespace
}  // namespace cascade::server
