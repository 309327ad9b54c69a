// Copyright 2026 The Cascade Authors.
//
// Webhooks end to end (contract §8): the engine and its built-in HTTP transport
// (Options::webhooks.transport left null) against a scripted server on
// 127.0.0.1 (tests/loopback_http_server.h). webhook_test.cc covers the
// engine's side with a FakeTransport and http_transport_test.cc the transport
// alone; these check that the two together put the right bytes on the wire,
// on the retry schedule, and that a dead endpoint does not stall the engine.
//
// Most tests run on the ManualClock of EngineTest, where RunDueWork sends
// what is due, so each attempt happens at an exact time. Two run on the real
// clock with the engine's delivery threads. Nothing here measures speed: on
// a real clock the tests wait with bounded polls (liveness, not timing), and
// a test that would otherwise wait forever is left to ctest's timeout.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/loopback_http_server.h"
#include "tests/testutil.h"
#include "wire/job_json.h"

namespace cascade {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::LoopbackHttpServer;
using ::cascade::testing::ReadThenHang;
using ::cascade::testing::Respond;
using ::cascade::testing::SeenRequest;
using ::cascade::testing::Silent;
using ::cascade::wire::JobToJsonText;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr char kSecret[] = "s3cret";
// How long a test waits for the server to have seen something that is on
// its way (a bound for a hung machine, not an expectation).
constexpr absl::Duration kPatience = absl::Seconds(30);

// The value of header `name` in `request` (exact name), or "" and a test
// failure when it is missing.
std::string Header(const SeenRequest& request, std::string_view name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no header " << name;
  return "";
}

// The request's headers without the ones the transport adds itself (Host,
// User-Agent, Content-Length): what the engine asked to send, in order.
std::vector<std::pair<std::string, std::string>> EngineHeaders(const SeenRequest& request) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& header : request.headers) {
    if (header.first == "Host" || header.first == "User-Agent" ||
        header.first == "Content-Length") {
      continue;
    }
    out.push_back(header);
  }
  return out;
}

// A webhook with headers of its own, to http://127.0.0.1:<port>/hook.
WebhookSpec HookTo(const LoopbackHttpServer& server, HttpMethod method = HttpMethod::kPost) {
  WebhookSpec hook;
  hook.url = server.Url("/hook");
  hook.method = method;
  hook.headers = {{"X-Farm", "north"}, {"Authorization", "Bearer abc"}};
  return hook;
}

// ---- ManualClock ------------------------------------------------------------

class WebhookHttpTest : public ::cascade::testing::EngineTest {
 protected:
  Options MakeOptions() override {
    Options options = EngineTest::MakeOptions();
    options.webhooks.signing_secret = kSecret;  // the transport stays null: real HTTP
    return options;
  }

  // Submits a job tagged `tag` with `hook`, claims it and finishes it.
  JobId FinishHooked(const std::string& tag, WebhookSpec hook) {
    JobSpec spec;
    spec.webhook = std::move(hook);
    absl::StatusOr<JobId> id = SubmitTagged(tag, spec);
    EXPECT_THAT(id, IsOk());
    EXPECT_THAT(RenderAndFinish(tag), IsOk());
    return id.value_or(JobId());
  }

  // Moves the clock by `d` and runs what is due; fails the test if the server
  // has not then seen exactly `expected` requests.
  void AdvanceAndExpectRequests(absl::Duration d, size_t expected) {
    AdvanceAndRunDue(d);
    EXPECT_THAT(server_.requests(), SizeIs(expected)) << "after advancing " << d;
  }

  LoopbackHttpServer server_;
};

