// Copyright 2026 The Cascade Authors.
//
// Webhooks through the engine (contract §8), on a ManualClock with a scripted
// FakeTransport: what is sent, when, how often, and what happens after the
// last attempt. The real HTTP transport has its own tests
// (http_transport_test.cc).

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "cascade/testing/fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade {
namespace {

using ::cascade::testing::FakeTransport;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr char kSecret[] = "s3cret";
constexpr char kHookUrl[] = "https://hooks.example.com/render";

// The value of header `name` in `request`, or "" (and a test failure) when
// it is missing.
std::string Header(const WebhookRequest& request, std::string_view name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no header " << name;
  return "";
}

bool HasHeader(const WebhookRequest& request, std::string_view name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const auto& h) { return h.first == name; });
}

class WebhookTest : public ::cascade::testing::EngineTest {
 protected:
  Options MakeOptions() override {
    Options options = EngineTest::MakeOptions();
    options.webhooks.transport = &transport_;
    options.webhooks.signing_secret = kSecret;
    return options;
  }

  static WebhookSpec Hook() {
    WebhookSpec hook;
    hook.url = kHookUrl;
    hook.headers = {{"X-Farm", "north"}, {"Authorization", "Bearer abc"}};
    return hook;
  }

  // Submits a job tagged `tag` with Hook() (or `hook`).
  JobId SubmitHooked(const std::string& tag, std::optional<WebhookSpec> hook = Hook(),
                     JobSpec spec = {}) {
    spec.webhook = std::move(hook);
    absl::StatusOr<JobId> id = SubmitTagged(tag, spec);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(JobId());
  }

  std::vector<FakeTransport::Call> Calls() const { return transport_.calls(); }

  FakeTransport transport_{&clock()};
};

TEST_F(WebhookTest, FinishedJobIsDeliveredOnceWithTheJobAsBody) {
  const JobId id = SubmitHooked("a");
  ASSERT_TRUE(RenderAndFinish("a").ok());
  EXPECT_THAT(Calls(), IsEmpty()) << "a ManualClock engine sends only from RunDueWork";
  engine().RunDueWork();
  std::vector<FakeTransport::Call> calls = Calls();
  ASSERT_THAT(calls, SizeIs(1));
  const WebhookRequest& request = calls[0].request;
  EXPECT_EQ(request.url, kHookUrl);
  EXPECT_EQ(request.method, HttpMethod::kPost);
  EXPECT_EQ(calls[0].timeout, absl::Seconds(2));
  EXPECT_EQ(calls[0].at, Now());
  // The spec's headers first, in order, then the engine's.
  ASSERT_GE(request.headers.size(), 6u);
  EXPECT_THAT(request.headers[0], Pair("X-Farm", "north"));
  EXPECT_THAT(request.headers[1], Pair("Authorization", "Bearer abc"));
  EXPECT_EQ(Header(request, "Content-Type"), "application/json");
  EXPECT_EQ(Header(request, "Cascade-Job-Id"), id.ToString());
  EXPECT_TRUE(BatchId::Parse(Header(request, "Cascade-Delivery-Id")).ok())
      << "a delivery id is a ULID: " << Header(request, "Cascade-Delivery-Id");
  EXPECT_EQ(Header(request, "Cascade-Signature"), WebhookSignature(kSecret, request.body));

  boost::json::value body = boost::json::parse(request.body);
  EXPECT_EQ(body.at("id").as_string(), id.ToString());
  EXPECT_EQ(body.at("status").as_string(), "finished");
  EXPECT_EQ(body.at("progress").to_number<double>(), 100.0);

  engine().RunDueWork();
  AdvanceAndRunDue(absl::Hours(1));
  EXPECT_THAT(Calls(), SizeIs(1)) << "a 2xx is never sent again";
  OutboxCounts counts = engine().GetOutboxCounts();
  EXPECT_EQ(counts.pending + counts.in_flight + counts.dead, 0);
  EXPECT_EQ(counts.delivered_total, 1);
  EXPECT_EQ(counts.attempts_total, 1);
}