TEST_F(WebhookHttpTest, ServerErrorsAreRetriedOnScheduleUntilA200WithOneIdAndSignature) {
  server_.Script({Respond(500, "no"), Respond(500, "still no"), Respond(200, "thanks")});
  // PUT, not the default POST: the spec's method is what goes on the wire.
  const JobId id = FinishHooked("a", HookTo(server_, HttpMethod::kPut));
  EXPECT_THAT(server_.requests(), IsEmpty()) << "a ManualClock engine sends only from RunDueWork";

  engine().RunDueWork();  // attempt 1: 500
  EXPECT_THAT(server_.requests(), SizeIs(1));
  AdvanceAndExpectRequests(absl::Milliseconds(999), 1);   // not before 1 s
  AdvanceAndExpectRequests(absl::Milliseconds(1), 2);     // attempt 2: 500
  AdvanceAndExpectRequests(absl::Milliseconds(1999), 2);  // not before 2 s more
  AdvanceAndExpectRequests(absl::Milliseconds(1), 3);     // attempt 3: 200
  AdvanceAndExpectRequests(absl::Seconds(4), 3);
  AdvanceAndExpectRequests(absl::Hours(1), 3);  // never again after a 2xx

  const std::vector<SeenRequest> seen = server_.requests();
  ASSERT_THAT(seen, SizeIs(3));
  EXPECT_EQ(server_.accepted(), 3);
  const std::string delivery_id = Header(seen[0], "Cascade-Delivery-Id");
  EXPECT_THAT(Ulid::Parse(delivery_id), IsOk()) << "a delivery id is a ULID: " << delivery_id;

  // The body is the job as GET returns it, final since the job ended.
  absl::StatusOr<Job> job = Get(id);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(seen[0].body, JobToJsonText(*job));
  const boost::json::value body = boost::json::parse(seen[0].body);
  EXPECT_EQ(body.at("id").as_string(), id.ToString());
  EXPECT_EQ(body.at("status").as_string(), "finished");
  const std::string signature = WebhookSignature(kSecret, seen[0].body);

  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("attempt ", i + 1));
    const SeenRequest& s = seen[i];
    EXPECT_EQ(s.method, "PUT");
    EXPECT_EQ(s.target, "/hook");
    EXPECT_EQ(s.body, seen[0].body) << "every attempt sends the same bytes";
    EXPECT_EQ(Header(s, "Host"), absl::StrCat("127.0.0.1:", server_.port()));
    EXPECT_EQ(Header(s, "Content-Length"), absl::StrCat(s.body.size()));
    // The spec's headers in order, then the engine's; the signature is over
    // the bytes received, and so the same on every attempt.
    EXPECT_THAT(
        EngineHeaders(s),
        ElementsAre(Pair("X-Farm", "north"), Pair("Authorization", "Bearer abc"),
                    Pair("Content-Type", "application/json"),
                    Pair("Cascade-Delivery-Id", delivery_id), Pair("Cascade-Job-Id", id.ToString()),
                    Pair("Cascade-Signature", signature)));
    EXPECT_EQ(Header(s, "Cascade-Signature"), WebhookSignature(kSecret, s.body));
  }

  const OutboxCounts counts = engine().GetOutboxCounts();
  EXPECT_EQ(counts.delivered_total, 1);
  EXPECT_EQ(counts.attempts_total, 3);
  EXPECT_EQ(counts.pending, 0);
  EXPECT_EQ(counts.in_flight, 0);
  EXPECT_EQ(counts.dead, 0);
  absl::StatusOr<std::vector<DeadLetter>> dead = engine().ListDeadLetters(kTeam);
  ASSERT_THAT(dead, IsOk());
  EXPECT_THAT(*dead, IsEmpty());
}

// An endpoint that reads the request and never answers, with a short
// attempt timeout.
class WebhookHttpTimeoutTest : public WebhookHttpTest {
 protected:
  static constexpr absl::Duration kAttemptTimeout = absl::Milliseconds(200);

  Options MakeOptions() override {
    Options options = WebhookHttpTest::MakeOptions();
    options.webhooks.timeout = kAttemptTimeout;
    return options;
  }
  void SetUp() override {
    WebhookHttpTest::SetUp();
    server_.SetDefault(ReadThenHang());
  }

  // Finishes a hooked job and runs its four attempts, each timing out, on
  // the 1/2/4 s schedule; returns the job. Every RunDueWork returns after
  // about one timeout: the test does not hang.
  JobId FinishAndTimeOutFourTimes() {
    const JobId id = FinishHooked("a", HookTo(server_));
    engine().RunDueWork();
    EXPECT_TRUE(server_.WaitForRequests(1, kPatience));
    for (int wait_s : {1, 2, 4}) {
      const OutboxCounts counts = engine().GetOutboxCounts();
      EXPECT_EQ(counts.pending, 1) << "waiting " << wait_s << " s to retry";
      EXPECT_EQ(counts.in_flight, 0);
      EXPECT_EQ(counts.dead, 0);
      const size_t before = server_.requests().size();
      AdvanceAndRunDue(absl::Seconds(wait_s) - absl::Milliseconds(1));
      EXPECT_EQ(server_.accepted(), static_cast<int>(before))
          << "no retry before " << wait_s << " s";
      AdvanceAndRunDue(absl::Milliseconds(1));
      if (!server_.WaitForRequests(before + 1, kPatience)) {
        ADD_FAILURE() << "no retry " << wait_s << " s after the timeout";
        break;  // each later wait would fail the same way, slowly
      }
    }
    return id;
  }
};

TEST_F(WebhookHttpTimeoutTest, FourTimeoutsOnTheScheduleMakeADeadLetter) {
  const absl::Time finished_at = Now();
  const JobId id = FinishAndTimeOutFourTimes();
  AdvanceAndRunDue(absl::Hours(1));
  EXPECT_EQ(server_.accepted(), 4) << "at most 1 + max_retries attempts";

  const std::vector<SeenRequest> seen = server_.requests();
  ASSERT_THAT(seen, SizeIs(4));
  const std::string delivery_id = Header(seen[0], "Cascade-Delivery-Id");
  for (const SeenRequest& s : seen) {
    EXPECT_EQ(s.method, "POST");
    EXPECT_EQ(s.target, "/hook");
    EXPECT_EQ(s.body, seen[0].body);
    EXPECT_EQ(Header(s, "Cascade-Delivery-Id"), delivery_id);
    EXPECT_EQ(Header(s, "Cascade-Signature"), WebhookSignature(kSecret, s.body));
  }

  absl::StatusOr<std::vector<DeadLetter>> dead = engine().ListDeadLetters(kTeam);
  ASSERT_THAT(dead, IsOk());
  ASSERT_THAT(*dead, SizeIs(1));
  const DeadLetter& letter = (*dead)[0];
  EXPECT_EQ(letter.delivery_id, delivery_id);
  EXPECT_EQ(letter.job_id, id);
  EXPECT_EQ(letter.url, server_.Url("/hook"));
  EXPECT_EQ(letter.attempts, 4);
  EXPECT_THAT(letter.last_error, HasSubstr("timed out"));
  EXPECT_EQ(letter.created_at, finished_at);
  EXPECT_EQ(letter.died_at, finished_at + absl::Seconds(7));  // the ManualClock stood still

  const OutboxCounts counts = engine().GetOutboxCounts();
  EXPECT_EQ(counts.dead, 1);
  EXPECT_EQ(counts.pending, 0);
  EXPECT_EQ(counts.in_flight, 0);
  EXPECT_EQ(counts.delivered_total, 0);
  EXPECT_EQ(counts.attempts_total, 4);
}

TEST_F(WebhookHttpTimeoutTest, ReplayedDeadLetterIsDeliveredUnderTheSameId) {
  FinishAndTimeOutFourTimes();
  absl::StatusOr<std::vector<DeadLetter>> dead = engine().ListDeadLetters(kTeam);
  ASSERT_THAT(dead, IsOk());
  ASSERT_THAT(*dead, SizeIs(1));
  const std::string delivery_id = (*dead)[0].delivery_id;

  // The URL is fixed per job: the endpoint recovers instead.
  server_.SetDefault(Respond(200, "ok"));
  ASSERT_THAT(engine().ReplayDeadLetter(kTeam, delivery_id), IsOk());
  EXPECT_EQ(engine().GetOutboxCounts().pending, 1);
  engine().RunDueWork();  // due at once

  std::vector<SeenRequest> seen = server_.requests();
  ASSERT_THAT(seen, SizeIs(5));
  EXPECT_EQ(Header(seen[4], "Cascade-Delivery-Id"), delivery_id);
  EXPECT_EQ(seen[4].body, seen[0].body) << "a replay sends the same body";
  EXPECT_EQ(Header(seen[4], "Cascade-Signature"), Header(seen[0], "Cascade-Signature"));
  EXPECT_EQ(Header(seen[4], "Cascade-Signature"), WebhookSignature(kSecret, seen[4].body));

  AdvanceAndRunDue(absl::Hours(1));
  EXPECT_THAT(server_.requests(), SizeIs(5));
  const OutboxCounts counts = engine().GetOutboxCounts();
  EXPECT_EQ(counts.delivered_total, 1);
  EXPECT_EQ(counts.attempts_total, 5);
  EXPECT_EQ(counts.dead, 0);
  EXPECT_EQ(counts.pending, 0);
  dead = engine().ListDeadLetters(kTeam);
  ASSERT_THAT(dead, IsOk());
  EXPECT_THAT(*dead, IsEmpty());
}

// ---- Real clock: the engine's delivery threads ---------------------------------