TEST_F(WebhookTest, EveryTerminalStateIsDeliveredAndNothingElse) {
  const JobId finished = SubmitHooked("finished");
  const JobId failed = SubmitHooked("failed");
  const JobId cancelled = SubmitHooked("cancelled");
  const JobId expired = SubmitHooked("expired");
  SubmitHooked("rendering");
  SubmitHooked("queued");
  ASSERT_TRUE(SubmitTagged("plain").ok());  // no webhook
  ASSERT_TRUE(RenderAndFinish("finished").ok());
  ASSERT_TRUE(RenderAndFinish("plain").ok());
  ASSERT_TRUE(RenderAndFail("failed").ok());
  ASSERT_TRUE(engine().Cancel(kTeam, cancelled).ok());
  for (int attempt = 0; attempt < 3; ++attempt) {  // Options::max_attempts
    ASSERT_TRUE(ClaimTagged("expired").ok());
    AdvanceAndRunDue(absl::Seconds(61));
  }
  ASSERT_EQ(StateOf(expired), JobState::kError);
  ASSERT_TRUE(ClaimTagged("rendering").ok());
  engine().RunDueWork();

  std::vector<std::string> delivered;
  for (const FakeTransport::Call& call : Calls()) {
    const boost::json::value body = boost::json::parse(call.request.body);
    delivered.push_back(absl::StrCat(std::string(body.at("id").as_string()), " ",
                                     std::string(body.at("status").as_string())));
  }
  EXPECT_THAT(delivered, ElementsAre(absl::StrCat(finished.ToString(), " finished"),
                                     absl::StrCat(failed.ToString(), " error"),
                                     absl::StrCat(cancelled.ToString(), " manually_cancelled"),
                                     absl::StrCat(expired.ToString(), " error")));
}

TEST_F(WebhookTest, RetriesFollowTheBackoffScheduleThenBecomeADeadLetter) {
  transport_.SetDefault(500);
  const JobId id = SubmitHooked("a");
  ASSERT_TRUE(RenderAndFail("a").ok());
  const absl::Time failed_at = Now();
  engine().RunDueWork();  // attempt 1 at once
  // Retries wait 1 s, 2 s, 4 s after the attempt before them.
  for (absl::Duration wait : {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4)}) {
    const size_t before = Calls().size();
    AdvanceAndRunDue(wait - absl::Milliseconds(1));
    EXPECT_EQ(Calls().size(), before) << "no retry before " << wait;
    AdvanceAndRunDue(absl::Milliseconds(1));
    EXPECT_EQ(Calls().size(), before + 1) << "a retry " << wait << " later";
  }
  std::vector<FakeTransport::Call> calls = Calls();
  ASSERT_THAT(calls, SizeIs(4));
  EXPECT_EQ(calls[0].at, failed_at);
  EXPECT_EQ(calls[1].at, failed_at + absl::Seconds(1));
  EXPECT_EQ(calls[2].at, failed_at + absl::Seconds(3));
  EXPECT_EQ(calls[3].at, failed_at + absl::Seconds(7));
  // Every attempt sends the same bytes under the same delivery id.
  for (const FakeTransport::Call& call : calls) {
    EXPECT_EQ(call.request.body, calls[0].request.body);
    EXPECT_EQ(Header(call.request, "Cascade-Delivery-Id"),
              Header(calls[0].request, "Cascade-Delivery-Id"));
    EXPECT_EQ(Header(call.request, "Cascade-Signature"),
              Header(calls[0].request, "Cascade-Signature"));
  }

  AdvanceAndRunDue(absl::Hours(24));
  EXPECT_THAT(Calls(), SizeIs(4)) << "at most 1 + max_retries attempts";
  absl::StatusOr<std::vector<DeadLetter>> dead = engine().ListDeadLetters(kTeam);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_THAT(*dead, SizeIs(1));
  EXPECT_EQ((*dead)[0].job_id, id);
  EXPECT_EQ((*dead)[0].delivery_id, Header(calls[0].request, "Cascade-Delivery-Id"));
  EXPECT_EQ((*dead)[0].url, kHookUrl);
  EXPECT_EQ((*dead)[0].attempts, 4);
  EXPECT_EQ((*dead)[0].last_error, "HTTP 500");
  EXPECT_EQ((*dead)[0].created_at, failed_at);
  EXPECT_EQ((*dead)[0].died_at, failed_at + absl::Seconds(7));
  OutboxCounts counts = engine().GetOutboxCounts();
  EXPECT_EQ(counts.dead, 1);
  EXPECT_EQ(counts.pending, 0);
  EXPECT_EQ(counts.delivered_total, 0);
  EXPECT_EQ(counts.attempts_total, 4);
}