// Polls `done` every 5 ms until it holds or `limit` passes; returns whether
// it held.
template <typename Predicate>
bool PollUntil(Predicate done, absl::Duration limit) {
  const absl::Time give_up = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(WebhookHttpRealClockTest, DeliveryThreadsRetryAndDeliverWithoutRunDueWork) {
  LoopbackHttpServer server;  // outlives the engine
  server.Script({Respond(503)});
  Options options;
  options.clock = Clock::Real();
  options.webhooks.initial_backoff = absl::Milliseconds(50);
  options.webhooks.signing_secret = kSecret;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_THAT(engine, IsOk());
  JobSpec spec;
  spec.tags = {"x"};
  spec.webhook = HookTo(server);
  ASSERT_THAT((*engine)->Submit("team", spec), IsOk());
  ASSERT_THAT(::cascade::testing::RenderAndFinish(**engine, "x"), IsOk());

  EXPECT_TRUE(PollUntil([&] { return (*engine)->GetOutboxCounts().delivered_total >= 1; },
                        absl::Seconds(30)))
      << "the delivery threads did not deliver";
  const OutboxCounts counts = (*engine)->GetOutboxCounts();
  EXPECT_EQ(counts.delivered_total, 1);
  EXPECT_EQ(counts.attempts_total, 2);
  EXPECT_EQ(counts.pending + counts.in_flight + counts.dead, 0);
  const std::vector<SeenRequest> seen = server.requests();
  ASSERT_THAT(seen, SizeIs(2));
  EXPECT_EQ(Header(seen[1], "Cascade-Delivery-Id"), Header(seen[0], "Cascade-Delivery-Id"));
  EXPECT_EQ(seen[1].body, seen[0].body);
  EXPECT_EQ(Header(seen[1], "Cascade-Signature"), WebhookSignature(kSecret, seen[1].body));
}

// Every delivery thread is held by an endpoint that never answers, while the
// test submits and cancels. If the engine sent under its lock, or waited for
// a delivery thread while holding it, these calls would wait for the
// attempts; the delivery options below keep the threads in Send for the whole
// test (a retry 1 ms after each 2 s timeout, with no end to the retries), so
// such an engine would stall for about 2 s per call, i.e. far beyond the
// test's ctest TIMEOUT (tests/CMakeLists.txt), which is what fails it. No
// timing is asserted here.
TEST(WebhookHttpRealClockTest, DeadEndpointDoesNotBlockSubmitsAndCancels) {
  constexpr int kDeliveryThreads = 4;
  constexpr int kCalls = 1000;
  LoopbackHttpServer server;  // outlives the engine
  server.SetDefault(Silent());
  Options options;
  options.clock = Clock::Real();
  options.webhooks.timeout = absl::Seconds(2);
  options.webhooks.delivery_threads = kDeliveryThreads;
  options.webhooks.max_retries = 1'000'000;
  options.webhooks.initial_backoff = absl::Milliseconds(1);
  options.webhooks.backoff_factor = 1.0;
  absl::StatusOr<std::unique_ptr<Engine>> created = Engine::Create(options);
  ASSERT_THAT(created, IsOk());
  Engine& engine = **created;

  JobSpec hooked;
  hooked.webhook = HookTo(server);
  for (int i = 0; i < kDeliveryThreads; ++i) {
    JobSpec spec = hooked;
    spec.tags = {absl::StrCat("stuck-", i)};
    ASSERT_THAT(engine.Submit("team", spec), IsOk());
    ASSERT_THAT(::cascade::testing::RenderAndFinish(engine, absl::StrCat("stuck-", i)), IsOk());
  }
  // Each connection the server accepted is an attempt in Send: one per thread.
  ASSERT_TRUE(server.WaitForAccepted(kDeliveryThreads, kPatience))
      << "accepted " << server.accepted() << " connections";

  for (int i = 0; i < kCalls; ++i) {
    // Hooked too: each cancel queues one more delivery behind the stuck ones.
    absl::StatusOr<CreatedJob> job = engine.Submit("team", hooked);
    ASSERT_THAT(job, IsOk()) << "call " << i;
    EXPECT_EQ(job->state, JobState::kQueued);
    absl::StatusOr<std::vector<Job>> cancelled = engine.Cancel("team", job->id);
    ASSERT_THAT(cancelled, IsOk()) << "call " << i;
    ASSERT_THAT(*cancelled, SizeIs(1));
    EXPECT_EQ((*cancelled)[0].id, job->id);
    EXPECT_EQ((*cancelled)[0].state, JobState::kCancelled);
  }

  EXPECT_EQ(engine.JobCount(), static_cast<size_t>(kDeliveryThreads + kCalls));
  ListQuery query;
  query.states = {JobState::kCancelled};
  query.limit = 1000;
  absl::StatusOr<std::vector<Job>> listed = engine.List("team", query);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(*listed, SizeIs(kCalls));
  // Nothing was delivered or given up; every delivery is still in the outbox.
  const OutboxCounts counts = engine.GetOutboxCounts();
  EXPECT_EQ(counts.delivered_total, 0);
  EXPECT_EQ(counts.dead, 0);
  EXPECT_EQ(counts.pending + counts.in_flight, kDeliveryThreads + kCalls);
  EXPECT_LE(counts.in_flight, kDeliveryThreads);
  EXPECT_THAT(server.requests(), IsEmpty()) << "a silent endpoint reads nothing";
}

}  // namespace
}  // namespace cascade