TEST_F(WebhookTest, AnyTwoHundredDeliversAfterFailuresAndTimeouts) {
  transport_.Script({500, absl::DeadlineExceededError("timed out after 2s"), 204});
  SubmitHooked("a");
  ASSERT_TRUE(RenderAndFinish("a").ok());
  engine().RunDueWork();
  AdvanceAndRunDue(absl::Seconds(1));
  AdvanceAndRunDue(absl::Seconds(2));
  EXPECT_THAT(Calls(), SizeIs(3));
  AdvanceAndRunDue(absl::Hours(1));
  EXPECT_THAT(Calls(), SizeIs(3));
  EXPECT_EQ(engine().GetOutboxCounts().delivered_total, 1);
  EXPECT_THAT(*engine().ListDeadLetters(kTeam), IsEmpty());
}

TEST_F(WebhookTest, DeadLetterReplayKeepsTheDeliveryIdAndIsTeamScoped) {
  transport_.Script({500, 500, 500, absl::UnavailableError("connection refused")});
  SubmitHooked("a");
  ASSERT_TRUE(RenderAndFinish("a").ok());
  engine().RunDueWork();
  for (int s : {1, 2, 4}) AdvanceAndRunDue(absl::Seconds(s));
  absl::StatusOr<std::vector<DeadLetter>> dead = engine().ListDeadLetters(kTeam);
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(*dead, SizeIs(1));
  EXPECT_EQ((*dead)[0].last_error, "connection refused");
  const std::string delivery = (*dead)[0].delivery_id;

  // Another team sees no dead letter and cannot replay this one.
  EXPECT_THAT(*engine().ListDeadLetters("team-b"), IsEmpty());
  EXPECT_EQ(engine().ReplayDeadLetter("team-b", delivery).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine().ReplayDeadLetter(kTeam, "01HZZZZZZZZZZZZZZZZZZZZZZZ").code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(Calls(), SizeIs(4));

  ASSERT_TRUE(engine().ReplayDeadLetter(kTeam, delivery).ok());
  EXPECT_THAT(*engine().ListDeadLetters(kTeam), IsEmpty());
  EXPECT_EQ(engine().GetOutboxCounts().pending, 1);
  engine().RunDueWork();  // the replay is due at once; the default answer is 200
  std::vector<FakeTransport::Call> calls = Calls();
  ASSERT_THAT(calls, SizeIs(5));
  EXPECT_EQ(Header(calls[4].request, "Cascade-Delivery-Id"), delivery);
  EXPECT_EQ(calls[4].request.body, calls[0].request.body);
  EXPECT_EQ(engine().GetOutboxCounts().delivered_total, 1);
  // Replaying what is no longer dead is NotFound.
  EXPECT_EQ(engine().ReplayDeadLetter(kTeam, delivery).code(), absl::StatusCode::kNotFound);
}

TEST_F(WebhookTest, CustomSendsOnlyTheData) {
  WebhookSpec with_data = Hook();
  with_data.custom = true;
  with_data.data = R"({"shot":"010","frames":[1,2]})";
  with_data.method = HttpMethod::kPut;
  WebhookSpec without_data = Hook();
  without_data.custom = true;
  WebhookSpec data_not_custom = Hook();
  data_not_custom.data = R"({"ignored":true})";
  SubmitHooked("a", with_data);
  SubmitHooked("b", without_data);
  const JobId c = SubmitHooked("c", data_not_custom);
  ASSERT_TRUE(RenderAndFinish("a").ok());
  ASSERT_TRUE(RenderAndFinish("b").ok());
  ASSERT_TRUE(RenderAndFinish("c").ok());
  engine().RunDueWork();
  std::vector<FakeTransport::Call> calls = Calls();
  ASSERT_THAT(calls, SizeIs(3));
  EXPECT_EQ(calls[0].request.method, HttpMethod::kPut);
  EXPECT_EQ(calls[0].request.body, with_data.data);
  EXPECT_EQ(calls[1].request.body, "{}");
  EXPECT_EQ(boost::json::parse(calls[2].request.body).at("id").as_string(), c.ToString());
  for (const FakeTransport::Call& call : calls) {
    EXPECT_EQ(Header(call.request, "Cascade-Signature"),
              WebhookSignature(kSecret, call.request.body));
  }
}

TEST_F(WebhookTest, DeliveriesFollowTheOrderJobsEnded) {
  // A parent and its three children, all hooked. The children are the
  // parent's prerequisites, so cancelling the parent cancels them (rule U)
  // right after it, in the order they were created.
  JobSpec parent;
  parent.webhook = Hook();
  parent.tags = {"parent"};
  for (int i = 0; i < 3; ++i) {
    JobSpec child;
    child.webhook = Hook();
    parent.children.push_back(child);
  }
  absl::StatusOr<CreatedJob> created = Submit(parent);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<std::vector<Job>> cancelled = engine().Cancel(kTeam, created->id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  ASSERT_THAT(*cancelled, SizeIs(4));
  engine().RunDueWork();
  std::vector<std::string> order;
  for (const FakeTransport::Call& call : Calls())
    order.push_back(Header(call.request, "Cascade-Job-Id"));
  std::vector<std::string> want;
  for (const Job& job : *cancelled) want.push_back(job.id.ToString());
  // Cancel answers in id order, which is creation order: parent first.
  EXPECT_EQ(order, want);
  // Each job once, each with its own delivery id.
  std::vector<std::string> ids;
  for (const FakeTransport::Call& call : Calls())
    ids.push_back(Header(call.request, "Cascade-Delivery-Id"));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
}

TEST_F(WebhookTest, NoSignatureWithoutASecret) {
  // A second engine on the same clock and transport, without a secret.
  Options options = MakeOptions();
  options.webhooks.signing_secret.clear();
  absl::StatusOr<std::unique_ptr<Engine>> other = Engine::Create(options);
  ASSERT_TRUE(other.ok());
  JobSpec spec;
  spec.webhook = Hook();
  spec.tags = {"x"};
  ASSERT_TRUE((*other)->Submit(kTeam, spec).ok());
  ASSERT_TRUE(::cascade::testing::RenderAndFinish(**other, "x").ok());
  (*other)->RunDueWork();
  ASSERT_THAT(Calls(), SizeIs(1));
  EXPECT_FALSE(HasHeader(Calls()[0].request, "Cascade-Signature"));
  EXPECT_TRUE(HasHeader(Calls()[0].request, "Cascade-Delivery-Id"));
}

TEST_F(WebhookTest, BadWebhookSpecsAreRefusedAndCreateNothing) {
  struct Case {
    const char* what;
    WebhookSpec hook;
    const char* field;
  };
  auto hook = [](auto edit) {
    WebhookSpec h = Hook();
    edit(h);
    return h;
  };
  const std::vector<Case> cases = {
      {"ftp url", hook([](WebhookSpec& h) { h.url = "ftp://x/y"; }), "webhook.url"},
      {"no host", hook([](WebhookSpec& h) { h.url = "http:///path"; }), "webhook.url"},
      {"empty url", hook([](WebhookSpec& h) { h.url = ""; }), "webhook.url"},
      {"space in url", hook([](WebhookSpec& h) { h.url = "http://a b/"; }), "webhook.url"},
      {"long url", hook([](WebhookSpec& h) { h.url = "http://h/" + std::string(2048, 'a'); }),
       "webhook.url"},
      {"reserved header", hook([](WebhookSpec& h) {
         h.headers = {{"Cascade-Delivery-Id", "x"}};
       }),
       "webhook.headers.Cascade-Delivery-Id"},
      {"host header", hook([](WebhookSpec& h) {
         h.headers = {{"host", "x"}};
       }),
       "webhook.headers.host"},
      {"CRLF in value", hook([](WebhookSpec& h) {
         h.headers = {{"X-A", "a\r\nX-Injected: 1"}};
       }),
       "webhook.headers.X-A"},
      {"bad header name", hook([](WebhookSpec& h) {
         h.headers = {{"X A", "a"}};
       }),
       "webhook.headers"},
      {"data not JSON", hook([](WebhookSpec& h) { h.data = "{"; }), "webhook.data"},
      {"data not an object", hook([](WebhookSpec& h) { h.data = "[1]"; }), "webhook.data"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    JobSpec spec;
    spec.webhook = c.hook;
    const size_t before = engine().JobCount();
    absl::StatusOr<CreatedJob> created = Submit(spec);
    ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(GetFieldViolations(created.status()),
                ::testing::Contains(::testing::Field(&FieldViolation::field, c.field)))
        << created.status();
    EXPECT_EQ(engine().JobCount(), before);
  }
  // A nested child's webhook is named with its path.
  JobSpec parent;
  parent.children.emplace_back().webhook = hook([](WebhookSpec& h) { h.url = "nope"; });
  absl::StatusOr<CreatedJob> created = Submit(parent);
  EXPECT_THAT(
      GetFieldViolations(created.status()),
      ::testing::Contains(::testing::Field(&FieldViolation::field, "children[0].webhook.url")));
}

TEST(WebhookOptionsTest, BadOptionsAreRefused) {
  Options options;
  options.webhooks.max_retries = -1;
  options.webhooks.initial_backoff = absl::ZeroDuration();
  options.webhooks.backoff_factor = 0.5;
  options.webhooks.timeout = absl::ZeroDuration();
  options.webhooks.delivery_threads = 0;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const FieldViolation& v : GetFieldViolations(engine.status())) fields.push_back(v.field);
  EXPECT_THAT(fields,
              ::testing::UnorderedElementsAre("webhooks.max_retries", "webhooks.initial_backoff",
                                              "webhooks.backoff_factor", "webhooks.timeout",
                                              "webhooks.delivery_threads"));
}

TEST(WebhookSignatureTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// ---- Real clock: the delivery threads send without RunDueWork ---------------

TEST(WebhookRealClockTest, DeliveryThreadsRetryAndDeliver) {
  FakeTransport transport;
  transport.Script({503});
  Options options;
  options.webhooks.transport = &transport;
  options.webhooks.initial_backoff = absl::Milliseconds(20);
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok());
  JobSpec spec;
  spec.webhook = WebhookSpec{.url = "http://127.0.0.1:9/hook"};
  spec.tags = {"x"};
  ASSERT_TRUE((*engine)->Submit("team", spec).ok());
  ASSERT_TRUE(::cascade::testing::RenderAndFinish(**engine, "x").ok());
  // Wait (bounded) for the delivery threads; this is a liveness check, not
  // a timing one.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while ((*engine)->GetOutboxCounts().delivered_total == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ((*engine)->GetOutboxCounts().delivered_total, 1);
  EXPECT_THAT(transport.calls(), SizeIs(2));
}

}  // namespace
}  // namespace cascade
